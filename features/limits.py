"""Sizes the package accepts, checked before any memory is spent.

One place declares them; the key tables of experiment and study files, the generator and the
command line read them from here, and every message names the value, the limit, the memory the
request would need and how to raise the limit (an environment variable, for a machine that has
the memory):

``IMMUNORESPONSE_MAX_PATIENTS``    patients in one cohort (default 50,000,000: the generator draws
                                   in chunks, but a cohort's tables are held whole)
``IMMUNORESPONSE_MAX_REPLICATES``  replicates per size of a study (default 100,000)
"""

from __future__ import annotations

import os

__all__ = ["max_patients", "max_replicates", "patients_problem", "replicates_problem", "BYTES_PER_VALUE"]

#: A cohort's columns are held as 8-byte numbers.
BYTES_PER_VALUE = 8
_DEFAULTS = {"IMMUNORESPONSE_MAX_PATIENTS": 50_000_000, "IMMUNORESPONSE_MAX_REPLICATES": 100_000}


def _limit(variable: str) -> int:
    text = os.environ.get(variable, "").replace("_", "").replace(",", "")
    return int(text) if text.isdigit() and int(text) > 0 else _DEFAULTS[variable]


def max_patients() -> int:
    """The most patients one cohort may have (``IMMUNORESPONSE_MAX_PATIENTS``)."""
    return _limit("IMMUNORESPONSE_MAX_PATIENTS")


def max_replicates() -> int:
    """The most replicates per size of a study (``IMMUNORESPONSE_MAX_REPLICATES``)."""
    return _limit("IMMUNORESPONSE_MAX_REPLICATES")


def _size(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes:,.0f} bytes"


def patients_problem(n: int, columns: int = 30) -> str:
    """Why ``n`` patients are too many ("" when they are not): the limit, the memory ``columns``
    columns of them would need, and the variable that raises the limit."""
    limit = max_patients()
    if n <= limit:
        return ""
    need = _size(n * columns * BYTES_PER_VALUE)
    return (
        f"{n:,} patients is over the limit of {limit:,} (their {columns} columns would need about {need} of memory); "
        "set IMMUNORESPONSE_MAX_PATIENTS to raise it on a machine that has the memory"
    )


def replicates_problem(replicates: int) -> str:
    """Why ``replicates`` per size are too many ("" when they are not)."""
    limit = max_replicates()
    if replicates <= limit:
        return ""
    return (
        f"{replicates:,} replicates per size is over the limit of {limit:,}; "
        "set IMMUNORESPONSE_MAX_REPLICATES to raise it"
    )

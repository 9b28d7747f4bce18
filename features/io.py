"""Cohort files in and out: one table reader, one atomic writer, used by every package.

They live here because ``features`` is the one package that both :mod:`synthetic` and
:mod:`predictor` may import.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import TableReadError

__all__ = ["read_table", "atomic_write", "TABLE_SUFFIXES"]

#: File suffixes :func:`read_table` reads, and the format each means.
TABLE_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a cohort table from CSV or Parquet (by suffix), nothing coerced or dropped.

    Raises
    ------
    TableReadError
        No such file, an unknown suffix, or a file the reader cannot parse (the message names the
        file).
    """
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise TableReadError(f"cohort file {path}: expected one of {', '.join(TABLE_SUFFIXES)}")
    if not path.is_file():
        raise TableReadError(f"no such file: {path}")
    try:
        return pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas and pyarrow report a bad file as either
        raise TableReadError(f"cannot read {path}: {exc}") from None


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Write ``path`` all at once or not at all.

    Yields a temporary path in the same folder; when the block ends without an exception the
    temporary file replaces ``path`` (an atomic rename on one file system), otherwise it is
    removed and ``path`` is left as it was. Nest two blocks to write a pair of files: neither is
    replaced unless both were written.

    Raises
    ------
    OSError
        The folder does not exist or is not writable (raised before the block runs).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)

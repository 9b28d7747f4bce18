"""Cohort files in and out: one table reader, one atomic writer, used by every package.

They live here because ``features`` is the one package that both :mod:`synthetic` and
:mod:`predictor` may import.
"""

from __future__ import annotations

import contextlib
import csv
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import TableReadError
from .limits import patients_problem

__all__ = ["read_table", "read_text_file", "atomic_write", "write_csv", "csv_safe", "TABLE_SUFFIXES", "MAX_TEXT_BYTES"]

#: The largest scenario, experiment or study file read (a shipped scenario is about 30 KB).
MAX_TEXT_BYTES = 1 << 20

#: File suffixes :func:`read_table` reads, and the format each means.
TABLE_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _regular_file(path: Path, what: str) -> int:
    """The size of ``path``, which must be a regular file: a FIFO would block the read forever
    and a device such as /dev/zero never ends. Checked with ``stat``, before anything is opened."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise TableReadError(f"no such {what}: {path}") from None
    except OSError as exc:
        raise TableReadError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise TableReadError(f"{what} {path} is not a regular file (a folder, pipe, device or socket); give a file")
    return info.st_size


def read_text_file(path: str | Path, what: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` (a scenario, experiment or study
    file), both checked before it is read.

    Raises
    ------
    TableReadError
        Missing, not a regular file, too large, or not UTF-8 (the message names the file).
    """
    path = Path(path)
    size = _regular_file(path, what)
    if size > max_bytes:
        raise TableReadError(f"{what} {path} is {size:,} bytes; a {what} is at most {max_bytes:,}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TableReadError(f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TableReadError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


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
    _regular_file(path, "cohort file")
    try:
        if kind == "parquet":
            _check_rows(path, pq.ParquetFile(path).metadata.num_rows)
            return pd.read_parquet(path)
        _check_header(path)
        return pd.read_csv(path)
    except (OSError, ValueError, pa.ArrowException) as exc:  # pandas and pyarrow report a bad file so
        raise TableReadError(f"cannot read {path}: {exc}") from None


def _check_rows(path: Path, rows: int) -> None:
    """A Parquet file's row count, from its metadata, within the patient limit (before reading)."""
    problem = patients_problem(rows)
    if problem:
        raise TableReadError(f"cohort file {path}: {problem}")


def _check_header(path: Path) -> None:
    """A CSV file's column names are unique (pandas would rename a repeat silently)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        header = next(csv.reader(f), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise TableReadError(f"cohort file {path}: column name(s) {repeated} appear more than once")


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
        # mkstemp makes the file 0600; the finished file gets the mode any new file gets here
        # (0644 under umask 022), so that colleagues can read it in a shared folder.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask (read by setting it and setting it back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: A text cell starting with one of these is a formula to a spreadsheet (OWASP, CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutral(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels cannot be read as a
    spreadsheet formula: those starting with ``= + - @``, a tab or a carriage return get a leading
    ``'``, as OWASP recommends. Numbers are left as they are (a negative number is not text)."""
    out = frame.copy(deep=False)
    for column in out.columns:
        values = out[column]
        if values.dtype == object or isinstance(values.dtype, (pd.CategoricalDtype, pd.StringDtype)):
            out[column] = values.astype(object).map(_neutral)
    out.columns = [_neutral(c) for c in out.columns]
    if out.index.dtype == object:
        out.index = out.index.map(_neutral)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path, **to_csv: object) -> Path:
    """Write ``frame`` as CSV at ``path``, all at once (:func:`atomic_write`) and neutralised
    against formula injection (:func:`csv_safe`); ``to_csv`` goes to :meth:`DataFrame.to_csv`."""
    path = Path(path)
    with atomic_write(path) as tmp:
        csv_safe(frame).to_csv(tmp, **to_csv)
    return path

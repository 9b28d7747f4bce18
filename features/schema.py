"""The cohort schema: every column declared, and a validator that names what is wrong.

A :class:`Schema` is the contract between where cohorts come from (:mod:`synthetic`, or a
user's own file) and what models see (:mod:`predictor`). Each :class:`Column` declares its
dtype, unit, valid range, allowed categories, whether missing values are allowed, and its role.

Nothing is coerced or dropped: :func:`validate` either returns the frame untouched or raises
one :class:`~features.errors.SchemaValidationError` that lists every broken rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import Problem, SchemaDefinitionError, SchemaValidationError

__all__ = ["Column", "Schema", "validate", "checked_values", "DTYPES", "ROLES", "MAX_ROWS_SHOWN"]

DTYPES = ("float", "int", "bool", "category", "string")
ROLES = ("id", "feature", "treatment", "outcome")
MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Column:
    """Declaration of one cohort column.

    Parameters
    ----------
    name : str
        Column name as it appears in the frame.
    dtype : {"float", "int", "bool", "category", "string"}
        Logical type. ``bool`` accepts a boolean column or integers 0/1; ``category`` accepts
        strings or a pandas categorical whose values are all in ``categories``.
    role : {"id", "feature", "treatment", "outcome"}
        What the column is for. Only ``feature`` and ``treatment`` columns may enter a model.
    unit : str, optional
        Unit of measurement (``"ng/mL"``), or ``None`` for unitless columns.
    description : str
        One line a reader needs to understand the column.
    min, max : float, optional
        Inclusive valid range for numeric columns.
    categories : tuple of str, optional
        Allowed values of a ``category`` column.
    nullable : bool
        Whether missing values are allowed.
    """

    name: str
    dtype: str
    role: str
    unit: str | None = None
    description: str = ""
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = False

    def __post_init__(self) -> None:
        where = f"column '{self.name}'"
        if self.dtype not in DTYPES:
            raise SchemaDefinitionError(f"{where}: dtype {self.dtype!r} is not one of {DTYPES}")
        if self.role not in ROLES:
            raise SchemaDefinitionError(f"{where}: role {self.role!r} is not one of {ROLES}")
        if self.dtype == "category":
            if not self.categories:
                raise SchemaDefinitionError(f"{where}: a category column needs 'categories'")
            object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))
        elif self.categories is not None:
            raise SchemaDefinitionError(f"{where}: only category columns take 'categories'")
        if (self.min is not None or self.max is not None) and self.dtype not in ("float", "int"):
            raise SchemaDefinitionError(f"{where}: 'min'/'max' apply to float and int columns only")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SchemaDefinitionError(f"{where}: min {self.min} is above max {self.max}")

    @property
    def levels(self) -> tuple[str, ...]:
        """The categories of a category column, in their declared order (empty for other columns)."""
        return self.categories or ()

    @classmethod
    def from_dict(cls, name: str, spec: Mapping[str, Any]) -> Column:
        """Build a column from a mapping (one ``[columns.NAME]`` table of a TOML file)."""
        known = {"dtype", "role", "unit", "description", "min", "max", "categories", "nullable"}
        unknown = set(spec) - known
        if unknown:
            raise SchemaDefinitionError(f"column '{name}': unknown key(s) {sorted(unknown)}; allowed: {sorted(known)}")
        for key in ("dtype", "role"):
            if key not in spec:
                raise SchemaDefinitionError(f"column '{name}': '{key}' is required")
        kwargs = dict(spec)
        if "categories" in kwargs:
            kwargs["categories"] = tuple(kwargs["categories"])
        return cls(name=name, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The declaration as a plain mapping (name excluded), ``None`` values dropped."""
        d = {k: v for k, v in asdict(self).items() if v is not None and k != "name"}
        if "categories" in d:
            d["categories"] = list(d["categories"])
        return d

    @property
    def label(self) -> str:
        """Name with unit, for tables and plots (``"opn_ng_ml [ng/mL]"``)."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name


@dataclass(frozen=True)
class Schema:
    """An ordered set of :class:`Column` declarations.

    Parameters
    ----------
    columns : tuple of Column
        The declared columns, in order. Names must be unique.
    """

    columns: tuple[Column, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SchemaDefinitionError(f"columns declared more than once: {dupes}")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Mapping[str, Any]]) -> Schema:
        """Build a schema from ``{name: {dtype=..., role=..., ...}}``."""
        return cls(tuple(Column.from_dict(name, s) for name, s in spec.items()))

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Inverse of :meth:`from_dict`."""
        return {c.name: c.to_dict() for c in self.columns}

    def __getitem__(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    @property
    def names(self) -> list[str]:
        """Declared column names, in order."""
        return [c.name for c in self.columns]

    def by_role(self, *roles: str) -> list[Column]:
        """Columns whose role is one of ``roles``."""
        return [c for c in self.columns if c.role in roles]

    def subset(self, names: Iterable[str]) -> Schema:
        """A schema of the named columns only (in this schema's order)."""
        wanted = set(names)
        missing = wanted - set(self.names)
        if missing:
            raise SchemaDefinitionError(f"not in the schema: {sorted(missing)}")
        return Schema(tuple(c for c in self.columns if c.name in wanted))


def _rows(index: pd.Index, mask: np.ndarray) -> tuple[tuple, int]:
    where = np.flatnonzero(mask)
    return tuple(index[where[:MAX_ROWS_SHOWN]].tolist()), int(where.size)


def float_values(s: pd.Series) -> np.ndarray:
    """``s`` as float64, NaN where missing (a plain NumPy column skips pandas' NA handling)."""
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "fiub":
        return s.to_numpy(dtype=np.float64)
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def category_codes(s: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Position of each label of ``s`` in ``categories``: -1 where missing or not one of them.

    A pandas categorical is mapped through its own (few) categories, without building a new
    dtype: the cheap path for one patient and for a million alike.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        position = {c: k for k, c in enumerate(categories)}
        lookup = np.array([position.get(c, -1) for c in s.cat.categories] + [-1], dtype=np.int64)
        return lookup[s.array.codes]  # code -1 (missing) reads the trailing -1
    return pd.Categorical(s, categories=list(categories)).codes.astype(np.int64)


def _check_column(col: Column, s: pd.Series) -> tuple[list[Problem], np.ndarray | None]:
    """The problems of one column, and its values as the features use them: float64 (NaN where
    missing) for numeric and boolean columns, int64 codes in the schema's category order (-1
    where missing) for category columns, None for strings or a column of the wrong type.

    Checks read one NumPy array per column, computed once and handed on to the feature transform:
    range checks are two reductions, and a mask of offending rows is built only when a reduction
    says there are some."""
    if col.dtype in ("float", "int"):
        return _check_numeric(col, s)
    problems: list[Problem] = []
    missing = np.asarray(pd.isna(s.array), dtype=bool)  # no intermediate Series: cheap for one patient
    if missing.any() and not col.nullable:
        rows, n = _rows(s.index, missing)
        problems.append(Problem(col.name, "are missing, and missing values are not allowed", rows, n))
    present = ~missing
    if col.dtype == "bool":
        return _check_bool(col, s, present, problems)
    if col.dtype == "category":
        return _check_category(col, s, present, problems)
    if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)):  # a string column
        problems.append(Problem(col.name, f"must hold strings; found dtype {s.dtype}"))
    return problems, None


def _check_bool(
    col: Column, s: pd.Series, present: np.ndarray, problems: list[Problem]
) -> tuple[list[Problem], np.ndarray | None]:
    """A true/false column: booleans, or numbers that are 0 or 1; its values as float64."""
    dt = s.dtype
    if pd.api.types.is_bool_dtype(dt):
        return problems, float_values(s)
    if not (pd.api.types.is_integer_dtype(dt) or pd.api.types.is_float_dtype(dt)):
        return problems + [Problem(col.name, f"must be boolean (True/False or 0/1); found dtype {dt}")], None
    values = float_values(s)
    bad = present & ~np.isin(values, (0.0, 1.0))
    if bad.any():
        rows, n = _rows(s.index, bad)
        problems.append(Problem(col.name, "must be boolean (True/False or 0/1)", rows, n))
    return problems, values


def _check_category(
    col: Column, s: pd.Series, present: np.ndarray, problems: list[Problem]
) -> tuple[list[Problem], np.ndarray | None]:
    """A category column: labels among the declared ones; its values as int64 codes."""
    dt = s.dtype
    if not (
        isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dt) or pd.api.types.is_string_dtype(dt)
    ):
        return problems + [Problem(col.name, f"must hold category labels (strings); found dtype {dt}")], None
    values = category_codes(s, col.levels)
    bad = present & (values < 0)
    if bad.any():
        rows, n = _rows(s.index, bad)
        seen = sorted({str(v) for v in s[bad].unique()})[:MAX_ROWS_SHOWN]
        problems.append(Problem(col.name, f"must be one of {sorted(col.categories or ())} (found {seen})", rows, n))
    return problems, values


def _not_numeric(col: Column, s: pd.Series) -> Problem:
    """A numeric column that is not: name the rows whose values are not numbers, and the values."""
    rule = f"must be numeric ({col.dtype}); found dtype {s.dtype}"
    if pd.api.types.is_bool_dtype(s.dtype):
        return Problem(col.name, rule)
    present = np.asarray(~pd.isna(s.array), dtype=bool)
    with np.errstate(all="ignore"):
        parsed = pd.to_numeric(s.where(present), errors="coerce")
    bad = present & np.asarray(pd.isna(parsed.array), dtype=bool)
    if not bad.any():  # numbers, held as objects: the column's type is the problem
        return Problem(col.name, rule)
    rows, n = _rows(s.index, bad)
    seen = [repr(v) for v in s[bad].iloc[:MAX_ROWS_SHOWN]]
    return Problem(col.name, f"{rule}, with values that are not numbers: {', '.join(seen)}", rows, n)


def _check_numeric(col: Column, s: pd.Series) -> tuple[list[Problem], np.ndarray | None]:
    dt = s.dtype
    if not (pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)):
        return [_not_numeric(col, s)], None
    problems: list[Problem] = []
    values = float_values(s)
    if not col.nullable:
        missing = np.isnan(values)
        if missing.any():
            rows, n = _rows(s.index, missing)
            problems.append(Problem(col.name, "are missing, and missing values are not allowed", rows, n))
    if col.dtype == "int":
        frac = np.isfinite(values) & (values != np.trunc(values))
        if frac.any():
            rows, n = _rows(s.index, frac)
            problems.append(Problem(col.name, "must be whole numbers", rows, n))
    if not len(values):
        return problems, values
    # NaN compares False, so missing values never count as out of range.
    lowest, highest = np.fmin.reduce(values), np.fmax.reduce(values)
    if np.isinf(lowest) or np.isinf(highest):
        rows, n = _rows(s.index, np.isinf(values))
        problems.append(Problem(col.name, "must be finite", rows, n))
    if col.min is not None and lowest < col.min:
        rows, n = _rows(s.index, values < col.min)
        problems.append(Problem(col.name, f"must be >= {col.min}", rows, n))
    if col.max is not None and highest > col.max:
        rows, n = _rows(s.index, values > col.max)
        problems.append(Problem(col.name, f"must be <= {col.max}", rows, n))
    return problems, values


def validate(
    df: pd.DataFrame,
    schema: Schema,
    *,
    columns: Iterable[str] | None = None,
    what: str = "cohort",
) -> pd.DataFrame:
    """Check ``df`` against ``schema`` and return it unchanged, or raise naming every problem.

    Parameters
    ----------
    df : pandas.DataFrame
        The cohort (or the columns of it a model needs).
    schema : Schema
        The declared columns.
    columns : iterable of str, optional
        The columns that must be present; default every declared column. Columns of ``df``
        that the schema does not declare are ignored here (a caller may warn about them).
    what : str
        How the message calls the frame (``"cohort"``, ``"prediction input"``).

    Returns
    -------
    pandas.DataFrame
        ``df`` itself: nothing is coerced, nothing dropped.

    Raises
    ------
    SchemaValidationError
        One error whose ``problems`` list every missing column and every broken rule, each
        with the column, the rule and the first offending rows.
    """
    checked_values(df, schema, columns=columns, what=what)
    return df


def checked_values(
    df: pd.DataFrame,
    schema: Schema,
    *,
    columns: Iterable[str] | None = None,
    what: str = "cohort",
) -> dict[str, np.ndarray | None]:
    """:func:`validate`, returning each checked column's values as one NumPy array: float64 (NaN
    where missing) for numeric and boolean columns, int64 positions in the declared categories
    (-1 where missing) for category columns, None for string columns. The feature transform
    builds from these, so no column is converted twice."""
    if not isinstance(df, pd.DataFrame):
        raise SchemaValidationError([Problem("<frame>", f"expected a pandas DataFrame, got {type(df).__name__}")], what)
    required = list(columns) if columns is not None else schema.names
    problems: list[Problem] = []
    values: dict[str, np.ndarray | None] = {}
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    for name in dup:
        problems.append(Problem(str(name), "appears more than once in the frame"))
    for name in required:
        if name not in df.columns:
            problems.append(Problem(name, "is missing from the frame"))
        elif name not in dup:
            found, values[name] = _check_column(schema[name], df[name])
            problems.extend(found)
    if problems:
        raise SchemaValidationError(problems, what)
    return values

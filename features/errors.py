"""Exceptions raised by the :mod:`features` package."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FeaturesError", "SchemaDefinitionError", "SchemaValidationError", "Problem", "TableReadError"]


class FeaturesError(Exception):
    """Base class of every error raised by :mod:`features`."""


class TableReadError(FeaturesError):
    """A cohort file cannot be read (missing, unknown format, unparseable); the message names it."""


class SchemaDefinitionError(FeaturesError):
    """A schema (or a column declaration in it) is itself malformed."""


@dataclass(frozen=True)
class Problem:
    """One broken rule in one column.

    Attributes
    ----------
    column : str
        The column that breaks the rule.
    rule : str
        The rule, in words (``"must be >= 0"``).
    rows : tuple
        Index labels of the first offending rows (at most ``MAX_ROWS_SHOWN``).
    n_rows : int
        How many rows break the rule in all (0 for column-level problems).
    """

    column: str
    rule: str
    rows: tuple = ()
    n_rows: int = 0

    def __str__(self) -> str:
        if not self.n_rows:
            return f"column '{self.column}': {self.rule}"
        shown = ", ".join(str(r) for r in self.rows)
        more = f" (first {len(self.rows)} shown)" if self.n_rows > len(self.rows) else ""
        return f"column '{self.column}': {self.n_rows} row(s) {self.rule}: rows {shown}{more}"


class SchemaValidationError(FeaturesError):
    """A cohort breaks its schema; ``problems`` lists every broken rule.

    The message names each column, the rule and the first offending rows.
    """

    def __init__(self, problems: list[Problem], what: str = "cohort"):
        self.problems = list(problems)
        lines = [f"{what} does not match its schema ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))

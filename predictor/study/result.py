"""TODO docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from predictor.config.study import Study
from predictor.study.cell import ValidationSet
from predictor.study.grid import Cell

__all__ = ["StudyProgress", "StudyResult"]


# --------------------------------------------------------------------------------- the driver
@dataclass(frozen=True)
class StudyProgress:
    """Where a running study stands: cells ``done`` of ``total`` (``cached`` of them from an
    earlier run, ``failed`` with an error), seconds ``elapsed`` and an estimate of the seconds
    ``left`` (NaN until a cell has been computed); ``last``: the cell just finished, and its
    ``error`` if it failed."""

    done: int
    total: int
    cached: int
    failed: int
    elapsed: float
    left: float
    last: Cell | None = None
    error: str | None = None



@dataclass(frozen=True)
class StudyResult:
    """A finished study: the tidy ``table`` (:func:`results_table`), the learning ``curves``
    (:func:`predictor.study.sample_size.curve_summary`), the ``sample_size`` table (the study's minimum
    n beside Riley's), the ``power`` table (replicates) and its summary ``power_summary``, the
    validation cohorts' summaries, the cells' stage ``timings`` (seconds, summed) and how many
    cells were ``computed`` here and taken from the cache."""

    study: Study
    table: pd.DataFrame
    curves: pd.DataFrame
    sample_size: pd.DataFrame
    power: pd.DataFrame
    power_summary: pd.DataFrame
    validations: Mapping[str, ValidationSet]
    timings: Mapping[str, float]
    computed: int
    cached: int
    workers: int = 0
    dashboard: str | None = None
    wall_s: float = 0.0

    @property
    def failed(self) -> pd.DataFrame:
        """The failed cells: their keys and errors."""
        return self.table.loc[self.table.status == "failed", ["scenario", "n", "replicate", "model", "panel", "error"]]

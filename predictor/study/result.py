"""What a study run hands back: its progress while it runs, and the finished result, which saves
its tables and figures as the CLI writes them."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from features import atomic_write, write_csv
from predictor.config.study import Study
from predictor.reporting.study_figures import study_figures
from predictor.study.cell import ValidationSet
from predictor.study.grid import Cell

__all__ = ["StudyProgress", "StudyResult"]


@dataclass(frozen=True)
class StudyProgress:
    """Where a running study stands: cells ``done`` of ``total`` (``cached`` of them from an
    earlier run, ``failed`` with an error), seconds ``elapsed`` and an estimate of the seconds
    ``left`` in this round (NaN until a cell has been computed); ``last``: the cell just finished,
    and its ``error`` if it failed; ``round``: 1 for the grid, then an adaptive study's rounds."""

    done: int
    total: int
    cached: int
    failed: int
    elapsed: float
    left: float
    last: Cell | None = None
    error: str | None = None
    round: int = 1


@dataclass(frozen=True)
class StudyResult:
    """A finished study: the tidy ``table`` (:func:`results_table`), the learning ``curves``
    (:func:`predictor.study.sample_size.curve_summary`), the ``sample_size`` table (the study's minimum
    n beside Riley's), the ``power`` table (replicates) and its summary ``power_summary``, the
    validation cohorts' summaries, the cells' stage ``timings`` (seconds, summed), how many
    cells were ``computed`` here and taken from the cache, and the ``rounds`` run (1: the grid;
    an adaptive study's rounds after it)."""

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
    rounds: int = 1

    @property
    def failed(self) -> pd.DataFrame:
        """The failed cells: their keys and errors."""
        return self.table.loc[self.table.status == "failed", ["scenario", "n", "replicate", "model", "panel", "error"]]

    @cached_property
    def figures_png(self) -> dict[str, bytes]:
        """Every figure of the study (:func:`predictor.reporting.study_figures`) as PNG bytes at
        110 dpi, by artifact path (``figures/*.png``): drawn once, whether the figures are then
        saved to files, logged to MLflow, or both (the CLI does both)."""
        out = {}
        for name, fig in study_figures(self).items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            out[name] = buf.getvalue()
        return out

    def save(self, folder: str | Path | None = None) -> list[Path]:
        """Write the study's tables (``results.csv``, ``learning_curves.csv``, ``sample_size.csv``,
        ``power.csv``) and figures (``figures/*.png``) under ``folder`` (default: the study's
        output folder), each file whole or not at all; return the paths written. ``predictor
        study`` writes exactly these."""
        folder = Path(folder) if folder is not None else self.study.output
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        written = []
        tables = {
            "results": self.table,
            "learning_curves": self.curves,
            "sample_size": self.sample_size,
            "power": self.power_summary,
        }
        for name, table in tables.items():
            write_csv(table, folder / f"{name}.csv", index=False)
            written.append(folder / f"{name}.csv")
        for name, png in self.figures_png.items():
            with atomic_write(folder / name) as tmp:
                tmp.write_bytes(png)
            written.append(folder / name)
        return written

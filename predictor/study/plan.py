"""A study's plan, before anything runs: its cells, which the cache already holds, and an
estimate of the time the rest will take, from the seconds the cached cells took."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from predictor.config.study import Study
from predictor.study.cache import CellCache
from predictor.study.cell import CellResult
from predictor.study.grid import Cell, cell_key, plan_cells

__all__ = ["StudyPlan", "plan_study"]


@dataclass(frozen=True)
class StudyPlan:
    """What ``predictor study FILE --plan`` prints.

    Attributes
    ----------
    todo : tuple of Cell
        The cells the cache lacks.
    cached : int
        The cells the cache holds.
    seconds_per_cell : mapping
        Model family -> mean seconds of its cached cells (families with none are absent).
    """

    todo: tuple[Cell, ...]
    cached: int
    seconds_per_cell: Mapping[str, float]

    def estimate(self, workers: int) -> float:
        """Seconds the missing cells will take on ``workers`` workers (nan when a family to
        compute has no cached cell to time it by)."""
        seconds = [self.seconds_per_cell.get(c.model, math.nan) for c in self.todo]
        return float(np.sum(seconds)) / max(workers, 1)


def plan_study(study: Study) -> StudyPlan:
    """The plan of ``study``: reads its cache, runs nothing."""
    cache = CellCache(study.output / "cells")
    todo: list[Cell] = []
    timed: dict[str, list[float]] = {}
    for cell in plan_cells(study):
        hit = cache.get(cell_key(study, cell))
        if hit is None:
            todo.append(cell)
        else:
            timed.setdefault(cell.model, []).append(sum(CellResult.from_json(hit).timings.values()))
    per_cell = {model: float(np.mean(t)) for model, t in timed.items()}
    cached = int(np.sum([len(t) for t in timed.values()]))
    return StudyPlan(todo=tuple(todo), cached=cached, seconds_per_cell=per_cell)

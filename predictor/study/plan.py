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
from predictor.study.driver import Replay, replay
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
    rounds_cached : int
        An adaptive study's rounds (the grid first) whose cells are all cached.
    rounds_left, cells_left : int or None
        An adaptive study's expected further rounds and their cells after ``todo`` (None until
        the grid is cached: the curves say how far each answer is from its precision). The
        estimate assumes that an interval narrows as one over the square root of the replicates.
    """

    todo: tuple[Cell, ...]
    cached: int
    seconds_per_cell: Mapping[str, float]
    rounds_cached: int = 0
    rounds_left: int | None = None
    cells_left: int | None = None

    def estimate(self, workers: int) -> float:
        """Seconds the missing cells will take on ``workers`` workers (nan when a family to
        compute has no cached cell to time it by)."""
        seconds = [self.seconds_per_cell.get(c.model, math.nan) for c in self.todo]
        return float(np.sum(seconds)) / max(workers, 1)


def plan_study(study: Study) -> StudyPlan:
    """The plan of ``study``: reads its cache, runs nothing. An adaptive study's cached rounds are
    replayed (:func:`predictor.study.driver.replay`) to find the next round's cells and to
    estimate the rounds after it."""
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
    if study.adaptive is None:
        return StudyPlan(todo=tuple(todo), cached=cached, seconds_per_cell=per_cell)
    r = replay(study)
    rounds_left, cells_left = _expected_rounds(study, r) if r.rounds else (None, None)
    return StudyPlan(
        todo=r.todo,
        cached=r.cached,
        seconds_per_cell=per_cell,
        rounds_cached=r.rounds,
        rounds_left=rounds_left,
        cells_left=cells_left,
    )


def _expected_rounds(study: Study, r: Replay) -> tuple[int, int]:
    """Rounds and cells still expected after ``r.todo``: a curve whose interval is ``h`` (relative,
    the wider side) from n* with ``k`` replicates needs about ``k ((h / precision)^2 - 1)`` more,
    ``batch`` a round; its family's cells serve both tasks."""
    a = study.adaptive
    assert a is not None
    need: dict[tuple[str, str, str], int] = {}
    for data, found in r.curves:
        if found.status != "imprecise":
            continue
        h = max(found.n - found.low, found.high - found.n) / found.n
        extra = found.replicates * max((h / a.precision) ** 2 - 1.0, 0.0)
        key = (data.scenario, data.model, data.panel)
        rounds = math.ceil(extra / a.batch) if math.isfinite(extra) else a.rounds  # an open interval: all of them
        need[key] = max(need.get(key, 0), rounds)
    pending = 1 if r.todo else 0  # the round the todo cells belong to is one of them
    rounds = min(max(need.values(), default=0), a.rounds - (r.rounds - 1))
    rounds = max(rounds - pending, 0)
    cells = sum(min(k, rounds) for k in need.values()) * a.batch
    spent = r.cached + len(r.todo)
    cells = max(min(cells, a.max_cells - spent), 0)
    return (rounds if cells else 0), cells  # a spent cells budget runs no further round

"""Simulation studies: the same stages run over a grid of cohorts whose truth is known.

A study file (TOML, read with :mod:`tomllib`) names a base experiment and a grid::

    scenario variant x n x replicate x model family x biomarker panel

Each **cell** of the grid draws its own development cohort of ``n`` patients, runs the stages
``development_data -> fit_features -> search -> fit`` in a lean mode (no SHAP, no figures, no
bootstrap: the replicates give the spread) and scores the fitted model on one large validation
cohort per scenario variant, beside the oracle. Cells are independent: :mod:`predictor.study.scheduling`
runs them on Dask, and this module knows nothing of where they run.

Seeds
-----
Every seed comes from the study seed through :class:`numpy.random.SeedSequence`, keyed by what
it is for rather than by its position in the grid, so no result depends on the order in which
cells run, on the number of workers, or on which other cells the grid holds (a grid grown later
reuses the cells already computed):

* the validation cohort: ``SeedSequence(seed, spawn_key=(0,))`` (the same for every variant);
* replicate ``r`` at size ``n``: ``SeedSequence(seed, spawn_key=(1, r, n))``, the same cohort
  seed for every model family, panel and scenario variant (common random numbers: their
  differences are paired, and a variant changes parameters, not draws).

Spawning keyed children is what :meth:`SeedSequence.spawn` does by position; keying them by value
keeps a cell's seed fixed when the grid changes.

Cache
-----
A finished cell is written (atomically) under ``<output>/cells/`` with a key that hashes
everything that determines it: the resolved base experiment, the study's search settings, the
scenario variant's parameter values, the validation cohort, the cell's keys and seed, and the
package version. A study run again computes only the cells whose files are missing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from predictor.config.study import Study, Variant
from predictor.errors import StudyError
from predictor.study import scheduling
from predictor.study.adaptive import CurveData, fitted_curves, next_cells
from predictor.study.analysis import analyse, results_table
from predictor.study.cache import CellCache
from predictor.study.cell import (
    CellResult,
    OutcomeFacts,
    ValidationSet,
    make_validation,
    run_cell,
)
from predictor.study.grid import (
    Cell,
    cell_key,
    plan_cells,
    validation_key,
    validation_seed,
)
from predictor.study.learning_curve import CurveAnswer
from predictor.study.result import StudyProgress, StudyResult
from predictor.training.data import Part, Synthetic, make_tasks

__all__ = ["run_study", "Replay", "replay"]


def run_study(
    study: Study,
    cluster=None,
    progress: Callable[[StudyProgress], None] | None = None,
    connected: Callable[[Any], None] | None = None,
) -> StudyResult:
    """Run every cell of ``study`` that its cache lacks, on Dask (:mod:`predictor.study.scheduling`),
    and analyse the whole grid; an adaptive study (``[adaptive]``) then runs its rounds
    (:mod:`predictor.study.adaptive`) on the same cluster.

    Parameters
    ----------
    cluster : predictor.study.scheduling.ClusterSpec, optional
        Where cells run (default: a LocalCluster on this machine's cores).
    progress : callable, optional
        Called with a :class:`StudyProgress` after each cell (and once before each round).
    connected : callable, optional
        Called with the :class:`~predictor.study.scheduling.Connection` once the cluster answers (its
        worker count and dashboard address).

    Raises
    ------
    StudyError
        The cluster cannot be reached (before any cell runs).
    """
    run = _StudyRun(study, progress or (lambda p: None), cluster or scheduling.ClusterSpec(), connected)
    with run.stack:
        _rounds(run)
    return run.analysed()


@dataclass(frozen=True)
class Replay:
    """Where a study stands by its cache alone (:func:`replay`): the ``rounds`` whose cells are all
    cached, the ``cached`` cells, the cells the next round would compute (``todo``; empty: the
    study is complete) and, once the grid is cached, each learning curve's answer (``curves``)."""

    rounds: int
    cached: int
    todo: tuple[Cell, ...]
    curves: tuple[tuple[CurveData, CurveAnswer], ...]


class _Offline(Exception):
    """A replayed round needs cells the cache lacks."""

    def __init__(self, todo: list[Cell]):
        self.todo = todo


def replay(study: Study) -> Replay:
    """The study's rounds as far as its cache holds them: what the driver would take from the
    cache, what it would compute next, and the curves' answers so far; nothing runs."""
    run = _StudyRun(study, lambda p: None, scheduling.ClusterSpec(), None, offline=True)
    todo: list[Cell] = []
    try:
        _rounds(run)
    except _Offline as stop:
        todo = stop.todo
    complete = run.rounds - (1 if todo else 0)
    curves: tuple[tuple[CurveData, CurveAnswer], ...] = ()
    if complete >= 1 and study.adaptive is not None:
        curves = tuple(fitted_curves(study, run.table(), run.validations))
    return Replay(rounds=complete, cached=run.cached, todo=tuple(todo), curves=curves)


def _rounds(run: _StudyRun) -> None:
    """The grid, then an adaptive study's rounds (see :mod:`predictor.study.adaptive`)."""
    run.round(plan_cells(run.study))
    a = run.study.adaptive
    if a is None:
        return
    for _ in range(a.rounds):
        if a.max_seconds is not None and time.perf_counter() - run.start > a.max_seconds:
            return
        curves = fitted_curves(run.study, run.table(), run.validations)  # a curve it cannot fit asks for nothing
        cells = next_cells(run.study, curves, run.cells, a.max_cells - len(run.cells))
        if not cells:
            return
        run.round(cells)


class _StudyRun:
    """One run of a study's driver: its cells round after round, what the cache holds, and the
    tally of cells as they come back (only the driver writes the cache). The cluster is
    connected to when a round first has something to compute, and stays until ``stack`` closes."""

    def __init__(
        self,
        study: Study,
        say: Callable[[StudyProgress], None],
        cluster: scheduling.ClusterSpec,
        connected: Callable[[Any], None] | None,
        offline: bool = False,
    ):
        self.study, self.say, self.cluster, self.connected = study, say, cluster, connected
        self.offline = offline  # replay the cache only: a round with cells to compute stops (_Offline)
        self.start = time.perf_counter()
        self.stack = ExitStack()
        self.conn: scheduling.Connection | None = None
        self.cells: list[Cell] = []
        self.keys: dict[Cell, str] = {}
        self.shared_key = {v.name: validation_key(study, v) for v in study.variants}
        self.cache = CellCache(study.output / "cells")
        self.results: dict[str, CellResult] = {}
        self.validations: dict[str, ValidationSet] = {}
        self.cached = self.computed = self.failed = self.workers = self.rounds = 0
        self.dashboard: str | None = None

    def round(self, cells: list[Cell]) -> None:
        """Add ``cells`` to the study: take what the cache holds, compute the rest."""
        self.rounds += 1
        self.cells += cells
        self.keys |= {cell: cell_key(self.study, cell) for cell in cells}
        todo, missing = self._take_cached(cells)
        if (todo or missing) and self.offline:
            raise _Offline(todo)
        if todo or missing:
            self._compute(todo, missing)

    def _take_cached(self, cells: list[Cell]) -> tuple[list[Cell], list[Variant]]:
        """The cells and validation summaries already in the cache; what is left to compute."""
        for cell in cells:
            hit = self.cache.get(self.keys[cell])
            if hit is not None:
                self.results[self.keys[cell]] = CellResult.from_json(hit)
                self.cached += 1
        for v in self.study.variants:
            hit = self.cache.get(self.shared_key[v.name]) if v.name not in self.validations else None
            if hit is not None:
                self.validations[v.name] = _validation_from_json(self.study, hit)
        todo = [c for c in cells if self.keys[c] not in self.results]
        missing = [v for v in self.study.variants if v.name not in self.validations]
        self.say(self._progress(left=math.nan))
        return todo, missing

    def _connection(self) -> scheduling.Connection:
        if self.conn is None:
            self.conn = self.stack.enter_context(scheduling.connect(self.cluster))
            self.workers, self.dashboard = self.conn.workers, self.conn.dashboard
            if self.connected is not None:
                self.connected(self.conn)
        return self.conn

    def _compute(self, todo: list[Cell], missing: list[Variant]) -> None:
        """The round's missing cells and validation summaries, on the cluster, as they finish."""
        shared = {self.shared_key[v.name]: _ValidationMaker(self.study, v.name) for v in self.study.variants}
        jobs = [
            scheduling.Job(key=f"summary-{self.shared_key[v.name]}", shared=self.shared_key[v.name], fn=_summarise)
            for v in missing
        ]
        jobs += [
            scheduling.Job(
                key=f"cell-{self.keys[c]}", shared=self.shared_key[c.scenario], fn=_CellRunner(self.study, c)
            )
            for c in todo
        ]
        by_key = {f"cell-{self.keys[c]}": c for c in todo}
        conn = self._connection()
        compute_start, computed = time.perf_counter(), 0
        for key, result in conn.run(shared, jobs):
            if key.startswith("summary-"):
                self._take_summary(key.removeprefix("summary-"), result)
                continue
            self._take_cell(by_key[key], key.removeprefix("cell-"), result)
            computed += 1
            left = (time.perf_counter() - compute_start) / computed * (len(todo) - computed)
            self.say(self._progress(left=left, last=by_key[key], error=self.results[key.removeprefix("cell-")].error))

    def _progress(self, left: float, last: Cell | None = None, error: str | None = None) -> StudyProgress:
        return StudyProgress(
            done=len(self.results),
            total=len(self.cells),
            cached=self.cached,
            failed=self.failed,
            elapsed=time.perf_counter() - self.start,
            left=left,
            last=last,
            error=error,
            round=self.rounds,
        )

    def _take_summary(self, key: str, result: Any) -> None:
        if isinstance(result, BaseException):
            raise StudyError(f"the validation cohort could not be built: {type(result).__name__}: {result}")
        self.validations[result.variant] = result
        self.cache.put(key, _validation_to_json(result))

    def _take_cell(self, cell: Cell, key: str, result: Any) -> None:
        if isinstance(result, BaseException):  # the cluster could not run it (a worker lost too often)
            result = CellResult(cell=cell, error=f"{type(result).__name__}: {result}")
        if result.ok:
            self.cache.put(key, result.to_json())
        else:
            self.failed += 1
        self.results[key] = result
        self.computed += 1

    def table(self) -> pd.DataFrame:
        """The tidy results of every cell so far."""
        done = [self.results[self.keys[c]] for c in self.cells if self.keys[c] in self.results]
        return results_table(done, self.validations)

    def analysed(self) -> StudyResult:
        """The study's tables from every cell, in the order of the grid and then the rounds."""
        return analyse(
            self.study,
            [self.results[self.keys[c]] for c in self.cells],
            self.validations,
            computed=self.computed,
            cached=self.cached,
            workers=self.workers,
            dashboard=self.dashboard,
            wall_s=time.perf_counter() - self.start,
            rounds=self.rounds,
        )


@dataclass(frozen=True)
class _ValidationMaker:
    """``make_validation(study, variant)`` as a picklable callable (a Dask task)."""

    study: Study
    variant: str

    def __call__(self) -> ValidationSet:
        return make_validation(self.study, self.variant)


@dataclass(frozen=True)
class _CellRunner:
    study: Study
    cell: Cell

    def __call__(self, validation: ValidationSet) -> CellResult:
        return run_cell(self.study, self.cell, validation)


def _summarise(validation: ValidationSet) -> ValidationSet:
    return validation.summary()


def _validation_to_json(v: ValidationSet) -> dict[str, Any]:
    return {"variant": v.variant, "oracle": v.oracle, "facts": {k: asdict(f) for k, f in v.facts.items()}}


def _validation_from_json(study: Study, d: Mapping[str, Any]) -> ValidationSet:
    scenario = study.scenario.with_values(study.variant(d["variant"]).values(study.scenario))
    tasks = make_tasks(study.base, scenario.schema)
    return ValidationSet(
        variant=d["variant"],
        part=Part("validation", pd.DataFrame()),
        source=Synthetic(scenario=scenario, seed=validation_seed(study.study.seed), parameters={}),
        tasks=tasks,
        targets={},
        references={},
        oracle=d["oracle"],
        facts={k: OutcomeFacts(**f) for k, f in d["facts"].items()},
    )

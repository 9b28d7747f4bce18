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
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from predictor.config.study import Study, Variant
from predictor.errors import StudyError
from predictor.study import scheduling
from predictor.study.analysis import analyse
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
from predictor.study.result import StudyProgress, StudyResult
from predictor.training.data import Part, Synthetic, make_tasks

__all__ = ["run_study"]


def run_study(
    study: Study,
    cluster=None,
    progress: Callable[[StudyProgress], None] | None = None,
    connected: Callable[[Any], None] | None = None,
) -> StudyResult:
    """Run every cell of ``study`` that its cache lacks, on Dask (:mod:`predictor.study.scheduling`),
    and analyse the whole grid.

    Parameters
    ----------
    cluster : predictor.study.scheduling.ClusterSpec, optional
        Where cells run (default: a LocalCluster on this machine's cores).
    progress : callable, optional
        Called with a :class:`StudyProgress` after each cell (and once before the first).
    connected : callable, optional
        Called with the :class:`~predictor.study.scheduling.Connection` once the cluster answers (its
        worker count and dashboard address).

    Raises
    ------
    StudyError
        The cluster cannot be reached (before any cell runs).
    """
    run = _StudyRun(study, progress or (lambda p: None))
    run.take_cached()
    if run.todo or run.missing:
        run.compute(cluster or scheduling.ClusterSpec(), connected)
    return run.analysed()


class _StudyRun:
    """One run of a study's driver: what the cache holds, what is left, and the tally of cells
    as they come back (only the driver writes the cache)."""

    def __init__(self, study: Study, say: Callable[[StudyProgress], None]):
        self.study, self.say = study, say
        self.start = time.perf_counter()
        self.cells = plan_cells(study)
        self.keys = {cell: cell_key(study, cell) for cell in self.cells}
        self.shared_key = {v.name: validation_key(study, v) for v in study.variants}
        self.cache = CellCache(study.output / "cells")
        self.results: dict[str, CellResult] = {}
        self.validations: dict[str, ValidationSet] = {}
        self.cached = self.computed = self.failed = self.workers = 0
        self.dashboard: str | None = None
        self.todo: list[Cell] = []
        self.missing: list[Variant] = []

    def take_cached(self) -> None:
        """The cells and validation summaries already in the cache; what is left to compute."""
        for key in self.keys.values():
            hit = self.cache.get(key)
            if hit is not None:
                self.results[key] = CellResult.from_json(hit)
        for v in self.study.variants:
            hit = self.cache.get(self.shared_key[v.name])
            if hit is not None:
                self.validations[v.name] = _validation_from_json(self.study, hit)
        self.cached = len(self.results)
        self.todo = [c for c in self.cells if self.keys[c] not in self.results]
        self.missing = [v for v in self.study.variants if v.name not in self.validations]
        self.say(
            StudyProgress(
                done=self.cached, total=len(self.cells), cached=self.cached, failed=0, elapsed=0.0, left=math.nan
            )
        )

    def compute(self, cluster: scheduling.ClusterSpec, connected: Callable[[Any], None] | None) -> None:
        """Every missing cell and validation summary, on the cluster, as they finish."""
        shared = {self.shared_key[v.name]: _ValidationMaker(self.study, v.name) for v in self.study.variants}
        jobs = [
            scheduling.Job(key=f"summary-{self.shared_key[v.name]}", shared=self.shared_key[v.name], fn=_summarise)
            for v in self.missing
        ]
        jobs += [
            scheduling.Job(
                key=f"cell-{self.keys[c]}", shared=self.shared_key[c.scenario], fn=_CellRunner(self.study, c)
            )
            for c in self.todo
        ]
        by_key = {f"cell-{self.keys[c]}": c for c in self.todo}
        with scheduling.connect(cluster) as conn:
            self.workers, self.dashboard = conn.workers, conn.dashboard
            if connected is not None:
                connected(conn)
            compute_start = time.perf_counter()
            for key, result in conn.run(shared, jobs):
                if key.startswith("summary-"):
                    self._take_summary(key.removeprefix("summary-"), result)
                else:
                    self._take_cell(by_key[key], key.removeprefix("cell-"), result, compute_start)

    def _take_summary(self, key: str, result: Any) -> None:
        if isinstance(result, BaseException):
            raise StudyError(f"the validation cohort could not be built: {type(result).__name__}: {result}")
        self.validations[result.variant] = result
        self.cache.put(key, _validation_to_json(result))

    def _take_cell(self, cell: Cell, key: str, result: Any, compute_start: float) -> None:
        if isinstance(result, BaseException):  # the cluster could not run it (a worker lost too often)
            result = CellResult(cell=cell, error=f"{type(result).__name__}: {result}")
        if result.ok:
            self.cache.put(key, result.to_json())
        else:
            self.failed += 1
        self.results[key] = result
        self.computed += 1
        elapsed = time.perf_counter() - compute_start
        self.say(
            StudyProgress(
                done=self.cached + self.computed,
                total=len(self.cells),
                cached=self.cached,
                failed=self.failed,
                elapsed=time.perf_counter() - self.start,
                left=elapsed / self.computed * (len(self.todo) - self.computed),
                last=cell,
                error=result.error,
            )
        )

    def analysed(self) -> StudyResult:
        """The study's tables from every cell, in the grid's order."""
        return analyse(
            self.study,
            [self.results[self.keys[c]] for c in self.cells],
            self.validations,
            computed=self.computed,
            cached=self.cached,
            workers=self.workers,
            dashboard=self.dashboard,
            wall_s=time.perf_counter() - self.start,
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

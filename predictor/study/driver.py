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

from predictor.config.study import Study
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

    start = time.perf_counter()
    cluster = cluster or scheduling.ClusterSpec()
    say = progress or (lambda p: None)
    cells = plan_cells(study)
    keys = {cell: cell_key(study, cell) for cell in cells}
    cache = CellCache(study.output / "cells")
    results: dict[str, CellResult] = {}
    for key in keys.values():
        hit = cache.get(key)
        if hit is not None:
            results[key] = CellResult.from_json(hit)
    shared_key = {v.name: validation_key(study, v) for v in study.variants}
    validations: dict[str, ValidationSet] = {}
    for v in study.variants:
        hit = cache.get(shared_key[v.name])
        if hit is not None:
            validations[v.name] = _validation_from_json(study, hit)
    cached = len(results)
    todo = [c for c in cells if keys[c] not in results]
    total, failed, computed, workers, dashboard = len(cells), 0, 0, 0, None
    say(StudyProgress(done=cached, total=total, cached=cached, failed=0, elapsed=0.0, left=math.nan))
    missing = [v for v in study.variants if v.name not in validations]
    if todo or missing:
        shared = {shared_key[v.name]: _ValidationMaker(study, v.name) for v in study.variants}
        jobs = [
            scheduling.Job(key=f"summary-{shared_key[v.name]}", shared=shared_key[v.name], fn=_summarise)
            for v in missing
        ]
        jobs += [
            scheduling.Job(key=f"cell-{keys[c]}", shared=shared_key[c.scenario], fn=_CellRunner(study, c)) for c in todo
        ]
        by_key = {f"cell-{keys[c]}": c for c in todo}
        with scheduling.connect(cluster) as conn:
            workers, dashboard = conn.workers, conn.dashboard
            if connected is not None:
                connected(conn)
            compute_start = time.perf_counter()
            for key, result in conn.run(shared, jobs):
                if key.startswith("summary-"):
                    if isinstance(result, BaseException):
                        raise StudyError(f"the validation cohort could not be built: {type(result).__name__}: {result}")
                    validations[result.variant] = result
                    cache.put(key.removeprefix("summary-"), _validation_to_json(result))
                    continue
                cell = by_key[key]
                if isinstance(result, BaseException):  # the cluster could not run it (a worker lost too often)
                    result = CellResult(cell=cell, error=f"{type(result).__name__}: {result}")
                if result.ok:
                    cache.put(key.removeprefix("cell-"), result.to_json())
                else:
                    failed += 1
                results[key.removeprefix("cell-")] = result
                computed += 1
                elapsed = time.perf_counter() - compute_start
                left = elapsed / computed * (len(todo) - computed)
                say(
                    StudyProgress(
                        done=cached + computed,
                        total=total,
                        cached=cached,
                        failed=failed,
                        elapsed=time.perf_counter() - start,
                        left=left,
                        last=cell,
                        error=result.error,
                    )
                )
    ordered = [results[keys[c]] for c in cells]
    return analyse(
        study,
        ordered,
        validations,
        computed=computed,
        cached=cached,
        workers=workers,
        dashboard=dashboard,
        wall_s=time.perf_counter() - start,
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

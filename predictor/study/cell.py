"""One cell of a study: a development cohort, the lean stages (data -> search -> fit) and the
scores on its variant's validation cohort beside the oracle; and that validation cohort.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from predictor.config.experiment import Experiment
from predictor.config.study import MODEL_FAMILIES, Study
from predictor.study.grid import Cell, validation_seed
from predictor.training.data import (
    Part,
    Synthetic,
    development_data,
    fit_features,
    make_tasks,
)
from predictor.training.fitting import SearchResult, fit_baseline, fit_xgboost, search
from synthetic import generate

__all__ = ["OutcomeFacts", "ValidationSet", "make_validation", "CellResult", "cell_experiment", "run_cell"]


# ------------------------------------------------------------------------------ the validation
@dataclass(frozen=True)
class OutcomeFacts:
    """What Riley's closed-form sample size needs from a variant's validation cohort, per task:
    ``prevalence`` (binary); ``event_rate`` (events per unit of follow-up), ``mean_followup``,
    ``horizon`` and ``r2_cs`` (the oracle's Cox-Snell R-squared) for a time to event."""

    task: str
    kind: str
    prevalence: float = math.nan
    event_rate: float = math.nan
    mean_followup: float = math.nan
    horizon: float = math.nan
    r2_cs: float = math.nan


@dataclass(frozen=True)
class ValidationSet:
    """One scenario variant's validation cohort and what every cell scored on it shares: the
    targets, the scoring reference (this cohort's own censoring distribution, the same for every
    cell, so that gaps to the oracle are differences on one yardstick), and the oracle's metrics."""

    variant: str
    part: Part
    source: Synthetic
    tasks: tuple
    targets: Mapping[str, np.ndarray]
    references: Mapping[str, Any]
    oracle: Mapping[str, Mapping[str, float]]
    facts: Mapping[str, OutcomeFacts]

    def summary(self) -> ValidationSet:
        """The same without the patients: what the driver keeps and caches."""
        return replace(self, part=Part(self.part.name, self.part.frame.iloc[:0]), targets={}, references={})


def make_validation(study: Study, variant_name: str) -> ValidationSet:
    """The validation cohort of a scenario variant, with its oracle scored."""

    variant = study.variant(variant_name)
    scenario = study.scenario.with_values(variant.values(study.scenario))
    seed = validation_seed(study.study.seed)
    cohort = generate(scenario, study.study.validation_n, seed)
    part = Part("validation", cohort.observed, cohort.truth)
    source = Synthetic(scenario=scenario, seed=seed, parameters=cohort.parameters)
    tasks = make_tasks(study.base, scenario.schema)
    targets = {t.name: t.target(part.frame) for t in tasks}
    references = {t.name: t.reference(targets[t.name]) for t in tasks}
    oracle, facts = {}, {}
    for t in tasks:
        truth = t.oracle(part.truth, source, part.frame)
        oracle[t.name] = _point(t, references[t.name], targets[t.name], truth) if truth is not None else {}
        facts[t.name] = _facts(t, targets[t.name], truth)
    return ValidationSet(
        variant=variant_name,
        part=part,
        source=source,
        tasks=tasks,
        targets=targets,
        references=references,
        oracle=oracle,
        facts=facts,
    )


def _point(task, reference, y, prediction) -> dict[str, float]:
    s = task.scorer(reference, y, prediction)
    rows = np.arange(len(y))
    return {k: float(v) for k, v in (s.point or s.metric)(rows).items()}


def _facts(task, y, truth) -> OutcomeFacts:
    if y.dtype.names is None:  # a binary outcome
        return OutcomeFacts(task=task.name, kind="binary", prevalence=float(np.mean(y)))

    event, t = y["event"], y["time"]
    r2 = math.nan
    if truth is not None:  # the oracle's Cox-Snell R-squared: 1 - exp(-LR / n) of a Cox fit on its risk score
        df = pd.DataFrame({"risk": truth.risk, "time": t, "event": event})
        lr = CoxPHFitter().fit(df, "time", "event").log_likelihood_ratio_test().test_statistic
        r2 = 1.0 - math.exp(-lr / len(t))
    return OutcomeFacts(
        task=task.name,
        kind="survival",
        event_rate=float(event.sum() / t.sum()),
        mean_followup=float(t.mean()),
        horizon=float(task.decision_horizon),
        r2_cs=r2,
    )


# ------------------------------------------------------------------------------------ one cell
@dataclass(frozen=True)
class CellResult:
    """A cell's metrics on its validation cohort: one record per (task, metric); ``power`` holds
    the baseline's test of the power covariate per task (coefficient, p-value); ``timings`` the
    seconds spent in each stage; ``error`` says why a cell failed (its records are then empty)."""

    cell: Cell
    records: tuple[tuple[str, str, float], ...] = ()
    power: tuple[tuple[str, float, float], ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": asdict(self.cell),
            "records": self.records,
            "power": self.power,
            "timings": dict(self.timings),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CellResult:
        return cls(
            cell=Cell(**d["cell"]),
            records=tuple(tuple(r) for r in d["records"]),
            power=tuple(tuple(p) for p in d["power"]),
            timings=d["timings"],
            error=d["error"],
        )


def cell_experiment(study: Study, cell: Cell) -> Experiment:
    """The base experiment as a cell runs it: its cohort size and seed, its panel, its booster(s),
    the study's search settings, one thread per fit (the cluster gives the parallelism)."""
    base, panel = study.base, study.panel(cell.panel)
    features = base.features
    if panel.columns is not None:
        keep = set(panel.columns)
        log = features.log if not isinstance(features.log, tuple) else tuple(c for c in features.log if c in keep)
        features = replace(
            features, columns=panel.columns, log=log, cutoffs={c: v for c, v in features.cutoffs.items() if c in keep}
        )
    boosters = MODEL_FAMILIES[cell.model] or base.search.boosters
    s = study.search
    search_ = replace(
        base.search,
        boosters=boosters,
        n_jobs=1,
        n_iter=s.n_iter or base.search.n_iter,
        cv_folds=s.cv_folds or base.search.cv_folds,
    )
    return replace(
        base,
        cohort=replace(base.cohort, n=cell.n, seed=cell.seed),
        features=features,
        search=search_,
        validation=replace(base.validation, n=0, path=None),
    )


def run_cell(study: Study, cell: Cell, validation: ValidationSet) -> CellResult:
    """Fit ``cell``'s model on its development cohort and score it on ``validation``.

    Never raises for a failing cell: the error comes back in :attr:`CellResult.error`, so the
    study goes on with the other cells and its table marks this one.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    try:
        exp = cell_experiment(study, cell)
        data = development_data(exp, validation.source.scenario, nested=True)
        features = fit_features(exp, data)
        X = features.transform(data.train.frame)
        classical = cell.model in ("baseline", "unpenalised")
        X_val = None if classical else features.transform(validation.part.frame)  # regressions read raw columns
        lap("data")
        records, power = [], []
        for task in data.tasks:
            y = task.target(data.train.frame)
            if classical:
                baseline = fit_baseline(task, exp, data, features, y, penalised=cell.model == "baseline")
                lap("fit")
                prediction = task.predict_baseline(baseline, validation.part.frame)
                if study.power.covariate is not None and cell.model == "baseline":
                    power.append(
                        (task.name, *task.coefficient_test(baseline, data.train.frame, y, study.power.covariate))
                    )
            else:
                chosen: SearchResult = search(task, X, y, exp.search)
                lap("search")
                model = fit_xgboost(task, chosen, exp.search.seed, X, y, n_jobs=1)
                lap("fit")
                prediction = task.predict(model, X_val)
            metrics = _point(task, validation.references[task.name], validation.targets[task.name], prediction)
            records += [(task.name, k, v) for k, v in metrics.items()]
            lap("evaluate")
        return CellResult(cell=cell, records=tuple(records), power=tuple(power), timings=timings)
    except Exception as exc:  # noqa: BLE001 - a failing cell is reported, not fatal (see the docstring)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return CellResult(
            cell=cell,
            timings=timings,
            error=f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})",
        )

"""A study's tables from its cells: the tidy results with each gap to the oracle, the power
table, and the minimum n beside Riley's closed-form criteria.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.pipeline import CohortFeatures
from predictor.config.study import Study
from predictor.study.cell import CellResult, OutcomeFacts, ValidationSet
from predictor.study.result import StudyResult
from predictor.study.sample_size import (
    RileySize,
    cox_snell_from_c,
    curve_summary,
    minimum_n,
    power_summary,
    riley_binary,
    riley_survival,
)
from synthetic import generate

__all__ = [
    "LOWER_IS_BETTER",
    "ALPHA",
    "gap",
    "results_table",
    "power_table",
    "panel_parameters",
    "analyse",
    "sample_size_table",
]


#: Metrics where smaller is better: their gap to the oracle is model - oracle (else oracle - model).
LOWER_IS_BETTER = ("brier", "ibs", "ibs_km", "ici", "e50", "e90")


#: Metrics whose ideal is a value (1 or 0), not the oracle's: no gap.
_NO_GAP = ("cal_slope", "cal_intercept", "oe_ratio")


#: The power analysis's test level.
ALPHA = 0.05


# ----------------------------------------------------------------------------------- the table
def gap(metric: str, value: float, oracle: float) -> float:
    """How far a model is from the oracle on ``metric`` (positive = worse than the oracle); NaN
    for the calibration metrics, whose ideal is a value rather than the oracle's."""
    if metric in _NO_GAP or oracle is None or not np.isfinite(oracle):
        return math.nan
    return value - oracle if metric in LOWER_IS_BETTER else oracle - value


def results_table(results: Sequence[CellResult], validations: Mapping[str, ValidationSet]) -> pd.DataFrame:
    """One tidy table: cell keys, ``replicate``, ``task``, ``metric``, ``value``, ``oracle``,
    ``gap`` (:func:`gap`), ``status`` ("ok" or "failed") and ``error``; a failed cell has one row
    with its error. Sorted by its keys, so it does not depend on the order cells finished in."""
    rows = []
    for r in results:
        keys = r.cell.keys()
        if not r.ok:
            rows.append(
                {
                    **keys,
                    "task": None,
                    "metric": None,
                    "value": math.nan,
                    "oracle": math.nan,
                    "gap": math.nan,
                    "status": "failed",
                    "error": r.error,
                }
            )
            continue
        oracle = validations[r.cell.scenario].oracle
        for task, metric, value in r.records:
            o = oracle.get(task, {}).get(metric, math.nan)
            rows.append(
                {
                    **keys,
                    "task": task,
                    "metric": metric,
                    "value": value,
                    "oracle": o,
                    "gap": gap(metric, value, o),
                    "status": "ok",
                    "error": None,
                }
            )
    columns = [
        "scenario",
        "n",
        "replicate",
        "model",
        "panel",
        "task",
        "metric",
        "value",
        "oracle",
        "gap",
        "status",
        "error",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(
        ["scenario", "n", "model", "panel", "replicate", "task", "metric"], na_position="first"
    ).reset_index(drop=True)


def power_table(results: Sequence[CellResult]) -> pd.DataFrame:
    """The baseline's test of the power covariate in each replicate: cell keys, task, coefficient, p."""
    rows = [{**r.cell.keys(), "task": task, "coef": coef, "p": p} for r in results if r.ok for task, coef, p in r.power]
    table = pd.DataFrame(rows, columns=["scenario", "n", "replicate", "model", "panel", "task", "coef", "p"])
    return table.sort_values(["scenario", "n", "panel", "replicate", "task"]).reset_index(drop=True)


def panel_parameters(study: Study) -> dict[str, int]:
    """Predictor parameters (model input columns after encoding) of each panel: Riley's ``p``."""

    sample = generate(study.scenario, 500, 0).observed
    f = study.base.features
    out = {}
    for p in study.panels:
        cutoffs = {c: v for c, v in f.cutoffs.items() if p.columns is None or c in p.columns}
        out[p.name] = len(
            CohortFeatures(schema=study.scenario.schema, columns=p.columns, log=None, cutoffs=cutoffs or None)
            .fit(sample)
            .feature_names_out_
        )
    return out


def analyse(
    study: Study, results: Sequence[CellResult], validations: Mapping[str, ValidationSet], **info: Any
) -> StudyResult:
    """The tables of a study from its cells' results (see :class:`StudyResult`)."""

    table = results_table(results, validations)
    curves = curve_summary(table)
    power = power_table(results)
    timings: dict[str, float] = {}
    for r in results:
        for stage, s in r.timings.items():
            timings[stage] = timings.get(stage, 0.0) + s
    return StudyResult(
        study=study,
        table=table,
        curves=curves,
        sample_size=sample_size_table(study, table, validations),
        power=power,
        power_summary=power_summary(power, direction=study.power.direction),
        validations=validations,
        timings=timings,
        **info,
    )


def _riley(facts: OutcomeFacts, oracle_headline: float, parameters: int, slope: float) -> RileySize | None:
    """Riley's closed-form development sample size for one outcome and panel (None where its
    inputs are undefined, such as an oracle without a C-statistic)."""
    try:
        if facts.kind == "binary":
            return riley_binary(
                r2_cs=cox_snell_from_c(oracle_headline, facts.prevalence),
                parameters=parameters,
                prevalence=facts.prevalence,
                shrinkage=slope,
            )
        return riley_survival(
            r2_cs=facts.r2_cs,
            parameters=parameters,
            rate=facts.event_rate,
            mean_followup=facts.mean_followup,
            horizon=facts.horizon,
            shrinkage=slope,
        )
    except (ValueError, KeyError):
        return None


#: The columns of :func:`sample_size_table`.
SAMPLE_SIZE_COLUMNS = [
    *("scenario", "task", "metric", "model", "panel", "study_n", "study_low", "study_high"),
    *("riley_n", "riley_1", "riley_2", "riley_3", "parameters", "r2_cs", "oracle"),
]


def sample_size_table(study: Study, table: pd.DataFrame, validations: Mapping[str, ValidationSet]) -> pd.DataFrame:
    """Per scenario, task, model and panel: the study's minimum n with its bootstrap interval,
    beside Riley's closed-form n (each criterion) for the same outcome and panel."""

    c = study.criteria
    parameters = panel_parameters(study)
    ok = table[table.status == "ok"]
    rows = []
    for v in study.variants:
        val = validations.get(v.name)
        if val is None:
            continue
        for task in val.tasks:
            facts, oracle = val.facts[task.name], val.oracle.get(task.name, {})
            headline = ok[(ok.scenario == v.name) & (ok.task == task.name) & (ok.metric == task.headline)]
            slopes = ok[(ok.scenario == v.name) & (ok.task == task.name) & (ok.metric == "cal_slope")]
            keys = ["model", "panel", "n", "replicate"]
            both = headline[keys + ["gap"]].merge(slopes[keys + ["value"]].rename(columns={"value": "slope"}), on=keys)
            for (model, panel), curve in both.groupby(["model", "panel"], sort=True):
                found = minimum_n(
                    curve,
                    gap=c.gap,
                    slope=c.slope,
                    n_boot=c.bootstrap,
                    random_state=study.study.seed,
                    criterion=c.statistic,
                    assurance=c.assurance,
                    slope_range=(float(c.slope_range[0]), float(c.slope_range[1])),
                )
                p = parameters[panel]
                riley = _riley(facts, oracle.get(task.headline, math.nan), p, c.slope)
                rows.append(
                    {
                        "scenario": v.name,
                        "task": task.name,
                        "metric": task.headline,
                        "model": model,
                        "panel": panel,
                        "study_n": found.n,
                        "study_low": found.low,
                        "study_high": found.high,
                        "riley_n": riley.n if riley else math.nan,
                        "riley_1": riley.criterion_1 if riley else math.nan,
                        "riley_2": riley.criterion_2 if riley else math.nan,
                        "riley_3": riley.criterion_3 if riley else math.nan,
                        "parameters": p,
                        "r2_cs": riley.r2_cs if riley else math.nan,
                        "oracle": oracle.get(task.headline, math.nan),
                    }
                )
    return pd.DataFrame(rows, columns=SAMPLE_SIZE_COLUMNS)

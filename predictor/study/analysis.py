"""A study's tables from its cells: the tidy results with each gap to the oracle, the power
table, and the minimum n beside Riley's closed-form criteria.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from features.pipeline import CohortFeatures
from predictor.config.study import MIN_SIZES, Study
from predictor.metrics.scores import LOWER_IS_BETTER
from predictor.study.adaptive import CurveData, answer, curve_data, headlines
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
    *("scenario", "task", "metric", "model", "panel", "study_n", "study_low", "study_high", "status"),
    *("riley_n", "riley_1", "riley_2", "riley_3", "parameters", "r2_cs", "oracle"),
    *("sizes", "replicates", "isotonic_n", "gap_a", "gap_b", "gap_c", "slope_a", "slope_b", "slope_c"),
    *("assurance_alpha", "assurance_beta"),
]


def sample_size_table(study: Study, table: pd.DataFrame, validations: Mapping[str, ValidationSet]) -> pd.DataFrame:
    """Per scenario, task, model and panel: the study's minimum n with its 95% interval and
    status, beside Riley's closed-form n (each criterion) for the same outcome and panel.

    A grid study reads n off its grid (:func:`predictor.study.sample_size.minimum_n`; status
    ``ok``, or ``beyond`` where the grid never meets the criterion); an adaptive study fits each
    learning curve (:mod:`predictor.study.learning_curve`: n*, its interval, the status, the
    isotonic cross-check and the fitted curves' parameters; a curve still imprecise when the
    search stopped has the status ``budget``)."""

    c = study.criteria
    parameters = panel_parameters(study)
    rows = []
    for data in curve_data(table, headlines(validations)):
        val = validations[data.scenario]
        facts, oracle = val.facts[data.task], val.oracle.get(data.task, {})
        p = parameters[data.panel]
        riley = _riley(facts, oracle.get(data.metric, math.nan), p, c.slope)
        found = _found(study, data)
        rows.append(
            {
                "scenario": data.scenario,
                "task": data.task,
                "metric": data.metric,
                "model": data.model,
                "panel": data.panel,
                **found,
                "riley_n": riley.n if riley else math.nan,
                "riley_1": riley.criterion_1 if riley else math.nan,
                "riley_2": riley.criterion_2 if riley else math.nan,
                "riley_3": riley.criterion_3 if riley else math.nan,
                "parameters": p,
                "r2_cs": riley.r2_cs if riley else math.nan,
                "oracle": oracle.get(data.metric, math.nan),
                "sizes": data.frame["n"].nunique(),
                "replicates": len(data.frame),
            }
        )
    order = {v.name: i for i, v in enumerate(study.variants)}
    out = pd.DataFrame(rows, columns=SAMPLE_SIZE_COLUMNS)
    return out.sort_values(
        ["scenario", "task"], key=lambda col: col.map(order) if col.name == "scenario" else col, kind="stable"
    ).reset_index(drop=True)


def _found(study: Study, data: CurveData) -> dict[str, Any]:
    """The minimum n of one curve, as the grid or the adaptive search finds it."""
    c = study.criteria
    if study.adaptive is None or data.frame["n"].nunique() < MIN_SIZES:  # a grid, or a curve too short to fit
        grid = minimum_n(
            data.frame,
            gap=c.gap,
            slope=c.slope,
            n_boot=c.bootstrap,
            random_state=study.study.seed,
            criterion=c.statistic,
            assurance=c.assurance,
            slope_range=c.slope_bounds,
        )
        status = "ok" if math.isfinite(grid.n) else "beyond"
        return {"study_n": grid.n, "study_low": grid.low, "study_high": grid.high, "status": status}
    found = answer(study, data)
    fits: dict[str, float] = {}
    for name, curve in found.fits.items():
        fits |= {f"{name}_{k}": v for k, v in asdict(curve).items()}
    return {
        "study_n": found.n,
        "study_low": found.low,
        "study_high": found.high,
        "status": "budget" if found.status == "imprecise" else found.status,
        "isotonic_n": found.isotonic_n,
        **fits,
    }

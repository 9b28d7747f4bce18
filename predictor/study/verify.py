"""Verification: each minimum n a study found, simulated again with fresh replicates (replicate
indices after the study's own, so new cohorts), and the criterion checked on them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from predictor.config.study import Study
from predictor.study.driver import run_study
from predictor.study.result import StudyResult
from predictor.study.sample_size import minimum_n

__all__ = ["verify"]


def verify(study: Study, result: StudyResult, run: Callable[[Study], StudyResult] | None = None) -> pd.DataFrame:
    """The study's finite minimum n's, each simulated again with ``replicates`` fresh replicates.

    Parameters
    ----------
    study, result : the study and its finished result.
    run : callable, optional
        Runs a study (default :func:`predictor.study.run_study` on a LocalCluster).

    Returns
    -------
    pandas.DataFrame
        Per scenario, task, model and panel: ``study_n``, the criterion's statistic of the gap and
        the slope over the fresh replicates (``gap``, ``slope``; for assurance, the share of
        acceptable replicates), their 95% bootstrap intervals, ``holds`` (whether the
        criterion holds at ``study_n`` on the fresh replicates) and ``consistent`` (it holds, or
        the targets lie within the intervals: at an adaptive study's n*, the crossing of the
        curve, the statistic is expected at the target itself).
    """
    rows = result.sample_size[np.isfinite(result.sample_size["study_n"])]
    if rows.empty:
        return pd.DataFrame()
    sizes = tuple(sorted({int(n) for n in rows["study_n"]}))
    s = study.study
    used = int(result.table["replicate"].max()) + 1 if len(result.table) else s.first_replicate + s.replicates
    # fresh cohorts: replicate indices after every one the study (and its adaptive rounds) used
    fresh = replace(study, study=replace(s, n=sizes, first_replicate=used), adaptive=None)
    table = (run or run_study)(fresh).table
    return pd.DataFrame([_checked(study, table, row) for row in rows.itertuples()])


def _checked(study: Study, table: pd.DataFrame, row: Any) -> dict[str, Any]:
    c = study.criteria
    keys = (table.scenario == row.scenario) & (table.task == row.task) & (table.model == row.model)
    keys &= (table.panel == row.panel) & (table.n == row.study_n) & (table.status == "ok")
    head = table[keys & (table.metric == row.metric)].set_index("replicate")["gap"]
    slope = table[keys & (table.metric == "cal_slope")].set_index("replicate")["value"]
    both = pd.DataFrame({"gap": head, "slope": slope}).dropna()
    g = both.to_numpy(float)
    stat = _statistic(c.statistic, c.gap, c.slope_bounds)
    point = stat(g)
    low, high = np.full(2, math.nan), np.full(2, math.nan)
    if len(g):
        rng = np.random.default_rng(study.study.seed)
        draws = np.array([stat(g[rng.integers(0, len(g), len(g))]) for _ in range(c.bootstrap)])
        low, high = np.nanquantile(draws, 0.025, axis=0), np.nanquantile(draws, 0.975, axis=0)
    curve = both.reset_index().assign(n=row.study_n)
    holds = minimum_n(
        curve, gap=c.gap, slope=c.slope, n_boot=1, criterion=c.statistic, assurance=c.assurance,
        slope_range=c.slope_bounds,
    ).n == row.study_n  # fmt: skip
    return {
        "scenario": row.scenario,
        "task": row.task,
        "model": row.model,
        "panel": row.panel,
        "study_n": int(row.study_n),
        "replicates": len(g),
        "gap": point[0],
        "gap_low": low[0],
        "gap_high": high[0],
        "slope": point[1],
        "slope_low": low[1],
        "slope_high": high[1],
        "holds": bool(holds),
        "consistent": bool(holds) or _covers(c, low, high),
    }


def _covers(c: Any, low: np.ndarray, high: np.ndarray) -> bool:
    """Whether the 95% intervals of the median/mean gap and slope reach the criterion's targets."""
    if c.statistic == "assurance":
        return False
    return bool(low[0] <= c.gap and high[1] >= c.slope)


def _statistic(criterion: str, gap: float, slope_range: tuple[float, float]) -> Callable[[np.ndarray], np.ndarray]:
    """The criterion's statistic of (gap, slope) over replicates; for assurance, the share of
    replicates with an acceptable gap and the share with an acceptable slope."""
    if criterion == "median":
        return lambda g: np.median(g, axis=0)
    if criterion == "mean":
        return lambda g: g.mean(axis=0)
    lo, hi = slope_range
    return lambda g: np.array([np.mean(g[:, 0] <= gap), np.mean((g[:, 1] > lo) & (g[:, 1] < hi))])

"""Expected performance at one cohort size: what a trial statistician reads before choosing n.

For each scenario variant, model family, panel and task, over the replicates at that size: the
mean, SD and Monte Carlo standard error of the headline discrimination metric, of its gap to the
oracle and of the calibration slope; the probability of acceptable calibration
(:data:`SLOPE_RANGE`, two-sided: penalised and tree models can over-shrink); and the joint
probability that the gap and the slope are both acceptable (assurance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.config.study import SLOPE_RANGE
from predictor.study.sample_size import acceptable

__all__ = ["SLOPE_RANGE", "expected_performance"]

#: The calibration slopes counted as acceptable (samplesizedev's two-sided range).

_HEADLINE = ("auc", "harrell_c")
_KEYS = ["scenario", "model", "panel", "task"]


def expected_performance(table: pd.DataFrame, n: int, max_gap: float) -> pd.DataFrame:
    """The expected performance at size ``n`` from a study's tidy results table.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`predictor.study.results_table` rows (failed cells are left out).
    n : int
        The cohort size; the table must hold its replicates.
    max_gap : float
        The largest acceptable gap to the oracle (the study's ``[criteria] gap``).

    Returns
    -------
    pandas.DataFrame
        One row per scenario, model, panel and task: ``replicates``, ``metric`` (the headline),
        ``mean``, ``sd``, ``mc_se``, ``oracle``, ``gap_mean``, ``slope_mean``, ``slope_sd``,
        ``p_slope_ok`` and ``p_both_ok`` with their Monte Carlo standard errors.
    """
    rows = table[(table["n"] == n) & (table["status"] == "ok")]
    wide = rows.pivot_table(index=[*_KEYS, "replicate"], columns="metric", values=["value", "gap", "oracle"])
    out = []
    for keys, g in wide.groupby(level=list(range(len(_KEYS)))):
        metric = next(m for m in _HEADLINE if ("value", m) in g.columns and g[("value", m)].notna().any())
        value, gap = g[("value", metric)].to_numpy(float), g[("gap", metric)].to_numpy(float)
        slope = g[("value", "cal_slope")].to_numpy(float)
        k = len(value)
        slope_ok = (slope > SLOPE_RANGE[0]) & (slope < SLOPE_RANGE[1])
        both_ok = acceptable(gap, slope, gap=max_gap)
        out.append(
            {
                **dict(zip(_KEYS, keys, strict=True)),
                "replicates": k,
                "metric": metric,
                "mean": value.mean(),
                "sd": value.std(ddof=1) if k > 1 else np.nan,
                "mc_se": value.std(ddof=1) / np.sqrt(k) if k > 1 else np.nan,
                "oracle": float(np.nanmean(g[("oracle", metric)].to_numpy(float))),
                "gap_mean": gap.mean(),
                "slope_mean": slope.mean(),
                "slope_sd": slope.std(ddof=1) if k > 1 else np.nan,
                "p_slope_ok": slope_ok.mean(),
                "p_slope_ok_se": np.sqrt(slope_ok.mean() * (1 - slope_ok.mean()) / k),
                "p_both_ok": both_ok.mean(),
                "p_both_ok_se": np.sqrt(both_ok.mean() * (1 - both_ok.mean()) / k),
            }
        )
    return pd.DataFrame(out)

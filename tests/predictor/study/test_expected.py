"""Expected performance at one size: means, SDs, Monte Carlo SEs and the probabilities of
acceptable calibration and of acceptable calibration and gap together."""

import numpy as np
import pandas as pd
import pytest

from predictor.study import SLOPE_RANGE, expected_performance


def _table(slopes, gaps, n=400):
    rows = []
    for r, (s, g) in enumerate(zip(slopes, gaps, strict=True)):
        keys = {"scenario": "s", "n": n, "replicate": r, "model": "baseline", "panel": "all", "task": "response"}
        rows.append({**keys, "metric": "auc", "value": 0.8 - g, "oracle": 0.8, "gap": g, "status": "ok"})
        rows.append({**keys, "metric": "cal_slope", "value": s, "oracle": 1.0, "gap": np.nan, "status": "ok"})
    return pd.DataFrame(rows)


def test_expected_performance_counts_acceptable_replicates():
    slopes = [0.80, 0.90, 1.00, 1.10, 1.20]
    gaps = [0.01, 0.03, 0.01, 0.01, 0.01]
    table = _table(slopes, gaps)
    row = expected_performance(pd.concat([table, _table([1.0], [0.0], n=200)]), 400, max_gap=0.02).iloc[0]
    assert row.replicates == 5 and row.metric == "auc"
    assert row["mean"] == pytest.approx(0.8 - np.mean(gaps))
    assert row.mc_se == pytest.approx(np.std(gaps, ddof=1) / np.sqrt(5))
    inside = [SLOPE_RANGE[0] < s < SLOPE_RANGE[1] for s in slopes]
    assert row.p_slope_ok == pytest.approx(np.mean(inside))  # 0.9, 1.0, 1.1
    assert row.p_both_ok == pytest.approx(0.4)  # 1.0 and 1.1 with a gap <= 0.02
    assert row.p_both_ok_se == pytest.approx(np.sqrt(0.4 * 0.6 / 5))

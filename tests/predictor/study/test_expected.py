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


def test_a_plan_reads_the_cache_and_estimates_from_its_timings(tmp_path):
    from predictor.config.study import load_study
    from predictor.study import CellCache, CellResult, cell_key, plan_cells, plan_study
    from tests.study_files import small_study

    path = tmp_path / "study.toml"
    path.write_text(small_study("plan", tmp_path / "out"), encoding="utf-8")
    study = load_study(path)
    cells = plan_cells(study)
    assert plan_study(study).cached == 0 and np.isnan(plan_study(study).estimate(2))
    cache = CellCache(study.output / "cells")
    for cell in cells[:4]:  # two gblinear and two baseline cells of the first size, with timings
        cache.put(
            cell_key(study, cell),
            CellResult(cell=cell, timings={"fit": 2.0 if cell.model == "baseline" else 6.0}).to_json(),
        )
    plan = plan_study(study)
    assert plan.cached == 4 and len(plan.todo) == len(cells) - 4
    assert plan.seconds_per_cell == {"baseline": 2.0, "gblinear": 6.0}
    expected = sum(2.0 if c.model == "baseline" else 6.0 for c in plan.todo) / 2
    assert plan.estimate(2) == pytest.approx(expected)

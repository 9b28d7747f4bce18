"""Model families of a study: the unpenalised (maximum-likelihood) regressions beside the
ridge-penalised baselines."""

import numpy as np

from predictor.config.study import load_study
from predictor.study import Cell, cell_seed, make_validation, run_cell
from tests.study_files import small_study


def test_unpenalised_regressions_run_as_a_family_and_differ_from_the_ridge_baselines(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(small_study("families", tmp_path / "out"), encoding="utf-8")
    study = load_study(path)
    validation = make_validation(study, study.variants[0].name)
    scores = {}
    for model in ("baseline", "unpenalised"):
        cell = Cell(scenario=study.variants[0].name, n=240, replicate=0, model=model, panel="all", seed=cell_seed(5, 0))
        result = run_cell(study, cell, validation)
        assert result.ok, result.error
        scores[model] = dict(((task, metric), v) for task, metric, v in result.records)
        assert (model == "baseline") == bool(result.power)  # the power analysis tests the ridge baseline only
    assert {k for k in scores["baseline"]} == {k for k in scores["unpenalised"]}
    slopes = [scores[m][("response", "cal_slope")] for m in ("baseline", "unpenalised")]
    assert np.isfinite(slopes).all() and slopes[0] != slopes[1]

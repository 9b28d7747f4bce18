"""Golden outputs: the stages redesign (issue 11) must not change what training computes.

``tests/golden/*_small.toml`` are small experiments with fixed seeds, one per shipped scenario and
one on a user's cohort file (the VA lung trial). Their metrics (every estimate and CI bound),
SHAP importances (global and within each therapy arm), the search's choice and the bundle's
predictions were written by the code *before* the redesign. Tolerance: 1e-12 relative (and
absolute, for values near 0): the same operations in the same order give the same bits, and the
bound only allows for a reordered floating-point sum.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predictor.config.experiment import load_experiment
from predictor.training.bundle import ModelBundle
from predictor.training.pipeline import train

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
TOL = dict(rtol=1e-12, atol=1e-12)


def _experiment(name: str, tmp_path: Path):
    path = GOLDEN / f"{name}_small.toml"
    if name == "veterans":
        from sksurv.datasets import load_veterans_lung_cancer

        X, y = load_veterans_lung_cancer()
        X.assign(Status=y["Status"], Survival_in_days=y["Survival_in_days"]).to_csv(
            tmp_path / "veterans_lung_cancer.csv", index=False
        )
        path = Path(shutil.copy(path, tmp_path / path.name))
    return load_experiment(path)


def _patients(exp, tmp_path: Path) -> pd.DataFrame:
    if exp.synthetic:
        from synthetic import generate

        return generate(exp.cohort.scenario, 25, seed=99).observed
    return pd.read_csv(tmp_path / "veterans_lung_cancer.csv").head(25)


def _shap_rows(result) -> pd.DataFrame:
    rows = []
    for task, s in result.explanations.items():
        rows += [{"task": task, "group": "", "column": c, "mean_abs_shap": v} for c, v in s.importance.items()]
        if s.importance_by is not None:
            rows += [
                {"task": task, "group": g, "column": c, "mean_abs_shap": v}
                for g in s.importance_by.columns
                for c, v in s.importance_by[g].items()
            ]
    return pd.DataFrame(rows)


#: The one intended change (issue 11): the VA cohort's times are days of overall survival, so its
#: prediction columns say so, and a model without a response part predicts no response column
#: (before the redesign it was named in months of PFS, with an all-missing response column).
RENAMED = {
    "veterans": {
        "median_pfs_months": "median_os_days",
        "pfs_prob_30m": "os_prob_30d",
        "pfs_prob_90m": "os_prob_90d",
        "pfs_prob_180m": "os_prob_180d",
    }
}


#: Metrics added after the golden files were written (issue 13: the observed/expected ratio and the
#: flexible calibration curve's ICI, E50 and E90 of every binary task). They must be there; every
#: other metric must be unchanged.
#: And the smoothed survival calibration at each horizon (``ici_<h>``, a point estimate).
_CALIBRATION = {"oe_ratio", "ici", "e50", "e90"}
#: And the survival task's calibration slope (``survival/cal_slope``, a point estimate).
ADDED_METRICS = {
    "icb": _CALIBRATION | {"ici_6m", "ici_12m", "ici_24m", "survival/cal_slope"},
    "myeloma": _CALIBRATION | {"ici_6m", "ici_12m", "ici_18m", "ici_24m", "survival/cal_slope"},
    "veterans": {"ici_30d", "ici_90d", "ici_180d", "survival/cal_slope"},
}


def _search(result) -> dict:
    return result.best_params


@pytest.mark.parametrize("name", ["icb", "myeloma", "veterans"])
def test_training_outputs_equal_the_golden_files(name, tmp_path):
    import matplotlib.pyplot as plt

    exp = _experiment(name, tmp_path)
    result = train(exp)
    plt.close("all")  # the run's figures are not looked at here

    keys = ["dataset", "task", "model", "metric"]
    want = pd.read_csv(GOLDEN / f"{name}_metrics.csv").set_index(keys).sort_index()
    got = result.metrics
    if name in ADDED_METRICS:  # metrics added later: present, and everything else unchanged
        named = got.metric.where(~((got.task == "survival") & (got.metric == "cal_slope")), "survival/cal_slope")
        added = named.isin(ADDED_METRICS[name])
        assert set(named[added]) == ADDED_METRICS[name]
        got = got[~added]
    got = got.set_index(keys).sort_index()
    assert list(got.index) == list(want.index)
    for col in ("estimate", "ci_low", "ci_high"):
        np.testing.assert_allclose(
            got[col].to_numpy(float), want[col].to_numpy(float), equal_nan=True, err_msg=col, **TOL
        )

    want = (
        pd.read_csv(GOLDEN / f"{name}_shap.csv", keep_default_na=False)
        .set_index(["task", "group", "column"])
        .sort_index()
    )
    got = _shap_rows(result).set_index(["task", "group", "column"]).sort_index()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got["mean_abs_shap"].to_numpy(), want["mean_abs_shap"].to_numpy(float), **TOL)

    want = json.loads((GOLDEN / f"{name}_search.json").read_text())
    got = _search(result)
    assert set(got) == set(want)
    for task in want:
        assert set(got[task]) == set(want[task]), task
        for key, value in want[task].items():
            same = (
                got[task][key] == pytest.approx(value, rel=1e-12)
                if isinstance(value, float)
                else got[task][key] == value
            )
            assert same, (task, key, got[task][key], value)

    want = pd.read_csv(GOLDEN / f"{name}_predictions.csv")
    if name in RENAMED:
        assert want["response_probability"].isna().all()
        want = want.drop(columns="response_probability").rename(columns=RENAMED[name])
    got = result.bundle.predict(_patients(exp, tmp_path))
    assert list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), equal_nan=True, **TOL)
    # The model as saved (data files, no pickle) and read back predicts the same, bit for bit.
    saved = ModelBundle.load(result.bundle.save(tmp_path / "saved_model"))
    pd.testing.assert_frame_equal(saved.predict(_patients(exp, tmp_path)), got, check_exact=True)

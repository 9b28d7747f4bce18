"""The declared generator: the shipped files give today's cohorts, and a declared model's
coefficients are recovered by a correctly specified fit (simsurv's test style)."""

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic import generate, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def frozen(name):
    """The hand-written generator the file replaced (a frozen copy kept for the benchmark)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(f"frozen_generators.{name}")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.parametrize("name", ["icb_bone_opn", "myeloma_bmm"])
@pytest.mark.parametrize("seed", [0, 11])
def test_the_scenario_file_gives_the_hand_written_generators_cohorts(name, seed):
    """Same draws, same values to 1e-12 (relative), observed and truth, column by column."""
    scenario = load_scenario(name)
    old = frozen(name)
    values = scenario.values()
    obs_old, truth_old = old.transform(old.draw(np.random.default_rng(seed), 40_000), values)
    obs_new, truth_new = scenario.model.transform(scenario.model.draw(np.random.default_rng(seed), 40_000), values)
    assert list(obs_new.columns) == list(obs_old.columns)
    assert set(truth_new.columns) == set(truth_old.columns)
    for col in obs_old.columns:
        if isinstance(obs_old[col].dtype, pd.CategoricalDtype):
            pd.testing.assert_series_equal(obs_new[col], obs_old[col])
        else:
            np.testing.assert_allclose(obs_new[col].to_numpy(float), obs_old[col].to_numpy(float), rtol=1e-12)
    for col in truth_old.columns:
        np.testing.assert_allclose(truth_new[col].to_numpy(float), truth_old[col].to_numpy(float), rtol=1e-12)


RECOVERY = """
[scenario]
name = "recovery"
title = "Parameter recovery"
source = "tests"
default_n = 1000
calibration_seed = 1

[parameters.b_x]
kind = "assumption"
id = "T"
value = { binary = 0.8, ordinal = 0.5, pfs = 0.6 }
reason = "The coefficient of x, by outcome."

[parameters.b_g]
kind = "assumption"
id = "T"
value = -0.6
reason = "The coefficient of the group."

[parameters.shape]
kind = "assumption"
id = "T"
value = 1.3
reason = "Weibull shape."

[nodes.x]
distribution = "normal"
mean = 0
sd = 1

[nodes.group]
distribution = "bernoulli"
p = 0.4

[nodes.responder]
outcome = "binary"
link = "logit"
linear_predictor = "-0.5 + b_x['binary'] * x + b_g * group"

[nodes.grade]
outcome = "ordinal"
link = "probit"
linear_predictor = "b_x['ordinal'] * x + b_g * group"
cuts = [-0.5, 0.7]
levels = ["low", "mid", "high"]

[nodes.pfs]
outcome = "time_to_event"
time = "pfs_months"
event = "pfs_event"
median = 10
shape = "shape"
log_hazard = "b_x['pfs'] * x + b_g * group"
followup = [1000, 1000]
dropout_rate = 0

[[targets]]
id = "T"
label = "response rate"
statistic = "rate"
column = "responder"
value = 0.4
tolerance = 0.5

[columns.patient_id]
dtype = "int"
role = "id"

[columns.x]
dtype = "float"
role = "feature"

[columns.group]
dtype = "bool"
role = "feature"

[columns.responder]
dtype = "bool"
role = "outcome"

[columns.grade]
dtype = "category"
role = "outcome"
categories = ["low", "mid", "high"]

[columns.pfs_months]
dtype = "float"
role = "outcome"

[columns.pfs_event]
dtype = "bool"
role = "outcome"
"""


@pytest.fixture(scope="module")
def recovery_cohort(tmp_path_factory):
    path = tmp_path_factory.mktemp("recovery") / "recovery.toml"
    path.write_text(RECOVERY, encoding="utf-8")
    return generate(load_scenario(path), 1_000_000, seed=2026).observed


@pytest.mark.slow
def test_a_binary_outcomes_coefficients_are_recovered(recovery_cohort):
    """Logistic regression (unpenalised) on 1,000,000 patients: each coefficient's standard error
    is about 0.003, so 0.015 (5 SE) fails only when the generator is wrong."""
    from sklearn.linear_model import LogisticRegression

    X = recovery_cohort[["x", "group"]].to_numpy(float)
    fit = LogisticRegression(C=np.inf).fit(X, recovery_cohort["responder"])  # no penalty
    np.testing.assert_allclose([fit.intercept_[0], *fit.coef_[0]], [-0.5, 0.8, -0.6], atol=0.015)


@pytest.mark.slow
def test_an_ordinal_outcomes_coefficients_and_cuts_are_recovered(recovery_cohort):
    """Ordered probit (statsmodels) on the 1,000,000 patients: standard errors about 0.0015 for
    the coefficients and cut points, tolerance 0.01 (about 6 SE)."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    part = recovery_cohort
    grade = part["grade"].cat.as_ordered()  # the file lists the categories low to high; the dtype does not say so
    model = OrderedModel(grade, part[["x", "group"]].astype(float), distr="probit")
    res = model.fit(method="bfgs", disp=False, skip_hessian=True)  # the estimates only: no numerical Hessian
    cuts = model.transform_threshold_params(res.params)[1:-1]
    np.testing.assert_allclose(res.params[["x", "group"]], [0.5, -0.6], atol=0.01)
    np.testing.assert_allclose(cuts, [-0.5, 0.7], atol=0.01)


@pytest.mark.slow
def test_a_weibull_outcomes_hazard_ratios_shape_and_median_are_recovered(recovery_cohort):
    """Weibull AFT (lifelines) on the 1,000,000 uncensored patients; the PH log hazard ratio is
    -shape x the AFT coefficient. Standard errors about 0.0015; tolerance 0.01 (about 6 SE)."""
    from lifelines import WeibullAFTFitter

    part = recovery_cohort[["x", "group", "pfs_months", "pfs_event"]].astype(float)
    assert part["pfs_event"].all()
    fit = WeibullAFTFitter().fit(part, duration_col="pfs_months", event_col="pfs_event")
    k = float(np.exp(fit.params_.loc[("rho_", "Intercept")]))
    beta = -k * fit.params_.loc["lambda_"][["x", "group"]].to_numpy()
    np.testing.assert_allclose(k, 1.3, atol=0.01)
    np.testing.assert_allclose(beta, [0.6, -0.6], atol=0.01)
    median = np.median(
        part.loc[part["group"] == 0, "pfs_months"] * np.exp(0.6 / 1.3 * part.loc[part["group"] == 0, "x"])
    )
    assert median == pytest.approx(10, rel=0.01)


def test_identifiability_names_a_free_parameter_no_target_moves(icb_scenario):
    """With every PFS target only checked, the PFS free parameters are moved by no solvable target."""
    from dataclasses import replace

    from synthetic.identifiability import identifiability

    pfs = ("median_pfs", "survival_at")
    targets = tuple(replace(t, kind="check") if t.statistic in pfs or t.id == "B5" else t for t in icb_scenario.targets)
    found = identifiability(replace(icb_scenario, targets=targets), n=20_000)
    unmoved = {line.split("'")[1] for line in found.problems if line.startswith("free parameter '")}
    assert {"pfs_baseline_median", "pfs_log_hr_nsclc", "pfs_per_log2_opn", "pfs_bone_direct"} <= unmoved
    # The five response and OPN targets left cannot pin the six response and OPN parameters either:
    # the rank says so, though each of those parameters moves some target.
    assert any("the targets identify only 5 combination(s) of the 10 free parameters" in p for p in found.problems)
    assert "resp_intercept" not in unmoved
    assert found.identified_by("resp_intercept")

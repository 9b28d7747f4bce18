import numpy as np
import pytest

from predictor.metrics import (
    bootstrap,
    calibration_slope_intercept,
    response_metrics,
    survival_metrics,
)
from predictor.models.target import make_surv


def test_calibration_of_a_perfectly_calibrated_model():
    """Outcomes drawn from p itself: slope 1 and intercept 0, within 0.1 (about 4 SE at n = 20,000, seed 0)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 20_000)
    y = rng.random(p.size) < p
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.1) and intercept == pytest.approx(0.0, abs=0.1)
    # overconfident predictions have a slope below 1
    over = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))
    assert calibration_slope_intercept(y, over)[0] < 0.5


def test_response_metrics_values():
    y = np.array([0, 0, 1, 1])
    m = response_metrics(y, np.array([0.1, 0.4, 0.35, 0.8]))
    assert m["auc"] == pytest.approx(0.75)
    assert m["brier"] == pytest.approx(np.mean((np.array([0.1, 0.4, 0.35, 0.8]) - y) ** 2))


def test_survival_metrics_of_the_true_model():
    """True exponential model: Harrell/Uno C well above 0.5, calibration-in-the-large near 0 (0.02, seed 1), IBS below KM's."""
    rng = np.random.default_rng(1)
    n = 6000
    x = rng.normal(size=n)
    rate = 0.08 * np.exp(0.9 * x)
    t = rng.exponential(1 / rate)
    c = rng.uniform(6, 36, n)
    y = make_surv(t <= c, np.minimum(t, c))
    tr, te = y[:3000], y[3000:]
    surv = lambda times: np.exp(-np.outer(rate[3000:], times))
    m = survival_metrics(tr, te, 0.9 * x[3000:], surv)
    assert 0.65 < m["harrell_c"] < 0.8 and 0.65 < m["uno_c"] < 0.8
    for h in ("6", "12", "24"):
        assert m[f"td_auc_{h}m"] > 0.65
        assert abs(m[f"calib_{h}m"]) < 0.02
    assert m["ibs"] < m["ibs_km"]


def test_bootstrap_intervals_cover_the_estimate():
    rng = np.random.default_rng(2)
    x = rng.normal(size=500)
    table = bootstrap(lambda idx: {"mean": float(x[idx].mean())}, len(x), n_boot=300, random_state=0)
    row = table.loc["mean"]
    assert row.ci_low < row.estimate < row.ci_high
    se = x.std() / np.sqrt(len(x))
    assert row.ci_high - row.ci_low == pytest.approx(2 * 1.96 * se, rel=0.2)
    again = bootstrap(lambda idx: {"mean": float(x[idx].mean())}, len(x), n_boot=300, random_state=0)
    assert again.equals(table)


def test_paired_difference_pairs_the_replicates():
    """Two models scored with the same bootstrap arguments see the same patients in each replicate
    (seed 0, n = 2,000, 100 replicates): the paired CI of the difference between a model and a
    slightly noisier copy is far narrower than the marginal CI (under half its width; pairing
    cancels the patient-sampling noise both share), a clearly worse model's AUC deficit excludes
    0, and a model minus itself is exactly 0 with a CI of [0, 0]."""
    from predictor.metrics import bootstrap_draws, paired_difference, summarise

    rng = np.random.default_rng(0)
    n = 2000
    z = rng.normal(size=n)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    expit = lambda v: 1 / (1 + np.exp(-v))
    draws = lambda p: bootstrap_draws(lambda i: response_metrics(y[i], p[i]), n, n_boot=100, random_state=1, stratify=y)
    a = draws(expit(z))
    close, worse = draws(expit(z + rng.normal(scale=0.3, size=n))), draws(expit(z + rng.normal(scale=1.0, size=n)))
    width = lambda t: t.loc["auc", "ci_high"] - t.loc["auc", "ci_low"]
    assert width(paired_difference(a, close)) < 0.5 * width(summarise(*a))
    diff = paired_difference(a, worse)
    assert diff.loc["auc", "estimate"] == pytest.approx(a[0]["auc"] - worse[0]["auc"])
    assert diff.loc["auc", "ci_low"] > 0
    assert (paired_difference(a, a).to_numpy() == 0).all()


def test_flexible_calibration_of_the_truth_and_of_a_miscalibrated_model():
    """On 20,000 patients of a cohort seed no experiment uses, the generator's true probabilities
    are calibrated: ICI below 0.01 (the spline's sampling error at this n is a few thousandths).
    An over-confident model (logit doubled) is not: ICI above 0.05 (its true mean error is about
    0.1), and a model that predicts 30% too little has an observed/expected ratio of about 1/0.7."""
    from scipy.special import expit, logit

    from predictor.metrics import flexible_calibration
    from synthetic import generate, load_scenario, true_probability

    sc = load_scenario("icb_bone_opn")
    cohort = generate(sc, 20_000, seed=31)
    y = cohort.observed["objective_response"].to_numpy()
    p = true_probability(sc, cohort.truth, "objective_response")
    truth = flexible_calibration(y, p)
    assert truth.ici < 0.01 and truth.e90 < 0.02
    assert np.allclose(truth(np.array([0.2, 0.5])), [0.2, 0.5], atol=0.03)
    confident = flexible_calibration(y, expit(2 * logit(p)))
    assert confident.ici > 0.05 and confident.e90 > confident.e50 > 0.03
    m = response_metrics(y, 0.7 * p)
    assert m["oe_ratio"] == pytest.approx(1 / 0.7, rel=0.05) and m["ici"] > 0.05


def test_flexible_calibration_fit_equals_statsmodels_glm():
    """The Newton fit is the maximum-likelihood logistic regression statsmodels' GLM finds (1e-8)."""
    import statsmodels.api as sm

    from predictor.metrics.calibration import _logit, _rcs_design, flexible_calibration

    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, 3000)
    y = rng.uniform(size=3000) < p**1.3
    curve = flexible_calibration(y, p)
    X = _rcs_design(_logit(p), curve.knots)
    np.testing.assert_allclose(
        curve.coef, sm.GLM(y.astype(float), X, family=sm.families.Binomial()).fit().params, rtol=1e-8, atol=1e-8
    )
    with pytest.raises(ValueError):
        flexible_calibration(np.r_[np.zeros(50), np.ones(50)], np.r_[np.full(50, 0.1), np.full(50, 0.9)])


def test_survival_calibration_cox_equals_scikit_survival():
    """The calibration model's Cox fit (Breslow ties) is scikit-survival's, to 1e-6."""
    from sksurv.linear_model import CoxPHSurvivalAnalysis

    from predictor.metrics.calibration import _cox_breslow
    from predictor.models.target import make_surv

    rng = np.random.default_rng(3)
    x = rng.normal(size=2000)
    t = np.ceil(rng.exponential(12 * np.exp(-0.5 * x)))  # whole months: tied times
    e = rng.uniform(size=2000) < 0.7
    Z = np.column_stack([x, np.maximum(x - 0.5, 0) ** 3 / 10])
    beta, baseline = _cox_breslow(Z, t, e)
    ref = CoxPHSurvivalAnalysis(alpha=0, ties="breslow").fit(Z, make_surv(e, t))
    np.testing.assert_allclose(beta, ref.coef_, rtol=1e-6, atol=1e-8)
    for at in (3.0, 10.0, 30.0):
        assert baseline(at) == pytest.approx(ref.cum_baseline_hazard_(at), rel=1e-6)


def test_survival_calibration_of_the_truth_and_of_a_miscalibrated_model():
    """On 20,000 patients of an unused cohort seed, the generator's true probability of progression
    by 12 months is calibrated (ICI below 0.01: the Cox smoother's sampling error at this n is a
    few thousandths); doubling the predicted hazard is not (ICI above 0.05)."""
    from predictor.metrics import survival_calibration
    from synthetic import generate, load_scenario
    from synthetic.oracle import oracle

    sc = load_scenario("icb_bone_opn")
    cohort = generate(sc, 20_000, seed=32)
    s12 = oracle(cohort, [12.0], sc)["survival"][:, 0]
    t, e = cohort.observed["pfs_months"].to_numpy(), cohort.observed["pfs_event"].to_numpy().astype(bool)
    assert survival_calibration(t, e, 1 - s12, 12.0).ici < 0.01
    assert survival_calibration(t, e, 1 - s12**2, 12.0).ici > 0.05


def test_shap_recovery_separates_acting_from_null_biomarkers_per_group():
    import pandas as pd

    from predictor.metrics import shap_recovery

    effects = pd.DataFrame({"a": [0.5, 0.12, 0.0, 0.05], "b": [0.0, 0.3, 0.2, 0.0]}, index=["x", "y", "z", "w"])
    importance = pd.DataFrame({"a": [0.9, 0.2, 0.1, 5.0], "b": [0.25, 0.4, 0.3, 0.1]}, index=["x", "y", "z", "w"])
    r = shap_recovery(importance, effects).set_index("group")
    # a: w's effect (0.05) is below 0.1 and not zero: not judged; acting y (0.2) > null z (0.1)
    assert r.loc["a", "separated"] and r.loc["a", "weakest_acting"] == "y" and r.loc["a", "strongest_null"] == "z"
    # b: acting z (0.3) > null x (0.25)
    assert r.loc["b", "separated"] and (r.loc["b", "weakest_acting"], r.loc["b", "strongest_null"]) == ("z", "x")
    assert (r.ranked_pairs == 1.0).all()
    importance.loc["x", "b"] = 0.35
    r = shap_recovery(importance, effects).set_index("group")
    # b: of the pairs (y, x), (y, w), (z, x), (z, w) only (z, x) is out of order; a tie counts half
    assert not r.loc["b", "separated"] and r.loc["b", "ranked_pairs"] == 0.75
    importance.loc["x", "b"] = 0.3
    assert shap_recovery(importance, effects).set_index("group").loc["b", "ranked_pairs"] == 0.875

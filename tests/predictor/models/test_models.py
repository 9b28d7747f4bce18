import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from predictor.errors import PredictorError
from predictor.models.baselines import CoxPHBaseline
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv, median_from_survival


@pytest.fixture(scope="module")
def data():
    """Seeded toy data with a known structure: x0 raises risk and lowers response, x2 is null."""
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    lp = 0.8 * X.x0 - 0.5 * X.x1
    t = rng.exponential(10 * np.exp(-lp))
    c = rng.uniform(5, 30, n)
    y_surv = make_surv(t <= c, np.minimum(t, c))
    y_resp = rng.random(n) < 1 / (1 + np.exp(lp))
    return X, y_surv, y_resp


def test_classifier_learns_and_is_deterministic(data):
    from sklearn.metrics import roc_auc_score

    X, _, y = data
    a = XGBResponseClassifier(random_state=3).fit(X, y)
    b = clone(a).fit(X, y)
    p = a.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(p, b.predict_proba(X)[:, 1])
    assert roc_auc_score(y, p) > 0.65
    assert set(a.predict(X)) <= {False, True}
    assert a.best_iteration_ < a.n_estimators


def test_classifier_needs_two_classes(data):
    X, _, _ = data
    with pytest.raises(PredictorError, match="both classes"):
        XGBResponseClassifier().fit(X, np.zeros(len(X), bool))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_classifier_names_a_non_finite_target_without_a_warning(data, bad):
    """scikit-learn's message for NaN or inf in y, and no "invalid value encountered in cast"
    RuntimeWarning on the way (scikit-learn's type_of_target casts y to int before it checks)."""
    X, _, y = data
    y = y.astype(float)
    y[7] = bad
    with pytest.raises(ValueError, match="Input y contains (NaN|infinity)"):
        XGBResponseClassifier().fit(X, y)


@pytest.mark.parametrize("objective", ["survival:cox", "survival:aft"])
def test_survival_risk_is_higher_for_worse(data, objective):
    from sksurv.metrics import concordance_index_censored

    X, y, _ = data
    m = XGBSurvival(objective=objective, random_state=1).fit(X, y)
    risk = m.predict(X)
    assert np.corrcoef(risk, X.x0)[0, 1] > 0.5  # x0 raises the hazard
    assert concordance_index_censored(y["event"], y["time"], risk)[0] > 0.65
    s = m.predict_survival_function(X.iloc[:50], [1, 6, 12, 24])
    assert s.shape == (50, 4) and np.all(np.diff(s, axis=1) <= 1e-12) and np.all((s >= 0) & (s <= 1))
    med = m.predict_median(X.iloc[:50])
    assert np.all(med > 0)
    # higher risk, shorter predicted median
    assert np.corrcoef(risk[:50], np.log(np.minimum(med, 1e6)))[0, 1] < -0.5


def test_cox_breslow_median_matches_its_curve(data):
    X, y, _ = data
    m = XGBSurvival(random_state=1).fit(X, y)
    med = m.predict_median(X.iloc[:20])
    finite = np.isfinite(med)
    s_at = np.diag(m.predict_survival_function(X.iloc[:20][finite], med[finite]))
    assert np.all(s_at <= 0.5)


def test_survival_needs_events_and_a_structured_target(data):
    X, y, _ = data
    with pytest.raises(PredictorError, match="no events"):
        XGBSurvival().fit(X, make_surv(np.zeros(len(X), bool), y["time"]))
    with pytest.raises(PredictorError, match="structured array"):
        XGBSurvival().fit(X, y["time"])
    with pytest.raises(PredictorError, match="> 0"):
        make_surv([True], [0.0])


def test_shap_values_add_up_and_rank_the_signal(data):
    X, y, _ = data
    m = XGBSurvival(random_state=1).fit(X, y)
    values, base = m.shap_values(X)
    np.testing.assert_allclose(values.sum(1) + base, m.margin(X), rtol=1e-4, atol=1e-4)
    importance = np.abs(values).mean(0)
    assert importance[0] > importance[1] > importance[2]


def test_cox_baseline_recovers_the_direction(data):
    X, y, _ = data
    cox = CoxPHBaseline().fit(X, y)
    assert cox.model_.params_["x0"] == pytest.approx(0.8, abs=0.1)
    assert np.corrcoef(cox.predict(X), X.x0)[0, 1] > 0.7
    assert cox.predict_survival_function(X.iloc[:3], [6, 12]).shape == (3, 2)


def test_feature_mismatch_is_an_error(data):
    X, y, _ = data
    m = XGBSurvival(n_estimators=5, early_stopping_rounds=None).fit(X, y)
    with pytest.raises(PredictorError, match="expected features"):
        m.predict(X[["x1", "x0", "x2"]])


def test_median_from_survival():
    times = np.array([1.0, 2.0, 3.0])
    s = np.array([[0.9, 0.5, 0.2], [0.9, 0.8, 0.7]])
    np.testing.assert_array_equal(median_from_survival(times, s), [2.0, np.inf])


def test_cox_median_search_equals_the_full_curve(data):
    X, y, _ = data
    m = XGBSurvival(random_state=1).fit(X, y)
    full = median_from_survival(m.baseline_time_, m.predict_survival_function(X, m.baseline_time_))
    np.testing.assert_array_equal(m.predict_median(X), full)


@pytest.mark.parametrize("task", ["response", "survival"])
def test_linear_booster_converges_to_the_unpenalised_glm(data, task):
    """gblinear with no penalty, on standardised inputs, reaches the maximum-likelihood GLM:
    its coefficients on the raw scale equal scikit-learn's unpenalised logistic regression or
    lifelines' unpenalised Cox model within 0.01 (both solvers converge far tighter than that;
    early stopping on held-out log-loss may stop a little short). The NumPy margin equals XGBoost's."""
    import xgboost as xgb
    from sklearn.linear_model import LogisticRegression

    X, y_surv, y_resp = data
    if task == "response":
        m = XGBResponseClassifier(booster="gblinear", learning_rate=0.5, reg_lambda=0.0, random_state=0).fit(X, y_resp)
        mle = LogisticRegression(C=np.inf, max_iter=1000).fit(X, y_resp).coef_[0]
    else:
        m = XGBSurvival(booster="gblinear", learning_rate=0.5, reg_lambda=0.0, random_state=0).fit(X, y_surv)
        mle = CoxPHBaseline(penalizer=0.0).fit(X, y_surv).model_.params_.to_numpy()
    np.testing.assert_allclose(m.coef_ / m.feature_scale_, mle, atol=0.01)
    Z = pd.DataFrame((X.to_numpy() - m.feature_mean_) / m.feature_scale_, columns=X.columns)
    native = m.booster_.predict(xgb.DMatrix(Z), output_margin=True)
    np.testing.assert_allclose(m.margin(X), native, rtol=1e-5, atol=1e-5)
    assert clone(m).fit(X, y_resp if task == "response" else y_surv).coef_.tolist() == m.coef_.tolist()


def test_linear_booster_treats_missing_as_the_training_mean(data):
    X, y, _ = data
    m = XGBSurvival(booster="gblinear", random_state=0).fit(X, y)
    row = X.iloc[:1].copy()
    row["x1"] = np.nan
    at_mean = row.copy()
    at_mean["x1"] = m.feature_mean_[1]
    np.testing.assert_allclose(m.margin(row), m.margin(at_mean))


def test_linear_shap_is_exact_and_matches_shap_linear_explainer(data):
    import shap

    X, y, _ = data
    m = XGBSurvival(booster="gblinear", random_state=0).fit(X, y)
    values, base = m.shap_values(X.iloc[:200])  # against the training mean
    np.testing.assert_allclose(values.sum(1) + base, m.margin(X.iloc[:200]), atol=1e-9)
    background = X.iloc[1000:1100]  # shap's masker keeps at most 100 background rows
    values_bg, base_bg = m.shap_values(X.iloc[:200], background=background)
    Z = lambda d: (d.to_numpy() - m.feature_mean_) / m.feature_scale_
    reference = shap.LinearExplainer((m.coef_, m.intercept_), Z(background)).shap_values(Z(X.iloc[:200]))
    np.testing.assert_allclose(values_bg, reference, atol=1e-9)
    assert base_bg == pytest.approx(m.margin(background).mean())
    importance = np.abs(values).mean(0)
    assert importance[0] > importance[1] > importance[2]


def test_unknown_booster_is_an_error(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="'booster' parameter of XGBSurvival must be a str among"):
        XGBSurvival(booster="dart").fit(X, y)  # _parameter_constraints, checked at fit


def test_prediction_uses_every_core_and_threads_do_not_change_it(data):
    """Training threads are fixed by n_jobs; the fitted booster predicts on every core (XGBoost's
    nthread 0), and the margins and SHAP values are bit-for-bit those of one thread."""
    import json

    X, y_surv, _ = data
    model = XGBSurvival(n_estimators=50, early_stopping_rounds=None, random_state=0, n_jobs=1).fit(X, y_surv)
    assert json.loads(model.booster_.save_config())["learner"]["generic_param"]["nthread"] == "0"
    every_core, shap_every_core = model.margin(X), model.shap_values(X)[0]
    model.booster_.set_param({"nthread": 1})
    np.testing.assert_array_equal(model.margin(X), every_core)
    np.testing.assert_array_equal(model.shap_values(X)[0], shap_every_core)


# ------------------------------------------------------------------- linear booster with arm terms
@pytest.fixture(scope="module")
def arms():
    """Seeded data whose effects differ by arm: x1 acts in arm a (+) and b (-), x3 in arm c only,
    x2 nowhere; 5% of x2 missing."""
    rng = np.random.default_rng(4)
    n = 4000
    arm = rng.integers(0, 3, n)
    X = pd.DataFrame(
        {
            "arm=a": (arm == 0) * 1.0,
            "arm=b": (arm == 1) * 1.0,
            "arm=c": (arm == 2) * 1.0,
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "x3": rng.normal(size=n),
        }
    )
    X.loc[rng.random(n) < 0.05, "x2"] = np.nan
    lp = np.where(arm == 0, 1.5, np.where(arm == 1, -1.5, 0.0)) * X.x1 + np.where(arm == 2, 1.0, 0.0) * X.x3
    y = rng.random(n) < 1 / (1 + np.exp(-lp))
    linear = {
        "booster": "gblinear",
        "learning_rate": 0.5,
        "n_estimators": 300,
        "early_stopping_rounds": None,
        "reg_lambda": 0.0,
        "interaction_by": "arm",
    }
    return X, y, arm, XGBResponseClassifier(random_state=0, **linear).fit(X, y)


def _shapley_brute_force(f, x: pd.DataFrame, background: pd.DataFrame) -> np.ndarray:
    """Interventional Shapley values of one row by enumerating every coalition (the definition)."""
    from itertools import product
    from math import factorial

    p = x.shape[1]
    value = {}
    for S in product([False, True], repeat=p):
        Z = background.copy()
        Z.loc[:, list(S)] = x.to_numpy()[0, list(S)]
        value[S] = f(Z).mean()
    phi = np.zeros(p)
    for S, v in value.items():
        for i in np.flatnonzero(~np.array(S)):
            with_i = tuple(True if j == i else s for j, s in enumerate(S))
            k = sum(S)
            phi[i] += factorial(k) * factorial(p - k - 1) / factorial(p) * (value[with_i] - v)
    return phi


def test_arm_terms_learn_each_arms_coefficients(arms):
    """Unpenalised, the model's effect of x1 within each arm is the generator's (+1.5, -1.5, 0)
    within 0.2 (4,000 patients: standard errors about 0.07); x3 acts in arm c only."""
    X, y, arm, m = arms
    assert m.coef_.shape == (6 + 3 * 3,) and m.booster_.feature_names[-1] == "arm=c*x3"
    for k, (x1, x3) in enumerate(((1.5, 0.0), (-1.5, 0.0), (0.0, 1.0))):
        row = X[arm == k].iloc[:1].fillna(0.0)
        step = lambda col: float(m.margin(row.assign(**{col: row[col] + 1.0}))[0] - m.margin(row)[0])
        assert step("x1") == pytest.approx(x1, abs=0.2) and step("x3") == pytest.approx(x3, abs=0.2)
    assert clone(m).fit(X, y).coef_.tolist() == m.coef_.tolist()


def test_arm_terms_shap_is_the_exact_interventional_shapley_value(arms):
    X, _, arm, m = arms
    background = X.iloc[100:130]
    values, base = m.shap_values(X.iloc[:4], background=background)
    for r in range(4):
        expected = _shapley_brute_force(m.margin, X.iloc[[r]].fillna({"x2": m.input_mean_[4]}), background)
        np.testing.assert_allclose(values[r], expected, atol=1e-9)
    assert base == pytest.approx(m.margin(background).mean())
    values, base = m.shap_values(X.iloc[:300])  # against the training data
    np.testing.assert_allclose(values.sum(1) + base, m.margin(X.iloc[:300]), atol=1e-9)


def test_arm_terms_shap_within_an_arm_gives_the_arm_nothing(arms):
    X, _, arm, m = arms
    rows, pool = X[arm == 2], X[arm == 2]
    values, _ = m.shap_values(rows.iloc[:300], background=pool.iloc[300:500])
    importance = pd.Series(np.abs(values).mean(0), index=X.columns)
    assert (importance[["arm=a", "arm=b", "arm=c"]] == 0).all()
    assert importance["x3"] > 5 * max(importance["x1"], importance["x2"])  # x3 acts in arm c, x1 does not


def test_arm_terms_treat_missing_as_the_training_mean(arms):
    X, _, _, m = arms
    row = X.iloc[:1].assign(x2=np.nan)
    np.testing.assert_allclose(m.margin(row), m.margin(row.assign(x2=m.input_mean_[4])))


def test_arm_terms_need_the_linear_booster_and_the_arm_columns(arms):
    X, y, _, _ = arms
    with pytest.raises(PredictorError, match="linear booster"):
        XGBResponseClassifier(booster="gbtree", interaction_by="arm").fit(X, y)
    with pytest.raises(PredictorError, match="interaction_by = 'stage' names no one-hot input column"):
        XGBResponseClassifier(booster="gblinear", interaction_by="stage").fit(X, y)


@pytest.mark.parametrize(
    "make", [lambda: XGBSurvival(n_estimators=40, early_stopping_rounds=None), lambda: CoxPHBaseline()]
)
def test_a_survival_estimators_score_is_harrells_c_of_its_risk(data, make):
    """scikit-survival's contract: score(X, y) is Harrell's C of predict(X) (higher = worse)."""
    from sksurv.metrics import concordance_index_censored

    X, y, _ = data
    model = make().fit(X, y)
    c = concordance_index_censored(y["event"], y["time"], model.predict(X))[0]
    assert model.score(X, y) == pytest.approx(c, abs=1e-15)
    assert 0.6 < c < 0.9  # x0 and x1 carry the risk

"""The hand-written metrics (predictor/metrics.py) give the libraries' values on the same data.

Counts (Harrell's C, Kaplan-Meier, the median search) must be *equal*: they are integer counts and
the same float operations, so any difference is a bug. Weighted sums (Uno's C, td-AUC, Brier
scores) add the same terms in another order, so they may differ in the last bits: the tolerance
is 1e-12 relative, far below any reported digit.

The data are small seeded cohorts built to hit the hard cases: tied times (rounded to whole
months), tied risk scores, events and censored patients at the same time, and bootstrap
replicates (the same patient several times).
"""

import numpy as np
import pytest
from lifelines.utils import concordance_index
from sklearn.metrics import brier_score_loss, roc_auc_score
from sksurv.metrics import (
    CensoringDistributionEstimator,
    concordance_index_censored,
    concordance_index_ipcw,
    cumulative_dynamic_auc,
    integrated_brier_score,
)
from sksurv.nonparametric import kaplan_meier_estimator

from predictor.metrics import SurvivalMetrics, TrainingReference, survival_metrics
from predictor.metrics.fast import (
    Concordance,
    brier,
    brier_scores,
    concordance_counts,
    harrell_c,
    integrated_brier,
    kaplan_meier,
    roc_auc,
    step_at,
    uno_c,
)
from predictor.metrics.fast import cumulative_dynamic_auc as fast_td_auc
from predictor.models.target import _count_above, make_surv

REL = 1e-12


def cohort(n, seed, *, tied_times=False, tied_risk=False, censored=0.35):
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    time = rng.exponential(12.0 * np.exp(-0.7 * risk)) + 0.1
    event = rng.uniform(size=n) > censored
    if tied_times:
        time = np.ceil(time)
    if tied_risk:
        risk = np.round(risk, 1)
    return time, event, risk


CASES = [
    dict(),
    dict(tied_times=True),
    dict(tied_risk=True),
    dict(tied_times=True, tied_risk=True),
    dict(censored=0.0),
    dict(censored=0.9, tied_times=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(c) or "continuous")
@pytest.mark.parametrize("n", [7, 60, 2000])
def test_harrell_c_equals_lifelines(case, n):
    t, e, r = cohort(n, 1, **case)
    e[0] = True  # at least one event, even among 7 mostly censored patients
    assert harrell_c(t, e, r) == concordance_index(t, -r, e)


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(c) or "continuous")
def test_weighted_counts_equal_the_replicate_itself(case):
    """A bootstrap replicate scored through multiplicities equals lifelines on the repeated rows."""
    t, e, r = cohort(500, 2, **case)
    pairs = Concordance(t, e, r)
    rng = np.random.default_rng(3)
    for _ in range(5):
        rows = rng.integers(0, len(t), len(t))
        weights = np.bincount(rows, minlength=len(t))
        assert pairs.harrell(weights) == concordance_index(t[rows], -r[rows], e[rows])


def test_counts_equal_scikit_survival_with_a_tolerance():
    """With tied_tol, scores closer than the tolerance tie, as in scikit-survival."""
    t, e, r = cohort(800, 4, tied_times=True)
    r = np.round(r, 2) + np.random.default_rng(5).uniform(-1e-3, 1e-3, len(r))
    tol = 2e-3
    less, tied, pairs = concordance_counts(t, e, r, tied_tol=tol)
    c, concordant, discordant, ties, _ = concordance_index_censored(e, t, r, tied_tol=tol)
    assert (less.sum(), tied.sum(), pairs.sum() - less.sum() - tied.sum()) == (concordant, ties, discordant)
    assert uno_c(t, e, r, e.astype(float), tied_tol=tol) == pytest.approx(c, rel=REL)


@pytest.mark.parametrize("case", CASES[:4], ids=lambda c: ",".join(c) or "continuous")
def test_uno_c_equals_scikit_survival(case):
    t_tr, e_tr, _ = cohort(400, 6, **case)
    t, e, r = cohort(300, 7, **case)
    y_tr, y = make_surv(e_tr, t_tr), make_surv(e, t)
    inside = t < t_tr.max()
    tau = min(t_tr[e_tr].max(), t[inside].max())
    expected = concordance_index_ipcw(y_tr, y[inside], r[inside], tau=tau)[0]
    g = CensoringDistributionEstimator().fit(y_tr).predict_ipcw(y[inside])
    assert uno_c(t[inside], e[inside], r[inside], np.where(t[inside] < tau, g, 0.0)) == pytest.approx(expected, rel=REL)


def test_kaplan_meier_equals_scikit_survival():
    t, e, _ = cohort(700, 8, tied_times=True)
    times, s = kaplan_meier(e, t)
    ref_t, ref_s = kaplan_meier_estimator(e, t)
    assert np.array_equal(times, ref_t) and np.array_equal(s, ref_s)
    at = np.array([0.0, 1.0, 3.5, 12.0, 1e3])
    idx = np.searchsorted(ref_t, at, side="right") - 1
    assert np.array_equal(step_at(times, s, at), np.where(idx >= 0, ref_s[np.clip(idx, 0, None)], 1.0))


def test_td_auc_and_integrated_brier_equal_scikit_survival():
    t_tr, e_tr, _ = cohort(600, 9, tied_times=True)
    t, e, r = cohort(500, 10, tied_times=True, tied_risk=True)
    keep = t < t_tr.max()
    t, e, r = t[keep], e[keep], r[keep]
    y_tr, y = make_surv(e_tr, t_tr), make_surv(e, t)
    cens = CensoringDistributionEstimator().fit(y_tr)
    horizons = np.array([3.0, 6.0, 12.0])
    expected, _ = cumulative_dynamic_auc(y_tr, y, r, horizons)
    got = fast_td_auc(t, e, r, cens.predict_ipcw(y), horizons)
    np.testing.assert_allclose(got, expected, rtol=REL)
    grid = np.linspace(2.0, 15.0, 20)
    surv = np.exp(-np.outer(np.exp(r), grid) / 12.0)
    expected = integrated_brier_score(y_tr, y, surv, grid)
    got = integrated_brier(brier_scores(t, e, surv, cens.predict_proba(t), cens.predict_proba(grid), grid), grid)
    assert got == pytest.approx(expected, rel=REL)


def test_auc_and_brier_equal_scikit_learn():
    rng = np.random.default_rng(11)
    p = np.round(rng.uniform(size=900), 2)  # ties
    y = rng.uniform(size=900) < p
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), rel=REL)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), rel=REL)
    with pytest.raises(ValueError):
        roc_auc(np.ones(5, bool), p[:5])


def _library_survival_metrics(y_train, y_test, risk, survival, horizons, unit="m"):
    """The survival metrics as the package computed them with lifelines and scikit-survival
    before predictor/metrics.py (kept here as the reference)."""
    ev_tr, t_tr = y_train["event"], y_train["time"]
    ev, t = y_test["event"], y_test["time"]
    out = {"harrell_c": concordance_index(t, -risk, ev)}
    inside = t < t_tr.max()
    y_test, risk, ev, t = y_test[inside], risk[inside], ev[inside], t[inside]
    surv = lambda times: survival(times)[inside]
    tau = min(t_tr[ev_tr].max(), t.max())
    usable = [h for h in horizons if h < tau and (t > h).any() and (ev & (t <= h)).any()]
    out["uno_c"] = concordance_index_ipcw(y_train, y_test, risk, tau=tau)[0]
    auc, _ = cumulative_dynamic_auc(y_train, y_test, risk, np.array(usable))
    out.update({f"td_auc_{h:g}{unit}": a for h, a in zip(usable, auc)})

    def km(event, time, at):
        kt, ks = kaplan_meier_estimator(event, time)
        idx = np.searchsorted(kt, at, side="right") - 1
        return np.where(idx >= 0, ks[np.clip(idx, 0, None)], 1.0)

    s_h, km_h = surv(np.array(usable)), km(ev, t, np.array(usable))
    out.update({f"calib_{h:g}{unit}": km_h[j] - s_h[:, j].mean() for j, h in enumerate(usable)})
    lo, hi = max(np.quantile(t, 0.05), 0.5), min(np.quantile(t, 0.8), tau * 0.999)
    grid = np.linspace(lo, hi, 40)
    grid = grid[(grid > t.min()) & (grid < t.max())]
    out["ibs"] = integrated_brier_score(y_train, y_test, surv(grid), grid)
    out["ibs_km"] = integrated_brier_score(y_train, y_test, np.tile(km(ev_tr, t_tr, grid), (len(t), 1)), grid)
    return out


def test_survival_metrics_of_a_replicate_equal_the_libraries():
    """Every survival metric of a bootstrap replicate (repeated rows, tied times) equals the
    lifelines / scikit-survival computation on the same rows."""
    t_tr, e_tr, _ = cohort(700, 12, tied_times=True)
    t, e, r = cohort(600, 13, tied_times=True)
    y_tr, y = make_surv(e_tr, t_tr), make_surv(e, t)
    survival = lambda times: np.exp(-np.outer(np.exp(0.8 * r), np.asarray(times)) / 14.0)
    metrics = SurvivalMetrics(TrainingReference.from_target(y_tr), y, r, survival, horizons=(6.0, 12.0, 24.0))
    rng = np.random.default_rng(14)
    for rows in [np.arange(len(t))] + [rng.integers(0, len(t), len(t)) for _ in range(3)]:
        got = metrics(rows)
        expected = _library_survival_metrics(
            y_tr, y[rows], r[rows], lambda times: survival(times)[rows], (6.0, 12.0, 24.0)
        )
        assert got.keys() == expected.keys()
        for k in expected:
            assert got[k] == pytest.approx(expected[k], rel=REL, abs=1e-15), k
    assert survival_metrics(y_tr, y, r, survival) == metrics(np.arange(len(t)))


@pytest.mark.parametrize("points", [1, 5, 300, 5000])
def test_binned_median_search_equals_a_binary_search(points):
    rng = np.random.default_rng(points)
    curve = np.sort(rng.uniform(0.01, 1.0, points))[::-1]
    curve[points // 3 : points // 3 + 4] = curve[points // 3]  # a flat stretch
    t = np.concatenate(
        [rng.uniform(size=200_000), curve, np.nextafter(curve, 0), np.nextafter(curve, 2), [0.0, 1.0, np.nan]]
    )
    assert np.array_equal(_count_above(curve, t), np.searchsorted(-curve, -t, side="left"))
    assert np.array_equal(_count_above(curve, t[:10]), np.searchsorted(-curve, -t[:10], side="left"))


def test_cox_baseline_survival_equals_lifelines():
    import pandas as pd

    from predictor.models.baselines import CoxPHBaseline

    t, e, r = cohort(300, 15, tied_times=True)
    X = pd.DataFrame({"a": r, "b": np.random.default_rng(16).normal(size=len(r))})
    cox = CoxPHBaseline().fit(X, make_surv(e, t))
    times = np.array([0.5, 3.0, 7.5, 20.0, 500.0])
    expected = np.asarray(cox.model_.predict_survival_function(X, times=times), dtype=float).T
    assert np.array_equal(cox.predict_survival_function(X, times), expected)

"""Held-out evaluation as a biostatistician expects it, with bootstrap 95% confidence intervals.

Response: AUC, Brier score, calibration slope and calibration intercept (calibration-in-the-large).
Survival: Harrell's C and Uno's C (IPCW, scikit-survival), time-dependent AUC (cumulative/dynamic,
scikit-survival) and calibration-in-the-large at 6/12/24 months (Kaplan-Meier minus the mean
predicted survival), and the integrated Brier score beside that of the Kaplan-Meier reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit

from predictor.metrics.fast import Concordance, brier, brier_scores, cumulative_dynamic_auc, integrated_brier, kaplan_meier, roc_auc, step_at
from predictor.models.boosters import surv_arrays

__all__ = ["response_metrics", "survival_metrics", "SurvivalMetrics", "TrainingReference", "SurvivalCalibration",
           "survival_calibration", "FlexibleCalibration", "flexible_calibration", "calibration_slope_intercept", "bootstrap", "bootstrap_draws",
           "summarise", "paired_difference", "shap_recovery", "HORIZONS"]

#: Months at which time-dependent metrics are reported.
HORIZONS = (6.0, 12.0, 24.0)


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration slope (logistic regression of ``y`` on logit ``p``) and intercept (with the
    slope fixed at 1, i.e. logit ``p`` as an offset). Perfect calibration: slope 1, intercept 0.

    Hand-written because scikit-learn's logistic regression takes no offset; both are one- and
    two-parameter maximum-likelihood fits.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, dtype=float)
    lp = logit(np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6))
    if y.min() == y.max():
        return float("nan"), float("nan")
    slope = float(LogisticRegression(C=np.inf, max_iter=1000).fit(lp[:, None], y).coef_[0, 0])
    score = lambda a: float(np.sum(y - expit(a + lp)))
    intercept = float(brentq(score, -20.0, 20.0))
    return slope, intercept


@dataclass(frozen=True)
class FlexibleCalibration:
    """A smooth calibration curve of predicted probabilities: the observed probability of the
    outcome as a function of the predicted one, by logistic regression of the outcome on a
    restricted cubic spline of logit(p) with knots at the 5th, 35th, 65th and 95th percentiles
    (Harrell's default; Austin & Steyerberg 2019, Stat Med 38:4051, use it beside loess).

    ``ici`` is the integrated calibration index: the mean over patients of |observed(p) - p|;
    ``e50`` and ``e90`` its median and 90th percentile, ``emax`` its largest value. All 0 for a
    perfectly calibrated model.
    """

    knots: np.ndarray
    coef: np.ndarray
    ici: float
    e50: float
    e90: float
    emax: float

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """The observed probability the curve gives at predicted probabilities ``p``."""
        return expit(_rcs_design(_logit(p), self.knots) @ self.coef)


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6))


def _rcs_design(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Intercept, x, and Harrell's restricted cubic spline terms (linear beyond the outer knots)."""
    k = knots
    cube = lambda u: np.maximum(u, 0.0) ** 3
    last, before = k[-1], k[-2]
    terms = [(cube(x - k[j]) - cube(x - before) * (last - k[j]) / (last - before)
              + cube(x - last) * (before - k[j]) / (last - before)) / (last - k[0]) ** 2 for j in range(len(k) - 2)]
    return np.column_stack([np.ones_like(x), x, *terms])


def flexible_calibration(y: np.ndarray, p: np.ndarray) -> FlexibleCalibration:
    """The :class:`FlexibleCalibration` of probabilities ``p`` for binary outcomes ``y``.

    The logistic regression is fitted by Newton's method (iteratively reweighted least squares)
    to convergence, here rather than by a library: statsmodels' GLM gives the same coefficients
    (tested to 1e-8) but its results hold reference cycles that pile up inside a bootstrap
    (+250 MB over 300 fits, measured), and scikit-learn's lbfgs takes 10 ms on 10,000 patients
    against 1 ms here. Raises ValueError with a single outcome class, or when the fit does not
    converge (a perfectly separated replicate).
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.min() == y.max():
        raise ValueError("a calibration curve needs both outcomes")
    lp = _logit(p)
    knots = np.unique(np.percentile(lp, [5, 35, 65, 95]))
    if len(knots) < 3:  # too few distinct predictions for a spline: a line in logit(p)
        knots = np.array([lp.min(), lp.max()]) if lp.max() > lp.min() else np.array([lp.min(), lp.min() + 1])
    X = _rcs_design(lp, knots)
    coef = _logistic_newton(X, y)
    gap = np.abs(expit(X @ coef) - p)
    return FlexibleCalibration(knots=knots, coef=coef, ici=float(gap.mean()), e50=float(np.median(gap)),
                               e90=float(np.quantile(gap, 0.9)), emax=float(gap.max()))


def _newton(score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], start: np.ndarray, what: str,
            max_iter: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Maximise a concave log-likelihood by Newton's method: ``score(coef)`` gives its gradient and
    the negated Hessian (the information). ValueError naming ``what`` if it does not converge."""
    coef = start
    for _ in range(max_iter):
        grad, info = score(coef)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            raise ValueError(f"{what} cannot be fitted (singular information matrix)") from None
        coef = coef + step
        if not np.all(np.isfinite(coef)):
            break
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(coef))):
            return coef
    raise ValueError(f"{what} did not converge (separated outcomes?)")


def _logistic_newton(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Maximum-likelihood logistic regression coefficients (ValueError if the fit does not
    converge, as with perfectly separated outcomes)."""

    def score(coef):
        mu = expit(X @ coef)
        return X.T @ (y - mu), (X * (mu * (1 - mu))[:, None]).T @ X

    start = np.zeros(X.shape[1])
    start[0] = logit(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    return _newton(score, start, "the calibration curve")


def _cox_breslow(Z: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, Callable[[float], float]]:
    """Cox proportional hazards with Breslow's handling of ties, by Newton's method: the
    coefficients, and the baseline cumulative hazard H0(t) (Breslow's estimator).

    Here rather than scikit-survival's ``CoxPHSurvivalAnalysis`` (the same model, tested equal to
    1e-6) because that takes 0.8 s on 10,000 patients and this takes milliseconds: risk-set sums are
    cumulative sums over patients sorted by time, for the two or three columns of a calibration
    model. Raises ValueError if Newton's method does not converge.
    """
    order = np.argsort(-time, kind="stable")  # descending: a risk set is a prefix
    Z, t, e = Z[order], time[order], event[order]
    last = np.searchsorted(-t, -t, side="right") - 1  # end of each patient's tie group
    ev = np.flatnonzero(e)

    def score(beta):
        lp = Z @ beta
        w = np.exp(lp - lp.max())
        s0 = np.cumsum(w)[last][ev]
        s1 = np.cumsum(w[:, None] * Z, axis=0)[last][ev]
        s2 = np.cumsum(w[:, None, None] * Z[:, :, None] * Z[:, None, :], axis=0)[last][ev]
        mean = s1 / s0[:, None]
        return (Z[ev] - mean).sum(axis=0), (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)

    beta = _newton(score, np.zeros(Z.shape[1]), "the survival calibration model", tol=1e-9)
    risk_sum = np.cumsum(np.exp(Z @ beta))[last]
    event_times = t[ev]
    increments = 1.0 / risk_sum[ev]  # each event adds 1 / (risk-set sum at its time)

    def baseline(at: float) -> float:
        return float(increments[event_times <= at].sum())

    return beta, baseline


@dataclass(frozen=True)
class SurvivalCalibration:
    """A smooth calibration curve of predicted event probabilities by a horizon h (Austin, Harrell
    & van Klaveren 2020, Stat Med 39:2714): a Cox model of the outcome on a restricted cubic
    spline (3 knots) of log(-log(1 - p)), whose predicted probability of an event by h for each
    patient is the observed probability at that patient's p. ``ici``: the mean over patients of
    |observed - predicted|; ``e50``, ``e90``: its median and 90th percentile."""

    horizon: float
    predicted: np.ndarray
    observed: np.ndarray
    ici: float
    e50: float
    e90: float


def survival_calibration(time: np.ndarray, event: np.ndarray, p: np.ndarray, horizon: float) -> SurvivalCalibration:
    """The :class:`SurvivalCalibration` of predicted probabilities ``p`` of an event by ``horizon``
    (ValueError if the calibration model cannot be fitted)."""
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    cll = np.log(-np.log(1.0 - p))
    knots = np.unique(np.percentile(cll, [10, 50, 90]))
    Z = _rcs_design(cll, knots)[:, 1:] if len(knots) == 3 else cll[:, None]
    beta, baseline = _cox_breslow(Z, np.asarray(time, dtype=float), np.asarray(event, dtype=bool))
    observed = 1.0 - np.exp(-baseline(horizon) * np.exp(Z @ beta))
    gap = np.abs(observed - p)
    return SurvivalCalibration(horizon=float(horizon), predicted=p, observed=observed, ici=float(gap.mean()),
                               e50=float(np.median(gap)), e90=float(np.quantile(gap, 0.9)))


def response_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Discrimination and calibration of probabilities ``p`` for binary ``y``: AUC, Brier score,
    calibration slope and intercept, the observed/expected ratio (``oe_ratio``: observed events
    over the sum of the predicted probabilities), and the flexible calibration curve's ICI, E50
    and E90 (:func:`flexible_calibration`).

    The AUC and Brier score are :func:`predictor.metrics.fast.roc_auc` and :func:`~predictor.metrics.fast.brier`
    (equal to scikit-learn's ``roc_auc_score`` and ``brier_score_loss``, without their input checks,
    which dominate their time inside a bootstrap)."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    nan = {"cal_slope": np.nan, "cal_intercept": np.nan, "oe_ratio": np.nan, "ici": np.nan, "e50": np.nan, "e90": np.nan}
    if y.min() == y.max():
        return {"auc": np.nan, "brier": brier(y, p), **nan}
    slope, intercept = calibration_slope_intercept(y, p)
    out = {"auc": roc_auc(y, p), "brier": brier(y, p), "cal_slope": slope, "cal_intercept": intercept,
           "oe_ratio": float(y.sum() / p.sum())}
    try:
        curve = flexible_calibration(y, p)
        out.update(ici=curve.ici, e50=curve.e50, e90=curve.e90)
    except ValueError:
        out.update(ici=np.nan, e50=np.nan, e90=np.nan)
    return out


@dataclass(frozen=True)
class TrainingReference:
    """What the survival metrics need from the training data, without its patients: the
    censoring distribution (scikit-survival's ``CensoringDistributionEstimator``: a step
    function), the Kaplan-Meier curve (the reference of the integrated Brier score), and the last
    event time and last time. It travels with a trained model, so that an external cohort is
    scored exactly as the training run scored its own test rows."""

    censoring: object
    km_times: np.ndarray
    km_survival: np.ndarray
    last_event_time: float
    last_time: float

    @classmethod
    def from_target(cls, y_train: np.ndarray) -> "TrainingReference":
        """The reference of a training target (:func:`predictor.models.boosters.make_surv`)."""
        from sksurv.metrics import CensoringDistributionEstimator

        ev, t = surv_arrays(y_train)
        km_times, km_survival = kaplan_meier(ev, t)
        return cls(censoring=CensoringDistributionEstimator().fit(y_train), km_times=km_times, km_survival=km_survival,
                   last_event_time=float(t[ev].max() if ev.any() else t.max()), last_time=float(t.max()))


class SurvivalMetrics:
    """Discrimination and calibration of one model's survival predictions on a test set, for any
    bootstrap replicate of its rows, with what the replicates share computed once.

    Parameters
    ----------
    reference : TrainingReference
        From the training data: the censoring distribution for Uno's C, the time-dependent AUC
        and the Brier scores, and the Kaplan-Meier reference of the integrated Brier score
        (:meth:`TrainingReference.from_target`).
    y_test : structured array (event, time)
    risk : ndarray
        Risk scores of the test rows, higher = worse.
    survival : callable, optional
        ``survival(times) -> (n_test, len(times))`` predicted survival probabilities; enables the
        calibration and Brier metrics.
    horizons : sequence of float
        Times (in the outcome's unit) of the time-dependent metrics; those beyond the follow-up
        are skipped.
    unit : str
        Suffix of the horizon in metric names (``td_auc_12m``: 12 months; ``td_auc_90d``: 90 days).

    ``metrics(rows)`` gives the metrics of the test rows ``rows`` (indices, repeats allowed: a
    bootstrap replicate); see :func:`survival_metrics` for what each is.
    """

    def __init__(self, reference: TrainingReference, y_test: np.ndarray, risk: np.ndarray,
                 survival: Callable[[np.ndarray], np.ndarray] | None = None, horizons: Sequence[float] = HORIZONS,
                 unit: str = "m"):
        self.event, self.time = surv_arrays(y_test)
        self.risk = np.asarray(risk, dtype=float)
        self.survival = survival
        self.horizons = np.asarray(horizons, dtype=float)
        self.unit = unit
        self.reference = reference
        self.pairs = Concordance(self.time, self.event, self.risk)
        # The censoring distribution of the training data is defined only before its last time:
        # test rows at or beyond it are left out of the IPCW metrics.
        inside = self.time < reference.last_time
        self.inside = inside
        self.g = np.full(len(self.time), np.nan)  # G(t) of each inside row
        self.g[inside] = reference.censoring.predict_proba(self.time[inside])
        self.ipcw = np.zeros(len(self.time))
        with np.errstate(divide="ignore"):
            self.ipcw[inside & self.event] = 1.0 / self.g[inside & self.event]
        self.uno_pairs = Concordance(self.time[inside], self.event[inside], self.risk[inside], tied_tol=1e-8)
        self.time_inside, self.ipcw_inside = self.time[inside], self.ipcw[inside]
        # Survival curves of every row at the horizons are the same in each replicate: once.
        self.at_horizons = survival(self.horizons) if survival is not None else None

    def __call__(self, rows: np.ndarray, calibration: bool = False) -> dict[str, float]:
        """The metrics of test rows ``rows``; with ``calibration``, also the calibration slope
        (``cal_slope``: the coefficient of the risk score in a Cox model of the outcome; 1 when a
        Cox model's log hazard is calibrated, below 1 when its predictions are too extreme, as an
        overfitted model's are; on another scale, such as an AFT model's, it is not 1 at
        calibration) and the smoothed calibration at each horizon (``ici_<h>``:
        :func:`survival_calibration`). Each is a Cox fit, so reported as a point estimate,
        outside the bootstrap."""
        out, usable = self._metrics(rows)
        if calibration:
            t, ev = self.time[rows], self.event[rows]
            try:  # the calibration slope of the risk score (van Houwelingen): its coefficient in a Cox model
                out["cal_slope"] = float(_cox_breslow(self.risk[rows][:, None], t, ev)[0][0])
            except ValueError:
                pass
        if calibration and self.survival is not None:
            for j, h in enumerate(self.horizons):
                if h not in usable:  # a horizon beyond the follow-up
                    continue
                try:
                    c = survival_calibration(t, ev, 1.0 - self.at_horizons[rows, j], h)
                except ValueError:
                    continue
                out[f"ici_{h:g}{self.unit}"] = c.ici
        return out

    def _metrics(self, rows: np.ndarray) -> tuple[dict[str, float], list[float]]:
        """The bootstrap metrics of ``rows``, and the horizons the replicate's follow-up covers."""
        weights = np.bincount(rows, minlength=len(self.time))
        out: dict[str, float] = {"harrell_c": self.pairs.harrell(weights)}
        rows_in = rows[self.inside[rows]]
        t, ev, r = self.time[rows_in], self.event[rows_in], self.risk[rows_in]
        g, ipcw = self.g[rows_in], self.ipcw[rows_in]
        if (ev & (g == 0.0)).any():
            raise ValueError("censoring survival function is zero at one or more time points")
        # Restrict to times where the censoring distribution of the training data is estimable.
        tau = min(self.reference.last_event_time, t.max())
        usable = [h for h in self.horizons if h < tau and (t > h).any() and (ev & (t <= h)).any()]
        try:
            truncated = np.where(self.time_inside < tau, self.ipcw_inside, 0.0)
            out["uno_c"] = self.uno_pairs.uno(truncated, weights[self.inside])
        except ValueError:
            out["uno_c"] = np.nan
        if usable:
            for h, a in zip(usable, cumulative_dynamic_auc(t, ev, r, ipcw, np.array(usable))):
                out[f"td_auc_{h:g}{self.unit}"] = float(a)
        if self.survival is not None and usable:
            s_h = self.at_horizons[rows_in][:, np.isin(self.horizons, usable)]
            km_h = step_at(*kaplan_meier(ev, t), np.array(usable))
            for j, h in enumerate(usable):
                out[f"calib_{h:g}{self.unit}"] = float(km_h[j] - s_h[:, j].mean())
            lo, hi = max(np.quantile(t, 0.05), 0.5), min(np.quantile(t, 0.8), tau * 0.999)
            grid = np.linspace(lo, hi, 40)
            grid = grid[(grid > t.min()) & (grid < t.max())]
            if len(grid) > 2:
                ref = self.reference
                g_grid = ref.censoring.predict_proba(grid)
                out["ibs"] = integrated_brier(brier_scores(t, ev, self.survival(grid)[rows_in], g, g_grid, grid), grid)
                km_ref = step_at(ref.km_times, ref.km_survival, grid)[None, :]  # the same curve for every row
                out["ibs_km"] = integrated_brier(brier_scores(t, ev, km_ref, g, g_grid, grid), grid)
        return out, usable


def survival_metrics(
    y_train: np.ndarray,
    y_test: np.ndarray,
    risk: np.ndarray,
    survival: Callable[[np.ndarray], np.ndarray] | None = None,
    horizons: Sequence[float] = HORIZONS,
    unit: str = "m",
) -> dict[str, float]:
    """Discrimination and calibration of a survival model on a test set.

    Parameters
    ----------
    y_train, y_test : structured arrays (event, time)
        The training target estimates the censoring distribution for Uno's C and the
        time-dependent AUC, and the Kaplan-Meier reference of the integrated Brier score.
    risk : ndarray
        Risk scores on the test set, higher = worse.
    survival : callable, optional
        ``survival(times) -> (n_test, len(times))`` predicted survival probabilities; enables the
        calibration and Brier metrics.
    horizons : sequence of float
        Times for the time-dependent metrics; those beyond the follow-up are skipped.
    unit : str
        Suffix of the horizon in metric names (``td_auc_12m``: 12 months; ``td_auc_90d``: 90 days).

    Uno's C, the time-dependent AUC and the Brier scores use inverse probability of censoring
    weights estimated on the training data, so they leave out test rows at or beyond the last
    training time.

    Each metric is the value of a maintained library, computed by :mod:`predictor.metrics.fast` (tested
    equal, and much faster inside a bootstrap): Harrell's C is lifelines' ``concordance_index``;
    Uno's C is scikit-survival's ``concordance_index_ipcw`` truncated at the last event time of the
    training data; the time-dependent AUC is scikit-survival's ``cumulative_dynamic_auc``; the
    integrated Brier score (and that of the training data's Kaplan-Meier curve, ``ibs_km``) is
    scikit-survival's ``integrated_brier_score`` on 40 times between the 5th and 80th percentiles
    of follow-up; ``calib_<h>`` is the test rows' Kaplan-Meier survival at h minus the mean
    predicted survival.
    """
    reference = TrainingReference.from_target(y_train)
    return SurvivalMetrics(reference, y_test, risk, survival, horizons, unit)(np.arange(len(y_test)))


def bootstrap_draws(
    metric: Callable[[np.ndarray], Mapping[str, float]],
    n: int,
    *,
    n_boot: int = 200,
    random_state: int = 0,
    stratify: np.ndarray | None = None,
    point_metric: Callable[[np.ndarray], Mapping[str, float]] | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Point estimates on all rows and the metrics of ``n_boot`` bootstrap replicates.

    The replicates depend only on ``n``, ``n_boot``, ``random_state`` and ``stratify``: two
    models scored with the same arguments see the same resampled patients, replicate by
    replicate, so their draws can be subtracted for a paired CI (:func:`summarise`).

    Returns
    -------
    point : dict
        ``(point_metric or metric)(all rows)``.
    draws : DataFrame
        One row per replicate (index 0..n_boot-1); NaN where a replicate left a metric undefined.
    """
    rng = np.random.default_rng(random_state)
    point = dict((point_metric or metric)(np.arange(n)))
    draws = []
    for _ in range(n_boot):
        if stratify is None:
            idx = rng.integers(0, n, n)
        else:  # resample within strata so every replicate keeps both classes
            idx = np.concatenate([rng.choice(np.flatnonzero(stratify == s), (stratify == s).sum())
                                  for s in np.unique(stratify)])
        try:
            draws.append(dict(metric(idx)))
        except ValueError:  # a replicate where a metric is undefined
            draws.append({})
    return point, pd.DataFrame(draws, index=pd.RangeIndex(n_boot), dtype=float)


def summarise(point: Mapping[str, float], draws: pd.DataFrame) -> pd.DataFrame:
    """Point estimates with percentile 95% CIs from bootstrap draws; a metric the draws lack gets
    NaN bounds. Index: metric names; columns ``estimate``, ``ci_low``, ``ci_high``."""
    rows = {}
    for k, v in point.items():
        col = draws[k].to_numpy(dtype=float) if k in draws else np.array([np.nan])
        col = col[np.isfinite(col)]
        lo, hi = (np.quantile(col, [0.025, 0.975]) if col.size else (np.nan, np.nan))
        rows[k] = {"estimate": v, "ci_low": float(lo), "ci_high": float(hi)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])


def paired_difference(a: tuple[Mapping[str, float], pd.DataFrame],
                      b: tuple[Mapping[str, float], pd.DataFrame]) -> pd.DataFrame:
    """``a - b`` for every metric both have, with the paired bootstrap 95% CI: the difference is
    taken within each replicate (same patients), which is what a model-vs-baseline comparison
    needs; two marginal CIs side by side ignore the pairing. Both must come from
    :func:`bootstrap_draws` with the same resampling arguments."""
    (pa, da), (pb, db) = a, b
    keys = [k for k in pa if k in pb]
    point = {k: pa[k] - pb[k] for k in keys}
    draws = pd.DataFrame({k: da[k] - db[k] for k in keys if k in da and k in db}, index=da.index)
    return summarise(point, draws)


def bootstrap(metric: Callable[[np.ndarray], Mapping[str, float]], n: int, **options) -> pd.DataFrame:
    """Point estimates and percentile bootstrap 95% CIs of every metric ``metric(indices)`` returns:
    :func:`summarise` of :func:`bootstrap_draws`, which takes the same ``options`` (``n_boot``,
    ``random_state``, ``stratify``, ``point_metric``).

    Returns
    -------
    DataFrame
        Index: metric names; columns ``estimate``, ``ci_low``, ``ci_high``. A metric that
        ``point_metric`` returns and the replicates do not gets no interval (NaN bounds).
    """
    return summarise(*bootstrap_draws(metric, n, **options))


def shap_recovery(importance_by: pd.DataFrame, effects: pd.DataFrame, min_effect: float = 0.1) -> pd.DataFrame:
    """Whether an explanation separates the biomarkers that act from those that do not, within
    each group (therapy arm), against the truth of a synthetic cohort.

    Parameters
    ----------
    importance_by : DataFrame
        Mean |SHAP| within each group: input columns x groups
        (:attr:`predictor.training.stages.Explanation.importance_by`).
    effects : DataFrame
        The true effect of each biomarker within each group (the linear predictor's change
        across the biomarker's interquartile range; ``synthetic.models.myeloma_bmm.biomarker_effects``):
        biomarkers x groups. Only these rows are judged.
    min_effect : float
        A biomarker "acts" in a group when its true effect there is at least this; one with an
        effect of exactly 0 does not. Those in between are not judged.

    Returns
    -------
    DataFrame
        One row per group: the acting biomarker with the smallest importance (``weakest_acting``,
        ``weakest_importance``), the non-acting one with the largest (``strongest_null``,
        ``null_importance``), and ``separated``: every acting biomarker above every non-acting one.
    """
    rows = []
    for group in effects.columns:
        if group not in importance_by.columns:
            continue
        imp = importance_by[group].reindex(effects.index).fillna(0.0)
        acting = effects.index[effects[group] >= min_effect]
        null = effects.index[effects[group] == 0]
        weak, strong = imp[acting].idxmin(), imp[null].idxmax()
        rows.append({"group": group, "weakest_acting": weak, "weakest_importance": float(imp[weak]),
                     "strongest_null": strong, "null_importance": float(imp[strong]),
                     "separated": bool(imp[weak] > imp[strong])})
    return pd.DataFrame(rows)

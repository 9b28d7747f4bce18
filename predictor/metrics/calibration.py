"""Calibration: the logistic calibration slope and intercept, a flexible (restricted cubic
spline) calibration curve with ICI/E50/E90, and calibration of predicted survival at a horizon.

The Newton solvers here are hand-written because they run inside every bootstrap replicate on
small arrays, where statsmodels' per-fit overhead dominates; tests compare them with
statsmodels' GLM and lifelines' Cox fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

__all__ = [
    "calibration_slope_intercept",
    "FlexibleCalibration",
    "flexible_calibration",
    "SurvivalCalibration",
    "survival_calibration",
]


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Calibration slope (logistic regression of ``y`` on logit ``p``) and intercept (with the
    slope fixed at 1, i.e. logit ``p`` as an offset). Perfect calibration: slope 1, intercept 0.

    Hand-written because scikit-learn's logistic regression takes no offset; both are one- and
    two-parameter maximum-likelihood fits.
    """

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

    ``ici`` is the integrated calibration index: the mean over patients of :math:`|\\mathrm{observed}(p) - p|`;
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
    terms = [
        (
            cube(x - k[j])
            - cube(x - before) * (last - k[j]) / (last - before)
            + cube(x - last) * (before - k[j]) / (last - before)
        )
        / (last - k[0]) ** 2
        for j in range(len(k) - 2)
    ]
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
    return FlexibleCalibration(
        knots=knots,
        coef=coef,
        ici=float(gap.mean()),
        e50=float(np.median(gap)),
        e90=float(np.quantile(gap, 0.9)),
        emax=float(gap.max()),
    )


def _newton(
    score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    what: str,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> np.ndarray:
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
    :math:`|\\mathrm{observed} - \\mathrm{predicted}|`; ``e50``, ``e90``: its median and 90th percentile."""

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
    return SurvivalCalibration(
        horizon=float(horizon),
        predicted=p,
        observed=observed,
        ici=float(gap.mean()),
        e50=float(np.median(gap)),
        e90=float(np.quantile(gap, 0.9)),
    )

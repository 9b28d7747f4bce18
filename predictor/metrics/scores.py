"""Held-out evaluation as a biostatistician expects it, with bootstrap 95% confidence intervals.

Response: AUC, Brier score, calibration slope and calibration intercept (calibration-in-the-large).
Survival: Harrell's C and Uno's C (IPCW, scikit-survival), time-dependent AUC (cumulative/dynamic,
scikit-survival) and calibration-in-the-large at 6/12/24 months (Kaplan-Meier minus the mean
predicted survival), and the integrated Brier score beside that of the Kaplan-Meier reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sksurv.metrics import CensoringDistributionEstimator

from predictor.metrics.calibration import (
    _cox_breslow,
    calibration_slope_intercept,
    flexible_calibration,
    survival_calibration,
)
from predictor.metrics.fast import (
    Concordance,
    brier,
    brier_scores,
    cumulative_dynamic_auc,
    integrated_brier,
    kaplan_meier,
    roc_auc,
    step_at,
)
from predictor.models.target import surv_arrays

__all__ = [
    "HORIZONS",
    "LOWER_IS_BETTER",
    "response_metrics",
    "TrainingReference",
    "SurvivalMetrics",
    "survival_metrics",
]

#: Months at which time-dependent metrics are reported.
HORIZONS = (6.0, 12.0, 24.0)

#: Metrics where smaller is better (a model's gap to the oracle is model - oracle; else oracle - model).
LOWER_IS_BETTER = ("brier", "ibs", "ibs_km", "ici", "e50", "e90")


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
    nan = {
        "cal_slope": np.nan,
        "cal_intercept": np.nan,
        "oe_ratio": np.nan,
        "ici": np.nan,
        "e50": np.nan,
        "e90": np.nan,
    }
    if y.min() == y.max():
        return {"auc": np.nan, "brier": brier(y, p), **nan}
    slope, intercept = calibration_slope_intercept(y, p)
    out = {
        "auc": roc_auc(y, p),
        "brier": brier(y, p),
        "cal_slope": slope,
        "cal_intercept": intercept,
        "oe_ratio": float(y.sum() / p.sum()),
    }
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

    censoring: CensoringDistributionEstimator
    km_times: np.ndarray
    km_survival: np.ndarray
    last_event_time: float
    last_time: float

    @classmethod
    def from_target(cls, y_train: np.ndarray) -> TrainingReference:
        """The reference of a training target (:func:`predictor.models.boosters.make_surv`)."""

        ev, t = surv_arrays(y_train)
        km_times, km_survival = kaplan_meier(ev, t)
        return cls(
            censoring=CensoringDistributionEstimator().fit(y_train),
            km_times=km_times,
            km_survival=km_survival,
            last_event_time=float(t[ev].max() if ev.any() else t.max()),
            last_time=float(t.max()),
        )


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

    def __init__(
        self,
        reference: TrainingReference,
        y_test: np.ndarray,
        risk: np.ndarray,
        survival: Callable[[np.ndarray], np.ndarray] | None = None,
        horizons: Sequence[float] = HORIZONS,
        unit: str = "m",
    ):
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

    @property
    def _at_horizons(self) -> np.ndarray:
        """The predicted survival at the horizons (only asked for where a survival curve was given)."""
        if self.at_horizons is None:
            raise ValueError("these metrics were built without a survival curve")
        return self.at_horizons

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
                    c = survival_calibration(t, ev, 1.0 - self._at_horizons[rows, j], h)
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
            for h, a in zip(usable, cumulative_dynamic_auc(t, ev, r, ipcw, np.array(usable)), strict=True):
                out[f"td_auc_{h:g}{self.unit}"] = float(a)
        if self.survival is not None and usable:
            s_h = self._at_horizons[rows_in][:, np.isin(self.horizons, usable)]
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


#: Time units a time-to-event outcome may be declared in, and the suffix of its horizons in
#: metric and column names (``td_auc_12m``, ``os_prob_90d``).
TIME_UNITS = {"months": "m", "days": "d", "weeks": "w", "years": "y"}

"""Decision curves: would acting on the model's predicted risk do more good than harm?

Net benefit at a threshold probability pt (Vickers & Elkin 2006) is the rate of true positives
minus the rate of false positives weighted by the odds pt / (1 - pt): the harm of an unneeded
treatment relative to the benefit of a needed one that a clinician who would act at risk pt
accepts. A model is worth using at pt when its net benefit is above both "treat all" and "treat
none" (0). For a time to event the risk is 1 - S(h) at a horizon h, and the true-positive rate
comes from Kaplan-Meier among the patients above the threshold.

The numbers are the ``dcurves`` package's (``dcurves.dca``; pinned, Apache-2.0). For a binary
outcome it computes them. For a time to event this module follows its steps itself, because
dcurves fits lifelines' Kaplan-Meier twice for every model and threshold, once for the true-positive
rate and once for the false-positive rate: 300 fits and 5.6 s of the default training's 28 s
evaluation. Here it is one scikit-survival Kaplan-Meier estimate per model and threshold, and
tests/predictor/metrics/test_decision.py checks every column against ``dcurves.dca`` to 1e-12.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sksurv.nonparametric import kaplan_meier_estimator

from predictor.metrics.fast import step_at

__all__ = ["THRESHOLDS", "decision_curve"]

#: The columns of a decision curve table.
COLUMNS = ["model", "threshold", "net_benefit", "test_pos_rate", "tp_rate", "fp_rate", "net_intervention_avoided"]

#: Threshold probabilities of the decision curves (5% to 95% in steps of 5%).
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))


def decision_curve(
    outcome: np.ndarray,
    risks: Mapping[str, np.ndarray],
    *,
    time: np.ndarray | None = None,
    horizon: float | None = None,
    thresholds=THRESHOLDS,
) -> pd.DataFrame:
    """Net benefit of each model in ``risks``, of treating all and of treating none.

    Parameters
    ----------
    outcome : array of bool
        The outcome (a binary outcome, or the event indicator of a time to event).
    risks : mapping of str to array
        Each model's predicted risk of the outcome (by ``horizon`` for a time to event), in [0, 1].
    time, horizon : array and float, optional
        For a time to event: each patient's time, and the horizon of the risks (same unit).
    thresholds : sequence of float

    Returns
    -------
    DataFrame
        One row per model (the given ones, ``all``, ``none``) and threshold: ``model``,
        ``threshold``, ``net_benefit``, ``test_pos_rate``, ``tp_rate``, ``fp_rate``,
        ``net_intervention_avoided`` (per 100 patients would need ``nper``; here per patient).
    """

    clipped = {name: np.clip(np.asarray(r, dtype=float), 0.0, 1.0) for name, r in risks.items()}
    if time is not None:
        if horizon is None:
            raise ValueError("a time to event needs the horizon of its decision")
        return _survival_curve(
            np.asarray(outcome).astype(bool), np.asarray(time, dtype=float), clipped, horizon, thresholds
        )
    # dcurves imports matplotlib.pyplot and statsmodels (~1.3 s of CPU), which every process that
    # imports the package would pay at start-up, each Dask worker too
    import dcurves  # lazy: start-up time (see above)

    data = pd.DataFrame({"outcome": np.asarray(outcome).astype(int), **clipped})
    out = dcurves.dca(data=data, outcome="outcome", modelnames=list(clipped), thresholds=list(thresholds))
    return out[COLUMNS].reset_index(drop=True)


def _survival_curve(
    event: np.ndarray, time: np.ndarray, risks: Mapping[str, np.ndarray], horizon: float, thresholds
) -> pd.DataFrame:
    """``dcurves.dca(..., time=horizon, time_to_outcome_col=...)``, step by step: the patients
    at risk >= pt test positive; among them, the risk by the horizon is 1 - KM(horizon) (0 when
    nobody tests positive, undefined when their follow-up ends before the horizon); the
    true-positive rate is that risk times the test-positive rate and the false-positive rate its
    complement times the same. ``all`` treats everyone, ``none`` nobody."""
    models = {**risks, "all": np.ones(len(time)), "none": np.zeros(len(time))}
    pts = np.asarray(thresholds, dtype=float)
    rows = []
    for model, risk in models.items():
        # dcurves moves a risk of exactly 0 below every threshold and exactly 1 above
        risk = np.where(risk == 0, -np.finfo(float).eps, np.where(risk == 1, 1 + np.finfo(float).eps, risk))
        for pt in pts:
            positive = risk >= pt
            test_pos_rate = positive.sum() / len(time)
            rate = _risk_among_positives(event[positive], time[positive], horizon)
            rows.append((model, pt, test_pos_rate, rate * test_pos_rate, (1 - rate) * test_pos_rate))
    out = pd.DataFrame(rows, columns=["model", "threshold", "test_pos_rate", "tp_rate", "fp_rate"])
    odds = out.threshold / (1 - out.threshold)
    out["net_benefit"] = out.tp_rate - odds * out.fp_rate
    treat_all = out.net_benefit[out.model == "all"].to_numpy()
    out["net_intervention_avoided"] = (out.net_benefit - np.tile(treat_all, len(models))) / odds
    return out[COLUMNS]


def _risk_among_positives(event: np.ndarray, time: np.ndarray, horizon: float) -> float:
    """1 - Kaplan-Meier S(horizon) of these patients; 0 for nobody, NaN when the last follow-up
    is before the horizon (as dcurves says)."""
    if len(time) == 0:
        return 0.0
    if time.max() < horizon:
        return float("nan")
    times, survival = kaplan_meier_estimator(event, time)
    return 1.0 - float(step_at(times, survival, np.array([horizon]))[0])

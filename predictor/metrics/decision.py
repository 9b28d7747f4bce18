"""Decision curves: would acting on the model's predicted risk do more good than harm?

Net benefit at a threshold probability pt (Vickers & Elkin 2006) is the rate of true positives
minus the rate of false positives weighted by the odds pt / (1 - pt): the harm of an unneeded
treatment relative to the benefit of a needed one that a clinician who would act at risk pt
accepts. A model is worth using at pt when its net benefit is above both "treat all" and "treat
none" (0). For a time to event the risk is 1 - S(h) at a horizon h, and the true-positive rate
comes from Kaplan-Meier among the patients above the threshold.

The numbers are the ``dcurves`` package's (``dcurves.dca``; pinned, Apache-2.0): nothing here
recomputes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dcurves
import numpy as np
import pandas as pd

__all__ = ["THRESHOLDS", "decision_curve"]

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

    names = list(risks)
    data = pd.DataFrame({"outcome": np.asarray(outcome).astype(int)})
    for name in names:
        data[name] = np.clip(np.asarray(risks[name], dtype=float), 0.0, 1.0)
    kwargs: dict[str, Any] = {}
    if time is not None:
        if horizon is None:
            raise ValueError("a time to event needs the horizon of its decision")
        data["time"] = np.asarray(time, dtype=float)
        kwargs = {"time": float(horizon), "time_to_outcome_col": "time"}
    out = dcurves.dca(data=data, outcome="outcome", modelnames=names, thresholds=list(thresholds), **kwargs)
    keep = ["model", "threshold", "net_benefit", "test_pos_rate", "tp_rate", "fp_rate", "net_intervention_avoided"]
    return out[keep].reset_index(drop=True)

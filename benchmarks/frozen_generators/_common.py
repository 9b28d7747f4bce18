"""Pieces shared by the generators: parameter tables and the Weibull oracle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def table(values: Mapping[str, Any], name: str, keys: Sequence[str]) -> np.ndarray:
    """The parameter ``name``, a table keyed by exactly ``keys``, as an array in that order."""
    tab = values[name]
    if not isinstance(tab, Mapping):
        raise TypeError(f"'{name}' must be a table keyed by {list(keys)}")
    missing = [k for k in keys if k not in tab]
    if missing:
        raise ValueError(f"'{name}' lacks {missing}")
    unknown = [k for k in tab if k not in keys]
    if unknown:
        raise ValueError(f"'{name}' has unknown key(s) {unknown}; known: {list(keys)}")
    return np.array([float(tab[k]) for k in keys])


def weibull_oracle(truth: pd.DataFrame, values: Mapping[str, Any], times: np.ndarray) -> dict[str, np.ndarray]:
    """The best possible predictions given the observed covariates (the truth frame's).

    Returns ``response_probability``, ``risk`` (the true PFS linear predictor, higher = worse)
    and ``survival``, the true :math:`S(t \\mid x) = \\exp(-\\log 2\\,(t / M(x))^k)` at ``times``,
    with :math:`M(x)` the truth's ``pfs_median_true_months`` and :math:`k` the Weibull shape.
    """
    times = np.atleast_1d(np.asarray(times, dtype=float))
    k = float(values["pfs_weibull_shape"])
    median = truth["pfs_median_true_months"].to_numpy()
    return {
        "response_probability": truth["response_probability"].to_numpy(),
        "risk": truth["pfs_linear_predictor"].to_numpy(),
        "survival": np.exp(-np.log(2.0) * (times[None, :] / median[:, None]) ** k),
    }


def draw_uniforms_normals(
    rng: np.random.Generator, n: int, uniforms: Sequence[str], normals: Sequence[str]
) -> dict[str, np.ndarray]:
    """``u_NAME`` ~ U(0, 1) for each of ``uniforms``, then ``z_NAME`` ~ N(0, 1) for each of
    ``normals``, in that order (the order is part of a generator's seed contract)."""
    noise = {f"u_{k}": rng.random(n) for k in uniforms}
    noise.update({f"z_{k}": rng.standard_normal(n) for k in normals})
    return noise


def categorical(u: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Category codes 0..K-1 with probabilities ``probs``, by inversion of uniforms ``u``."""
    cum = np.cumsum(np.asarray(probs, dtype=float))
    cum[-1] = 1.0 + 1e-12
    return np.searchsorted(cum, u, side="right").astype(np.int8)


def weibull_pfs(
    noise: Mapping[str, np.ndarray], values: Mapping[str, Any], eta: np.ndarray, median: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Censored Weibull PH times (Bender, Augustin & Blettner 2005) from ``u_pfs``, ``u_accrual``
    and ``u_dropout``.

    :math:`T = (-\\log U / (\\lambda e^{\\eta}))^{1/k}` with :math:`\\lambda = \\log 2 / M^k`
    (``median`` :math:`M`, ``pfs_weibull_shape`` :math:`k`); censoring at the earlier of a uniform
    follow-up in [``followup_min``, ``followup_max``] and an exponential dropout (``dropout_rate``).

    Returns
    -------
    t_event, t_censor : ndarray
        Uncensored event and censoring times.
    event : ndarray of bool
    observed : ndarray
        ``min(t_event, t_censor)`` rounded to 0.01, at least 0.01.
    """
    k = float(values["pfs_weibull_shape"])
    lam = np.log(2.0) / float(median) ** k
    t_event = (-np.log(noise["u_pfs"]) / (lam * np.exp(eta))) ** (1.0 / k)
    admin = values["followup_min"] + (values["followup_max"] - values["followup_min"]) * noise["u_accrual"]
    rate = float(values["dropout_rate"])
    dropout = -np.log(noise["u_dropout"]) / rate if rate > 0 else np.full(len(t_event), np.inf)
    t_censor = np.minimum(admin, dropout)
    event = t_event <= t_censor
    return t_event, t_censor, event, np.maximum(np.round(np.minimum(t_event, t_censor), 2), 0.01)


def check_shares(values: Mapping[str, Any], name: str, labels: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``name`` is a list of ``len(labels)`` non-negative shares summing to 1."""
    shares = values[name]
    if not isinstance(shares, list) or len(shares) != len(labels) or min(shares) < 0 or abs(sum(shares) - 1) > 1e-6:
        raise ValueError(f"'{name}' must be {len(labels)} shares ({', '.join(labels)}) that sum to 1")


def check_weibull_pfs(values: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for the censoring and shape parameters :func:`weibull_pfs` cannot use."""
    for name in ("pfs_weibull_shape", "followup_min"):
        if not float(values[name]) > 0:
            raise ValueError(f"'{name}' must be positive")
    if float(values["dropout_rate"]) < 0:
        raise ValueError("'dropout_rate' must be >= 0")
    if not float(values["followup_max"]) >= float(values["followup_min"]):
        raise ValueError("'followup_max' must be >= 'followup_min'")

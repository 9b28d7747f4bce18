"""Pieces shared by the generators: parameter tables and the Weibull oracle."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

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

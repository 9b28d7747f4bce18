"""The bootstrap: replicate draws of any metric (stratified where asked), percentile CIs, and
paired differences between models scored on the same replicates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["bootstrap_draws", "summarise", "paired_difference", "bootstrap"]


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
            idx = np.concatenate(
                [rng.choice(np.flatnonzero(stratify == s), (stratify == s).sum()) for s in np.unique(stratify)]
            )
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
        lo, hi = np.quantile(col, [0.025, 0.975]) if col.size else (np.nan, np.nan)
        rows[k] = {"estimate": v, "ci_low": float(lo), "ci_high": float(hi)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])


def paired_difference(
    a: tuple[Mapping[str, float], pd.DataFrame], b: tuple[Mapping[str, float], pd.DataFrame]
) -> pd.DataFrame:
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

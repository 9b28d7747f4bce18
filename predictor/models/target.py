"""The survival target and the small array helpers the models share.

The survival target is one structured array with fields ``event`` (bool) and ``time``
(float > 0), as scikit-survival's ``Surv`` makes it (:func:`make_surv`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from predictor.errors import ModelInputError

__all__ = ["make_surv", "surv_arrays", "median_from_survival"]


def make_surv(event, time) -> np.ndarray:
    """The survival target: a structured array of (``event``: bool, ``time``: float > 0)."""
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=float)
    if event.shape != time.shape or event.ndim != 1:
        raise ModelInputError("event and time must be 1-D arrays of the same length")
    if not np.all(np.isfinite(time)) or np.any(time <= 0):
        raise ModelInputError("survival times must be finite and > 0")
    y = np.empty(len(time), dtype=[("event", bool), ("time", float)])
    y["event"], y["time"] = event, time
    return y


def surv_arrays(y) -> tuple[np.ndarray, np.ndarray]:
    """(event, time) of a survival target made by :func:`make_surv`."""
    if y is None:
        raise ModelInputError("a survival estimator requires y to be passed, but the target y is None")
    if not (isinstance(y, np.ndarray) and y.dtype.names and {"event", "time"} <= set(y.dtype.names)):
        raise ModelInputError(
            "the survival target must be a structured array with fields 'event' and 'time' (see make_surv)"
        )
    return y["event"].astype(bool), y["time"].astype(float)


def median_from_survival(times: np.ndarray, surv: np.ndarray) -> np.ndarray:
    """First time each row of ``surv`` (patients x times, non-increasing) is <= 0.5; inf if never."""
    below = surv <= 0.5
    idx = np.argmax(below, axis=1)
    out = np.asarray(times, dtype=float)[idx]
    out[~below.any(axis=1)] = np.inf
    return out


def _count_above(descending: np.ndarray, t: np.ndarray, max_scan: int = 8) -> np.ndarray:
    """``#{k: descending[k] > t}`` for each probability ``t`` in [0, 1] (NaN: all of them), where
    ``descending`` is a non-increasing curve in [0, 1]: ``np.searchsorted(-descending, -t)``,
    exactly, at a fraction of its cost on a large batch.

    A binary search per patient in a curve of thousands of points is the slowest step of a
    batch's median. Here [0, 1] is cut into equal bins, about sixteen per curve point (a power of
    two, so a bin index is exact), whose edges are searched once; a probability in bin b is below every curve point
    above the bin's upper edge, above every point at or below its lower edge, and is compared
    one by one with the few points inside the bin (more than ``max_scan``: a binary search).
    """
    bins = 1 << int(np.clip(np.ceil(np.log2(16 * max(len(descending), 1))), 8, 16))
    if len(t) < bins:  # a small batch: searching the bin edges would cost more than the patients
        return np.searchsorted(-descending, -t, side="left")
    edges = np.arange(bins + 2, dtype=np.float64) / bins
    above = np.searchsorted(-descending, -edges, side="left")  # points above each edge
    nan = np.isnan(t)
    b = np.minimum((np.where(nan, 0.0, t) * bins).astype(np.int64), bins)  # edges[b] <= t < edges[b + 1]
    count = above[b + 1]
    inside = above[b] - count  # curve points in (edges[b], edges[b + 1]]: compare each
    rows = np.flatnonzero((inside > 0) & (inside <= max_scan))
    first = count[rows]
    for j in range(max_scan):
        if not rows.size:
            break
        count[rows] += descending[first + j] > t[rows]
        keep = inside[rows] > j + 1
        rows, first = rows[keep], first[keep]
    many = inside > max_scan
    if many.any():
        count[many] = np.searchsorted(-descending, -t[many], side="left")
    count[nan] = len(descending)
    return count


def as_frame(X: Any) -> pd.DataFrame:
    """Model input as a DataFrame: a frame as it is; an array checked as scikit-learn checks one
    (2-D, numeric, at least one sample and one feature; NaN allowed: XGBoost learns where missing
    values go), its columns named ``x0``, ``x1``, ..."""
    if isinstance(X, pd.DataFrame):
        return X
    if sp.issparse(X):
        raise ModelInputError("sparse input is not supported: pass a dense array or DataFrame")
    array = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

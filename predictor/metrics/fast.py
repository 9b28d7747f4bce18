"""The few metrics computed by hand, because the libraries' are too slow inside a bootstrap.

Each function here gives a maintained library's value on the same data: the same definition, the
same handling of tied times and tied scores, and the same arithmetic where the float result depends
on it. ``tests/predictor/metrics/test_metrics.py`` checks each against the library (on data with tied
times, tied scores and bootstrap duplicates), and ``benchmarks/bench_metrics.py`` prints both
timings side by side on 10,000 patients.

Why by hand (measured on 10,000 patients, 2-core machine):

- **Harrell's C** (lifelines' definition): lifelines' ``concordance_index`` is O(n log n) but walks a
  pure-Python binary tree (about 55 ms); scikit-survival's ``concordance_index_censored`` loops over
  events with a mask of every row, O(n x events) (about 215 ms). Here a merge-sort tree vectorised
  with NumPy (:func:`concordance_counts`): O(n log n) with no Python loop over patients (a few ms).
  A Fenwick tree compiled with numba was faster still, but loading numba's compiler costs 44 MB of
  memory and a compile on first use.
- **Uno's C** (scikit-survival's ``concordance_index_ipcw``): the same quadratic loop as its
  Harrell's C; here the same counts, each event weighted by its squared inverse probability of
  censoring.
- **Time-dependent AUC and Brier score** (scikit-survival's ``cumulative_dynamic_auc`` and
  ``brier_score``): both refit the censoring distribution of the training data at every call, and
  ``cumulative_dynamic_auc`` also fits a Kaplan-Meier curve of the test data for a mean AUC the
  package does not report. In a bootstrap the censoring distribution is the same in every replicate:
  :class:`predictor.metrics.SurvivalMetrics` fits it once with scikit-survival's own
  ``CensoringDistributionEstimator``, and the functions here apply scikit-survival's formulas
  (copied step for step, so the floats agree) to the precomputed weights.
- **Kaplan-Meier**: scikit-survival counts events per time in a Python loop; here ``np.unique``,
  then its arithmetic.
- **AUC and Brier score of probabilities**: scikit-learn's ``roc_auc_score`` validates its input and
  builds the whole ROC curve (about 1.5 ms on 232 patients); the Mann-Whitney statistic on
  average ranks is the same number.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "Concordance",
    "concordance_counts",
    "harrell_c",
    "uno_c",
    "kaplan_meier",
    "step_at",
    "roc_auc",
    "brier",
    "cumulative_dynamic_auc",
    "brier_scores",
    "integrated_brier",
]


class Concordance:
    """Comparable pairs of a fixed set of patients, counted for any multiplicities of them.

    A pair (i, j) is comparable when i has an event and ``t_i < t_j``, or ``t_i == t_j`` and j is
    censored (lifelines' and scikit-survival's rule; two events at the same time are not
    compared). i out-ranks j when ``risk_i > risk_j + tied_tol``; they tie when ``|risk_i -
    risk_j| <= tied_tol``. Higher risk = worse.

    A bootstrap replicate is these patients with multiplicities (how often each was drawn), and
    copies of one patient are never comparable with each other (same time, same status), so the
    replicate's counts are sums over the original patients weighted by their multiplicities.
    Built once (O(n log n)), :meth:`counts` then costs O(n log n) array operations per replicate
    and no search.

    How: patients sorted by time descending, censored before events at a tied time, so that the
    patients comparable with an event are exactly a prefix (those before the first event at its
    time). A merge-sort tree over the risk ranks in that order (level L: ranks sorted within
    blocks of 2**L positions) splits each prefix into at most one block per level; the rows of a
    block below a rank are a contiguous run of that level, found once here by binary search. A
    replicate's weighted count is then a difference of cumulative sums of its multiplicities.
    """

    def __init__(self, time: np.ndarray, event: np.ndarray, risk: np.ndarray, tied_tol: float = 0.0):
        time = np.asarray(time, dtype=float)
        event = np.asarray(event, dtype=bool)
        risk = np.asarray(risk, dtype=float)
        if np.isnan(time).any() or np.isnan(risk).any():
            raise ValueError("NaNs detected in inputs, please correct or drop.")
        n = len(time)
        values, rank = np.unique(risk, return_inverse=True)
        if tied_tol:
            lo = np.searchsorted(values, risk - tied_tol, side="left")
            hi = np.searchsorted(values, risk + tied_tol, side="right")
        else:
            lo, hi = rank, rank + 1
        order = np.lexsort((event, -time))
        t, e = time[order], event[order]
        starts = np.r_[True, (t[1:] != t[:-1]) | (e[1:] != e[:-1])]
        first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        at = np.flatnonzero(e)
        self.n = n
        self.order = order
        self.events = order[at]  # the patients with an event
        self.prefix = first[at].astype(np.int64)  # how many patients each is comparable with
        # Queries: [rows below lo (out-ranked); rows below hi (out-ranked or tied)] per event.
        prefix = np.r_[self.prefix, self.prefix]
        threshold = np.r_[lo[self.events], hi[self.events]].astype(np.int64)
        width = len(values) + 1  # a key is block * width + rank: blocks never overlap
        keys = np.arange(n, dtype=np.int64) * width + rank[order]
        perm = np.arange(n)
        self.levels = []
        level = 0
        while (1 << level) <= n:
            if level:
                block, value = np.divmod(keys, width)
                merged = np.argsort((block >> 1) * width + value, kind="stable")  # merges sorted runs
                keys, perm = ((block >> 1) * width + value)[merged], perm[merged]
            queries = np.flatnonzero((prefix >> level) & 1)
            block = (prefix[queries] >> level) - 1
            end = np.searchsorted(keys, block * width + threshold[queries])
            self.levels.append((perm, queries, block << level, end))
            level += 1

    def counts(self, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per patient with an event (:attr:`events`): the weighted number of comparable patients
        it out-ranks, ties with, and is compared with. ``weights``: each patient's multiplicity
        (default 1); integer weights give exact integer counts."""
        w = np.ones(self.n, dtype=np.int64) if weights is None else np.asarray(weights)
        below = np.zeros(2 * len(self.events), dtype=w.dtype)
        for perm, queries, start, end in self.levels:
            cum = np.r_[0, np.cumsum(w[self.order][perm])]
            below[queries] += cum[end] - cum[start]
        m = len(self.events)
        pairs = np.r_[0, np.cumsum(w[self.order])][self.prefix]
        return below[:m], below[m:] - below[:m], pairs

    def harrell(self, weights: np.ndarray | None = None) -> float:
        """Harrell's C: lifelines' ``concordance_index(time, -risk, event)`` of the patients
        repeated ``weights`` times (exact ties in risk count one half; ``tied_tol`` 0)."""
        less, tied, pairs = self.counts(weights)
        m = np.ones(len(self.events), dtype=np.int64) if weights is None else np.asarray(weights)[self.events]
        n_pairs = (m * pairs).sum()
        if n_pairs == 0:
            raise ValueError("no comparable pairs: Harrell's C is undefined")
        return float(((m * less).sum() + (m * tied).sum() / 2) / n_pairs)

    def uno(self, ipcw: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Uno's C: scikit-survival's ``concordance_index_ipcw`` given each patient's inverse
        probability of censoring weight ``ipcw`` (0 for censored patients and for those at or
        beyond the truncation time); each event's pairs count ``ipcw**2`` (``tied_tol`` 1e-8)."""
        less, tied, pairs = self.counts(weights)
        m = 1.0 if weights is None else np.asarray(weights)[self.events]
        w = m * np.square(np.asarray(ipcw, dtype=float)[self.events])
        if not (pairs > 0).any():
            raise ValueError("Data has no comparable pairs, cannot estimate concordance index.")
        return float((w * less + 0.5 * w * tied).sum() / (w * pairs).sum())


def concordance_counts(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, tied_tol: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each patient: how many comparable patients it out-ranks, ties with, and is compared
    with (0 for censored patients); see :class:`Concordance`."""
    c = Concordance(time, event, risk, tied_tol)
    above, tied, compared = (np.zeros(len(c.order), dtype=np.int64) for _ in range(3))
    for full, part in zip((above, tied, compared), c.counts(), strict=True):
        full[c.events] = part
    return above, tied, compared


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C of ``risk`` (higher = worse): lifelines' ``concordance_index(time, -risk,
    event)``, exact ties in risk counting one half.

    Raises
    ------
    ValueError
        No comparable pairs (lifelines raises ZeroDivisionError), or NaN in the input.
    """
    return Concordance(time, event, risk).harrell()


def uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, ipcw: np.ndarray, tied_tol: float = 1e-8) -> float:
    """Uno's C: scikit-survival's ``concordance_index_ipcw`` given its weights ``ipcw`` (see
    :meth:`Concordance.uno`)."""
    return Concordance(time, event, risk, tied_tol).uno(ipcw)


def kaplan_meier(event: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate: distinct times and S(t) just after each (scikit-survival's
    ``kaplan_meier_estimator(event, time)``, same arithmetic)."""
    times, inverse, counts = np.unique(np.asarray(time, dtype=float), return_inverse=True, return_counts=True)
    n_events = np.bincount(inverse, weights=np.asarray(event, dtype=float), minlength=len(times))
    n_at_risk = len(inverse) - np.cumsum(np.r_[0, counts])[:-1]
    ratio = np.divide(n_events, n_at_risk, out=np.zeros(len(times), dtype=float), where=n_events != 0)
    return times, np.cumprod(1.0 - ratio)


def step_at(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A right-continuous step function (1 before the first time) evaluated at ``at``."""
    idx = np.searchsorted(times, at, side="right") - 1
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """AUC of scores ``p`` for binary ``y``: the Mann-Whitney statistic (ties count one half),
    equal to scikit-learn's ``roc_auc_score``."""
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined in that case.")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Brier score: the mean squared difference between probability ``p`` and outcome ``y``."""
    return float(np.average((np.asarray(y, dtype=float) - np.asarray(p, dtype=float)) ** 2))


def cumulative_dynamic_auc(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, ipcw: np.ndarray, times: np.ndarray, tied_tol: float = 1e-8
) -> np.ndarray:
    """Cumulative/dynamic AUC at each of ``times``: scikit-survival's ``cumulative_dynamic_auc``
    (its first output) given the inverse probability of censoring weights ``ipcw`` of the test
    rows (``1 / G(t_i)`` for events, 0 for censored rows)."""
    n_times = len(times)
    o = np.argsort(-risk)
    t, e, est, w = time[o], event[o], risk[o], ipcw[o]
    is_tied = np.absolute(np.diff(np.r_[np.inf, est])) <= tied_tol
    drop = np.flatnonzero(is_tied) - 1  # keep only the last of tied risk scores
    scores = np.empty(n_times, dtype=float)
    for k, h in enumerate(times):
        is_case = (t <= h) & e
        is_control = t > h
        cumsum_tp = np.cumsum(is_case * w)
        cumsum_fp = np.cumsum(is_control)
        tp = np.r_[0, np.delete(cumsum_tp / cumsum_tp[-1], drop)]
        fp = np.r_[0, np.delete(cumsum_fp / is_control.sum(), drop)]
        scores[k] = np.trapezoid(tp, fp)
    return scores


def brier_scores(
    time: np.ndarray,
    event: np.ndarray,
    survival: np.ndarray,
    g_at_time: np.ndarray,
    g_at_times: np.ndarray,
    times: np.ndarray,
) -> np.ndarray:
    """IPCW Brier score at each of ``times``: scikit-survival's ``brier_score`` given the
    censoring survival function at each row's time (``g_at_time``) and at ``times``
    (``g_at_times``); ``survival`` is rows x times, or 1 x times for the same curve in every row."""
    g_y = np.where(g_at_time == 0, np.inf, g_at_time)
    g_t = np.where(g_at_times == 0, np.inf, g_at_times)
    out = np.empty(len(times), dtype=float)
    for k, h in enumerate(times):  # a loop over times is faster than one rows x times array (cache)
        est = survival[:, k]
        is_case = (time <= h) & event
        is_control = time > h
        out[k] = np.mean(
            np.square(est) * is_case.astype(int) / g_y + np.square(1.0 - est) * is_control.astype(int) / g_t[k]
        )
    return out


def integrated_brier(scores: np.ndarray, times: np.ndarray) -> float:
    """scikit-survival's ``integrated_brier_score`` of Brier ``scores`` at ``times``."""
    if len(times) < 2:
        raise ValueError("At least two time points must be given")
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))

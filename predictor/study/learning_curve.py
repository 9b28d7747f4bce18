"""Learning curves: a monotone curve through a study's replicates, where it crosses the
criterion, and how sure that crossing is.

The curves
----------
Per development cohort size ``n``, a study has replicates of two numbers: the gap to the oracle
of the task's headline metric and the calibration slope. Their centre (the criterion's
``median`` or ``mean``) is fitted with an inverse power law, the shape learning curves take
(the optimism of a model fitted by maximum likelihood falls as ``p / n``)::

    gap(n)   = a + b n^-c,   b >= 0  (falls towards its plateau a)
    slope(n) = a + b n^-c,   b <= 0  (rises towards its plateau a)

by weighted least squares over the sizes, with weights ``k_n / sigma^2(n)``: ``k_n`` replicates
at ``n``, and ``sigma^2(n) = exp(alpha + beta log n)`` the replicates' variance fitted across the
sizes (a single size's variance, from a few replicates, is too noisy to weight by). For each
``c`` of a grid (0.1 to 3), ``a`` and ``b`` have a closed form; the ``c`` of least squares wins.
A ``b`` of the wrong sign is set to 0 (a flat curve at the weighted mean): the curve is monotone.

The criterion holds from ``n* = (b / (target - a))^(1/c)`` on, the larger of the two curves'
crossings; a plateau ``a`` on the wrong side of the target never crosses it (``n* = inf``,
"unreachable").

For the ``assurance`` criterion, the share of replicates with an acceptable gap and slope is
fitted with a logistic curve in ``log n``, ``logit P(n) = alpha + beta log n``, by weighted least
squares on the empirical logistic transform ``log((ok + 1/2) / (k - ok + 1/2))`` (weights
``1 / (1 / (ok + 1/2) + 1 / (k - ok + 1/2))``; Cox & Snell, *Analysis of Binary Data*, 1989),
and ``n*`` is where ``P(n)`` reaches the assurance level.

The interval
------------
Replicates are resampled within each size (``bootstrap`` times), the curve is fitted again to
each resample and its crossing found: the 2.5% and 97.5% points of those crossings are the 95%
interval of ``n*``. It carries the curve's uncertainty (its three parameters move with each
resample), not only the noise at one size.

A cross-check without a shape
-----------------------------
Isotonic regression (scikit-learn's) of the replicates on ``n`` gives the smallest size tried at
which the monotone fit meets the criterion: a step answer that assumes no curve shape, beside
``n*``.

numpy, scipy and scikit-learn have no monotone learning-curve fit with a crossing and its
bootstrap, so this module writes that one (vectorised over the bootstrap's resamples).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from predictor.config.study import MIN_SIZES, SLOPE_RANGE
from predictor.study.sample_size import acceptable

__all__ = [
    "STATUSES",
    "PowerLaw",
    "LogisticCurve",
    "CurveAnswer",
    "answer_curve",
    "round_size",
]

#: The exponents ``c`` tried for each power-law fit.
C_GRID = np.geomspace(0.1, 3.0, 60)

#: What a minimum n's ``status`` says: ``ok`` (its 95% interval is within the precision asked),
#: ``imprecise`` (not yet; an adaptive study's ``budget`` when its budget ran out first), ``below``
#: (met at every size tried: n* is at most the smallest), ``beyond`` (the crossing lies above the
#: largest n the study may place replicates at), ``unreachable`` (a plateau misses the target).
STATUSES = ("ok", "imprecise", "budget", "below", "beyond", "unreachable")


@dataclass(frozen=True)
class PowerLaw:
    """``y(n) = a + b n^-c`` (see the module's docstring)."""

    a: float
    b: float
    c: float

    def __call__(self, n: np.ndarray | float) -> np.ndarray:
        return self.a + self.b * np.power(np.asarray(n, float), -self.c)


@dataclass(frozen=True)
class LogisticCurve:
    """``P(n) = expit(alpha + beta log n)``: the probability of acceptable performance."""

    alpha: float
    beta: float

    def __call__(self, n: np.ndarray | float) -> np.ndarray:
        return expit(self.alpha + self.beta * np.log(np.asarray(n, float)))


@dataclass(frozen=True)
class CurveAnswer:
    """One learning curve's minimum n.

    Attributes
    ----------
    n, low, high : float
        n* (patients, rounded up) and its 95% bootstrap interval (inf: not reached).
    status : str
        One of :data:`STATUSES`.
    isotonic_n : float
        The smallest size tried at which the isotonic fit meets the criterion (inf: none).
    fits : dict
        The fitted curves: ``gap`` and ``slope`` (:class:`PowerLaw`), or ``assurance``
        (:class:`LogisticCurve`).
    sizes, replicates : int
        Sizes tried and replicates in all.
    """

    n: float
    low: float
    high: float
    status: str
    isotonic_n: float
    fits: dict[str, PowerLaw | LogisticCurve]
    sizes: int
    replicates: int


def answer_curve(
    n: np.ndarray,
    gap: np.ndarray,
    slope: np.ndarray,
    *,
    criterion: str,
    gap_target: float,
    slope_target: float,
    assurance: float = 0.8,
    slope_range: tuple[float, float] = SLOPE_RANGE,
    precision: float = 0.2,
    max_n: float = math.inf,
    bootstrap: int = 1000,
    random_state: int = 0,
) -> CurveAnswer:
    """The minimum n of one learning curve: its replicates' sizes ``n``, gaps ``gap`` and
    calibration slopes ``slope`` (one value per replicate), judged by ``criterion`` ("median",
    "mean" or "assurance"; see :class:`predictor.config.study.CriteriaSection`).

    Needs at least three sizes; the status is ``ok`` once the interval lies within
    ``n* (1 -+ precision)``, and ``beyond`` for an n* above ``max_n``.
    """
    n, gap, slope = (np.asarray(x, float) for x in (n, gap, slope))
    sizes = np.unique(n)
    if len(sizes) < MIN_SIZES:
        raise ValueError(f"a learning curve needs at least {MIN_SIZES} sizes, got {len(sizes)}")
    groups = [np.flatnonzero(n == s) for s in sizes]
    rng = np.random.default_rng(random_state)
    draws = [np.vstack([np.arange(len(g)), rng.integers(0, len(g), (bootstrap, len(g)))]) for g in groups]
    if criterion == "assurance":
        fine = acceptable(gap, slope, gap=gap_target, slope_range=slope_range)
        crossing, fits = _assurance_crossings(sizes, fine, groups, draws, assurance)
        iso = _isotonic_first(n, fine.astype(float), assurance, increasing=True)
    else:
        centre = np.median if criterion == "median" else np.mean
        crossing, fits = np.zeros(bootstrap + 1), {}
        for name, values, target, sign in (("gap", gap, gap_target, 1.0), ("slope", slope, slope_target, -1.0)):
            y = np.column_stack([centre(values[g][d], axis=1) for g, d in zip(groups, draws, strict=True)])
            a, b, c = _fit_power_law(sizes, y, _weights(sizes, values, groups), sign)
            crossing = np.maximum(crossing, _power_crossing(a, b, c, target, sign))
            fits[name] = PowerLaw(float(a[0]), float(b[0]), float(c[0]))
        iso = max(
            _isotonic_first(n, gap, gap_target, increasing=False),
            _isotonic_first(n, slope, slope_target, increasing=True),
        )
    point, rest = float(crossing[0]), crossing[1:]
    low = float(np.quantile(rest, 0.025, method="lower"))
    high = float(np.quantile(rest, 0.975, method="higher"))
    return CurveAnswer(
        n=_up(point),
        low=_up(low),
        high=_up(high),
        status=_status(point, low, high, float(sizes[0]), precision, max_n),
        isotonic_n=iso,
        fits=fits,
        sizes=len(sizes),
        replicates=len(n),
    )


def _assurance_crossings(
    sizes: np.ndarray, fine: np.ndarray, groups: list[np.ndarray], draws: list[np.ndarray], level: float
) -> tuple[np.ndarray, dict[str, PowerLaw | LogisticCurve]]:
    """The logistic curve's crossing of ``level`` in each resample (the first: the data as they are)."""
    ok = np.column_stack([fine[g][d].sum(axis=1) for g, d in zip(groups, draws, strict=True)])
    k = np.array([len(g) for g in groups], float)
    alpha, beta = _fit_logistic(np.log(sizes), ok, k)
    crossing = _logistic_crossing(alpha, beta, level, np.log(sizes[0]))
    return crossing, {"assurance": LogisticCurve(float(alpha[0]), float(beta[0]))}


def _status(point: float, low: float, high: float, smallest: float, precision: float, max_n: float) -> str:
    if not math.isfinite(point):
        return "unreachable"
    if point > max_n:
        return "beyond"
    if point < smallest:
        return "below"
    if low >= point * (1.0 - precision) and high <= point * (1.0 + precision):
        return "ok"
    return "imprecise"


def _up(n: float) -> float:
    return float(math.ceil(n)) if math.isfinite(n) else n


def _weights(sizes: np.ndarray, values: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """``k_n / sigma^2(n)``, with ``log sigma^2`` linear in ``log n`` over the sizes that have a
    spread (a constant variance where fewer than two have)."""
    k = np.array([len(g) for g in groups], float)
    var = np.array([values[g].var(ddof=1) if len(g) > 1 else np.nan for g in groups])
    usable = np.isfinite(var) & (var > 0)
    if usable.sum() >= 2:
        beta, alpha = np.polyfit(np.log(sizes[usable]), np.log(var[usable]), 1)
        return k / np.exp(alpha + beta * np.log(sizes))
    return k


def _fit_power_law(
    sizes: np.ndarray, y: np.ndarray, w: np.ndarray, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a + b n^-c`` by weighted least squares for every row of ``y`` (resamples x sizes), ``b``
    of ``sign`` (or 0): the closed form for each ``c`` of :data:`C_GRID`, the best ``c`` kept."""
    x = np.power(sizes[None, :], -C_GRID[:, None])  # (c, sizes)
    sw, sx, sxx = w.sum(), x @ w, (x * x) @ w
    sy, syy = y @ w, (y * y) @ w  # (resamples,)
    sxy = y @ (w * x).T  # (resamples, c)
    b = (sw * sxy - sx * sy[:, None]) / (sw * sxx - sx * sx)
    a = (sy[:, None] - b * sx) / sw
    sse = syy[:, None] - a * sy[:, None] - b * sxy
    wrong = sign * b < 0
    a = np.where(wrong, (sy / sw)[:, None], a)
    sse = np.where(wrong, (syy - sy * sy / sw)[:, None], sse)
    b = np.where(wrong, 0.0, b)
    best = np.argmin(sse, axis=1)
    rows = np.arange(len(y))
    return a[rows, best], b[rows, best], C_GRID[best]


def _power_crossing(a: np.ndarray, b: np.ndarray, c: np.ndarray, target: float, sign: float) -> np.ndarray:
    """Where ``a + b n^-c`` reaches ``target``, falling to it (``sign`` +1, b >= 0: the criterion is
    ``y <= target``) or rising to it (``sign`` -1, b <= 0: ``y >= target``): 0 for a flat curve
    already there, inf for a plateau on the wrong side."""
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.power(b / (target - a), 1.0 / c)
    reached = sign * (target - a) > 0  # the plateau is on the good side of the target
    return np.where(b == 0, np.where(reached | (a == target), 0.0, np.inf), np.where(reached, n, np.inf))


def _fit_logistic(log_n: np.ndarray, ok: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``logit P = alpha + beta log n`` on the empirical logistic transform, for each row of
    ``ok`` (resamples x sizes: acceptable replicates of ``k``)."""
    z = np.log((ok + 0.5) / (k - ok + 0.5))
    w = 1.0 / (1.0 / (ok + 0.5) + 1.0 / (k - ok + 0.5))
    sw, sx, sxx = w.sum(axis=1), w @ log_n, w @ (log_n * log_n)
    sy, sxy = (w * z).sum(axis=1), (w * z) @ log_n
    beta = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
    return (sy - beta * sx) / sw, beta


def _logistic_crossing(alpha: np.ndarray, beta: np.ndarray, level: float, log_smallest: float) -> np.ndarray:
    """Where ``expit(alpha + beta log n)`` reaches ``level``; a curve that does not rise: 0 if it
    is above the level at the smallest size, inf if not."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        n = np.exp((logit(level) - alpha) / beta)
    flat_ok = expit(alpha + beta * log_smallest) >= level
    return np.where(beta > 0, n, np.where(flat_ok, 0.0, np.inf))


def _isotonic_first(n: np.ndarray, y: np.ndarray, target: float, *, increasing: bool) -> float:
    """The smallest size at which the monotone fit of ``y`` on ``n`` meets ``target`` (inf: none)."""
    fitted = IsotonicRegression(increasing=increasing).fit(n, y).predict(np.unique(n))
    met = fitted >= target if increasing else fitted <= target
    return float(np.unique(n)[np.argmax(met)]) if met.any() else math.inf


def round_size(n: float, *, smallest: int, largest: int) -> int:
    """A size to place replicates at: the nearest step of a quarter-octave grid (100 x 2^(k/4),
    to two significant figures: ..., 400, 480, 570, 670, 800, 950, 1100, 1300, 1600, ...; at most
    9% from ``n``), within the bounds, so that curves and rounds meet at the same sizes and share
    their cells."""
    if not math.isfinite(n):
        return largest
    step = round(4 * math.log2(max(n, 1.0) / 100.0))
    exact = 100.0 * 2 ** (step / 4)
    digits = 10 ** max(int(math.floor(math.log10(exact))) - 1, 0)
    return int(min(max(round(exact / digits) * digits, smallest), largest))

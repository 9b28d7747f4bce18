"""Sample size: Riley's closed-form criteria, and what a simulation study's learning curves say.

Riley's criteria (Riley et al., Stat Med 2019;38:1262-75 and 1276-96; BMJ 2020;368:m441) are
what the pmsampsize packages compute. pmsampsize on PyPI is GPL-3.0 and this package is MIT, so
the published formulas are implemented here (not its code) and tested against its published
worked examples (``tests/predictor/study/test_sample_size.py``):

* criterion 1, small overfitting: expected uniform shrinkage ``S`` (0.9),
  ``n = p / ((S - 1) ln(1 - R2_CS / S))``;
* criterion 2, small optimism in the apparent Nagelkerke R-squared (``delta`` = 0.05): the same
  formula with ``S = R2_CS / (R2_CS + delta max(R2_CS))``, where ``max(R2_CS) = 1 - exp(2 lnL0 / n)``
  and ``lnL0`` is the null model's log-likelihood: ``n (phi ln phi + (1 - phi) ln(1 - phi))``
  for a binary outcome of prevalence ``phi``; ``E ln(E / n) - E`` for a time to event with ``E``
  events (the published correction of Stat Med 2019, which pmsampsize applies: E / n, not E over
  the person-time, so that the bound does not depend on the time unit);
* criterion 3, a precise overall risk: ``n = (1.96 / moe)^2 phi (1 - phi)`` for a binary outcome;
  for a time to event, the margin of error of the risk at the horizon reached by the largest n
  of criteria 1 and 2 (an exponential event rate over ``n`` x mean follow-up person-time).

A C statistic becomes a Cox-Snell R-squared as Riley, Van Calster & Collins (Stat Med
2021;40:859-64) do: a linear predictor normal with unit variance in each class, its means
``sqrt(2) Phi^-1(C)`` apart; pmsampsize draws a million patients to get the R-squared of the
logistic model that fits it, and this module computes the same quantity's limit by quadrature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from predictor.config.study import SLOPE_RANGE

__all__ = [
    "Z95",
    "RileySize",
    "riley_binary",
    "riley_survival",
    "cox_snell_from_c",
    "acceptable",
    "MinimumN",
    "minimum_n",
    "curve_summary",
    "power_summary",
]

Z95 = 1.959963984540054


@dataclass(frozen=True)
class RileySize:
    """Riley's minimum n: each criterion's n, the largest (``n``), and what went in."""

    criterion_1: int
    criterion_2: int
    criterion_3: int
    parameters: int
    r2_cs: float
    max_r2_cs: float
    shrinkage: float
    margin_of_error: float = math.nan  # survival: the risk's margin at the horizon, at n

    @property
    def n(self) -> int:
        return max(self.criterion_1, self.criterion_2, self.criterion_3)


def _shrinkage_n(parameters: int, r2: float, shrinkage: float) -> int:
    if not 0 < r2 < shrinkage:
        raise ValueError(f"the Cox-Snell R-squared ({r2:.4g}) must be within 0 and the shrinkage ({shrinkage:g})")
    return math.ceil(parameters / ((shrinkage - 1.0) * math.log(1.0 - r2 / shrinkage)))


def _criteria_1_2(parameters: int, r2: float, max_r2: float, shrinkage: float, delta: float) -> tuple[int, int]:
    s2 = r2 / (r2 + delta * max_r2)
    return _shrinkage_n(parameters, r2, shrinkage), _shrinkage_n(parameters, r2, s2)


def riley_binary(
    *,
    r2_cs: float,
    parameters: int,
    prevalence: float,
    shrinkage: float = 0.9,
    delta: float = 0.05,
    margin: float = 0.05,
) -> RileySize:
    """Riley's minimum n for a logistic model with ``parameters`` predictor parameters.

    Parameters
    ----------
    r2_cs : float
        The anticipated Cox-Snell R-squared (:func:`cox_snell_from_c` from a C statistic).
    prevalence : float
        The outcome's anticipated prevalence.
    shrinkage, delta, margin : float
        Criterion 1's target shrinkage, criterion 2's optimism in Nagelkerke's R-squared,
        criterion 3's margin of error of the overall risk.
    """
    phi = prevalence
    max_r2 = 1.0 - math.exp(2.0 * (phi * math.log(phi) + (1.0 - phi) * math.log(1.0 - phi)))
    n1, n2 = _criteria_1_2(parameters, r2_cs, max_r2, shrinkage, delta)
    n3 = math.ceil((Z95 / margin) ** 2 * phi * (1.0 - phi))
    return RileySize(n1, n2, n3, parameters, r2_cs, max_r2, shrinkage)


def riley_survival(
    *,
    r2_cs: float,
    parameters: int,
    rate: float,
    mean_followup: float,
    horizon: float,
    shrinkage: float = 0.9,
    delta: float = 0.05,
) -> RileySize:
    """Riley's minimum n for a Cox model with ``parameters`` predictor parameters, an event
    ``rate`` per unit of time, a ``mean_followup`` and a prediction ``horizon`` (one time unit)."""
    events_per_patient = rate * mean_followup
    ln_l0 = events_per_patient * math.log(events_per_patient) - events_per_patient
    max_r2 = 1.0 - math.exp(2.0 * ln_l0)
    n1, n2 = _criteria_1_2(parameters, r2_cs, max_r2, shrinkage, delta)
    n = max(n1, n2)
    half = Z95 * math.sqrt(rate / (n * mean_followup))
    risk = lambda r: 1.0 - math.exp(-r * horizon)
    moe = max(risk(rate + half) - risk(rate), risk(rate) - risk(max(rate - half, 0.0)))
    return RileySize(n1, n2, n, parameters, r2_cs, max_r2, shrinkage, margin_of_error=moe)


def cox_snell_from_c(c: float, prevalence: float, nodes: int = 200) -> float:
    """The Cox-Snell R-squared of a logistic model with C statistic ``c`` at ``prevalence``
    (Riley, Van Calster & Collins 2021; see the module's docstring).

    With the linear predictor ``N(0, 1)`` in one class and ``N(mu, 1)`` in the other,
    ``mu = sqrt(2) Phi^-1(c)``, the true log-odds is linear in it, so the fitted logistic model is
    the true one, and ``R2 = 1 - exp(-LR / n)`` with ``LR / n = 2 (E[log-likelihood] - lnL0 / n)``.
    """
    if not 0.5 < c < 1.0:
        raise ValueError(f"the C statistic must be within 0.5 and 1, got {c}")
    mu = math.sqrt(2.0) * float(ndtri(c))
    x, w = np.polynomial.hermite_e.hermegauss(nodes)  # E[f(Z)], Z ~ N(0, 1), as sum(w f(x)) / sqrt(2 pi)
    w = w / math.sqrt(2.0 * math.pi)
    phi = prevalence
    intercept = math.log(phi / (1.0 - phi)) - mu * mu / 2.0
    log_p = lambda lp: -np.logaddexp(0.0, -(intercept + mu * lp))  # log P(event | lp)
    log_q = lambda lp: -np.logaddexp(0.0, intercept + mu * lp)  # log P(no event | lp)
    loglik = phi * float(w @ log_p(x + mu)) + (1.0 - phi) * float(w @ log_q(x))
    null = phi * math.log(phi) + (1.0 - phi) * math.log(1.0 - phi)
    return 1.0 - math.exp(-2.0 * (loglik - null))


# ------------------------------------------------------------------------------ learning curves
#: How a size's replicates are judged: ``median`` and ``mean`` gap at most ``gap`` and slope at
#: least ``slope``; ``assurance``: the share of replicates whose gap is at most ``gap`` and whose
#: slope is inside ``slope_range`` (two-sided: penalised and tree models can over-shrink) at least
#: ``assurance`` (the probability of acceptable performance).
CRITERIA = ("median", "mean", "assurance")


def acceptable(
    gaps: np.ndarray, slopes: np.ndarray, *, gap: float, slope_range: tuple[float, float] = SLOPE_RANGE
) -> np.ndarray:
    """Which replicates perform acceptably: a gap to the oracle at most ``gap`` and a calibration
    slope strictly inside ``slope_range`` (the assurance criterion's event)."""
    return (gaps <= gap) & (slopes > slope_range[0]) & (slopes < slope_range[1])


@dataclass(frozen=True)
class MinimumN:
    """The smallest n of the grid from which on the criterion holds at every size (``criterion``
    of :data:`CRITERIA`); ``low`` / ``high``: the 95% interval over bootstrap resamples of the
    replicates (inf: not reached within the grid)."""

    n: float
    low: float
    high: float


def minimum_n(
    curve: pd.DataFrame,
    *,
    gap: float,
    slope: float,
    n_boot: int = 1000,
    random_state: int = 0,
    criterion: str = "median",
    assurance: float = 0.8,
    slope_range: tuple[float, float] = SLOPE_RANGE,
) -> MinimumN:
    """:class:`MinimumN` of one learning curve: ``curve`` has columns ``n``, ``replicate``,
    ``gap`` (of the headline metric) and ``slope`` (the calibration slope), one row per replicate."""
    sizes = np.sort(curve["n"].unique())
    groups = [curve.loc[curve.n == n, ["gap", "slope"]].to_numpy(float) for n in sizes]

    def holds(g: np.ndarray) -> bool:
        if criterion == "assurance":
            return bool(acceptable(g[:, 0], g[:, 1], gap=gap, slope_range=slope_range).mean() >= assurance)
        centre = np.median(g, axis=0) if criterion == "median" else g.mean(axis=0)
        return bool(centre[0] <= gap and centre[1] >= slope)

    def first(ok: np.ndarray) -> float:
        # from this n on: the smallest n whose criteria hold at it and at every larger size
        tail = np.flip(np.cumprod(np.flip(ok)).astype(bool))
        return float(sizes[np.argmax(tail)]) if tail.any() else math.inf

    point = first(np.array([holds(g) for g in groups]))
    rng = np.random.default_rng(random_state)
    draws = np.empty(n_boot)
    for b in range(n_boot):
        draws[b] = first(np.array([holds(g[rng.integers(0, len(g), len(g))]) for g in groups]))
    low, high = np.quantile(draws, [0.025, 0.975], method="lower"), np.quantile(draws, [0.025, 0.975], method="higher")
    return MinimumN(n=point, low=float(low[0]), high=float(high[1]))


def curve_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Median and 90% band over replicates of every metric at every grid point (ok cells only)."""
    ok = table[table.status == "ok"]
    keys = ["scenario", "task", "metric", "model", "panel", "n"]
    g = ok.groupby(keys, sort=True)
    return pd.DataFrame(
        {
            "median": g["value"].median(),
            "q05": g["value"].quantile(0.05),
            "q95": g["value"].quantile(0.95),
            "oracle": g["oracle"].first(),
            "gap_median": g["gap"].median(),
            "replicates": g["value"].size(),
        }
    ).reset_index()


def power_summary(power: pd.DataFrame, *, direction: str = "worse", alpha: float = 0.05) -> pd.DataFrame:
    """The share of replicates in which the covariate's Wald test has p < ``alpha`` and the
    expected sign ("worse": lower response odds, higher hazard), with a Wilson 95% interval."""
    from statsmodels.stats.proportion import proportion_confint  # lazy: statsmodels takes ~0.5 s to import

    if power.empty:
        return pd.DataFrame(columns=["scenario", "panel", "task", "n", "replicates", "power", "low", "high"])
    sign = np.where(power.task.eq("survival"), 1.0, -1.0) * (1.0 if direction == "worse" else -1.0)
    hit = (power.p < alpha) & (np.sign(power.coef) == sign)
    g = power.assign(hit=hit).groupby(["scenario", "panel", "task", "n"], sort=True)["hit"]
    out = pd.DataFrame({"replicates": g.size(), "detected": g.sum()}).reset_index()
    low, high = proportion_confint(out.detected, out.replicates, method="wilson")
    return out.assign(power=out.detected / out.replicates, low=low, high=high).drop(columns="detected")

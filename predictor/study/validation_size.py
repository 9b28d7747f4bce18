"""How many patients an external validation of a binary-outcome model needs: Riley et al.'s
closed-form criteria, and the same question answered by simulation from the model's linear
predictor.

Closed form (Riley, Snell, Archer et al., Stat Med 2021;40:4230-51; the criteria pmvalsampsize
computes; pmvalsampsize is GPL-3.0, so the published formulas are implemented here, not its code),
each the smallest n whose 95% interval is no wider than asked:

* **O/E**, the ratio of observed to expected events: ``SE(ln O/E) = sqrt((1 - phi) / (n phi))``
  for prevalence ``phi``; the interval ``O/E exp(+-1.96 SE)`` has width ``oe_ci_width``. The SE
  is taken on a grid of ``se_step`` (1e-4, pmvalsampsize's documented ``oeseincrement``: the grid
  point at or above the exact SE), then ``n = (1 - phi) / (phi SE^2)``;
* **calibration slope**: the Fisher information of the recalibration model
  ``logit P(y) = a + b LP`` at the anticipated slope ``s`` (``a = 0``) gives
  ``var(b) = I_aa / (n (I_aa I_bb - I_ab^2))`` with ``I_aa = E[p(1-p)]``, ``I_ab = E[LP p(1-p)]``,
  ``I_bb = E[LP^2 p(1-p)]``, ``p = expit(s LP)``, the expectations over the linear predictor's
  distribution (a normal one by Gauss-Hermite quadrature, or a sample such as the oracle's);
  the SE is ``slope_ci_width / (2 x 1.96)``;
* **C-statistic**: Newcombe's variance, ``SE(C)^2 = C(1-C) [1 + (n/2 - 1)(1-C)/(2-C) +
  (n/2 - 1) C/(1+C)] / (n^2 phi (1-phi))``, the smallest integer n with ``SE <= c_ci_width / 3.92``;
* **net benefit** at a risk threshold ``t`` (``w = t / (1 - t)``), standardised by ``phi``: the
  true and false positive shares ``pi_TP = sens phi`` and ``pi_FP = (1 - spec)(1 - phi)`` are
  multinomial, so ``n var(NB) = pi_TP (1 - pi_TP) + w^2 pi_FP (1 - pi_FP) + 2 w pi_TP pi_FP``, and
  ``SE(sNB) = SE(NB) / phi`` is held to ``nb_ci_width / 3.92``; sensitivity and specificity at
  ``t`` come from the linear predictor's distribution when not given.

By simulation (:func:`simulated_widths`): validation cohorts of n patients are drawn from the
linear predictor's sample (outcomes from its own risk: the model is the truth, as the oracle is),
and the 95% interval widths are the spread of the estimates over replicates: the closed form's
approximations, checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

from predictor.config.study import Study
from predictor.metrics.fast import roc_auc
from predictor.study.cell import make_validation
from predictor.study.sample_size import Z95

__all__ = ["ValidationSize", "riley_validation_binary", "simulated_widths", "validation_size_table"]


@dataclass(frozen=True)
class ValidationSize:
    """Riley's minimum n for an external validation, per criterion, and the largest (``n``);
    ``net_benefit`` is NaN without a threshold."""

    oe: int
    slope: int
    c_statistic: int
    net_benefit: float
    prevalence: float

    @property
    def n(self) -> int:
        return int(np.nanmax([self.oe, self.slope, self.c_statistic, self.net_benefit]))

    @property
    def events(self) -> int:
        return math.ceil(self.n * self.prevalence)


def riley_validation_binary(
    *,
    prevalence: float,
    c_statistic: float,
    lp_normal: tuple[float, float] | None = None,
    lp: np.ndarray | None = None,
    oe: float = 1.0,
    oe_ci_width: float = 0.2,
    slope: float = 1.0,
    slope_ci_width: float = 0.2,
    c_ci_width: float = 0.1,
    threshold: float | None = None,
    sensitivity: float | None = None,
    specificity: float | None = None,
    nb_ci_width: float = 0.2,
    se_step: float = 1e-4,
) -> ValidationSize:
    """Riley et al.'s minimum sample size to validate a binary-outcome model (see the module's
    docstring for each criterion's formula).

    Parameters
    ----------
    prevalence, c_statistic : float
        The anticipated outcome prevalence and C-statistic in the validation population.
    lp_normal : (mean, sd), optional
        The linear predictor's distribution, normal; or ``lp``, a sample of it (such as the
        oracle's linear predictor on a large synthetic cohort). One of the two is needed.
    oe, slope : float
        The anticipated O/E and calibration slope.
    oe_ci_width, slope_ci_width, c_ci_width, nb_ci_width : float
        The widths of the 95% intervals asked for.
    threshold : float, optional
        The risk threshold of the net-benefit criterion (none: no such criterion).
    sensitivity, specificity : float, optional
        At ``threshold`` (default: from the linear predictor's distribution).
    se_step : float
        The grid of the O/E criterion's standard error (0: the exact SE).

    Raises
    ------
    ValueError
        An input outside its range, or neither / both of ``lp_normal`` and ``lp``.
    """
    phi = prevalence
    if not 0 < phi < 1 or not 0.5 < c_statistic < 1:
        raise ValueError(f"prevalence must be within 0-1 and the C-statistic within 0.5-1 (got {phi}, {c_statistic})")
    if (lp_normal is None) == (lp is None):
        raise ValueError("give the linear predictor's distribution as lp_normal = (mean, sd) or as a sample lp")
    values, weights = _lp_points(lp_normal, lp)
    nb = math.nan
    if threshold is not None:
        nb = _net_benefit_n(phi, values, weights, threshold, sensitivity, specificity, nb_ci_width)
    return ValidationSize(
        oe=_oe_n(phi, oe, oe_ci_width, se_step),
        slope=_slope_n(values, weights, slope, slope_ci_width),
        c_statistic=_c_n(phi, c_statistic, c_ci_width),
        net_benefit=nb,
        prevalence=phi,
    )


def _lp_points(lp_normal: tuple[float, float] | None, lp: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights that average over the linear predictor's distribution."""
    if lp is not None:
        values = np.asarray(lp, float)
        return values, np.full(len(values), 1.0 / len(values))
    assert lp_normal is not None
    x, w = np.polynomial.hermite_e.hermegauss(200)
    return lp_normal[0] + lp_normal[1] * x, w / math.sqrt(2.0 * math.pi)


def _oe_n(phi: float, oe: float, width: float, step: float) -> int:
    # width of oe * exp(+-z se) is 2 oe sinh(z se): solve for se
    se = math.asinh(width / (2.0 * oe)) / Z95
    if step > 0:
        se = math.ceil(round(se / step, 9)) * step
    return math.ceil((1.0 - phi) / (phi * se * se))


def _slope_n(values: np.ndarray, weights: np.ndarray, slope: float, width: float) -> int:
    p = expit(slope * values)
    v = p * (1.0 - p)
    i_aa, i_ab, i_bb = weights @ v, weights @ (v * values), weights @ (v * values * values)
    se = width / (2.0 * Z95)
    return math.ceil(i_aa / (se * se * (i_aa * i_bb - i_ab * i_ab)))


def _c_se(n: np.ndarray, c: float, phi: float) -> np.ndarray:
    half = n / 2.0 - 1.0
    return np.sqrt(c * (1 - c) * (1 + half * (1 - c) / (2 - c) + half * c / (1 + c)) / (n * n * phi * (1 - phi)))


def _c_n(phi: float, c: float, width: float) -> int:
    target = width / (2.0 * Z95)
    low, high = 2, 2
    while _c_se(np.array([high], float), c, phi)[0] > target:  # SE falls with n: double, then bisect
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if _c_se(np.array([mid], float), c, phi)[0] > target else (low, mid)
    return high


def _net_benefit_n(
    phi: float,
    values: np.ndarray,
    weights: np.ndarray,
    threshold: float,
    sensitivity: float | None,
    specificity: float | None,
    width: float,
) -> int:
    p = expit(values)
    positive = values > logit(threshold)
    sens = sensitivity if sensitivity is not None else float(weights @ (p * positive) / (weights @ p))
    spec = specificity if specificity is not None else float(weights @ ((1 - p) * ~positive) / (weights @ (1 - p)))
    w = threshold / (1.0 - threshold)
    tp, fp = sens * phi, (1.0 - spec) * (1.0 - phi)
    unit = tp * (1 - tp) + w * w * fp * (1 - fp) + 2 * w * tp * fp
    se = width / (2.0 * Z95)
    return math.ceil(unit / (phi * phi * se * se))


def simulated_widths(
    lp: np.ndarray, n: int, *, replicates: int = 500, threshold: float | None = None, random_state: int = 0
) -> dict[str, float]:
    """95% interval widths (3.92 x the SD over ``replicates`` validation cohorts of ``n``) of
    ln O/E (as the O/E interval's width at O/E = 1), the calibration slope, the C-statistic and,
    with a ``threshold``, the standardised net benefit, for a model whose linear predictor is a
    draw from ``lp`` and whose outcomes follow its own risk (the oracle, validated)."""
    rng = np.random.default_rng(random_state)
    lp = np.asarray(lp, float)
    phi = float(expit(lp).mean())  # the population's prevalence: net benefit is standardised by it
    rows = []
    for _ in range(replicates):
        x = lp[rng.integers(0, len(lp), n)]
        p = expit(x)
        y = (rng.random(n) < p).astype(int)
        if y.min() == y.max():
            continue
        row = {"oe": math.log(y.mean() / p.mean())}
        row["slope"] = float(LogisticRegression(C=np.inf).fit(x[:, None], y).coef_[0, 0])
        row["c_statistic"] = roc_auc(y, x)  # scikit-learn's roc_auc_score, without its input checks
        if threshold is not None:
            w = threshold / (1 - threshold)
            pos = p > threshold
            row["net_benefit"] = float(((pos & (y == 1)).mean() - w * (pos & (y == 0)).mean()) / phi)
        rows.append(row)
    out = {}
    for key in rows[0]:
        sd = float(np.std([r[key] for r in rows], ddof=1))
        out[key] = 2.0 * math.sinh(Z95 * sd) if key == "oe" else 2.0 * Z95 * sd
    return out


#: The columns of :func:`validation_size_table`.
VALIDATION_COLUMNS = ["scenario", "task", "criterion", "riley_n", "target_width", "simulated_width", "prevalence"]


def validation_size_table(
    study: Study, *, replicates: int = 200, threshold: float | None = None, random_state: int = 0
) -> pd.DataFrame:
    """Per scenario variant and binary task: Riley's validation sample size of each criterion for
    a model as good as the oracle (its linear predictor on the variant's validation cohort), and
    the interval width simulated at that n (``replicates`` validation cohorts of the oracle)
    beside the width asked for (the defaults of :func:`riley_validation_binary`; net benefit at
    ``threshold`` when one is given)."""
    rows = []
    for v in study.variants:
        val = make_validation(study, v.name)
        for task in val.tasks:
            if val.facts[task.name].kind != "binary" or not val.oracle.get(task.name):
                continue
            p = np.clip(task.oracle(val.part.truth, val.source, val.part.frame).probability, 1e-9, 1 - 1e-9)
            lp = logit(p)
            y = val.targets[task.name]
            found = riley_validation_binary(
                prevalence=float(np.mean(y)), c_statistic=val.oracle[task.name]["auc"], lp=lp, threshold=threshold
            )
            targets = {"oe": 0.2, "slope": 0.2, "c_statistic": 0.1, "net_benefit": 0.2}
            for criterion, target in targets.items():
                n = getattr(found, criterion)
                if not np.isfinite(n):
                    continue
                widths = simulated_widths(
                    lp, int(n), replicates=replicates, threshold=threshold, random_state=random_state
                )
                rows.append(
                    {
                        "scenario": v.name,
                        "task": task.name,
                        "criterion": criterion,
                        "riley_n": int(n),
                        "target_width": target,
                        "simulated_width": widths[criterion],
                        "prevalence": found.prevalence,
                    }
                )
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)

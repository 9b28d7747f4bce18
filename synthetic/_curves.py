r"""The survival curve of each patient, by family: what a time-to-event node draws by inversion,
and what the oracle reads back from the truth frame.

``weibull`` (proportional hazards)
    :math:`H(t) = s\, t^k`, :math:`s = \lambda e^{\eta}`, :math:`\lambda = \log 2 / M^k`.
``weibull`` with a change point :math:`\tau` (``change_at``; a delayed treatment effect)
    the log hazard is :math:`\eta` before :math:`\tau` and :math:`\eta'` (``log_hazard_after``)
    from then on: :math:`H(t) = s\, t^k` for :math:`t < \tau`, else
    :math:`s\, \tau^k + s' (t^k - \tau^k)`, :math:`s' = \lambda e^{\eta'}`. With :math:`k = 1`
    the hazard is constant on each piece (piecewise exponential).
``loglogistic`` (accelerated failure time; hazards not proportional)
    :math:`S(t) = 1 / (1 + (t / \alpha)^k)`, :math:`\alpha = M e^{-\eta}`: a higher
    :math:`\eta` (``log_hazard``, higher = worse) shortens every quantile by the factor
    :math:`e^{-\eta}`, and the hazard rises then falls for :math:`k > 1`.

A draw inverts the curve at one uniform: :math:`T = S^{-1}(U)`. Each family's inverse is in
closed form: Weibull :math:`(-\log v / s)^{1/k}`; with a change point, the same up to
:math:`E = -\log v = s \tau^k`, then :math:`((E - s \tau^k) / s' + \tau^k)^{1/k}`; log-logistic
:math:`\alpha ((1 - v) / v)^{1/k}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FAMILIES", "Curve"]

#: The families a time-to-event node may declare (``family = ...``; default ``weibull``).
FAMILIES = ("weibull", "loglogistic")


@dataclass(frozen=True)
class Curve:
    """Each patient's uncured survival curve.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    k : ndarray
        The shape, per patient.
    scale : ndarray
        Weibull: :math:`s` of :math:`H(t) = s t^k`; log-logistic: :math:`\\alpha`, the median.
    scale_after : ndarray, optional
        Weibull with a change point: :math:`s'` from ``tau`` on.
    tau : float, optional
        The change point.
    median : ndarray, optional
        A plain Weibull's median, from which its survival is computed as
        :math:`\\exp(-\\log 2\\, (t / M)^k)` (as the oracle always has).
    """

    family: str
    k: np.ndarray
    scale: np.ndarray
    scale_after: np.ndarray | None = None
    tau: float | None = None
    median: np.ndarray | None = None

    @classmethod
    def weibull(cls, k: np.ndarray, median: np.ndarray) -> Curve:
        r"""A plain Weibull of median ``median`` (per patient): :math:`s = \log 2 / M^k`."""
        return cls("weibull", k, np.log(2.0) / median**k, median=median)

    def inverse(self, v: np.ndarray) -> np.ndarray:
        """The time at which the curve falls to ``v`` (``v`` per patient, in (0, 1]; 0 gives inf)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.family == "loglogistic":
                return self.scale * ((1.0 - v) / v) ** (1.0 / self.k)
            e = -np.log(v)
            if self.scale_after is None or self.tau is None:
                return (e / self.scale) ** (1.0 / self.k)
            before = self.scale * self.tau**self.k
            late = ((e - before) / self.scale_after + self.tau**self.k) ** (1.0 / self.k)
            return np.where(e < before, (e / self.scale) ** (1.0 / self.k), late)

    def survival(self, times: np.ndarray) -> np.ndarray:
        """S(t), patients x ``times``."""
        t = np.asarray(times, dtype=float)[None, :]
        k = self.k[:, None]
        if self.median is not None:
            return np.exp(-np.log(2.0) * (t / self.median[:, None]) ** k)
        if self.family == "loglogistic":
            return 1.0 / (1.0 + (t / self.scale[:, None]) ** k)
        hazard = self.scale[:, None] * t**k
        if self.scale_after is not None and self.tau is not None:
            before = self.scale[:, None] * self.tau**k
            hazard = np.where(t < self.tau, hazard, before + self.scale_after[:, None] * (t**k - self.tau**k))
        return np.exp(-hazard)

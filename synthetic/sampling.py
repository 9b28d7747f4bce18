r"""How each kind of node turns its random numbers into values: the formulas of the scenario format.

Every draw is by inversion of one uniform :math:`U` or through one standard normal :math:`Z`, drawn
before any parameter is read (common random numbers: the calibration solver changes parameters
and keeps the draws).

Variables
---------
``bernoulli``      :math:`U < g^{-1}(p)` (``link`` :math:`g`, default identity)
``categorical``    the level :math:`k` with :math:`F_{k-1} \le U < F_k`, :math:`F` the cumulative
                   ``probabilities``; ``allocation = "exact"`` gives each level
                   :math:`\lfloor n p_k \rceil` patients exactly (largest remainder), patients
                   ranked by :math:`U`
``normal``         :math:`g^{-1}(\mu + \sigma Z)`
``lognormal``      :math:`\exp(\mu_{\log} + \sigma_{\log} Z)`
``latent``         :math:`Z` (a shared latent factor)
``uniform``        :math:`a + (b - a) U`
``gamma``          :math:`\theta\, P^{-1}(k, U)` (shape :math:`k`, scale :math:`\theta`)
``beta``           :math:`I^{-1}_U(a, b)`
``poisson``        :math:`F^{-1}_{\mathrm{Poisson}(\lambda)}(U)`, 0 where :math:`\lambda = 0`
``deterministic``  the ``value`` expression

then ``clip = [low, high]`` and ``round = digits``, in that order.

Outcomes
--------
``binary``         :math:`Y = [U < F(\eta)]`, :math:`F` the inverse ``link`` (probit default);
                   truth :math:`P(Y) = F(\eta)`.
``ordinal``        a latent :math:`D = \eta + \varepsilon` (:math:`\varepsilon = Z` for probit,
                   :math:`\operatorname{logit} U` for logit) cut at ``cuts`` :math:`c_1 < \dots <
                   c_K` into ``levels``; an indicator ``>= c`` is :math:`D \ge c`, truth
                   :math:`F(\eta - c)`.
``continuous``     :math:`Y = \mathrm{round}(\mathrm{clip}(\mu + \sigma Z))`; truth the mean of the
                   clipped normal, and :math:`P(Y \le c) = \Phi((c - \mu)/\sigma)` for an
                   indicator ``<= c`` (:math:`1 - \Phi` for ``>= c``).
``time_to_event``  Weibull proportional hazards (Bender, Augustin & Blettner 2005),
                   :math:`h(t \mid x) = \lambda k t^{k-1} e^{\eta}` with :math:`\lambda = \log 2 / M^k`
                   (``median`` :math:`M` at :math:`\eta = 0`, ``shape`` :math:`k`,
                   ``log_hazard`` :math:`\eta`): :math:`T = (-\log U_1 / (\lambda e^\eta))^{1/k}`,
                   true median :math:`M e^{-\eta/k}`. :math:`M` and :math:`k` may differ between
                   patients (an expression over nodes, such as an arm's own shape: the arms'
                   curves then cross, and hazards are not proportional between them); a shape
                   that reads a node is kept in the truth as ``NAME_shape``. A ``cure``
                   probability :math:`\pi` makes a mixture-cure model,
                   :math:`S(t) = \pi + (1 - \pi) S_u(t)`: one uniform inverts it,
                   :math:`T = \infty` where :math:`U_1 \le \pi`, else :math:`T = S_u^{-1}((U_1 -
                   \pi)/(1 - \pi))`; the truth keeps :math:`\pi`, the uncured median and the
                   mixture's median (infinite where :math:`\pi \ge 1/2`). Censoring at the
                   earlier of an administrative follow-up :math:`f_0 + (f_1 - f_0) U_2` (``followup``) and a dropout
                   :math:`-\log U_3 / r` (``dropout_rate`` :math:`r`); the observed time is
                   rounded to ``round`` digits (default 2) and at least one unit of that digit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.special import betaincinv, expit, gammaincinv, logit, ndtr
from scipy.stats import poisson

from ._curves import Curve
from .graph import Node

__all__ = ["sample", "category_shares", "survival_curve", "INVERSE_LINKS"]

#: :math:`g^{-1}` of each link.
INVERSE_LINKS: dict[str, Callable[[Any], Any]] = {
    "identity": lambda x: x,
    "log": np.exp,
    "logit": expit,
    "probit": ndtr,
}

#: The values a node makes: ``{name: array}`` for the cohort, and ``{truth column: array}``.
Made = tuple[dict[str, Any], dict[str, Any]]


def sample(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Made:
    """The node's values (and truth columns) from its ``noise`` streams and the values so far."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if node.is_outcome:
            return _OUTCOMES[node.kind](node, env, noise, n)
        value = _VARIABLES[node.kind](node, env, noise, n)
        return {node.name: _shape(node, env, value, n)}, {}


def _e(node: Node, key: str, env: Mapping[str, Any]) -> Any:
    return node.exprs[key].evaluate(env)


def _shape(node: Node, env: Mapping[str, Any], value: Any, n: int) -> Any:
    """Clip, then round; a value the same for everyone becomes one per patient."""
    if "clip.0" in node.exprs:
        value = np.clip(value, _e(node, "clip.0", env), _e(node, "clip.1", env))
    if node.round is not None:
        value = np.round(value, node.round)
    value = np.asarray(value)
    return np.full(n, value[()]) if value.ndim == 0 else value


def _bernoulli(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Any:
    hit = noise[0] < INVERSE_LINKS[node.link](_e(node, "p", env))
    return hit.astype(np.int8) if node.levels else hit


def category_shares(node: Node, env: Mapping[str, Any]) -> list[Any]:
    """A categorical node's shares, one per level (numbers, or arrays per patient)."""
    if node.probabilities is not None:
        held = env[node.probabilities]
        return [float(held[lv]) for lv in node.levels] if isinstance(held, Mapping) else [float(p) for p in held]
    k = sum(1 for key in node.exprs if key.startswith("probabilities."))
    return [_e(node, f"probabilities.{i}", env) for i in range(k)]


def _categorical(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Any:
    shares = category_shares(node, env)
    u = noise[0]
    if node.allocation == "exact":
        return _exact(u, np.asarray(shares, dtype=float))
    if all(np.ndim(p) == 0 for p in shares):
        bounds = np.cumsum(np.asarray(shares, dtype=float))
        bounds[-1] = 1.0 + 1e-12
        return np.searchsorted(bounds, u, side="right").astype(np.int8)
    cum: Any = 0.0
    code = np.zeros(n, dtype=np.int8)
    for p in shares[:-1]:
        cum = cum + p
        code += (u >= cum).astype(np.int8)
    return code


def _exact(u: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Exact sizes (largest remainder of n * share), patients ranked by ``u``."""
    n = u.shape[0]
    raw = n * share
    counts = np.floor(raw).astype(np.int64)
    short = n - counts.sum()
    if short:
        counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    code = np.empty(n, dtype=np.int8)
    code[np.argsort(u, kind="stable")] = np.repeat(np.arange(len(share), dtype=np.int8), counts)
    return code


def _poisson(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Any:
    mean = _e(node, "mean", env)
    return np.where(mean > 0, poisson.ppf(noise[0], np.maximum(mean, 1e-9)), 0.0)


_VARIABLES: dict[str, Callable[[Node, Mapping[str, Any], list[np.ndarray], int], Any]] = {
    "bernoulli": _bernoulli,
    "categorical": _categorical,
    "normal": lambda nd, env, z, n: INVERSE_LINKS[nd.link](_e(nd, "mean", env) + _e(nd, "sd", env) * z[0]),
    "lognormal": lambda nd, env, z, n: np.exp(_e(nd, "meanlog", env) + _e(nd, "sdlog", env) * z[0]),
    "latent": lambda nd, env, z, n: z[0],
    "uniform": lambda nd, env, u, n: _e(nd, "low", env) + (_e(nd, "high", env) - _e(nd, "low", env)) * u[0],
    "gamma": lambda nd, env, u, n: _e(nd, "scale", env) * gammaincinv(_e(nd, "shape", env), u[0]),
    "beta": lambda nd, env, u, n: betaincinv(_e(nd, "a", env), _e(nd, "b", env), u[0]),
    "poisson": _poisson,
    "deterministic": lambda nd, env, _, n: _e(nd, "value", env),
}


def _binary(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Made:
    eta = _full(_e(node, "linear_predictor", env), n)
    p = INVERSE_LINKS[node.link](eta)
    truth = {node.truth["linear_predictor"]: eta, node.truth["probability"]: p}
    return {node.name: noise[0] < p}, truth


def _ordinal(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Made:
    eta = _full(_e(node, "linear_predictor", env), n)
    latent = eta + (noise[0] if node.link == "probit" else logit(noise[0]))
    k = sum(1 for key in node.exprs if key.startswith("cuts."))
    cuts = np.array([float(_e(node, f"cuts.{i}", env)) for i in range(k)])
    made = {node.name: np.searchsorted(cuts, latent, side="right").astype(np.int8)}
    cdf = INVERSE_LINKS[node.link]
    truth = {node.truth["linear_predictor"]: eta, node.truth["latent"]: latent}
    for ind, op in node.indicators.items():
        c = _e(node, f"indicator.{ind}", env)
        made[ind] = latent >= c if op == ">=" else latent <= c
        truth[node.truth[ind]] = cdf(eta - c) if op == ">=" else 1.0 - cdf(eta - c)
    return made, truth


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _continuous(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Made:
    m = _full(_e(node, "mean", env), n)
    sd = _e(node, "sd", env)
    raw = m + sd * noise[0]
    y = _shape(node, env, raw, n)
    if "clip.0" in node.exprs:
        lo, hi = _e(node, "clip.0", env), _e(node, "clip.1", env)
        a, b = (lo - m) / sd, (hi - m) / sd
        pa, pb = ndtr(a), ndtr(b)
        expected = lo * pa + hi * (1.0 - pb) + m * (pb - pa) + sd * (_phi(a) - _phi(b))
    else:
        expected = m
    made = {node.name: y}
    truth = {node.truth["mean"]: m, node.truth["expected"]: expected, node.truth["unclipped"]: raw}
    for ind, op in node.indicators.items():
        c = _e(node, f"indicator.{ind}", env)
        made[ind] = y <= c if op == "<=" else y >= c
        truth[node.truth[ind]] = ndtr((c - m) / sd) if op == "<=" else 1.0 - ndtr((c - m) / sd)
    return made, truth


def _curve(node: Node, env: Mapping[str, Any], n: int) -> tuple[Curve, np.ndarray, np.ndarray]:
    """Each patient's uncured curve (:mod:`synthetic._curves`), log hazard and uncured median."""
    k = _full(_e(node, "shape", env), n)  # a shape and a median per patient: they may differ by arm
    median = _full(_e(node, "median", env), n)
    eta = _full(_e(node, "log_hazard", env), n)
    if node.family == "loglogistic":
        alpha = median * np.exp(-eta)
        return Curve("loglogistic", k, alpha), eta, alpha
    lam = np.log(2.0) / median**k
    if "change_at" not in node.exprs:
        return Curve("weibull", k, lam * np.exp(eta)), eta, median * np.exp(-eta / k)
    after = lam * np.exp(_full(_e(node, "log_hazard_after", env), n))
    curve = Curve("weibull", k, lam * np.exp(eta), after, float(_e(node, "change_at", env)))
    return curve, eta, curve.inverse(np.full(n, 0.5))


def _censoring(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> np.ndarray:
    """The earlier of the administrative follow-up and a dropout time."""
    if "followup.0" in node.exprs:
        f0, f1 = _e(node, "followup.0", env), _e(node, "followup.1", env)
        admin = f0 + (f1 - f0) * noise[1]
    else:
        admin = np.full(n, np.inf)
    rate = float(_e(node, "dropout_rate", env)) if "dropout_rate" in node.exprs else 0.0
    dropout = -np.log(noise[2]) / rate if rate > 0 else np.full(n, np.inf)
    return np.minimum(admin, dropout)


def _time_to_event(node: Node, env: Mapping[str, Any], noise: list[np.ndarray], n: int) -> Made:
    curve, eta, uncured_median = _curve(node, env, n)
    cure = _full(_e(node, "cure", env), n) if "cure" in node.exprs else None
    t_event = curve.inverse(noise[0] if cure is None else _uncured_draw(noise[0], cure))
    t_censor = _censoring(node, env, noise, n)
    digits = 2 if node.round is None else node.round
    observed = np.maximum(np.round(np.minimum(t_event, t_censor), digits), 10.0**-digits)
    assert node.time is not None and node.event is not None  # checked when the file loads
    truth = {
        node.truth["linear_predictor"]: eta,
        node.truth["median"]: uncured_median if cure is None else _mixture_median(curve, cure),
        node.truth["uncensored"]: t_event,
        node.truth["censor"]: t_censor,
    }
    kept: dict[str, Any] = {
        "cure": cure,
        "uncured_median": uncured_median,
        "shape": curve.k,
        "hazard_scale": curve.scale,
        "hazard_scale_after": curve.scale_after,
    }
    truth.update({node.truth[key]: value for key, value in kept.items() if key in node.truth})
    return {node.time: observed, node.event: np.isfinite(t_event) & (t_event <= t_censor)}, truth


def _uncured_draw(u: np.ndarray, cure: np.ndarray) -> np.ndarray:
    """The uncured curve's draw that inverts the mixture S(t) = pi + (1 - pi) S_u(t) at ``u``:
    ``(u - pi) / (1 - pi)``, and 0 (an infinite time: never the event) where ``u <= pi``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u > cure, (u - cure) / (1.0 - cure), 0.0)


def _mixture_median(curve: Curve, cure: np.ndarray) -> np.ndarray:
    """The time at which pi + (1 - pi) S_u(t) = 1/2: the uncured curve's inverse at
    ``(1/2 - pi) / (1 - pi)``; infinite where pi >= 1/2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cure < 0.5, curve.inverse(np.clip((0.5 - cure) / (1.0 - cure), 0.0, 1.0)), np.inf)


def survival_curve(node: Node, columns: Mapping[str, Any], k: Any, values: Mapping[str, Any], times: Any) -> Any:
    """S(t | x) at ``times`` (patients x times) from a time-to-event node's truth ``columns`` (by
    truth key: ``median``, and as declared ``cure``, ``uncured_median``, ``hazard_scale``...),
    its shape ``k`` and the parameter ``values``: what the oracle reads back."""
    cured = "cure" in node.truth
    median = np.asarray(columns["uncured_median" if cured else "median"], dtype=float)
    k = np.broadcast_to(np.asarray(k, dtype=float), median.shape)
    if node.family == "loglogistic":
        curve = Curve("loglogistic", k, median)
    elif "change_at" in node.exprs:
        tau = float(node.exprs["change_at"].evaluate(values))
        curve = Curve("weibull", k, np.asarray(columns["hazard_scale"]), np.asarray(columns["hazard_scale_after"]), tau)
    else:
        curve = Curve.weibull(k, median)
    uncured = curve.survival(np.asarray(times, dtype=float))
    if not cured:
        return uncured
    cure = np.asarray(columns["cure"], dtype=float)[:, None]
    return cure + (1.0 - cure) * uncured


def _full(value: Any, n: int) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    return np.full(n, value[()]) if value.ndim == 0 else value


_OUTCOMES: dict[str, Callable[[Node, Mapping[str, Any], list[np.ndarray], int], Made]] = {
    "binary": _binary,
    "ordinal": _ordinal,
    "continuous": _continuous,
    "time_to_event": _time_to_event,
}

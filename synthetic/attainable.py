r"""The attainable oracle: the best prediction from the observed columns alone.

The full truth knows every node, latent ones included, and no model sees a latent. For each
outcome this module finds the unobserved random nodes it reads (through unobserved nodes only:
an observed column stops the walk, since a model sees it), and integrates them out:

.. math::

    P(Y = 1 \mid x) = \int p(x, l)\, \phi(l)\, dl, \qquad
    S(t \mid x) = \int S(t \mid x, l)\, \phi(l)\, dl,

by Gauss-Hermite quadrature over a latent's standard normal draw (``normal``, ``lognormal``,
``latent`` nodes) and Gauss-Legendre over a continuous uniform draw (``uniform``, ``gamma``,
``beta``), on a tensor grid of at most :data:`MAX_POINTS` points. Everything else the outcome
reads is recomputed from the observed columns and the parameters, so the attainable prediction is
a function of what a model sees, by construction.

That integral is the best prediction only where no observed model input depends on the latent
too (else the posterior of the latent given the inputs would be needed). There, and for a
discrete latent or more than :data:`MAX_LATENTS` latents, the outcome keeps the full truth, and
:func:`attainability` says which and why (``predictor scenario check`` prints it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from .declared import DeclaredModel, resolve_values
from .graph import DISTRIBUTIONS, Node
from .sampling import sample, survival_curve

__all__ = ["Attainability", "attainability", "attainable_predictions", "MAX_LATENTS", "MAX_POINTS"]

#: At most this many latents are integrated for one outcome (a tensor grid grows as points^k).
MAX_LATENTS = 3
#: Quadrature points in all, over the latents of one outcome.
MAX_POINTS = 64
_CONTINUOUS = {"normal", "lognormal", "latent", "uniform", "gamma", "beta"}


@dataclass(frozen=True)
class Attainability:
    """What one outcome reads that no model sees.

    Attributes
    ----------
    outcome : str
        The outcome node.
    latents : tuple of str
        Unobserved random nodes it reads through unobserved nodes (integrated out when
        ``fallback`` is empty).
    path : tuple of str
        The unobserved nodes it reads, in graph order: recomputed at each quadrature point.
    fallback : str
        Why the full truth is kept instead ("" when the attainable oracle integrates the latents).
    """

    outcome: str
    latents: tuple[str, ...]
    path: tuple[str, ...]
    fallback: str = ""

    @property
    def differs(self) -> bool:
        """Whether the attainable prediction differs from the full truth's."""
        return bool(self.latents) and not self.fallback


def _inputs(model: DeclaredModel) -> set[str]:
    """The observed columns a model may use (features and treatments)."""
    return {c.name for c in model.schema.by_role("feature", "treatment")}


def _unobserved_ancestors(model: DeclaredModel, node: Node, seen_as_input: set[str]) -> list[Node]:
    """The unobserved nodes ``node`` reads, through unobserved nodes only."""
    owner = {out: n for n in model.graph.nodes for out in n.outputs}
    found: dict[str, Node] = {}
    stack = [owner[d] for d in node.deps if d in owner]
    while stack:
        parent = stack.pop()
        if parent.name in found or parent.name == node.name or set(parent.outputs) & seen_as_input:
            continue
        found[parent.name] = parent
        stack.extend(owner[d] for d in parent.deps if d in owner)
    return [model.graph.node(name) for name in model.graph.order if name in found]


def attainability(model: DeclaredModel) -> dict[str, Attainability]:
    """For each outcome, the latents it reads and whether they can be integrated out."""
    inputs = _inputs(model)
    feeds = {
        n.name: {a.name for a in _unobserved_ancestors(model, n, inputs)}
        for n in model.graph.nodes
        if set(n.outputs) & inputs
    }
    out = {}
    for node in (n for n in model.graph.nodes if n.is_outcome):
        path = _unobserved_ancestors(model, node, inputs)
        latents = tuple(a.name for a in path if a.noise)
        out[node.name] = Attainability(
            node.name, latents, tuple(a.name for a in path), _fallback(model, latents, feeds)
        )
    return out


def _fallback(model: DeclaredModel, latents: tuple[str, ...], feeds: Mapping[str, set[str]]) -> str:
    if not latents:
        return ""
    seen = sorted(f for f, reads in feeds.items() if reads & set(latents))
    if seen:
        return f"the model input(s) {seen} also depend on {list(latents)} (a posterior would be needed)"
    kinds = {name: model.graph.node(name).kind for name in latents}
    odd = sorted(name for name, kind in kinds.items() if kind not in _CONTINUOUS or model.graph.node(name).is_outcome)
    if odd:
        return f"{odd} are discrete or outcomes, which this quadrature does not integrate"
    if len(latents) > MAX_LATENTS:
        return f"{len(latents)} latents, more than the {MAX_LATENTS} integrated on a tensor grid"
    return ""


def _grid(model: DeclaredModel, latents: Sequence[str]) -> Iterator[tuple[float, dict[str, float]]]:
    """Quadrature points: (weight, {noise stream: value}) over the latents' draws."""
    per = max(2, int(round(MAX_POINTS ** (1 / len(latents)))))
    rules = []
    for name in latents:
        node = model.graph.node(name)
        (key,) = model.noise_keys(node)
        if DISTRIBUTIONS[node.kind][1] == "z":
            x, w = np.polynomial.hermite_e.hermegauss(per)
            rules.append((key, x, w / np.sqrt(2 * np.pi)))
        else:
            x, w = np.polynomial.legendre.leggauss(per)
            rules.append((key, (x + 1) / 2, w / 2))
    for combo in product(*(range(per) for _ in rules)):
        weight = float(np.prod([rules[i][2][j] for i, j in enumerate(combo)]))
        yield weight, {rules[i][0]: float(rules[i][1][j]) for i, j in enumerate(combo)}


def _observed_env(model: DeclaredModel, observed: pd.DataFrame, values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters and the model inputs as the generator's nodes hold them (levels as codes)."""
    env: dict[str, Any] = resolve_values(values)
    for name in _inputs(model):
        col = observed[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            env[name] = col.cat.codes.to_numpy().astype(np.int8)
        else:
            env[name] = col.to_numpy()
    return env


def _at_point(
    model: DeclaredModel, node: Node, env: dict[str, Any], path: Sequence[str], noise: Mapping[str, float], n: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values so far and the outcome's truth, with the latents' draws set to one quadrature
    point (the path's deterministic nodes recomputed; the outcome's own draws play no part in its
    truth)."""
    env = dict(env)
    for name in path:
        step = model.graph.node(name)
        draws = [np.full(n, noise.get(k, 0.5)) for k in model.noise_keys(step)]
        made, _ = sample(step, env, draws, n)
        env.update(made)
    _, kept = sample(node, env, [np.full(n, 0.5) for _ in model.noise_keys(node)], n)
    return env, kept


def attainable_predictions(
    model: DeclaredModel, observed: pd.DataFrame, values: Mapping[str, Any], times: np.ndarray
) -> dict[str, np.ndarray]:
    """The attainable oracle's predictions for the outcomes whose latents it integrates.

    Returns ``{binary output: probability}`` and, for the time to event,
    ``"survival"`` (patients x ``times``) and ``"risk"`` (minus the log of the attainable
    survival at the middle of ``times``: higher = worse), each only where the attainable
    prediction differs from the full truth's.
    """
    found = {name: a for name, a in attainability(model).items() if a.differs}
    if not found:
        return {}
    n = len(observed)
    env = _observed_env(model, observed, values)
    out: dict[str, np.ndarray] = {}
    for name, a in found.items():
        node = model.graph.node(name)
        points = [(w, _at_point(model, node, env, a.path, pt, n)) for w, pt in _grid(model, a.latents)]
        if node.kind == "binary":
            out[name] = np.sum([w * np.asarray(kept[node.truth["probability"]]) for w, (_, kept) in points], axis=0)
        elif node.kind == "time_to_event":
            out["survival"] = np.sum([w * _survival(node, at, kept, times) for w, (at, kept) in points], axis=0)
            out["risk"] = -np.log(np.clip(out["survival"][:, len(times) // 2], 1e-300, None))
    return out


def _survival(node: Node, env: Mapping[str, Any], kept: Mapping[str, Any], times: np.ndarray) -> np.ndarray:
    """S(t | x, latent) of each patient at ``times``, from one quadrature point's values."""
    columns = {key: kept[col] for key, col in node.truth.items() if col in kept}
    k = node.exprs["shape"].evaluate(env)
    return np.asarray(survival_curve(node, columns, k, env, times))

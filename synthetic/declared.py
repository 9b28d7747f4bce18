"""The generator a scenario file declares: draws every random number first, then runs the graph.

A :class:`DeclaredModel` is built once from a loaded file (:func:`synthetic.scenario.load_scenario`)
and used by generation, calibration and the oracle through one small interface: :meth:`draw`
(parameter-free random numbers, so calibration reuses them), :meth:`transform` (the observed and
truth frames, a deterministic function of the draws and the parameters), :attr:`survival`,
:meth:`expectation` and :meth:`oracle`. The formulas are in :mod:`synthetic.sampling`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features import Schema

from .graph import Graph, Node
from .sampling import sample, survival_curve

__all__ = ["DeclaredModel", "resolve_values", "canonical"]


def canonical(text: str) -> str:
    """An expression's syntax tree as text, so that spacing and quotes do not matter."""
    try:
        return ast.dump(ast.parse(text.strip(), mode="eval"))
    except SyntaxError:
        return text


def resolve_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as expressions read them: a table entry that names a scalar parameter
    (``{ NSCLC = "pfs_log_hr_nsclc", ... }``, a free parameter inside a table) takes its value."""
    out = dict(values)
    for name, v in values.items():
        if isinstance(v, Mapping) and any(isinstance(x, str) for x in v.values()):
            out[name] = {k: values[x] if isinstance(x, str) else x for k, x in v.items()}
    return out


@dataclass(frozen=True)
class DeclaredModel:
    """A compiled scenario graph with the observed columns it fills.

    Parameters
    ----------
    graph : Graph
        Nodes and truth columns (:func:`synthetic.graph.parse_graph`).
    schema : features.Schema
        The observed columns, in order; the ``id`` column is numbered 1..n.
    """

    graph: Graph
    schema: Schema

    def noise_keys(self, node: Node) -> list[str]:
        """The names of a node's random streams."""
        return [f"{s}_{node.name}" + (f"_{i}" if i else "") for i, s in enumerate(node.noise)]

    def draw(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Every random number of ``n`` patients: the uniforms of the nodes in file order, then
        their standard normals in file order (the order is the seed contract)."""
        keys = [(k, s) for node in self.graph.nodes for k, s in zip(self.noise_keys(node), node.noise, strict=True)]
        noise = {k: rng.random(n) for k, s in keys if s == "u"}
        noise.update({k: rng.standard_normal(n) for k, s in keys if s == "z"})
        return noise

    def run(self, noise: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every node's values (with the parameters) and every truth column, from the draws."""
        n = len(next(iter(noise.values())))
        env: dict[str, Any] = resolve_values(values)
        truth: dict[str, Any] = {}
        for name in self.graph.order:
            node = self.graph.node(name)
            made, kept = sample(node, env, [noise[k] for k in self.noise_keys(node)], n)
            env.update(made)
            truth.update(kept)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for column in self.graph.truth:
                value = np.asarray(column.expr.evaluate(env))
                env[column.name] = truth[column.name] = np.full(n, value[()]) if value.ndim == 0 else value
        return env, truth

    def transform(
        self, noise: Mapping[str, np.ndarray], values: Mapping[str, Any]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The observed and truth frames (row-aligned, ``patient_id`` 1..n)."""
        env, kept = self.run(noise, values)
        n = len(next(iter(noise.values())))
        ids = np.arange(1, n + 1, dtype=np.int64)
        observed = {c.name: ids if c.role == "id" else _as_column(env[c.name], c) for c in self.schema}
        truth = {"patient_id": ids, **{k: np.asarray(v, dtype=np.float64) for k, v in kept.items()}}
        # copy=False: one block per column instead of stacking same-typed columns (a copy).
        return pd.DataFrame(observed, copy=False), pd.DataFrame(truth, copy=False)

    @property
    def survival(self) -> tuple[str, str, str] | None:
        """(observed time, observed event, uncensored time in the truth frame), if declared."""
        for node in self.graph.nodes:
            if node.kind == "time_to_event" and node.time and node.event:
                return node.time, node.event, node.truth["uncensored"]
        return None

    @property
    def time_unit(self) -> str | None:
        """The unit of the time-to-event outcome's time column, as [columns] declares it."""
        surv = self.survival
        return self.schema[surv[0]].unit if surv and surv[0] in self.schema else None

    def expectations(self) -> dict[str, str]:
        """``{canonical observed expression: truth column}`` holding its expectation."""
        out: dict[str, str] = {}
        for node in self.graph.nodes:
            if node.kind == "binary":
                out[canonical(node.name)] = node.truth["probability"]
            if node.kind == "continuous":
                out[canonical(node.name)] = node.truth["expected"]
            for ind in node.indicators:
                out[canonical(ind)] = node.truth[ind]
            if node.kind == "ordinal":
                out.update(_level_expectations(node))
        for column in self.graph.truth:
            if column.expectation_of:
                out[canonical(column.expectation_of)] = column.name
        return out

    def expectation(self, column: str) -> str | None:
        """The truth column holding the expectation of an observed column or expression."""
        return self.expectations().get(canonical(column))

    def binary_names(self) -> list[str]:
        """The binary outputs whose true probability the truth frame keeps."""
        names = []
        for node in self.graph.nodes:
            if node.kind == "binary":
                names.append(node.name)
            names.extend(node.indicators)
        return names

    def graph_truth(self, name: str) -> str:
        """The truth column with the probability of the binary output ``name``."""
        for node in self.graph.nodes:
            if node.kind == "binary" and node.name == name:
                return node.truth["probability"]
            if name in node.indicators:
                return node.truth[name]
        raise KeyError(name)

    def oracle(self, truth: pd.DataFrame, values: Mapping[str, Any], times: np.ndarray) -> dict[str, np.ndarray]:
        """The best possible predictions from the truth frame.

        ``response_probability`` (the first binary outcome or indicator), ``risk`` (the true
        log hazard, higher = worse; where hazards are not proportional, a shape per patient, a
        cure fraction, a change point or a log-logistic curve, minus the log of the true survival
        at the middle of ``times``) and ``survival``, the true
        :math:`S(t \\mid x) = \\exp(-\\log 2\\,(t / M(x))^k)` at ``times``.
        """
        out: dict[str, np.ndarray] = {}
        binaries = self.binary_names()
        if binaries:
            out["response_probability"] = truth[self.graph_truth(binaries[0])].to_numpy()
        node = next((nd for nd in self.graph.nodes if nd.kind == "time_to_event"), None)
        if node is not None:
            times = np.atleast_1d(np.asarray(times, dtype=float))
            out["risk"] = truth[node.truth["linear_predictor"]].to_numpy()
            params = resolve_values(values)
            if "shape" in node.truth:  # a shape per patient: the log hazard alone no longer orders patients
                k = truth[node.truth["shape"]].to_numpy()
            else:
                k = np.asarray(float(node.exprs["shape"].evaluate(params)))
            columns = {key: truth[col].to_numpy() for key, col in node.truth.items()}
            out["survival"] = survival_curve(node, columns, k, params, times)
            if node.family != "weibull" or set(node.truth) - _PLAIN_TRUTH:
                # Not one log hazard for all times: the risk is minus the log survival at the middle time.
                out["risk"] = -np.log(np.clip(out["survival"][:, len(times) // 2], 1e-300, None))
        return out


#: The truth keys of a proportional-hazards Weibull with one shape, whose log hazard orders patients.
_PLAIN_TRUTH = {"linear_predictor", "median", "uncensored", "censor"}


def _level_expectations(node: Node) -> dict[str, str]:
    """For an ordinal outcome, ``outcome in [levels from a cut up]`` (and ``outcome == 'top'``)
    is the indicator ``>= that cut``, when one is declared."""
    out = {}
    cuts = {canonical(node.exprs[k].text): int(k.split(".")[1]) for k in node.exprs if k.startswith("cuts.")}
    for ind, op in node.indicators.items():
        i = cuts.get(canonical(node.exprs[f"indicator.{ind}"].text))
        if op != ">=" or i is None:
            continue
        above = list(node.levels[i + 1 :])
        out[canonical(f"{node.name} in {above!r}")] = node.truth[ind]
        if len(above) == 1:
            out[canonical(f"{node.name} == {above[0]!r}")] = node.truth[ind]
    return out


def _as_column(value: Any, column: Any) -> Any:
    """A node's values with the dtype its [columns] entry declares."""
    if column.dtype == "category":
        return pd.Categorical.from_codes(np.asarray(value).astype(np.int8), list(column.levels))
    if column.dtype == "bool":
        return np.asarray(value, dtype=bool)
    if column.dtype == "int":
        return np.asarray(value).astype(np.int64)
    return np.asarray(value, dtype=np.float64)

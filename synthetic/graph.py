"""The generative model a scenario file declares: its ``[nodes]`` and ``[truth]`` read into typed
nodes, their expressions compiled (:mod:`synthetic.expressions`), and the graph ordered.

Every problem is collected, not raised at the first one, so that a file with five mistakes gets
five messages in one run (:class:`features.keytable.Problems`).

Nodes
-----
A ``[nodes.NAME]`` table is a variable (``distribution = ...``) or an outcome (``outcome = ...``).
Its keys are expressions over parameters and other nodes (:data:`DISTRIBUTIONS`, :data:`OUTCOMES`
list them); ``levels`` makes a variable categorical; ``clip = [low, high]`` and ``round = digits``
shape a value (clip first, then round).
"""

from __future__ import annotations

import graphlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from features.keytable import Problems

from ._curves import FAMILIES
from .errors import ScenarioError
from .expressions import Expression, Symbol, compile_expression

__all__ = [
    "DISTRIBUTIONS",
    "OUTCOMES",
    "Problems",
    "Node",
    "TruthColumn",
    "Graph",
    "parse_graph",
    "parameter_symbols",
]

#: Variable distributions: the expression keys each needs, and the noise it draws
#: (``u``: one uniform, ``z``: one standard normal, none for a deterministic node).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "bernoulli": (("p",), "u"),
    "categorical": ((), "u"),  # 'probabilities': a parameter name or a list of expressions
    "normal": (("mean", "sd"), "z"),
    "lognormal": (("meanlog", "sdlog"), "z"),
    "latent": ((), "z"),
    "uniform": (("low", "high"), "u"),
    "gamma": (("shape", "scale"), "u"),
    "beta": (("a", "b"), "u"),
    "poisson": (("mean",), "u"),
    "deterministic": (("value",), ""),
}
#: Outcomes: the expression keys each needs, its optional ones, and the truth columns it keeps.
OUTCOMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "binary": (("linear_predictor",), (), ("linear_predictor", "probability")),
    "ordinal": (("linear_predictor",), (), ("linear_predictor", "latent")),
    "continuous": (("mean", "sd"), (), ("mean", "expected", "unclipped")),
    "time_to_event": (
        ("median", "shape", "log_hazard"),
        ("dropout_rate", "cure", "change_at", "log_hazard_after"),
        ("linear_predictor", "median", "uncensored", "censor"),
    ),
}
LINKS = ("identity", "log", "logit", "probit")
_COMMON_KEYS = {"description", "levels", "clip", "round", "link", "truth", "unit"}
_EXTRA_KEYS = {
    "categorical": {"probabilities", "allocation"},
    "ordinal": {"cuts", "indicators"},
    "continuous": {"indicators"},
    "time_to_event": {"time", "event", "followup", "family"},
}


@dataclass(frozen=True)
class Node:
    """One node of the graph: a variable or an outcome.

    Attributes
    ----------
    kind : str
        A distribution of :data:`DISTRIBUTIONS` or an outcome type of :data:`OUTCOMES`.
    exprs : mapping
        The compiled expression of each key (``clip_low``/``clip_high`` and list items as
        ``cuts.0``, ``probabilities.1``, ``indicator.NAME``, ``followup.0``).
    noise : tuple of str
        The random streams it draws, ``"u"`` or ``"z"`` each, in order.
    outputs : tuple of str
        The names it puts in the cohort (itself, indicators, an outcome's time and event).
    truth : mapping
        Truth column name for each of the node's truth keys.
    """

    name: str
    kind: str
    is_outcome: bool
    exprs: Mapping[str, Expression]
    noise: tuple[str, ...]
    outputs: tuple[str, ...]
    levels: tuple[str, ...] = ()
    round: int | None = None
    link: str = "identity"
    allocation: str = "random"
    probabilities: str | None = None  # a parameter holding the shares (else exprs 'probabilities.i')
    indicators: Mapping[str, str] = field(default_factory=dict)  # name -> '>=' or '<='
    truth: Mapping[str, str] = field(default_factory=dict)
    unit: str | None = None
    time: str | None = None
    event: str | None = None
    family: str = "weibull"

    @property
    def deps(self) -> set[str]:
        """The names its expressions read."""
        names: set[str] = set().union(*(e.names for e in self.exprs.values())) if self.exprs else set()
        return names | ({self.probabilities} if self.probabilities else set())


@dataclass(frozen=True)
class TruthColumn:
    """A ``[truth.NAME]`` column: an expression, optionally the smooth expectation of an observed
    expression (``expectation_of``) that the calibration solver may use in its place."""

    name: str
    expr: Expression
    expectation_of: str | None = None


@dataclass(frozen=True)
class Graph:
    """The compiled generative model: nodes in file order (the order of their random draws)
    and in evaluation order (dependencies first), and the extra truth columns."""

    nodes: tuple[Node, ...]
    order: tuple[str, ...]
    truth: tuple[TruthColumn, ...]

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        return next(n for n in self.nodes if n.name == name)


def parameter_symbols(values: Mapping[str, Any]) -> dict[str, Symbol]:
    """Scalars are values, ``{level: value}`` tables are tables; lists have no symbol (only a
    categorical's ``probabilities`` names one)."""
    out = {}
    for name, v in values.items():
        if isinstance(v, Mapping):
            out[name] = Symbol("table", tuple(str(k) for k in v))
        elif not isinstance(v, list):
            out[name] = Symbol("value")
    return out


def parse_graph(raw_nodes: Any, raw_truth: Any, values: Mapping[str, Any], problems: Problems) -> Graph | None:
    """Read ``[nodes]`` and ``[truth]``; record every problem; ``None`` when any was found."""
    before = len(problems.messages)
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        problems.add("[nodes]", "must be a table of [nodes.NAME] tables, at least one")
        return None
    symbols = parameter_symbols(values)
    symbols.update(_node_symbols(raw_nodes, values, problems))
    nodes = []
    for name, spec in raw_nodes.items():
        node = _parse_node(str(name), spec, symbols, values, problems)
        if node is not None:
            nodes.append(node)
    truth = _parse_truth(raw_truth, symbols, problems)
    _check_names(nodes, truth, values, problems)
    order = _order(nodes, problems)
    if len(problems.messages) > before or order is None:
        return None
    return Graph(nodes=tuple(nodes), order=order, truth=truth)


def _node_symbols(raw_nodes: Mapping[str, Any], values: Mapping[str, Any], problems: Problems) -> dict[str, Symbol]:
    """What each node's outputs stand for in expressions (a categorical node is a factor)."""
    out: dict[str, Symbol] = {}
    for name, spec in raw_nodes.items():
        if not isinstance(spec, Mapping):
            continue
        levels = spec.get("levels") or []
        is_factor = (
            isinstance(levels, list)
            and bool(levels)
            and (
                spec.get("distribution") in ("bernoulli", "categorical", "deterministic")
                or spec.get("outcome") == "ordinal"
            )
        )
        out[name] = Symbol("factor", tuple(map(str, levels))) if is_factor else Symbol("value")
        indicators = spec.get("indicators", {})
        if isinstance(indicators, Mapping):
            out.update({str(k): Symbol("value") for k in indicators})
        for key in ("time", "event"):
            if isinstance(spec.get(key), str):
                out[spec[key]] = Symbol("value")
    return out


def _expr(
    text: Any, key: str, symbols: Mapping[str, Symbol], problems: Problems, node: str, section: str = "nodes"
) -> Expression | None:
    try:
        return compile_expression(text, symbols, where=f"{problems.where} [{section}.{node}] {key}")
    except ScenarioError as exc:
        problems.take(exc)
        return None


def _parse_node(
    name: str, spec: Any, symbols: Mapping[str, Symbol], values: Mapping[str, Any], problems: Problems
) -> Node | None:
    key = f"[nodes.{name}]"
    if not isinstance(spec, Mapping):
        problems.add(key, "must be a table")
        return None
    is_outcome = "outcome" in spec
    kind = str(spec.get("outcome") if is_outcome else spec.get("distribution"))
    table: Mapping[str, Any] = OUTCOMES if is_outcome else DISTRIBUTIONS
    if kind not in table:
        which = "outcome" if is_outcome else "distribution"
        problems.add(key, f"{which} '{kind}' is not one of {list(table)} (or give 'outcome', one of {list(OUTCOMES)})")
        return None
    required = OUTCOMES[kind][0] if is_outcome else DISTRIBUTIONS[kind][0]
    optional = OUTCOMES[kind][1] if is_outcome else ()
    allowed = {*required, *optional, *_COMMON_KEYS, *_EXTRA_KEYS.get(kind, ()), "outcome", "distribution"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        problems.add(
            key, f"unknown key(s) {unknown}; a {kind} node takes {sorted(allowed - {'outcome', 'distribution'})}"
        )
    exprs: dict[str, Expression] = {}
    for k in (*required, *optional):
        if k not in spec:
            if k in required:
                problems.add(key, f"a {kind} node needs '{k}'")
            continue
        e = _expr(spec[k], k, symbols, problems, name)
        if e is not None:
            exprs[k] = e
    extra = _parse_extras(name, kind, spec, symbols, values, problems, exprs)
    extra["varying_shape"] = kind == "time_to_event" and "shape" in exprs and bool(exprs["shape"].names - set(values))
    if "change_at" in exprs and exprs["change_at"].names - set(values):
        problems.add(f"[nodes.{name}] change_at", "must be a number or read parameters only: one change point for all")
    return _build_node(name, kind, is_outcome, spec, exprs, extra, problems)


def _parse_extras(
    name: str,
    kind: str,
    spec: Mapping[str, Any],
    symbols: Mapping[str, Symbol],
    values: Mapping[str, Any],
    problems: Problems,
    exprs: dict[str, Expression],
) -> dict[str, Any]:
    """The keys beyond plain expressions: clip, probabilities, cuts, indicators, follow-up."""
    compile_item = lambda text, key: _expr(text, key, symbols, problems, name)
    extra: dict[str, Any] = {}
    _list_exprs(name, spec, compile_item, problems, exprs)
    if kind == "categorical":
        extra.update(_probabilities(name, spec, values, compile_item, problems, exprs))
    extra["indicators"] = _indicators(name, spec, compile_item, problems, exprs)
    return extra


_Compile = Callable[[Any, str], "Expression | None"]


def _list_exprs(
    name: str, spec: Mapping[str, Any], compile_item: _Compile, problems: Problems, exprs: dict[str, Expression]
) -> None:
    """``clip = [low, high]``, ``cuts = [...]`` and ``followup = [min, max]``, item by item."""
    for list_key, size in (("clip", 2), ("cuts", None), ("followup", 2)):
        items = spec.get(list_key)
        if items is None:
            continue
        if not isinstance(items, list) or (size is not None and len(items) != size) or not items:
            problems.add(f"[nodes.{name}]", f"'{list_key}' must be a list of {size or 'one or more'} expressions")
            continue
        for i, item in enumerate(items):
            e = compile_item(item, f"{list_key}[{i}]")
            if e is not None:
                exprs[f"{list_key}.{i}"] = e


def _probabilities(
    name: str,
    spec: Mapping[str, Any],
    values: Mapping[str, Any],
    compile_item: _Compile,
    problems: Problems,
    exprs: dict[str, Expression],
) -> dict[str, Any]:
    """A categorical's shares: a parameter holding them, or one expression per level."""
    key, probs = f"[nodes.{name}]", spec.get("probabilities")
    if isinstance(probs, str) and isinstance(values.get(probs), (list, Mapping)):
        _check_shares(key, probs, values[probs], spec.get("levels"), problems)
        return {"probabilities": probs}
    if isinstance(probs, list) and probs:
        for i, item in enumerate(probs):
            e = compile_item(item, f"probabilities[{i}]")
            if e is not None:
                exprs[f"probabilities.{i}"] = e
        return {}
    problems.add(key, "'probabilities' must name a parameter (a list or a table) or be a list of expressions")
    return {}


def _indicators(
    name: str, spec: Mapping[str, Any], compile_item: _Compile, problems: Problems, exprs: dict[str, Expression]
) -> dict[str, str]:
    """``indicators = { NAME = ">= threshold" }``: each name with its direction."""
    key, indicators = f"[nodes.{name}]", spec.get("indicators", {})
    if not isinstance(indicators, Mapping):
        problems.add(key, "'indicators' must be a table: NAME = '>= threshold' or '<= threshold'")
        return {}
    out = {}
    for ind, text in indicators.items():
        op = str(text).strip()[:2]
        if op not in (">=", "<="):
            problems.add(key, f"indicator '{ind}' must read '>= threshold' or '<= threshold', got {text!r}")
            continue
        e = compile_item(str(text).strip()[2:], f"indicators.{ind}")
        if e is not None:
            exprs[f"indicator.{ind}"] = e
            out[str(ind)] = op
    return out


def _check_shares(key: str, name: str, held: Any, levels: Any, problems: Problems) -> None:
    """A categorical's shares, held by a parameter: one per level, >= 0, summing to 1."""
    if isinstance(held, Mapping) and isinstance(levels, list) and list(held) != list(levels):
        problems.add(f"{key} probabilities", f"'{name}' must be keyed by the levels {levels} in that order")
    shares = list(held.values()) if isinstance(held, Mapping) else list(held)
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in shares):
        problems.add(f"{key} probabilities", f"'{name}' must hold numbers")
    elif not all(math.isfinite(x) for x in shares) or min(shares) < 0 or not abs(sum(shares) - 1) <= 1e-6:
        problems.add(
            f"{key} probabilities", f"'{name}' must be shares >= 0 that sum to 1 (they sum to {sum(shares):.4f})"
        )


def _build_node(
    name: str,
    kind: str,
    is_outcome: bool,
    spec: Mapping[str, Any],
    exprs: dict[str, Expression],
    extra: dict[str, Any],
    problems: Problems,
) -> Node | None:
    key = f"[nodes.{name}]"
    levels = spec.get("levels", [])
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        problems.add(key, "'levels' must be a list of names")
        levels = []
    link = spec.get("link", "probit" if kind in ("binary", "ordinal") else "identity")
    if link not in LINKS:
        problems.add(key, f"link {link!r} is not one of {LINKS}")
    rounding = spec.get("round")
    if rounding is not None and (isinstance(rounding, bool) or not isinstance(rounding, int)):
        problems.add(key, "'round' must be a whole number of decimal places")
        rounding = None
    allocation = spec.get("allocation", "random")
    if allocation not in ("random", "exact"):
        problems.add(key, "allocation must be 'random' or 'exact' (largest remainder)")
    truth_names = spec.get("truth", {})
    keys = (*OUTCOMES[kind][2], *_optional_truth(exprs, extra)) if is_outcome else ()
    indicators = extra.get("indicators", {})
    if not isinstance(truth_names, Mapping) or set(truth_names) - {*keys, *indicators}:
        problems.add(key, f"'truth' renames truth columns; its keys are {[*keys, *indicators]}")
        truth_names = {}
    truth = {k: str(truth_names.get(k, f"{name}_{k}")) for k in keys}
    truth.update({ind: str(truth_names.get(ind, f"{ind}_probability")) for ind in indicators})
    time, event = spec.get("time"), spec.get("event")
    if kind == "time_to_event" and not (isinstance(time, str) and isinstance(event, str)):
        problems.add(key, "a time_to_event node needs 'time' and 'event', the names of its two observed columns")
    if "cure" in exprs and "followup.0" not in exprs:
        problems.add(key, "a cure fraction needs 'followup = [min, max]': the cured are censored when follow-up ends")
    family = _family(key, kind, spec, exprs, problems)
    outputs = (time, event) if kind == "time_to_event" else (name,)
    noise = _noise(kind, is_outcome, link)
    return Node(
        name=name,
        kind=kind,
        is_outcome=is_outcome,
        exprs=exprs,
        noise=noise,
        outputs=tuple(str(o) for o in outputs) + tuple(indicators),
        levels=tuple(levels),
        round=rounding,
        link=str(link),
        allocation=str(allocation),
        probabilities=extra.get("probabilities"),
        indicators=indicators,
        truth=truth,
        unit=spec.get("unit"),
        time=time if isinstance(time, str) else None,
        event=event if isinstance(event, str) else None,
        family=family,
    )


def _family(key: str, kind: str, spec: Mapping[str, Any], exprs: Mapping[str, Expression], problems: Problems) -> str:
    """A time to event's family (:data:`synthetic._curves.FAMILIES`); a change point goes with a
    log hazard after it, on a Weibull."""
    family = spec.get("family", "weibull")
    if kind != "time_to_event":
        return "weibull"
    if family not in FAMILIES:
        problems.add(key, f"family {family!r} is not one of {FAMILIES}")
    if ("change_at" in spec) != ("log_hazard_after" in spec):
        problems.add(key, "'change_at' and 'log_hazard_after' go together: the log hazard from that time on")
    if "change_at" in spec and family != "weibull":
        problems.add(key, "a change point ('change_at') is for the weibull family")
    return str(family)


def _optional_truth(exprs: Mapping[str, Expression], extra: Mapping[str, Any]) -> tuple[str, ...]:
    """Truth columns a time to event keeps only when declared so: its shape where that differs
    between patients, with a cure fraction the cure probability and the median of the uncured,
    with a change point the cumulative hazard's scale before and after it."""
    return (
        *(("shape",) if extra.get("varying_shape") else ()),
        *(("cure", "uncured_median") if "cure" in exprs else ()),
        *(("hazard_scale", "hazard_scale_after") if "change_at" in exprs else ()),
    )


def _noise(kind: str, is_outcome: bool, link: str) -> tuple[str, ...]:
    if not is_outcome:
        stream = DISTRIBUTIONS[kind][1]
        return (stream,) if stream else ()
    if kind == "time_to_event":
        return ("u", "u", "u")  # event time, administrative follow-up, dropout
    if kind == "binary":
        return ("u",)
    if kind == "ordinal":
        return ("z",) if link == "probit" else ("u",)
    return ("z",)


def _parse_truth(raw: Any, symbols: Mapping[str, Symbol], problems: Problems) -> tuple[TruthColumn, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.add("[truth]", "must be a table: NAME = 'expression' or [truth.NAME] with 'value'")
        return ()
    out = []
    for name, spec in raw.items():
        text, of = (spec.get("value"), spec.get("expectation_of")) if isinstance(spec, Mapping) else (spec, None)
        if isinstance(spec, Mapping) and set(spec) - {"value", "expectation_of", "description"}:
            problems.add(f"[truth.{name}]", "takes 'value', 'expectation_of' and 'description' only")
        e = _expr(text, "value", symbols, problems, str(name), section="truth")
        if e is not None:
            out.append(TruthColumn(name=str(name), expr=e, expectation_of=of))
    return tuple(out)


def _check_names(
    nodes: Sequence[Node], truth: Sequence[TruthColumn], values: Mapping[str, Any], problems: Problems
) -> None:
    """Every output and truth column has its own name, different from every parameter's."""
    seen: dict[str, str] = {}
    for where, names in [
        *((f"[nodes.{n.name}]", [*n.outputs, *n.truth.values()]) for n in nodes),
        *((f"[truth.{t.name}]", [t.name]) for t in truth),
    ]:
        for name in names:
            if name == "patient_id":
                problems.add(
                    where, "'patient_id' is the cohort's own id column; a node or truth column needs another name"
                )
            elif name in values:
                problems.add(where, f"'{name}' is also a parameter; a node needs its own name")
            elif name in seen and seen[name] != where:
                problems.add(where, f"'{name}' is also made by {seen[name]}")
            seen.setdefault(name, where)
    tte = [n.name for n in nodes if n.kind == "time_to_event"]
    if len(tte) > 1:
        problems.add("[nodes]", f"at most one time_to_event outcome is supported, found {tte}")


def _order(nodes: Sequence[Node], problems: Problems) -> tuple[str, ...] | None:
    """Dependencies first (a cycle is a problem); outputs of a node map back to it."""
    owner = {out: n.name for n in nodes for out in n.outputs}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for n in nodes:
        sorter.add(n.name, *sorted({owner[d] for d in n.deps if d in owner} - {n.name}))
        if n.name in {owner.get(d) for d in n.deps}:
            problems.add(f"[nodes.{n.name}]", "reads its own value")
    try:
        return tuple(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        problems.add("[nodes]", f"the nodes depend on each other in a cycle: {cycle}")
        return None

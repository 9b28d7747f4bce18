"""Checks of a declared scenario that need the whole file: every parameter used, every observed
column made, units that agree, and parameter values that make sense, found on a small pilot
cohort drawn at the file's values (each node's inputs checked against its distribution's domain).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .declared import DeclaredModel
from .graph import Node, Problems
from .sampling import INVERSE_LINKS, category_shares

__all__ = ["check_model", "PILOT_N"]

#: Patients in the pilot cohort drawn when a file loads (seed 0), to check parameter values.
PILOT_N = 2000

#: Each distribution's domain: (key, test, rule).
_DOMAINS: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "normal": (("sd", lambda x: x >= 0, "must be >= 0"),),
    "lognormal": (("sdlog", lambda x: x >= 0, "must be >= 0"),),
    "gamma": (("shape", lambda x: x > 0, "must be > 0"), ("scale", lambda x: x > 0, "must be > 0")),
    "beta": (("a", lambda x: x > 0, "must be > 0"), ("b", lambda x: x > 0, "must be > 0")),
    "poisson": (("mean", lambda x: x >= 0, "must be >= 0"),),
    "continuous": (("sd", lambda x: x > 0, "must be > 0"),),
    "time_to_event": (
        ("shape", lambda x: x > 0, "must be > 0"),
        ("median", lambda x: x > 0, "must be > 0"),
        ("dropout_rate", lambda x: x >= 0, "must be >= 0"),
        ("cure", lambda x: (x >= 0) & (x < 1), "must be a probability in [0, 1)"),
        ("followup.0", lambda x: x > 0, "must be > 0"),
    ),
}


def check_model(model: DeclaredModel, params: Mapping[str, Any], targets: Sequence[Any], problems: Problems) -> None:
    """Record every problem of a parsed scenario that needs the graph, columns and values together."""
    _check_used(model, params, problems)
    _check_columns(model, problems)
    _check_targets(model, targets, problems)
    _check_leaks(model, problems)
    if problems.messages:
        return
    values = {name: p.value for name, p in params.items()}
    try:
        env, _ = model.run(model.draw(np.random.default_rng(0), PILOT_N), values)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        problems.add("[nodes]", f"the pilot cohort could not be drawn at the file's values: {exc!r}")
        return
    for node in model.graph.nodes:
        _check_values(node, env, problems)


def _check_used(model: DeclaredModel, params: Mapping[str, Any], problems: Problems) -> None:
    used = set().union(*(n.deps for n in model.graph.nodes), *(t.expr.names for t in model.graph.truth))
    used |= {n.probabilities for n in model.graph.nodes if n.probabilities}
    for p in params.values():
        if p.name in used and isinstance(p.value, Mapping):
            used |= {x for x in p.value.values() if isinstance(x, str)}
    for name, p in params.items():
        if name not in used:
            problems.add(f"[parameters.{name}]", "no node uses it")
        if isinstance(p.value, Mapping):
            for key, x in p.value.items():
                if isinstance(x, str) and not isinstance(params.get(x) and params[x].value, (int, float)):
                    problems.add(f"[parameters.{name}] {key}", f"'{x}' must name a scalar parameter")


def _check_columns(model: DeclaredModel, problems: Problems) -> None:
    made: dict[str, Node | None] = {out: n for n in model.graph.nodes for out in n.outputs}
    made.update({t.name: None for t in model.graph.truth})
    for column in model.schema:
        if column.role == "id":
            continue
        node = made.get(column.name)
        if column.name not in made:
            problems.add(f"[columns.{column.name}]", "no node makes this column; declare [nodes.NAME] of that name")
        elif column.dtype == "category" and (node is None or tuple(node.levels) != tuple(column.levels)):
            levels = list(node.levels) if node is not None else []
            problems.add(
                f"[columns.{column.name}]", f"categories {list(column.levels)} differ from the node's levels {levels}"
            )


#: Statistics of the time-to-event outcome (the first four in its time unit).
_TIME_STATISTICS = ("median_pfs", "survival_at", "rmst", "km_curve", "hazard_ratio", "significant_hr_share")


def _check_leaks(model: DeclaredModel, problems: Problems) -> None:
    """No model input is drawn from an outcome: a feature or treatment column that reads an
    outcome node, however indirectly, would hand the model its answer."""
    inputs = {c.name for c in model.schema.by_role("feature", "treatment")}
    for node in (n for n in model.graph.nodes if set(n.outputs) & inputs and not n.is_outcome):
        path = _path_to_outcome(model, node)
        if path:
            problems.add(f"[nodes.{node.name}]", f"a model input drawn from an outcome (a leak): {' <- '.join(path)}")


def _path_to_outcome(model: DeclaredModel, node: Node) -> list[str]:
    """``[node, ..., outcome]`` along the first chain of reads that reaches an outcome, or []."""
    owner = {out: n for n in model.graph.nodes for out in n.outputs}
    stack, seen = [[node]], {node.name}
    while stack:
        path = stack.pop()
        parents = {owner[d].name: owner[d] for d in path[-1].deps if d in owner}
        for _, parent in sorted(parents.items()):
            if parent.is_outcome:
                return [n.name for n in (*path, parent)]
            if parent.name not in seen:
                seen.add(parent.name)
                stack.append([*path, parent])
    return []


def _check_targets(model: DeclaredModel, targets: Sequence[Any], problems: Problems) -> None:
    survival = model.survival
    for t in targets:
        if t.statistic == "truth_auc" and t.column not in model.binary_names():
            problems.add(
                f"target '{t.id}' column",
                f"statistic 'truth_auc' needs a binary outcome or indicator; the scenario has {model.binary_names()}",
            )
        if t.statistic in _TIME_STATISTICS and survival is None:
            problems.add(f"target '{t.id}'", f"statistic '{t.statistic}' needs a time_to_event node")
        unit = model.time_unit
        if (
            t.unit is not None
            and t.statistic in ("median_pfs", "survival_at", "rmst", "km_curve")
            and unit
            and t.unit != unit
        ):
            problems.add(
                f"target '{t.id}' unit",
                f"the target is in {t.unit}, the time column '{survival and survival[0]}' in {unit}",
            )


def _check_values(node: Node, env: Mapping[str, Any], problems: Problems) -> None:
    """The node's inputs within its distribution's domain, at the file's values."""
    key = f"[nodes.{node.name}]"
    with np.errstate(all="ignore"):
        for name, test, rule in _DOMAINS.get(node.kind, ()):
            if name in node.exprs:
                _test(problems, f"{key} {name}", node.exprs[name].evaluate(env), test, rule)
        if node.kind == "bernoulli":
            p = INVERSE_LINKS[node.link](node.exprs["p"].evaluate(env))
            _test(problems, f"{key} p", p, lambda x: (x >= 0) & (x <= 1), "must be a probability in [0, 1]")
        if node.kind == "categorical":
            _check_shares(node, env, problems)
        if node.kind == "ordinal":
            cuts = [float(node.exprs[k].evaluate(env)) for k in sorted(k for k in node.exprs if k.startswith("cuts."))]
            if not all(a < b for a, b in zip(cuts, cuts[1:], strict=False)) or len(cuts) + 1 != len(node.levels):
                problems.add(f"{key} cuts", f"must increase and be one fewer than the levels; got {cuts}")
        if "clip.0" in node.exprs:
            lo, hi = node.exprs["clip.0"].evaluate(env), node.exprs["clip.1"].evaluate(env)
            _test(problems, f"{key} clip", np.asarray(hi) - np.asarray(lo), lambda x: x >= 0, "low must be <= high")
        for out in node.outputs:
            value = np.asarray(env.get(out, 0.0))
            if value.dtype.kind == "f" and np.isnan(value).any():
                problems.add(f"{key}", f"'{out}' is not a number for some patients (a log of a negative?)")


def _check_shares(node: Node, env: Mapping[str, Any], problems: Problems) -> None:
    shares = category_shares(node, env)
    total = sum(np.asarray(p, dtype=float) for p in shares)
    key = f"[nodes.{node.name}] probabilities"
    if node.levels and len(shares) != len(node.levels):
        problems.add(key, f"{len(shares)} shares for {len(node.levels)} levels")
    if any(np.any(np.asarray(p, dtype=float) < 0) for p in shares) or np.any(np.abs(total - 1) > 1e-6):
        problems.add(key, f"shares must be >= 0 and sum to 1 (they sum to {np.max(total):.4f})")


def _test(problems: Problems, key: str, value: Any, test: Any, rule: str) -> None:
    value = np.asarray(value, dtype=float)
    bad = ~np.asarray(test(value)) | np.isnan(value)
    if np.any(bad):
        problems.add(key, f"{rule}; at the file's values it is {float(value[bad].flat[0]):.4g} for some patients")

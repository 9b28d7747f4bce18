"""Scenario files: the whole generative model, every published target and every assumption.

A scenario is a TOML file (read with the standard library's :mod:`tomllib`); it is data and never
runs code (expressions are compiled by :mod:`synthetic.expressions`). Its sections:

``[scenario]``
    ``name``, ``title``, ``source``, ``default_n``, ``calibration_seed`` and ``notes``.
``[parameters.NAME]``
    ``value`` (a number, a list, or a table keyed by the levels of a categorical node, whose
    entries may name a scalar parameter), ``kind`` (``assumption``, ``free`` or ``mechanism``),
    ``id`` (the published figure it stands for), ``reason``, ``unit`` and, for ``free``
    parameters, ``bounds``. Free parameters are solved by :func:`synthetic.calibration.solve`;
    the file ships the solved values.
``[nodes.NAME]``
    The graph: variables and outcomes (:mod:`synthetic.graph`, formulas in
    :mod:`synthetic.sampling`).
``[truth]``
    Extra truth columns: ``NAME = "expression"``, or a table with ``value`` and
    ``expectation_of`` (the observed expression whose smooth expectation it is).
``[[targets]]``
    ``id``, ``label``, ``statistic`` (``median_pfs``, ``survival_at`` with ``time``, ``rate``,
    ``mean``, ``significant_hr_share``), ``column`` (an observed column, or an expression over them such
    as ``"bcma_methylation_pct > 70"``), ``where`` (an expression over observed columns, or
    two of them with a ``contrast``: ``difference``, ``ratio`` or ``relative_reduction``),
    ``value``, ``tolerance`` and ``tolerance_type`` (``absolute``, ``relative``, or ``at_least``
    for a published lower bound such as "more than 80%"), ``unit`` (checked against the time
    column's), and ``kind`` (``target`` is solved for; ``check`` is only verified).
``[columns.NAME]``
    The observed columns, as :class:`features.Schema` reads them; each is made by a node.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from features import Schema, atomic_write
from features.errors import FeaturesError, TableReadError
from features.io import read_text_file
from features.limits import patients_problem

from .checks import check_model
from .declared import DeclaredModel
from .errors import ScenarioError
from .expressions import Symbol, compile_expression
from .graph import Problems, parse_graph
from .targets import Target, parse_target

__all__ = ["Parameter", "Target", "Scenario", "load_scenario", "available_scenarios", "write_values"]

PARAMETER_KINDS = ("assumption", "free", "mechanism")


@dataclass(frozen=True)
class Parameter:
    """One generator parameter as the scenario file declares it."""

    name: str
    value: Any
    kind: str
    id: str
    reason: str
    unit: str | None = None
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Scenario:
    """A loaded, validated scenario file."""

    name: str
    model: DeclaredModel
    title: str
    source: str
    default_n: int
    calibration_seed: int
    parameters: Mapping[str, Parameter]
    targets: tuple[Target, ...]
    schema: Schema
    path: Path | None = None
    notes: str = ""

    def values(self) -> dict[str, Any]:
        """``{name: value}`` of every parameter, as the generator takes them."""
        return {name: p.value for name, p in self.parameters.items()}

    @property
    def free(self) -> list[Parameter]:
        """The free parameters, solved by calibration."""
        return [p for p in self.parameters.values() if p.kind == "free"]

    def with_values(self, updates: Mapping[str, Any]) -> Scenario:
        """A copy with some parameter values replaced (names must exist)."""
        unknown = set(updates) - set(self.parameters)
        if unknown:
            raise ScenarioError(f"scenario '{self.name}' has no parameter(s) {sorted(unknown)}")
        params = dict(self.parameters)
        for name, v in updates.items():
            params[name] = replace(params[name], value=v)
        return replace(self, parameters=params)


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped with the package."""
    root = resources.files("synthetic") / "scenarios"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _fail(where: str, msg: str) -> ScenarioError:
    return ScenarioError(f"{where}: {msg}")


def _non_finite(value: Any) -> str:
    """The first number in a parameter's value that is nan or infinite, as text ("" if none)."""
    items = list(value.values()) if isinstance(value, Mapping) else value if isinstance(value, list) else [value]
    bad = [v for v in items if isinstance(v, float) and not math.isfinite(v)]
    return repr(bad[0]) if bad else ""


def _parse_parameter(where: str, name: str, spec: Any) -> Parameter:
    w = f"{where} [parameters.{name}]"
    if not isinstance(spec, dict):
        raise _fail(w, "must be a table with 'value', 'kind', 'id' and 'reason'")
    for key in ("value", "kind", "id", "reason"):
        if key not in spec:
            raise _fail(w, f"'{key}' is required")
    unknown = set(spec) - {"value", "kind", "id", "reason", "unit", "bounds"}
    if unknown:
        raise _fail(w, f"unknown key(s) {sorted(unknown)}")
    if spec["kind"] not in PARAMETER_KINDS:
        raise _fail(w, f"kind {spec['kind']!r} is not one of {PARAMETER_KINDS}")
    infinite = _non_finite(spec["value"])
    if infinite:
        raise _fail(w, f"value holds {infinite}; every number must be finite")
    bounds = spec.get("bounds")
    if spec["kind"] == "free":
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, (int, float)) for b in bounds)
            or not bounds[0] < bounds[1]
        ):
            raise _fail(w, "a free parameter needs 'bounds = [low, high]' with low < high")
        if not isinstance(spec["value"], (int, float)) or not bounds[0] <= spec["value"] <= bounds[1]:
            raise _fail(w, f"value {spec['value']!r} must be a number within bounds {bounds}")
        bounds = (float(bounds[0]), float(bounds[1]))
    return Parameter(
        name=name,
        value=spec["value"],
        kind=spec["kind"],
        id=str(spec["id"]),
        reason=str(spec["reason"]),
        unit=spec.get("unit"),
        bounds=bounds if spec["kind"] == "free" else None,
    )


def _check_target_expressions(where: str, targets: tuple[Target, ...], schema: Schema, problems: Problems) -> None:
    """Compile every target's ``where`` and ``column`` against the declared columns, and check
    every Cox covariate, so that a bad target is reported when the file loads, never after a
    solve (:mod:`synthetic.expressions`)."""
    symbols = {c.name: Symbol("factor", c.levels) if c.dtype == "category" else Symbol("value") for c in schema}
    for t in targets:
        texts = [("where", e) for e in t.where if e.strip()]
        texts += [("column", t.column)] if t.column and t.column not in symbols else []
        for key, text in texts:
            try:
                compile_expression(text, symbols, where=f"{where} target '{t.id}' {key}")
            except ScenarioError as exc:
                problems.take(exc)
        _check_covariates(t, schema, problems)


def _check_covariates(t: Target, schema: Schema, problems: Problems) -> None:
    """A Cox target's ``covariate`` is one numeric or true/false observed column (its hazard ratio
    is that column's coefficient); ``adjust`` names observed columns."""
    key = f"target '{t.id}'"
    if t.covariate is not None:
        if t.covariate not in schema:
            problems.add(key, f"covariate '{t.covariate}' must be an observed column (not an expression)")
        elif schema[t.covariate].dtype not in ("bool", "int", "float"):
            problems.add(
                key,
                f"covariate '{t.covariate}' is a {schema[t.covariate].dtype} column; a hazard ratio needs a "
                "true/false or numeric one (declare a two-level contrast as a bool node)",
            )
    missing = [c for c in t.adjust if c not in schema]
    if missing:
        problems.add(key, f"'adjust' names {missing}, which are not observed columns")


def parse_scenario(raw: Mapping[str, Any], where: str = "scenario", path: Path | None = None) -> Scenario:
    """Validate the mapping of a scenario file and build a :class:`Scenario`.

    Every problem is collected first and reported in one :class:`ScenarioError`, one line each
    naming the file, the key and the rule.
    """
    problems = Problems(where, ScenarioError)
    for section in ("scenario", "parameters", "nodes", "targets", "columns"):
        if section not in raw:
            problems.add(f"[{section}]", "the section is missing")
    head = raw.get("scenario", {})
    for key in ("name", "title", "source", "default_n", "calibration_seed"):
        if key not in head:
            problems.add("[scenario]", f"'{key}' is required")
    unknown = sorted(set(raw) - {"scenario", "parameters", "nodes", "truth", "targets", "columns"})
    if unknown:
        problems.add("file", f"unknown section(s) {unknown}")
    if "default_n" in head and (not isinstance(head["default_n"], int) or head["default_n"] <= 0):
        problems.add("[scenario] default_n", "must be a positive integer")
    elif "default_n" in head and patients_problem(head["default_n"]):
        problems.add("[scenario] default_n", patients_problem(head["default_n"]))
    params = _parameters(raw.get("parameters", {}), where, problems)
    targets = _targets(raw.get("targets", []), where, problems)
    schema = _schema(raw.get("columns", {}), problems)
    # A parameter with a problem of its own still names a value for the expressions, so that one
    # mistake (a free parameter without bounds) does not add "unknown name" follow-ons.
    declared = raw.get("parameters", {}) if isinstance(raw.get("parameters"), Mapping) else {}
    named = {n: s.get("value", 0.0) for n, s in declared.items() if isinstance(s, Mapping) and n not in params}
    graph = parse_graph(
        raw.get("nodes"), raw.get("truth"), {**named, **{n: p.value for n, p in params.items()}}, problems
    )
    if schema is not None:
        _check_target_expressions(where, targets, schema, problems)
    problems.raise_any()
    assert graph is not None and schema is not None  # else a problem was raised
    model = DeclaredModel(graph=graph, schema=schema)
    check_model(model, params, targets, problems)
    problems.raise_any()
    return Scenario(
        name=str(head["name"]),
        model=model,
        title=str(head["title"]),
        source=str(head["source"]),
        default_n=int(head["default_n"]),
        calibration_seed=int(head["calibration_seed"]),
        parameters=params,
        targets=targets,
        schema=schema,
        path=path,
        notes=str(head.get("notes", "")),
    )


def _parameters(raw: Any, where: str, problems: Problems) -> dict[str, Parameter]:
    if not isinstance(raw, Mapping):
        problems.add("[parameters]", "must be a table of [parameters.NAME] tables")
        return {}
    params = {}
    for name, spec in raw.items():
        try:
            params[name] = _parse_parameter(where, name, spec)
        except ScenarioError as exc:
            problems.take(exc)
    return params


def _targets(raw: Any, where: str, problems: Problems) -> tuple[Target, ...]:
    if not isinstance(raw, list):
        problems.add("[[targets]]", "must be an array of tables")
        return ()
    targets = [t for i, spec in enumerate(raw) if (t := parse_target(where, i, spec, problems)) is not None]
    ids = [t.id for t in targets]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.add("[[targets]]", f"target id(s) used twice: {dupes}")
    return tuple(targets)


def _schema(raw: Any, problems: Problems) -> Schema | None:
    try:
        return Schema.from_dict(raw)
    except (FeaturesError, AttributeError, TypeError) as exc:
        problems.add("[columns]", str(exc))
        return None


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name, or a scenario file by path.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :func:`available_scenarios` (``"icb_bone_opn"``) or a path to a ``.toml``.

    Raises
    ------
    ScenarioError
        Unknown name, unreadable file, invalid TOML, or a file that breaks the format
        (the message names the file and the key).
    """
    text_path = str(name_or_path)
    if text_path.endswith(".toml") or Path(text_path).exists() or "/" in text_path:
        path = Path(text_path)
        where = str(path)
        try:
            text = read_text_file(path, "scenario file")
        except TableReadError as exc:
            raise ScenarioError(str(exc)) from None
    else:
        names = available_scenarios()
        if text_path not in names:
            raise ScenarioError(f"unknown scenario '{text_path}'; available: {', '.join(names)}")
        res = resources.files("synthetic") / "scenarios" / f"{text_path}.toml"
        path = Path(str(res))
        where = f"scenario '{text_path}'"
        text = res.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: not valid TOML: {exc}") from None
    return parse_scenario(raw, where=where, path=path)


def write_values(path: Path, values: Mapping[str, float]) -> None:
    """Rewrite the ``value = ...`` line of the named ``[parameters.NAME]`` tables in place.

    Comments and layout are kept. Used to ship solved free parameters
    (``predictor calibrate NAME --solve --write``).
    """
    text = Path(path).read_text(encoding="utf-8")
    for name, v in values.items():
        pattern = re.compile(
            r"(^\[parameters\." + re.escape(name) + r"\]\s*\n(?:(?!^\[).*\n)*?^value\s*=\s*)([^\n#]*?)(\s*(#.*)?$)",
            re.MULTILINE,
        )
        new = f"{float(v):.6g}"
        text, count = pattern.subn(lambda m: f"{m.group(1)}{new}{m.group(3)}", text, count=1)  # noqa: B023 - used at once
        if count != 1:
            raise ScenarioError(f"{path}: could not find 'value' of [parameters.{name}]")
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

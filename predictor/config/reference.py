"""The reference of every key of experiment, study and scenario files, written from the code's own
constraint tables and field defaults, so that it cannot drift from what the parsers accept.

The documentation build calls :func:`write_reference`; a test checks that every key of every
table appears.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from features.keytable import Key, KeyTable
from predictor.config.experiment import CONSTRAINTS
from predictor.config.study import STUDY_CONSTRAINTS
from synthetic.graph import DISTRIBUTIONS, LINKS, OUTCOMES
from synthetic.targets import COMMON_KEYS, STATISTIC_KEYS, TARGET_KEYS

__all__ = ["key_reference", "write_reference", "all_keys", "key_text", "FILE_KINDS"]

#: The file kinds ``predictor keys`` prints.
FILE_KINDS = ("experiment", "study", "scenario")


def _types(key: Key) -> str:
    types = key.types if isinstance(key.types, tuple) else (key.types,)
    names = {str: "string", int: "integer", float: "number", bool: "true/false", list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _default(cls: type, name: str) -> str:
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return "(none)" if f.default is None else f"``{f.default!r}``"
            if f.default_factory is not MISSING:
                return f"``{f.default_factory()!r}``"
            return "required"
    return "(derived)"


def _table(rows: Iterable[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append(f"   * - {row[0]}")
        out.extend(f"     - {cell}" for cell in row[1:])
    return [*out, ""]


def _key_table(title: str, table: KeyTable, intro: str) -> list[str]:
    lines = [title, "-" * len(title), "", intro, ""]
    for section, (cls, keys) in table.items():
        head = f"``[{section}]``"
        doc = inspect.getdoc(cls) or ""
        lines += [head, "~" * len(head), "", doc.split("\n\n")[0], ""]
        rows = [(f"``{name}``", _types(key), key.rule or "-", _default(cls, name)) for name, key in keys.items()]
        lines += _table(rows, ("key", "type", "rule", "default"))
    return lines


def _heading(title: str) -> list[str]:
    return [title, "~" * len(title), ""]


def _scenario_lines() -> list[str]:
    title = "Scenario files"
    lines = [
        title,
        "-" * len(title),
        "",
        "The format is explained, with a walk-through, in :doc:`/user_guide/scenario_format`.",
        "",
    ]
    node_rows = [
        (
            f"``{name}``",
            ", ".join(f"``{k}``" for k in keys) or "-",
            {"u": "one uniform", "z": "one normal", "": "none"}[noise],
        )
        for name, (keys, noise) in DISTRIBUTIONS.items()
    ]
    lines += _heading("``[nodes.NAME]`` variables (``distribution = ...``)")
    lines += _table(node_rows, ("distribution", "keys", "random numbers"))
    outcome_rows = [
        (
            f"``{name}``",
            ", ".join(f"``{k}``" for k in req),
            ", ".join(f"``{k}``" for k in opt) or "-",
            ", ".join(f"``{k}``" for k in truth),
        )
        for name, (req, opt, truth) in OUTCOMES.items()
    ]
    lines += _heading("``[nodes.NAME]`` outcomes (``outcome = ...``)")
    lines += _table(outcome_rows, ("outcome", "keys", "optional", "truth columns"))
    lines += [
        f"Every node also takes ``description``, ``levels``, ``clip``, ``round``, ``link`` (one of "
        f"{', '.join(f'``{x}``' for x in LINKS)}), ``truth`` and ``unit``; a categorical takes "
        "``probabilities`` and ``allocation``; an ordinal ``cuts`` and ``indicators``; a continuous outcome "
        "``indicators``; a time-to-event outcome ``time``, ``event`` and ``followup``.",
        "",
        *_target_lines(),
        *_heading("``[scenario]``, ``[parameters.NAME]``, ``[truth]``, ``[columns.NAME]``"),
        "``[scenario]``: ``name``, ``title``, ``source``, ``default_n``, ``calibration_seed``, ``notes``. "
        "``[parameters.NAME]``: ``value``, ``kind`` (``assumption``, ``free``, ``mechanism``), ``id``, "
        '``reason``, ``unit``, ``bounds``. ``[truth]``: ``NAME = "expression"`` or ``value``, '
        "``expectation_of``, ``description``. ``[columns.NAME]``: ``dtype``, ``role``, ``unit``, "
        "``description``, ``min``, ``max``, ``categories``, ``nullable``.",
        "",
    ]
    return lines


def _target_lines() -> list[str]:
    """``[[targets]]``: every key with its type, rule and use, and the keys of each statistic
    (the tables :func:`synthetic.targets.parse_target` checks a file against)."""
    rows = [(f"``{name}``", _types(key), key.rule or "-", key.doc or "-") for name, key in TARGET_KEYS.items()]
    stats = [
        (
            f"``{stat}``",
            ", ".join(f"``{k}``" for k in needed) or "-",
            ", ".join(f"``{k}``" for k in extra if k not in needed) or "-",
        )
        for stat, (extra, needed) in STATISTIC_KEYS.items()
    ]
    return [
        *_heading("``[[targets]]``"),
        *_table(rows, ("key", "type", "rule", "what it is")),
        f"Every target takes {', '.join(f'``{k}``' for k in COMMON_KEYS)}; each statistic takes the keys "
        "below besides, and a key it does not take is an error.",
        "",
        *_table(stats, ("statistic", "needs", "also takes")),
    ]


def key_reference() -> str:
    """The reference page, as reStructuredText."""
    lines = [
        "Every key of every file",
        "=======================",
        "",
        ".. This page is generated by predictor.config.reference when the documentation builds; do not edit it.",
        "",
        "Generated from the parsers' own constraint tables and the sections' field defaults when the site "
        "builds. A key not listed here is refused, with the file, the section and the known keys.",
        "",
    ]
    lines += _key_table(
        "Experiment files", CONSTRAINTS, "``experiments/NAME.toml`` or any ``.toml`` given to ``predictor train``."
    )
    lines += [
        "``[columns.NAME]`` (a user's own cohort) declares each column as the scenario files' ``[columns]`` do.",
        "",
    ]
    lines += _key_table(
        "Study files",
        STUDY_CONSTRAINTS,
        "Given to ``predictor study``. ``[panels.NAME]`` takes ``columns`` or ``drop``; "
        "``[scenarios.NAME]`` overrides scenario parameters by name.",
    )
    lines += _scenario_lines()
    return "\n".join(lines) + "\n"


def write_reference(path: str | Path) -> Path:
    """Write :func:`key_reference` to ``path`` (only when it changed, so Sphinx rebuilds only then)."""
    path = Path(path)
    text = key_reference()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def _plain(cell: str) -> str:
    """A reference cell as terminal text (no reStructuredText literals or roles)."""
    return re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", cell).replace("``", "")


def _section_text(table: KeyTable) -> list[str]:
    lines = []
    for section, (cls, keys) in table.items():
        doc = _plain((inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")).removeprefix(f"[{section}]: ")
        lines += ["", f"[{section}]  {doc}"]
        for name, key in keys.items():
            rule = f"; {key.rule}" if key.rule else ""
            lines.append(f"  {name:24s} {_types(key)}, default {_plain(_default(cls, name))}{rule}")
    return lines


def _scenario_text() -> list[str]:
    lines = ["", "[nodes.NAME] variables: distribution = ..."]
    lines += [f"  {name:24s} keys: {', '.join(keys) or '-'}" for name, (keys, _) in DISTRIBUTIONS.items()]
    lines += ["", "[nodes.NAME] outcomes: outcome = ..."]
    lines += [
        f"  {name:24s} keys: {', '.join(req)}; optional: {', '.join(opt) or '-'}"
        for name, (req, opt, _) in OUTCOMES.items()
    ]
    lines += ["", "[[targets]] keys"]
    for name, key in TARGET_KEYS.items():
        rule = f"; {key.rule}" if key.rule else ""
        lines.append(f"  {name:24s} {_types(key)}{rule}{' - ' + _plain(key.doc) if key.doc else ''}")
    lines += ["", f"[[targets]] by statistic (every target takes {', '.join(COMMON_KEYS)})"]
    for stat, (extra, needed) in STATISTIC_KEYS.items():
        also = [k for k in extra if k not in needed]
        lines.append(f"  {stat:24s} needs: {', '.join(needed) or '-'}; also takes: {', '.join(also) or '-'}")
    return lines


def key_text(kind: str) -> str:
    """Every key of one file kind (:data:`FILE_KINDS`) as terminal text, from the same tables as
    the reference page: what ``predictor keys KIND`` prints."""
    if kind == "experiment":
        body = _section_text(CONSTRAINTS)
    elif kind == "study":
        body = _section_text(STUDY_CONSTRAINTS)
    elif kind == "scenario":
        body = _scenario_text()
    else:
        raise ValueError(f"file kind {kind!r} is not one of {FILE_KINDS}")
    article = "an" if kind[0] in "aeiou" else "a"
    return "\n".join([f"Every key of {article} {kind} file (an unknown key is an error):", *body]) + "\n"


def all_keys() -> Mapping[str, list[str]]:
    """Every key of the three file kinds, by file kind (what the reference must list)."""
    out: dict[str, Any] = {
        "experiment": [k for _, keys in CONSTRAINTS.values() for k in keys],
        "study": [k for _, keys in STUDY_CONSTRAINTS.values() for k in keys],
        "scenario": [
            *DISTRIBUTIONS,
            *OUTCOMES,
            *(k for keys, _ in DISTRIBUTIONS.values() for k in keys),
            *(k for req, opt, _ in OUTCOMES.values() for k in (*req, *opt)),
            *TARGET_KEYS,
        ],
    }
    return out

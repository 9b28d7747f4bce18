"""One parser for the key tables of every file the package reads: experiment, study and scenario files.

A file kind declares, per table, a :class:`Key` for each key it takes: the TOML types it accepts,
the rule it must meet, how its value is stored, and a line saying what it is for. The same tables
check a file and write the key reference (``predictor keys``, the documentation), so the two
cannot drift. Problems are collected, not raised at the first: a file with five mistakes gets
five messages, each naming the file, the table, the key and the rule (:class:`Problems`).

It lives in :mod:`features`, the contract that both :mod:`synthetic` (scenario files) and
:mod:`predictor` (experiment and study files) speak.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any

__all__ = ["Key", "KeyTable", "Problems", "check_keys", "parse_section", "stored", "number"]


@dataclass(frozen=True)
class Key:
    """What one key accepts.

    Attributes
    ----------
    types : type or tuple of type
        The TOML types it takes (an integer is taken where ``float`` is asked; ``True`` is never
        an integer).
    check : callable, optional
        A rule on the value; ``rule`` says it in words.
    convert : callable, optional
        How the value is stored (default :func:`stored`).
    doc : str
        What the key is for, one line of the key reference.
    """

    types: type | tuple[type, ...]
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    convert: Callable[[Any], Any] | None = None
    doc: str = ""


#: A file kind's sections: section name -> (its dataclass, {key: Key}).
KeyTable = Mapping[str, tuple[type, Mapping[str, Key]]]


def stored(value: Any) -> Any:
    """A TOML value as a frozen section keeps it: lists as tuples (hashable, immutable), tables of
    lists as tables of tuples; anything else as it is."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    return value


def number(value: Any) -> bool:
    """Whether a TOML value is a number (an integer or a float, not ``true``/``false``)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Problems:
    """Every problem found in one file, each naming the file, the key and the rule.

    Parameters
    ----------
    where : str
        The file, as messages name it.
    error : type
        The exception :meth:`raise_any` raises (the file kind's own).
    """

    def __init__(self, where: str, error: type[Exception] = ValueError) -> None:
        self.where = where
        self.error = error
        self.messages: list[str] = []

    def add(self, key: str, rule: str) -> None:
        """Record that ``key`` breaks ``rule``."""
        self.messages.append(f"{self.where} {key}: {rule}")

    def take(self, exc: Exception) -> None:
        """Record a problem raised as an error (its message already names file and key)."""
        self.messages.append(str(exc))

    def raise_any(self) -> None:
        """Raise one error listing every problem, if there is any."""
        if len(self.messages) == 1:
            raise self.error(self.messages[0])
        if self.messages:
            listed = "\n".join(f"  - {m}" for m in self.messages)
            raise self.error(f"{self.where}: {len(self.messages)} problems\n{listed}")


def _has_type(value: Any, types: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in (types if isinstance(types, tuple) else (types,))
    return isinstance(value, types)


def check_keys(
    key: str,
    body: Mapping[str, Any],
    keys: Mapping[str, Key],
    problems: Problems,
    *,
    takes: Sequence[str] | None = None,
    taker: str = "it",
    hints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The stored value of every good key of ``body``; each bad one is a problem of ``problems``.

    Parameters
    ----------
    key : str
        The table, as messages name it (``"[search]"``, ``"target 'B2.bone'"``).
    keys : mapping
        Every key the file kind knows here.
    takes : sequence of str, optional
        The keys this table takes, where that is fewer than ``keys`` (a target's statistic uses
        some keys only): another known key is a problem, never silently dropped.
    taker : str
        What takes them, as the message of such a key names it (``"statistic 'rate'"``).
    hints : mapping, optional
        A hint added to the message of an unknown key, by key name.
    """
    allowed = list(keys) if takes is None else list(takes)
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name not in allowed:
            hint = (hints or {}).get(name, "")
            what = f"unknown key '{name}'" if name not in keys else f"{taker} does not use '{name}'"
            problems.add(key, f"{what}; {taker} takes: {', '.join(allowed)}{hint}")
            continue
        spec = keys[name]
        if spec.types is float and number(value):
            value = float(value)
        if not _has_type(value, spec.types):
            problems.add(key, f"'{name}' has the wrong type ({type(value).__name__})")
        elif spec.check is not None and not spec.check(value):
            problems.add(key, f"'{name}' {spec.rule}")
        else:
            values[name] = (spec.convert or stored)(value)
    return values


def parse_section(
    problems: Problems,
    name: str,
    body: Any,
    table: KeyTable,
    *,
    hints: Mapping[str, str] | None = None,
) -> Any:
    """The section ``name``'s dataclass from its TOML table ``body``, every key checked against
    ``table``; ``None`` when it has a problem (each one recorded in ``problems``: a section that
    is not a table, an unknown key, a wrong type, a broken rule, a missing required key)."""
    cls, keys = table[name]
    if not isinstance(body, dict):
        problems.add(f"[{name}]", "must be a table")
        return None
    before = len(problems.messages)
    section_hints = {k.split(".", 1)[1]: v for k, v in (hints or {}).items() if k.startswith(f"{name}.")}
    values = check_keys(f"[{name}]", body, keys, problems, hints=section_hints)
    for f in fields(cls):
        if f.name not in body and f.default is MISSING and f.default_factory is MISSING:
            problems.add(f"[{name}]", f"'{f.name}' is required")
    return cls(**values) if len(problems.messages) == before else None

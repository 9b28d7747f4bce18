"""One parser for every key table of the package's TOML files (experiment and study files).

A file kind declares, per section, the frozen dataclass it becomes and a :class:`Key` per key
(what TOML types it accepts, the rule it must meet, how its value is stored). Defaults live on
the dataclass fields, once. :func:`parse_section` checks one section against its table and names
the file, the section, the key and the rule on any error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from predictor.errors import ExperimentError, PredictorError

__all__ = ["Key", "KeyTable", "stored", "parse_section"]


@dataclass(frozen=True)
class Key:
    """What one key accepts: TOML ``types``, a ``check`` with the ``rule`` it enforces, and how
    the value is stored (``convert``; default :func:`stored`)."""

    types: type | tuple[type, ...]
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    convert: Callable[[Any], Any] | None = None


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


def parse_section(
    where: str,
    name: str,
    body: Any,
    table: KeyTable,
    error: type[PredictorError] = ExperimentError,
    hints: Mapping[str, str] | None = None,
) -> Any:
    """The section ``name``'s dataclass from its TOML table ``body``, every key checked against
    ``table``.

    Parameters
    ----------
    where : str
        The file, as messages name it.
    error : type
        The exception raised (the file kind's own).
    hints : mapping, optional
        A hint added to the message of an unknown key (``{"cohort.outcomes": "..."}``).

    Raises
    ------
    error
        A section that is not a table, an unknown key, a wrong type, a broken rule, a missing
        required key: the message names ``where``, the section, the key and the rule.
    """
    cls, keys = table[name]
    if not isinstance(body, dict):
        raise error(f"{where}: [{name}] must be a table")
    values = {}
    for key, value in body.items():
        if key not in keys:
            hint = (hints or {}).get(f"{name}.{key}", "")
            raise error(f"{where} [{name}]: unknown key '{key}'; known: {', '.join(keys)}{hint}")
        spec = keys[key]
        if spec.types is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and spec.types is int or not isinstance(value, spec.types):
            raise error(f"{where} [{name}]: '{key}' has the wrong type ({type(value).__name__})")
        if spec.check is not None and not spec.check(value):
            raise error(f"{where} [{name}]: '{key}' {spec.rule}")
        values[key] = (spec.convert or stored)(value)
    missing = [
        f.name for f in fields(cls) if f.name not in values and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise error(f"{where} [{name}]: '{missing[0]}' is required")
    return cls(**values)

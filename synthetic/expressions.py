"""One small, safe expression language for scenario files: variables and targets alike.

A scenario file is data that people share, so opening one must never run code. ``eval``,
``DataFrame.eval`` and ``DataFrame.query`` all reach Python objects (``x.to_csv('/tmp/f')``
writes a file), so expressions are compiled here instead, from Python's :mod:`ast` through an
allow-list, into a tree of NumPy calls. No maintained library offers such an allow-list over
NumPy arrays (``numexpr`` has no categorical levels, table look-ups or normal CDF), hence this
module.

The language
------------
- numbers (``1``, ``0.5``, ``1e-3``), ``True`` and ``False``;
- names: columns, variables and scalar parameters;
- arithmetic ``+ - * / **`` (a constant exponent is at most 64 in size), comparisons
  ``< <= > >= == !=`` (chains such as ``50 <= x < 85`` included), and ``& | ~`` on
  True/False values;
- ``x in ['a', 'b']`` and ``x not in [...]`` for a categorical ``x`` and a list of its levels;
- a category level in quotes, compared with a categorical name (``bone_agent == 'rankl_inhibitor'``)
  or used as a table key (``tmb_median['NSCLC']``);
- a parameter table keyed by an index factor, looked up per patient (``resp_per_log2_cd38[arm]``);
- the functions in :data:`FUNCTIONS`.

Nothing else: no attribute access, no other calls, no keywords, no lambdas, comprehensions,
``if``/``else``, ``and``/``or``/``not`` (use ``where``, ``&``, ``|``, ``~``), and no name that
starts with an underscore. Every refusal is a :class:`~synthetic.errors.ScenarioError` naming
where the expression came from and the column of the offending part.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri

from .errors import ScenarioError

__all__ = [
    "FUNCTIONS",
    "Symbol",
    "Expression",
    "compile_expression",
    "frame_symbols",
    "frame_values",
    "evaluate_on_frame",
]

#: The functions an expression may call: name -> (NumPy function, number of arguments).
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "log": (np.log, 1),
    "log2": (np.log2, 1),
    "log10": (np.log10, 1),
    "exp": (np.exp, 1),
    "sqrt": (np.sqrt, 1),
    "abs": (np.abs, 1),
    "floor": (np.floor, 1),
    "ceil": (np.ceil, 1),
    "rint": (np.rint, 1),
    "expit": (expit, 1),
    "logit": (logit, 1),
    "normal_cdf": (ndtr, 1),
    "probit": (ndtri, 1),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
    "round": (np.round, 2),
    "where": (np.where, 3),
    "clip": (np.clip, 3),
}

#: Longest expression text, most syntax nodes, and largest constant exponent accepted.
MAX_LENGTH = 2000
MAX_NODES = 400
MAX_EXPONENT = 64.0

_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: np.power,
}
_LOGICAL: dict[type, Callable[[Any, Any], Any]] = {ast.BitAnd: np.logical_and, ast.BitOr: np.logical_or}
_COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_HINTS: dict[type, str] = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.IfExp: "'a if c else b' is not allowed; use where(c, a, b)",
    ast.BoolOp: "'and' / 'or' are not allowed; use & and | between comparisons in brackets",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
}


#: A compiled piece of an expression: the values by name in, a number or an array out.
_Fn = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Symbol:
    """What a name stands for in an expression.

    ``kind`` is ``"value"`` (numbers or True/False, per patient or one for all), ``"factor"``
    (a categorical: integer codes per patient, with its ``levels``) or ``"table"`` (a parameter
    keyed by the ``levels`` of an index factor; used as ``table[factor]`` or ``table['level']``).
    """

    kind: str
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expression:
    """A compiled expression: evaluate it with :meth:`evaluate`.

    Attributes
    ----------
    text : str
        The source text.
    names : frozenset of str
        Every name it reads (its dependencies).
    """

    text: str
    names: frozenset[str]
    _fn: Callable[[Mapping[str, Any]], Any] = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value, given ``{name: value}`` for every name in :attr:`names`.

        A ``"value"`` symbol is a number or an array, a ``"factor"`` an array of integer codes
        into its levels, a ``"table"`` a mapping from level to number.
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self._fn(values)


@dataclass(frozen=True)
class _Node:
    fn: Callable[[Mapping[str, Any]], Any]
    kind: str  # "value", "level" (a quoted category level) or "factor"
    levels: tuple[str, ...] = ()
    constant: Any = None  # the number, for a numeric constant
    text: str = ""  # the level, for a quoted level


def compile_expression(text: Any, symbols: Mapping[str, Symbol], *, where: str) -> Expression:
    """Compile ``text`` against the names in ``symbols``.

    Parameters
    ----------
    text : str
        The expression, as the file spells it.
    symbols : mapping
        Every name the expression may use, with what it stands for.
    where : str
        The file and key the expression comes from, to start error messages.

    Raises
    ------
    ScenarioError
        Anything outside the language, or an unknown name (with the nearest known name).
    """
    if isinstance(text, (bool, int, float)):  # a number in the file: no parsing needed
        value = text if isinstance(text, bool) else float(text)
        return Expression(text=repr(text), names=frozenset(), _fn=_constant(value))
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: an expression must be a string or a number, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ScenarioError(f"{where}: the expression is {len(text)} characters long; at most {MAX_LENGTH}")
    text = " ".join(text.split())  # one line: a long expression may span lines in the file
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:
        col = getattr(exc, "offset", None)
        at = f" at column {col}" if col else ""
        raise ScenarioError(f"{where}: {text!r} is not a valid expression{at}: {getattr(exc, 'msg', exc)}") from None
    except (RecursionError, MemoryError):
        raise ScenarioError(f"{where}: the expression is nested too deeply") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ScenarioError(f"{where}: the expression has {count} parts; at most {MAX_NODES}")
    compiler = _Compiler(text, symbols, where)
    node = compiler.compile(tree.body)
    if node.kind == "level":
        raise compiler.error(tree.body, "a category level on its own is not a value")
    if node.kind == "factor":
        raise compiler.error(tree.body, "a categorical on its own is not a value; compare it with a level")
    return Expression(text=text, names=frozenset(compiler.names), _fn=node.fn)


class _Compiler:
    """Walks the syntax tree, allowing only the language's nodes."""

    def __init__(self, text: str, symbols: Mapping[str, Symbol], where: str) -> None:
        self.text, self.symbols, self.where = text, symbols, where
        self.names: set[str] = set()

    def error(self, node: ast.AST, rule: str) -> ScenarioError:
        col = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None) or col + 1
        part = self.text[col:end]
        return ScenarioError(f"{self.where}: {rule} (column {col + 1}: {part!r} in {self.text!r})")

    def compile(self, node: ast.AST) -> _Node:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            rule = _HINTS.get(type(node), f"{type(node).__name__.lower()} is not part of the expression language")
            raise self.error(node, rule)
        result: _Node = method(node)
        return result

    def value(self, node: ast.AST) -> _Node:
        """A sub-expression that must be a number or True/False."""
        out = self.compile(node)
        if out.kind == "level":
            raise self.error(node, "a string where a number belongs (quoted text is only a category level)")
        if out.kind == "factor":
            raise self.error(node, "a categorical where a number belongs; compare it with one of its levels")
        return out

    # -- leaves -------------------------------------------------------------------------------
    def _Constant(self, node: ast.Constant) -> _Node:
        v = node.value
        if isinstance(v, str):
            return _Node(fn=_constant(v), kind="level", text=v)
        if isinstance(v, bool):
            return _Node(fn=_constant(v), kind="value", constant=v)
        if isinstance(v, (int, float)):
            return _Node(fn=_constant(float(v)), kind="value", constant=float(v))
        raise self.error(node, f"a {type(v).__name__} constant is not allowed")

    def _Name(self, node: ast.Name) -> _Node:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, "names starting with '_' are not allowed")
        if name in ("True", "False"):  # pragma: no cover - parsed as constants
            return self._Constant(ast.Constant(value=name == "True"))
        if name not in self.symbols:
            if name in FUNCTIONS:
                raise self.error(node, f"'{name}' is a function; call it as {name}(...)")
            near = difflib.get_close_matches(name, list(self.symbols), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise self.error(node, f"unknown name '{name}'{hint}")
        symbol = self.symbols[name]
        if symbol.kind == "table":
            raise self.error(node, f"'{name}' is a table keyed by {list(symbol.levels)}; look it up as {name}[factor]")
        self.names.add(name)
        kind = "factor" if symbol.kind == "factor" else "value"
        return _Node(fn=operator.itemgetter(name), kind=kind, levels=symbol.levels)

    # -- operators ----------------------------------------------------------------------------
    def _BinOp(self, node: ast.BinOp) -> _Node:
        op = type(node.op)
        if op not in _ARITHMETIC and op not in _LOGICAL:
            raise self.error(node, f"operator {type(node.op).__name__} is not allowed; use + - * / ** & |")
        left, right = self.value(node.left), self.value(node.right)
        c = right.constant
        if op is ast.Pow and c is not None and not isinstance(c, bool) and abs(c) > MAX_EXPONENT:
            raise self.error(node, f"the exponent {c:g} is too large (at most {MAX_EXPONENT:g})")
        fn = _ARITHMETIC.get(op) or _LOGICAL[op]
        lf, rf = left.fn, right.fn
        # Constants fold, so that an exponent built of constants (2 ** 10 ** 9) is checked too.
        folded = _fold(fn, left.constant, c) if op in _ARITHMETIC else None
        return _Node(fn=lambda env: fn(lf(env), rf(env)), kind="value", constant=folded)

    def _UnaryOp(self, node: ast.UnaryOp) -> _Node:
        operand = self.value(node.operand)
        f = operand.fn
        if isinstance(node.op, ast.USub):
            c = None if operand.constant is None else -operand.constant
            return _Node(fn=lambda env: -f(env), kind="value", constant=c)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Invert):
            return _Node(fn=lambda env: np.logical_not(f(env)), kind="value")
        raise self.error(node, "'not' is not allowed; use ~ before a comparison in brackets")

    def _Compare(self, node: ast.Compare) -> _Node:
        parts = [node.left, *node.comparators]
        for part in parts:
            if isinstance(part, ast.BinOp) and isinstance(part.op, (ast.BitAnd, ast.BitOr)):
                # Python's & and | bind before comparisons: a == 'x' & b >= 10 reads a == ('x' & b) >= 10
                raise self.error(
                    node, "& and | bind before comparisons: put each comparison in brackets, (a == 'x') & (b >= 10)"
                )
        pairs = []
        for op, a, b in zip(node.ops, parts, parts[1:], strict=False):
            if isinstance(op, (ast.In, ast.NotIn)):
                pairs.append(self._membership(node, op, a, b))
                continue
            if type(op) not in _COMPARISONS:
                raise self.error(node, f"{type(op).__name__} is not allowed; compare with < <= > >= == != in")
            pairs.append(self._pair(node, op, a, b))
        if len(pairs) == 1:
            return _Node(fn=pairs[0], kind="value")
        return _Node(fn=lambda env: np.logical_and.reduce([p(env) for p in pairs]), kind="value")

    def _pair(self, node: ast.AST, op: ast.cmpop, a: ast.AST, b: ast.AST) -> _Fn:
        left, right = self.compile(a), self.compile(b)
        if "factor" in (left.kind, right.kind) or "level" in (left.kind, right.kind):
            return self._level_test(node, op, left, right)
        cmp = _COMPARISONS[type(op)]
        lf, rf = left.fn, right.fn
        return lambda env: cmp(lf(env), rf(env))

    def _level_test(self, node: ast.AST, op: ast.cmpop, left: _Node, right: _Node) -> _Fn:
        """``factor == 'level'`` (or ``!=``), compiled to a comparison of integer codes."""
        factor, level = (left, right) if left.kind == "factor" else (right, left)
        if factor.kind != "factor" or level.kind != "level":
            raise self.error(node, "a category level in quotes can only be compared with a categorical")
        if not isinstance(op, (ast.Eq, ast.NotEq)):
            raise self.error(node, "a categorical can only be compared with == or !=")
        if level.text not in factor.levels:
            raise self.error(node, f"'{level.text}' is not a level; the levels are {list(factor.levels)}")
        code = factor.levels.index(level.text)
        cmp = _COMPARISONS[type(op)]
        f = factor.fn
        return lambda env: cmp(f(env), code)

    def _membership(self, node: ast.AST, op: ast.cmpop, a: ast.AST, b: ast.AST) -> _Fn:
        """``factor in ['level', ...]`` (or ``not in``), compiled to a test of integer codes."""
        factor = self.compile(a)
        if factor.kind != "factor" or not isinstance(b, (ast.List, ast.Tuple)):
            raise self.error(node, "'in' tests a categorical against a list of its levels: x in ['a', 'b']")
        levels = [self.compile(e) for e in b.elts]
        for e, lv in zip(b.elts, levels, strict=True):
            if lv.kind != "level":
                raise self.error(e, "'in' takes a list of category levels in quotes")
            if lv.text not in factor.levels:
                raise self.error(e, f"'{lv.text}' is not a level; the levels are {list(factor.levels)}")
        codes = [factor.levels.index(lv.text) for lv in levels]
        negate = isinstance(op, ast.NotIn)
        f = factor.fn
        return lambda env: np.isin(f(env), codes, invert=negate)

    # -- calls and look-ups -------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> _Node:
        if isinstance(node.func, ast.Attribute):
            raise self.error(node.func, _HINTS[ast.Attribute])
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise self.error(node, f"'{name}' is not a function of the language; known: {', '.join(FUNCTIONS)}")
        fn, arity = FUNCTIONS[node.func.id]
        if node.keywords:
            raise self.error(node, f"{node.func.id}() takes no keyword arguments")
        if len(node.args) != arity:
            raise self.error(node, f"{node.func.id}() takes {arity} argument(s), got {len(node.args)}")
        args = [self.value(a) for a in node.args]
        if node.func.id == "round" and (args[1].constant is None or float(args[1].constant) != int(args[1].constant)):
            raise self.error(node, "round(x, digits) needs a whole number of digits")
        if node.func.id == "round":
            digits, f = int(args[1].constant), args[0].fn
            return _Node(fn=lambda env: np.round(f(env), digits), kind="value")
        fns = [a.fn for a in args]
        return _Node(fn=lambda env: fn(*(g(env) for g in fns)), kind="value")

    def _Subscript(self, node: ast.Subscript) -> _Node:
        if not isinstance(node.value, ast.Name) or node.value.id not in self.symbols:
            if isinstance(node.value, ast.Name):
                self._Name(node.value)  # unknown name: the nearest-name message
            raise self.error(node, "only a parameter table can be indexed: table[factor] or table['level']")
        table, symbol = node.value.id, self.symbols[node.value.id]
        if symbol.kind != "table":
            raise self.error(node, f"'{table}' is not a table; only a parameter table can be indexed")
        key = self.compile(node.slice)
        levels = symbol.levels
        self.names.add(table)
        if key.kind == "level":
            if key.text not in levels:
                raise self.error(node, f"'{key.text}' is not a key of '{table}'; its keys are {list(levels)}")
            level = key.text
            return _Node(fn=lambda env: float(env[table][level]), kind="value")
        if key.kind != "factor":
            raise self.error(node, f"'{table}' must be indexed by a categorical or a quoted level")
        if set(key.levels) != set(levels):
            missing = sorted(set(key.levels) - set(levels))
            extra = sorted(set(levels) - set(key.levels))
            raise self.error(
                node, f"'{table}' must have one key per level of the categorical: missing {missing}, unknown {extra}"
            )
        kf, order = key.fn, key.levels

        def look_up(env: Mapping[str, Any]) -> Any:
            tab = env[table]
            return np.array([float(tab[lv]) for lv in order])[kf(env)]

        return _Node(fn=look_up, kind="value")


def _fold(fn: Callable[[Any, Any], Any], a: Any, b: Any) -> float | None:
    """``fn(a, b)`` of two numeric constants, if finite (else None: not a constant to check)."""
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return None
    if fn is np.power and abs(b) > MAX_EXPONENT:
        return float("inf")  # never computed: the exponent check above refuses it one level up
    with np.errstate(all="ignore"):
        try:
            value = float(fn(float(a), float(b)))
        except (OverflowError, ZeroDivisionError):
            return None
    return value if math.isfinite(value) else float("inf")


def _constant(value: Any) -> _Fn:
    return lambda env: value


def frame_symbols(frame: pd.DataFrame, names: Iterable[str] | None = None) -> dict[str, Symbol]:
    """The columns of ``frame`` as symbols: a categorical column is a factor, the rest values."""
    out = {}
    for name in frame.columns if names is None else names:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[str(name)] = Symbol("factor", tuple(str(c) for c in col.cat.categories))
        elif col.dtype == object:
            out[str(name)] = Symbol("factor", tuple(sorted(map(str, col.dropna().unique()))))
        else:
            out[str(name)] = Symbol("value")
    return out


def frame_values(frame: pd.DataFrame, names: Iterable[str], symbols: Mapping[str, Symbol]) -> dict[str, Any]:
    """The columns ``names`` of ``frame`` as an expression reads them (factors as integer codes)."""
    out: dict[str, Any] = {}
    for name in names:
        col = frame[name]
        if symbols[name].kind != "factor":
            out[name] = col.to_numpy()
        elif isinstance(col.dtype, pd.CategoricalDtype):
            out[name] = col.cat.codes.to_numpy()
        else:
            out[name] = pd.Categorical(col.astype(str), categories=symbols[name].levels).codes
    return out


def evaluate_on_frame(text: str, frame: pd.DataFrame, *, where: str) -> np.ndarray:
    """Compile ``text`` over the columns of ``frame`` and evaluate it: one value per row.

    Raises
    ------
    ScenarioError
        The expression is outside the language, or does not give one value per row.
    """
    symbols = frame_symbols(frame)
    expr = compile_expression(text, symbols, where=where)
    out = np.asarray(expr.evaluate(frame_values(frame, expr.names, symbols)))
    if out.ndim == 0:
        out = np.full(len(frame), out[()])
    if out.shape != (len(frame),):
        raise ScenarioError(f"{where}: {text!r} does not give one value per patient")
    return out

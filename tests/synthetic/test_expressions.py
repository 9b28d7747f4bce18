"""The scenario expression language: what it computes, and what it refuses.

A scenario file is shared like any document, so each hostile expression below must give one
:class:`ScenarioError` naming the file, the key and the column, and must neither write a file
nor run code.
"""

import builtins
import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, ndtr

from synthetic import ScenarioError, load_scenario
from synthetic.expressions import Symbol, compile_expression, evaluate_on_frame

SYMBOLS = {
    "x": Symbol("value"),
    "y": Symbol("value"),
    "flag": Symbol("value"),
    "arm": Symbol("factor", ("a", "b", "c")),
    "slope": Symbol("table", ("a", "b", "c")),
}
X = np.array([0.5, 1.0, 2.0, 4.0])
VALUES = {
    "x": X,
    "y": np.array([1.0, -1.0, 3.0, 0.0]),
    "flag": np.array([True, False, True, False]),
    "arm": np.array([0, 1, 2, 1], dtype=np.int8),
    "slope": {"a": 1.0, "b": 10.0, "c": 100.0},
}


def ev(text):
    return compile_expression(text, SYMBOLS, where="test").evaluate(VALUES)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2 * x - x / 4", 1 + 2 * X - X / 4),
        ("x ** 2", X**2),
        ("-x", -X),
        ("log2(x) + log(x) + exp(x) + sqrt(x)", np.log2(X) + np.log(X) + np.exp(X) + np.sqrt(X)),
        ("expit(x) + logit(x / 5)", expit(X) + np.log(X / 5 / (1 - X / 5))),
        ("normal_cdf(x)", ndtr(X)),
        ("where(x > 1, x, 0)", np.where(X > 1, X, 0)),
        ("clip(x, 1, 2)", np.clip(X, 1, 2)),
        ("round(x / 3, 2)", np.round(X / 3, 2)),
        ("maximum(x, y) + minimum(x, y)", np.maximum(X, VALUES["y"]) + np.minimum(X, VALUES["y"])),
        ("slope[arm] * x", np.array([1.0, 10.0, 100.0, 10.0]) * X),
        ("slope['b']", 10.0),
        ("1 < x <= 2", (X > 1) & (X <= 2)),
        ("(x > 1) & ~flag", (X > 1) & ~VALUES["flag"]),
        ("(x > 3) | flag", (X > 3) | VALUES["flag"]),
        ("arm == 'b'", np.array([False, True, False, True])),
        ("arm != 'b'", np.array([True, False, True, False])),
        ("arm in ['a', 'c']", np.array([True, False, True, False])),
        ("arm not in ['a']", np.array([False, True, True, True])),
        ("1e-3 * x", 1e-3 * X),
    ],
)
def test_the_language_computes_what_numpy_does(text, expected):
    np.testing.assert_allclose(np.asarray(ev(text), dtype=float), np.asarray(expected, dtype=float), rtol=1e-15)


def test_an_expression_lists_the_names_it_reads():
    expr = compile_expression("slope[arm] * log(x) + (arm == 'a')", SYMBOLS, where="t")
    assert expr.names == {"slope", "arm", "x"}


def test_evaluate_on_frame_reads_categorical_columns_as_levels():
    frame = pd.DataFrame({"agent": pd.Categorical(["none", "rankl", "none"]), "opn": [10.0, 90.0, 60.0]})
    out = evaluate_on_frame("(agent == 'none') & (opn > 50)", frame, where="t")
    assert out.tolist() == [False, False, True]


# Each hostile expression, the rule its message must state, and the column it points at.
HOSTILE = [
    ("opn_ng_ml.to_csv('{sentinel}')", "attribute access", 1),
    ("__import__('os').system('touch {sentinel}')", "attribute access", 1),
    ("__builtins__ == 1", "names starting with '_'", 1),
    ("opn_ng_ml.__class__", "attribute access", 1),
    ("(lambda: open('{sentinel}', 'w'))()", "not a function of the language", 1),
    ("[open('{sentinel}', 'w') for i in [1]]", "comprehensions are not allowed", 1),
    ("open('{sentinel}', 'w')", "'open' is not a function of the language", 1),
    ("exec('import os')", "'exec' is not a function of the language", 1),
    ("opn_ng_ml > 10 ** 100000", "exponent 100000 is too large", 13),
    ("opn_ng_ml > 'high'", "a category level in quotes can only be compared with a categorical", 1),
    ("log(opn_ng_ml, 'x') > 1", r"log\(\) takes 1 argument", 1),
    ("opn_ng_ml > 50 and bone_metastasis", "'and' / 'or' are not allowed", 1),
    ("opn_ng_ml if bone_metastasis else 0", "use where", 1),
    ("(x := 3) > 1", "':=' is not allowed", 2),
    ("bone_agent == 'ranklinhibitor'", "is not a level", 1),
    ("opn_ngml > 50", "did you mean 'opn_ng_ml'", 1),
    ("f'{{opn_ng_ml}}' == 'a'", "f-strings are not allowed", 1),
    ("import os", "not a valid expression", 1),
    ("log(x=opn_ng_ml) > 1", "takes no keyword arguments", 1),
    ("bone_agent == 'none' & opn_ng_ml >= 10", "put each comparison in brackets", 1),
    ("opn_ng_ml > 85 | opn_ng_ml < 5", "put each comparison in brackets", 1),
]


@pytest.mark.parametrize("text, rule, column", HOSTILE, ids=[h[0][:30] for h in HOSTILE])
def test_a_hostile_expression_is_refused_when_the_file_loads(tmp_path, monkeypatch, scenario_text, text, rule, column):
    sentinel = tmp_path / "written_by_the_scenario"
    expression = text.format(sentinel=sentinel)
    changed = scenario_text.replace(
        'where = "bone_metastasis & (opn_ng_ml > 85)"', f"where = {_toml_string(expression)}", 1
    )
    assert changed != scenario_text
    path = tmp_path / "hostile.toml"
    path.write_text(changed, encoding="utf-8")
    calls = []
    real_open = builtins.open

    def spy_open(file, *args, **kwargs):
        calls.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and "target 'B8.high' where" in message
    assert re.search(rule, message), message
    if "column" not in rule and "valid expression" not in rule:
        assert f"column {column}:" in message, message
    assert not sentinel.exists()
    assert str(sentinel) not in map(str, calls)


def test_unknown_table_key_and_wrong_factor_are_refused():
    with pytest.raises(ScenarioError, match="'d' is not a key of 'slope'"):
        ev("slope['d']")
    with pytest.raises(ScenarioError, match="look it up as slope"):
        ev("slope * x")
    with pytest.raises(ScenarioError, match="only a parameter table can be indexed"):
        ev("x[arm]")
    with pytest.raises(ScenarioError, match="categorical on its own"):
        ev("arm")


def test_an_overlong_or_deeply_nested_expression_is_refused():
    with pytest.raises(ScenarioError, match="characters long"):
        ev("x + " * 1000 + "x")
    with pytest.raises(ScenarioError, match="parts|nested"):
        ev("(" * 120 + "x" + ")" * 120 + " + x" * 300)


def _toml_string(text: str) -> str:
    return "'''" + text + "'''" if '"' in text else '"' + text.replace("\\", "\\\\") + '"'

"""Identifiability by rank: free parameters that the targets move only together are named, as
well as those no target moves at all."""

import re

import pandas as pd
import tomllib
from test_declared import RECOVERY  # tests/synthetic is on the path (pytest prepends a test file's folder)

from synthetic.identifiability import MOVES, identifiability, null_directions
from synthetic.scenario import parse_scenario

FREE = """
[parameters.b0]
kind = "free"
id = "T"
value = -0.5
bounds = [-3.0, 3.0]
reason = "intercept"

[parameters.b1]
kind = "free"
id = "T"
value = 0.3
bounds = [-3.0, 3.0]
reason = "the group's log odds"

[parameters.b2]
kind = "free"
id = "T"
value = 0.2
bounds = [-3.0, 3.0]
reason = "x's log odds"
"""


def _scenario(targets: list[dict]):
    raw = tomllib.loads(RECOVERY + FREE)
    raw["nodes"]["responder"]["linear_predictor"] = "b0 + b1 * group + b2 * x + 0 * b_x['binary'] * b_g"
    raw["targets"] = targets
    return parse_scenario(raw, "rank.toml")


RATE = {"label": "rate", "statistic": "rate", "column": "responder", "tolerance": 0.005}


def test_three_free_parameters_against_two_rates_are_named_together():
    """Each rate moves with all three parameters, so no parameter alone is unmoved: the old
    per-parameter check passed this file. The rank (2 of 3) does not."""
    scenario = _scenario([{**RATE, "id": "all", "value": 0.4}, {**RATE, "id": "grp", "value": 0.45, "where": "group"}])
    found = identifiability(scenario, n=20_000)
    assert (found.sensitivity.abs() >= MOVES).all().all()  # every parameter moves every target
    [line] = found.problems
    assert "the targets identify only 2 combination(s) of the 3 free parameters" in line
    assert "b0" in line and "b1" in line and "b2" in line  # x's coefficient, traded against the other two


def test_as_many_separating_targets_as_parameters_are_identified():
    targets = [
        {**RATE, "id": "all", "value": 0.4},
        {**RATE, "id": "grp", "value": 0.45, "where": "group"},
        {**RATE, "id": "high_x", "value": 0.5, "where": "x > 1"},
    ]
    assert identifiability(_scenario(targets), n=20_000).problems == ()


def test_a_direction_of_parameters_no_target_moves_is_left_to_their_own_line():
    table = pd.DataFrame({"a": [3.0, 0.0], "b": [0.0, 2.0], "c": [0.0, 0.0]}, index=["t1", "t2"])
    assert null_directions(table) == []  # c: "no target moves it" says so
    table["d"] = table["a"]  # a and d move the targets only together
    [line] = null_directions(table)
    assert line.startswith("free parameters a, d:")
    assert re.search(r"\(-? ?1\.00 a [+-] 1\.00 d,", line), line  # c has no share in the direction

"""A scenario that would make a wrong cohort silently is refused when it loads, naming the key."""

import math

import pytest
import tomllib
from test_declared import RECOVERY  # tests/synthetic is on the path (pytest prepends a test file's folder)

from synthetic import ScenarioError
from synthetic.scenario import parse_scenario


def _with(edit) -> None:
    raw = tomllib.loads(RECOVERY)
    edit(raw)
    parse_scenario(raw, "planted.toml")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["parameters"]["b_g"].update(value=math.inf), r"\[parameters.b_g\]: value holds inf"),
        (lambda r: r["parameters"]["b_x"]["value"].update(pfs=math.nan), r"value holds nan"),
        (lambda r: r["nodes"]["x"].update(mean="2 ** 10 ** 9"), "the exponent 1e\\+09 is too large"),
        (lambda r: r.update(truth={"patient_id": "x * 2"}), "'patient_id' is the cohort's own id column"),
        (
            lambda r: (
                r["nodes"].update(marker={"distribution": "normal", "mean": "responder", "sd": 1}),
                r["columns"].update(marker={"dtype": "float", "role": "feature"}),
            ),
            r"\[nodes.marker\]: a model input drawn from an outcome \(a leak\): marker <- responder",
        ),
    ],
    ids=["inf parameter", "nan in a table", "folded exponent", "patient_id", "leak"],
)
def test_a_scenario_that_would_make_a_wrong_cohort_is_refused(edit, message):
    with pytest.raises(ScenarioError, match=message):
        _with(edit)


def test_shares_that_are_nan_are_refused():
    def edit(raw):
        raw["parameters"]["share"] = {"kind": "assumption", "id": "T", "value": [0.5, math.nan], "reason": "r"}
        raw["nodes"]["arm"] = {"distribution": "categorical", "probabilities": "share", "levels": ["a", "b"]}

    with pytest.raises(ScenarioError, match="value holds nan"):
        _with(edit)


def test_a_free_parameter_without_bounds_is_one_problem_without_follow_ons():
    """It also made every expression that reads it say "unknown name ... did you mean"."""
    from synthetic import load_scenario

    raw = tomllib.loads(load_scenario("keynote024_pdl1").path.read_text(encoding="utf-8"))
    del raw["parameters"]["resp_intercept"]["bounds"]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(raw, "kn.toml")
    assert (
        str(info.value)
        == "kn.toml [parameters.resp_intercept]: a free parameter needs 'bounds = [low, high]' with low < high"
    )

import re

import pytest

from synthetic import ScenarioError, available_scenarios, load_scenario
from synthetic.scenario import write_values


def test_shipped_scenarios_load():
    assert "icb_bone_opn" in available_scenarios()
    for name in available_scenarios():
        load_scenario(name)


def test_every_parameter_has_id_and_reason(icb_scenario):
    for p in icb_scenario.parameters.values():
        assert re.fullmatch(r"[BM]\d+", p.id), p.name
        assert len(p.reason) > 15, p.name
        if p.kind == "free":
            lo, hi = p.bounds
            assert lo <= p.value <= hi


def test_every_scenario1_figure_is_represented(icb_scenario):
    ids = {t.id.split(".")[0] for t in icb_scenario.targets}
    ids |= {p.id for p in icb_scenario.parameters.values()}
    assert {f"B{i}" for i in range(2, 13)} - ids <= {"B13"}  # B13 is mouse context
    assert {"B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9"} <= {t.id.split(".")[0] for t in icb_scenario.targets}


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.replace("[scenario]", "[scenarioo]"), r"section \[scenario\] is missing"),
        (lambda s: s.replace('kind = "free"\nid', 'kind = "freee"\nid', 1), "kind 'freee' is not one of"),
        (lambda s: s.replace("bounds = [0.1, 2.5]", "bounds = [2.5, 0.1]"), "needs 'bounds"),
        (lambda s: s.replace("[parameters.age_sd]", "[parameters.age_sdd]"), "needs parameter"),
        (lambda s: s.replace('statistic = "rate"', 'statistic = "mode"', 1), "statistic 'mode'"),
        (lambda s: s.replace('contrast = "difference"\n', ""), "need 'contrast'"),
        (lambda s: s.replace('dtype = "float"', 'dtype = "real"', 1), r"\[columns\].*dtype 'real'"),
        (lambda s: s.replace("NSCLC = 0.40,", "NSCLC = 0.60,"), "sum to 1"),
        (lambda s: s.replace("default_n = 927", "default_n = -3"), "default_n"),
        (lambda s: s + "\n[[targets]\n", "not valid TOML"),
        (lambda s: s.replace('model = "icb_bone_opn"', 'model = "nope"'), "unknown model 'nope'"),
    ],
)
def test_malformed_scenario_files(tmp_path, scenario_text, edit, message):
    changed = edit(scenario_text)
    assert changed != scenario_text
    path = _write(tmp_path, changed)
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert str(path) in str(info.value)


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'; available: .*icb_bone_opn"):
        load_scenario("nope")


def test_missing_file():
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_scenario("/no/such/file.toml")


def test_with_values_and_write_values(tmp_path, icb_scenario, scenario_text):
    changed = icb_scenario.with_values({"resp_sd": 7.5})
    assert changed.parameters["resp_sd"].value == 7.5
    assert icb_scenario.parameters["resp_sd"].value != 7.5
    with pytest.raises(ScenarioError, match="no parameter"):
        icb_scenario.with_values({"nope": 1})
    path = _write(tmp_path, scenario_text)
    write_values(path, {"resp_sd": 12.3456, "pfs_baseline_median": 21.5})
    again = load_scenario(path)
    assert again.parameters["resp_sd"].value == pytest.approx(12.3456)
    assert again.parameters["pfs_baseline_median"].value == pytest.approx(21.5)
    assert again.parameters["resp_intercept"].value == icb_scenario.parameters["resp_intercept"].value
    assert path.read_text().count("#") == scenario_text.count("#")  # comments kept


def test_at_least_targets_and_survival_at_parsing(tmp_path, myeloma_scenario):
    deep = next(t for t in myeloma_scenario.targets if t.id == "M5.deep")
    assert deep.within(0.95) and deep.within(0.80) and not deep.within(0.79)
    assert deep.tolerance_text == "at least"
    m4 = next(t for t in myeloma_scenario.targets if t.id == "M4")
    assert m4.statistic == "survival_at" and m4.time == 18.0
    text = myeloma_scenario.path.read_text(encoding="utf-8")
    for edit, message in (
        (lambda s: s.replace("time = 18.0\n", ""), "needs 'time'"),
        (
            lambda s: s.replace('tolerance_type = "at_least"', 'tolerance_type = "most"', 1),
            "tolerance_type must be one of",
        ),
        (lambda s: s.replace('column = "mrd_negative"', 'column = "mrd_negative"\ntime = 3', 1), "'time' belongs to"),
    ):
        changed = edit(text)
        assert changed != text
        path = _write(tmp_path, changed)
        with pytest.raises(ScenarioError, match=message):
            load_scenario(path)


def test_target_column_may_be_an_expression_but_must_make_sense(myeloma_scenario):
    from dataclasses import replace

    from synthetic import evaluate_targets, generate

    obs = generate(myeloma_scenario, 2000, seed=1).observed
    m7 = next(t for t in myeloma_scenario.targets if t.id == "M7")
    got = evaluate_targets(myeloma_scenario, obs, targets=[m7])["M7"]
    rr = obs.therapy_arm != "dara_krd"
    assert got == pytest.approx((obs.bcma_methylation_pct[rr] > 70).mean())
    with pytest.raises(ScenarioError, match="target 'M7' column: unknown name 'no_such_column'"):
        evaluate_targets(myeloma_scenario, obs, targets=[replace(m7, column="no_such_column > 70")])

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
        (lambda s: s.replace("[scenario]", "[scenarioo]"), r"\[scenario\]: the section is missing"),
        (lambda s: s.replace('kind = "free"\nid', 'kind = "freee"\nid', 1), "kind 'freee' is not one of"),
        (lambda s: s.replace("bounds = [0.1, 2.5]", "bounds = [2.5, 0.1]"), "needs 'bounds"),
        (
            lambda s: s.replace("[parameters.age_sd]", "[parameters.age_sdd]"),
            "unknown name 'age_sd'; did you mean 'age_sdd'",
        ),
        (lambda s: s.replace('statistic = "rate"', 'statistic = "mode"', 1), "statistic 'mode'"),
        (lambda s: s.replace('contrast = "difference"\n', ""), "need 'contrast'"),
        (lambda s: s.replace('dtype = "float"', 'dtype = "real"', 1), r"\[columns\].*dtype 'real'"),
        (lambda s: s.replace("NSCLC = 0.40,", "NSCLC = 0.60,"), "sum to 1"),
        (lambda s: s.replace("default_n = 927", "default_n = -3"), "default_n"),
        (lambda s: s + "\n[[targets]\n", "not valid TOML"),
        (
            lambda s: s.replace('distribution = "lognormal"', 'distribution = "lognorm"', 1),
            "distribution 'lognorm' is not one of",
        ),
        (lambda s: s.replace("clip = [18, 95]", "clip = [95, 18]"), r"\[nodes.age_years\] clip: low must be <= high"),
        (lambda s: s.replace('p = "male_share"', 'p = "male_share * 3"'), r"\[nodes.sex\] p: must be a probability"),
        (lambda s: s.replace('mean = "resp_lp"', 'mean = "resp_lp + best_pct_change"'), "reads its own value"),
        (lambda s: s.replace('p = "where(bone_agent_given,', 'p = "where(opn_ng_ml > 50,'), "in a cycle: .*opn_ng_ml"),
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
    with pytest.raises(ScenarioError, match="no such scenario file: /no/such/file.toml"):
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
            "'tolerance_type' must be one of",
        ),
        (
            lambda s: s.replace('column = "mrd_negative"', 'column = "mrd_negative"\ntime = 3', 1),
            "statistic 'rate' does not use 'time'",
        ),
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


def test_five_planted_mistakes_give_five_messages_in_one_run(tmp_path, scenario_text):
    changed = (
        scenario_text.replace('distribution = "lognormal"', 'distribution = "lognorm"', 1)
        .replace('p = "male_share"', 'p = "male_sharee"')
        .replace("NSCLC = 0.40,", "NSCLC = 0.60,")
        .replace('statistic = "rate"', 'statistic = "mode"', 1)
        .replace('where = "bone_metastasis & (opn_ng_ml > 85)"', 'where = "opn_ng_ml.to_csv(1)"')
    )
    path = _write(tmp_path, changed)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "5 problems" in message, message
    for rule in (
        r"\[nodes.tmb_mut_per_mb\]: distribution 'lognorm'",
        r"\[nodes.sex\] p: unknown name 'male_sharee'; did you mean 'male_share'",
        r"\[nodes.tumour_type\] probabilities: 'tumour_type_share' must be shares >= 0 that sum to 1",
        "statistic 'mode' is not one of",
        "target 'B8.high' where: attribute access",
    ):
        assert re.search(rule, message), rule

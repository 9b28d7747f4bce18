import pytest

from predictor.errors import ExperimentError
from predictor.experiment import experiments_dir, load_experiment


def test_default_experiment_loads():
    exp = load_experiment()
    assert exp.name == "icb_bone_opn" and exp.n == 927 and exp.synthetic
    assert exp.cutoffs == {"opn_ng_ml": [50, 85]} and exp.horizons == (6.0, 12.0, 24.0)
    assert exp.search_boosters == ("gbtree", "gblinear")


def test_search_candidates_cover_both_boosters():
    from predictor.training import LINEAR_SEARCH_SPACE, search_candidates

    both = search_candidates(("gbtree", "gblinear"), n_iter=5, seed=0)
    n_linear = len(LINEAR_SEARCH_SPACE["reg_lambda"])
    assert [c["booster"] for c in both] == ["gbtree"] * 5 + ["gblinear"] * n_linear
    assert search_candidates(("gbtree",), n_iter=5, seed=0) == both[:5]  # seeded: the same draws
    assert load_experiment("myeloma_bmm").search_boosters == ("gbtree",)


def test_user_cohort_experiment_loads():
    exp = load_experiment(experiments_dir() / "veterans_lung_cancer.toml")
    assert not exp.synthetic and exp.outcomes == {"time": "Survival_in_days", "event": "Status"}
    assert exp.response is False and exp.survival == "survival:cox" and exp.time_unit == "days"
    assert exp.validation_n == 0


@pytest.mark.parametrize("text, message", [
    ("[experiment]\nname='x'\n", "either 'scenario'"),
    ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\nn=0\n", "'n' must be > 0"),
    ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[modelz]\n", "unknown section"),
    ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[models]\nsurvival='cox'\n", "'survival' must be"),
    ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nniter=3\n", "unknown key 'niter'"),
    ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nboosters=['dart']\n", "'boosters' must be"),
    ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nboosters=[]\n", "'boosters' must be"),
    ("[experiment]\nname='x'\n[cohort]\npath='a.csv'\n", "columns declared"),
    ("[experiment]\nname='x'\n[cohort]\npath='a.csv'\noutcomes={time='t'}\n[columns.t]\ndtype='float'\nrole='outcome'\n", "go together"),
    ("[experiment]\nname='x'\n[cohort]\npath='a.csv'\noutcomes={time='nope', event='e'}\n[columns.e]\ndtype='bool'\nrole='outcome'\n", "not a declared column"),
    ("[experiment\n", "not valid TOML"),
])
def test_malformed_experiments(tmp_path, text, message):
    path = tmp_path / "e.toml"
    path.write_text(text)
    with pytest.raises(ExperimentError, match=message) as info:
        load_experiment(path)
    assert "e.toml" in str(info.value)


def test_unknown_experiment_name():
    with pytest.raises(ExperimentError, match="unknown experiment 'nope'"):
        load_experiment("nope")

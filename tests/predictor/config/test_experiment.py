import pytest

from predictor.config.experiment import (
    CONSTRAINTS,
    SCENARIO_OUTCOMES,
    OutcomesSection,
    experiments_dir,
    load_experiment,
)
from predictor.errors import ExperimentError


def test_default_experiment_loads():
    exp = load_experiment()
    assert exp.name == "icb_bone_opn" and exp.cohort.n == 927 and exp.synthetic
    assert exp.features.cutoffs == {"opn_ng_ml": (50, 85)} and exp.evaluation.horizons == (6.0, 12.0, 24.0)
    assert exp.search.boosters == ("gbtree", "gblinear")
    assert exp.outcomes == SCENARIO_OUTCOMES
    assert exp.validation.seed == 8 and exp.model_name == "icb_bone_opn"


def test_search_candidates_cover_both_boosters():
    from predictor.training import LINEAR_SEARCH_SPACE, search_candidates

    both = search_candidates(("gbtree", "gblinear"), n_iter=5, seed=0)
    n_linear = len(LINEAR_SEARCH_SPACE["reg_lambda"])
    assert [c["booster"] for c in both] == ["gbtree"] * 5 + ["gblinear"] * n_linear
    assert search_candidates(("gbtree",), n_iter=5, seed=0) == both[:5]  # seeded: the same draws
    myeloma = load_experiment("myeloma_bmm").search
    assert myeloma.boosters == ("gbtree", "gblinear") and myeloma.interactions == "therapy_arm"
    arms = search_candidates(("gbtree", "gblinear"), n_iter=5, seed=0, interactions="therapy_arm")
    assert [c.get("interaction_by") for c in arms] == [None] * 5 + ["therapy_arm"] * n_linear  # linear candidates only
    assert [{k: v for k, v in c.items() if k != "interaction_by"} for c in arms] == both


def test_user_cohort_experiment_loads():
    exp = load_experiment(experiments_dir() / "veterans_lung_cancer.toml")
    assert not exp.synthetic and exp.outcomes == OutcomesSection(time="Survival_in_days", event="Status", endpoint="os")
    assert exp.models.response is False and exp.models.survival == "survival:cox"
    assert exp.validation.n == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("[experiment]\nname='x'\n", "either 'scenario'"),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\nn=0\n",
            "'n' must be a number of patients within 1",
        ),
        ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[modelz]\n", "unknown section"),
        ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[models]\nsurvival='cox'\n", "'survival' must be"),
        ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nniter=3\n", "unknown key 'niter'"),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nboosters=['dart']\n",
            "'boosters' must be",
        ),
        ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nboosters=[]\n", "'boosters' must be"),
        ("[experiment]\nname='x'\n[cohort]\npath='a.csv'\n", "columns declared"),
        (
            "[experiment]\nname='x'\n[cohort]\npath='a.csv'\n[outcomes]\ntime='t'\n[columns.t]\ndtype='float'\nrole='outcome'\n",
            "go together",
        ),
        (
            "[experiment]\nname='x'\n[cohort]\npath='a.csv'\n[outcomes]\ntime='nope'\nevent='e'\n[columns.e]\ndtype='bool'\nrole='outcome'\n",
            "not a declared column",
        ),
        ("[experiment]\nname='x'\n[cohort]\npath='a.csv'\noutcomes={time='t'}\n", "their own \\[outcomes\\] section"),
        ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\nseed=-1\n", "'seed' must be >= 0"),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[evaluation]\nhorizons=[]\n",
            "'horizons' must be positive",
        ),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[evaluation]\ntest_fraction=0.9\n",
            "within 0.05-0.5",
        ),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[outcomes]\nendpoint='progression free'\n",
            "'endpoint' must be",
        ),
        ("[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[features]\nlog='yes'\n", "'log' must be"),
        ("[experiment]\nname=''\n[cohort]\nscenario='icb_bone_opn'\n", "'name' must not be empty"),
        ("[cohort]\nscenario='icb_bone_opn'\n", "'name' is required"),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[models]\nresponse=false\nsurvival=false\n",
            "asks for no model",
        ),
        ("[experiment\n", "not valid TOML"),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\nboosters=['gbtree']\ninteractions='tumour_type'\n",
            "'interactions' shapes the linear booster",
        ),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[search]\ninteractions=''\n",
            "'interactions' must name",
        ),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[evaluation]\nnested_folds=1\n",
            "'nested_folds' must be 0",
        ),
        (
            "[experiment]\nname='x'\n[cohort]\nscenario='icb_bone_opn'\n[evaluation]\nnested_repeats=0\n",
            "'nested_repeats' must be > 0",
        ),
    ],
)
def test_malformed_experiments(tmp_path, text, message):
    path = tmp_path / "e.toml"
    path.write_text(text)
    with pytest.raises(ExperimentError, match=message) as info:
        load_experiment(path)
    assert "e.toml" in str(info.value)


def test_unknown_experiment_name():
    with pytest.raises(ExperimentError, match="unknown experiment 'nope'"):
        load_experiment("nope")


def test_every_key_has_a_constraint_and_a_default_on_its_field():
    """One table validates the file; every default is declared once, on the section's field."""
    from dataclasses import MISSING, fields

    for section, (cls, keys) in CONSTRAINTS.items():
        names = [f.name for f in fields(cls)]
        assert names == list(keys), section
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        assert required == (["name"] if section == "experiment" else []), section


def test_resolved_config_is_what_gets_logged():
    exp = load_experiment("myeloma_bmm")
    params = exp.params()
    assert params["validation.seed"] == 12 and params["registry.model_name"] == "myeloma_bmm"
    assert params["outcomes.time"] == "pfs_months" and params["evaluation.horizons"] == (6.0, 12.0, 18.0, 24.0)
    assert all("." in k for k in params)

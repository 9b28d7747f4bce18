"""Study files, the grid and its seeds, and one cell, without Dask (tests/e2e/test_study.py runs them on it)."""

import math
import textwrap
from pathlib import Path

import pytest

from predictor.errors import StudyError
from predictor.study import (
    Cell,
    cell_key,
    cell_seed,
    load_study,
    make_validation,
    plan_cells,
    results_table,
    run_cell,
    validation_seed,
)
from tests.study_files import small_study

SMALL = small_study("small", Path("{out}"))


def write(tmp_path, text: str, name: str = "study.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).replace("{out}", str(tmp_path / "out")))
    return path


@pytest.fixture
def small(tmp_path):
    return load_study(write(tmp_path, SMALL))


def test_the_grid_is_every_combination(small):
    cells = plan_cells(small)
    assert len(cells) == 2 * 2 * 2 * 2  # n x replicates x models x panels
    assert small.grid() == {
        "n": [120, 240],
        "replicates": 2,
        "models": ["gblinear", "baseline"],
        "panels": ["all", "no_opn"],
        "scenarios": ["published"],
    }
    # Every size, model and panel of one replicate takes its patients from the same cohort (common
    # random numbers, nested sizes) ...
    seeds = {c.replicate: {x.seed for x in cells if x.replicate == c.replicate} for c in cells}
    assert all(len(s) == 1 for s in seeds.values())
    # ... and different replicates draw different ones.
    assert len({next(iter(s)) for s in seeds.values()}) == 2


def test_seeds_are_keyed_by_what_they_are_for_not_by_position():
    assert cell_seed(5, 1) == cell_seed(5, 1)
    assert len({cell_seed(5, r) for r in range(3)} | {validation_seed(5)}) == 4
    assert cell_seed(5, 0) != cell_seed(6, 0)


def test_a_grid_grown_later_keeps_its_cells(tmp_path, small):
    grown = load_study(write(tmp_path, SMALL.replace("n = [120, 240]", "n = [120, 240, 480]"), "grown.toml"))
    before = {cell_key(small, c) for c in plan_cells(small)}
    after = {cell_key(grown, c) for c in plan_cells(grown)}
    assert before < after


def test_the_panel_and_overrides_reach_the_cell(small):
    from predictor.study import cell_experiment

    cell = next(c for c in plan_cells(small) if c.panel == "no_opn" and c.model == "gblinear")
    exp = cell_experiment(small, cell)
    assert "opn_ng_ml" not in exp.features.columns and "opn_ng_ml" not in exp.features.cutoffs
    assert exp.search.boosters == ("gblinear",) and exp.search.n_jobs == 1 and exp.search.n_iter == 1
    assert (exp.cohort.n, exp.cohort.seed) == (cell.n, cell.seed)


@pytest.mark.parametrize(
    "change, message",
    [
        ("[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\nrepliactes = 3", "unknown key 'repliactes'"),
        ("[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = []", "'n' must be a non-empty list"),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\nmodels = []",
            "'models' must be a non-empty list",
        ),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\nmodels = ['forest']",
            "'models' must be a non-empty list",
        ),
        ("[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [25, 200]", "n = 25 is below what a cell needs"),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\n[panels.p]\ncolumns = ['opn']",
            "'opn' is not a feature of scenario",
        ),
        ("[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\n[panels]", "must hold at least one"),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\n[scenarios.s]\nscale = { opn_effect = 0.5 }",
            "has no parameter 'opn_effect'",
        ),
        ("[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\n[grid]\nn = 1", "unknown section [grid]"),
        ("[study]\nname = 'x'\nexperiment = 'nope'\nn = [200]", "unknown experiment 'nope'"),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\nmodels = ['xgboost']\n[power]\ncovariate = 'bone_metastasis'",
            'add "baseline" to [study] models',
        ),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200]\nmodels = ['baseline']\n[power]\ncovariate = 'bone_metastasis'\n"
            "[panels.p]\ndrop = ['bone_metastasis']",
            "not in panel 'p'",
        ),
        ("[study\nname = 'x'", "not valid TOML"),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200, 400]\n[adaptive]",
            "an adaptive study starts from at least 3 sizes in n",
        ),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200, 400, 800]\n[adaptive]\nmax_n = 500",
            "[adaptive]: max_n = 500 is below the grid's largest n",
        ),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200, 400, 800]\n[adaptive]\nprecision = 2",
            "[adaptive]: 'precision' must be within 0-1",
        ),
        (
            "[study]\nname = 'x'\nexperiment = 'icb_bone_opn'\nn = [200, 400, 800]\n[adaptive]\nbatch = 1",
            "'batch' must be >= 2",
        ),
    ],
)
def test_bad_study_files_name_the_key_and_rule(tmp_path, change, message):
    with pytest.raises(StudyError) as err:
        load_study(write(tmp_path, change))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.fixture(scope="module")
def validation():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(write(Path(tmp), SMALL))
        return study, make_validation(study, "published")


def test_the_validation_cohort_carries_the_oracle_and_what_riley_needs(validation):
    study, v = validation
    assert len(v.part.frame) == 3000
    assert 0.7 < v.oracle["response"]["auc"] < 0.95 and 0.55 < v.oracle["survival"]["harrell_c"] < 0.8
    assert v.oracle["response"]["cal_slope"] == pytest.approx(1, abs=0.15)  # the truth is calibrated (3,000 patients)
    assert 0 < v.facts["response"].prevalence < 1
    f = v.facts["survival"]
    assert f.event_rate > 0 and f.mean_followup > 0 and 0 < f.r2_cs < 1 and f.horizon == 12
    summary = v.summary()
    assert len(summary.part.frame) == 0 and summary.oracle == v.oracle


def test_a_cell_is_deterministic_and_scored_against_the_oracle(validation):
    study, v = validation
    cell = next(c for c in plan_cells(study) if c.model == "gblinear" and c.panel == "all")
    a, b = run_cell(study, cell, v), run_cell(study, cell, v)
    assert a.ok and a.records == b.records
    table = results_table([a], {"published": v})
    auc = table[(table.task == "response") & (table.metric == "auc")].iloc[0]
    assert auc.gap == pytest.approx(auc.oracle - auc.value)
    brier = table[(table.task == "response") & (table.metric == "brier")].iloc[0]
    assert brier.gap == pytest.approx(brier.value - brier.oracle)
    assert math.isnan(table[(table.task == "survival") & (table.metric == "cal_slope")].gap.iloc[0])
    assert set(a.timings) == {"data", "search", "fit", "evaluate"}


def test_a_baseline_cell_tests_the_power_covariate(validation):
    study, v = validation
    cell = next(c for c in plan_cells(study) if c.model == "baseline" and c.panel == "no_opn" and c.n == 240)
    r = run_cell(study, cell, v)
    assert r.ok and {task for task, _, _ in r.power} == {"response", "survival"}
    assert all(0 <= p <= 1 for _, _, p in r.power)


def test_a_failing_cell_comes_back_with_its_error(validation):
    study, v = validation
    cell = Cell(scenario="published", n=120, replicate=0, model="gblinear", panel="missing", seed=1)
    r = run_cell(study, cell, v)
    assert not r.ok and r.records == () and "StopIteration" in r.error
    table = results_table([r], {"published": v})
    assert list(table.status) == ["failed"] and table.error.iloc[0] == r.error


@pytest.mark.slow
def test_what_theory_says_on_the_linear_models(tmp_path):
    """At a large n the linear models' gap to the oracle tends to 0 and the calibration slope to 1; at a
    small n the slope falls below 1 (overfitting). Seeds fixed; 4 replicates per size. The tolerances
    (median gap < 0.01 and |median slope - 1| < 0.1 at 4,000 patients; median slope < 0.85 at 150) hold
    with room in every replicate seen: gaps 0.001-0.003 and slopes 0.94-0.98 at 4,000; slopes 0.23-0.79
    at 150. The baseline is the linear model here (logistic regression, Cox PH)."""
    text = (
        SMALL.replace("n = [120, 240]", "n = [150, 4000]")
        .replace("replicates = 2", "replicates = 4")
        .replace("validation_n = 3000", "validation_n = 20000")
        .replace("seed = 5", "seed = 31")
    )
    study = load_study(write(tmp_path, text))
    v = make_validation(study, "published")
    results = [run_cell(study, c, v) for c in plan_cells(study) if c.panel == "all" and c.model == "baseline"]
    t = results_table(results, {"published": v})
    for task, metric in (("response", "auc"), ("survival", "harrell_c")):
        rows = t[(t.task == task)]
        big, small = rows[rows.n == 4000], rows[rows.n == 150]
        assert big[big.metric == metric].gap.median() < 0.01
        assert abs(big[big.metric == "cal_slope"].value.median() - 1) < 0.1
        assert small[small.metric == "cal_slope"].value.median() < 0.85
        assert small[small.metric == metric].gap.median() > big[big.metric == metric].gap.median()

"""Paired cohorts across sizes: a replicate's cohort of n is the first n patients of its largest
cohort, so that the difference between two sizes' scores is paired and less noisy."""

from dataclasses import replace

import numpy as np
import pytest

from predictor.config.experiment import experiments_dir, load_experiment
from predictor.config.study import load_study
from predictor.study import Cell, cell_seed, make_validation, run_cell
from predictor.training import development_data
from synthetic import load_scenario
from tests.study_files import small_study


def test_a_smaller_cohort_is_the_first_patients_of_the_larger_one():
    exp = load_experiment("icb_bone_opn")
    scenario = load_scenario("icb_bone_opn")
    small = development_data(replace(exp, cohort=replace(exp.cohort, n=150, seed=9)), scenario, nested=True)
    large = development_data(replace(exp, cohort=replace(exp.cohort, n=650, seed=9)), scenario, nested=True)
    assert small.observed.equals(large.observed.iloc[:150])
    assert small.train.truth.equals(large.train.truth.iloc[:150])


@pytest.mark.slow
def test_paired_sizes_have_a_less_noisy_difference_than_independent_cohorts(tmp_path):
    """The baseline's validation AUC at n = 200 and 400 over 30 replicates: the variance of the
    difference between the two sizes, nested cohorts against unrelated ones (another replicate's
    seed for the larger size). With a true ratio near 0.4, a variance ratio estimate above 1 on
    29 and 29 degrees of freedom has probability below 1%; the seeds are fixed."""
    # The base experiment without its PFS task: only the response AUC is read (the cohorts are the same).
    base = tmp_path / "response_only.toml"
    shipped = (experiments_dir() / "icb_bone_opn.toml").read_text(encoding="utf-8")
    assert 'survival = "survival:cox"' in shipped
    base.write_text(shipped.replace('survival = "survival:cox"', "survival = false"), encoding="utf-8")
    path = tmp_path / "study.toml"
    text = small_study("paired", tmp_path / "out").replace("n = [120, 240]", "n = [200, 400]")
    text = text.replace('experiment = "icb_bone_opn"', f'experiment = "{base}"')
    path.write_text(text.replace('models = ["gblinear", "baseline"]', 'models = ["baseline"]'), encoding="utf-8")
    study = load_study(path)
    validation = make_validation(study, study.variants[0].name)

    def auc(n: int, seed: int, replicate: int) -> float:
        cell = Cell(scenario=study.variants[0].name, n=n, replicate=replicate, model="baseline", panel="all", seed=seed)
        result = run_cell(study, cell, validation)
        assert result.ok, result.error
        return next(v for task, metric, v in result.records if task == "response" and metric == "auc")

    replicates = range(30)
    small = np.array([auc(200, cell_seed(11, r), r) for r in replicates])
    paired = np.array([auc(400, cell_seed(11, r), r) for r in replicates]) - small
    independent = np.array([auc(400, cell_seed(11, 100 + r), r) for r in replicates]) - small
    assert np.var(paired, ddof=1) < np.var(independent, ddof=1)

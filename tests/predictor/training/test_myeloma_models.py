"""The shipped myeloma experiment's models against the baselines and the oracle, on a cohort seed
no shipped experiment uses (seed 303; validation seed 304), as ``predictor train`` fits and
scores them (same stages, same bootstrap on the 10,000-patient validation cohort).

The bounds are the issue's: response AUC within 0.02 of the oracle and above the logistic
regression with a paired 95% CI above 0; PFS Harrell's C within 0.015 of the oracle and not
below the Cox model's (paired CI above -0.002). Seen at this seed: response gap 0.013,
difference +0.015 [+0.011, +0.019]; PFS gap 0.011, difference +0.006 [+0.003, +0.009]
(``benchmarks/myeloma_options.py``; the README has four seeds and every option).
"""

from dataclasses import replace

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored():
    import predictor.training as stages
    from predictor.config.experiment import load_experiment

    exp = load_experiment("myeloma_bmm")
    exp = replace(
        exp,
        cohort=replace(exp.cohort, seed=303),
        validation=replace(exp.validation, seed=304),
        outcomes=replace(exp.outcomes, binary=()),
    )
    data = stages.load_data(exp)
    features = stages.fit_features(exp, data)
    X = features.transform(data.train.frame)
    fitted = [
        stages.fit(t, stages.search(t, X, t.target(data.train.frame), exp.search), exp, data, features, X)
        for t in data.tasks
    ]
    m = stages.evaluate(fitted, [data.validation], features, data.source, exp.evaluation).metrics
    return m.set_index(["task", "model", "metric"])


def test_response_is_near_the_oracle_and_beats_logistic_regression(scored):
    assert scored.loc[("response", "oracle_minus_xgboost", "auc"), "estimate"] <= 0.02
    assert scored.loc[("response", "xgboost_minus_baseline", "auc"), "ci_low"] > 0


def test_pfs_is_near_the_oracle_and_at_least_the_cox_model(scored):
    assert scored.loc[("survival", "oracle_minus_xgboost", "harrell_c"), "estimate"] <= 0.015
    assert scored.loc[("survival", "xgboost_minus_baseline", "harrell_c"), "ci_low"] > -0.002

"""Riley's closed-form criteria against pmsampsize's published worked examples, the C -> R2
conversion against the simulation it stands for, and the study's minimum n and power summaries."""

import math

import numpy as np
import pandas as pd
import pytest

from predictor.study.sample_size import (
    cox_snell_from_c,
    minimum_n,
    power_summary,
    riley_binary,
    riley_survival,
)


def test_binary_example_of_riley_et_al():
    """pmsampsize(type="b", csrsquared=0.288, parameters=24, prevalence=0.174): criteria 623, 662, 221; n = 662
    (Riley et al. BMJ 2020; the expected figures of pmsampsize's own tests)."""
    r = riley_binary(r2_cs=0.288, parameters=24, prevalence=0.174)
    assert (r.criterion_1, r.criterion_2, r.criterion_3, r.n) == (623, 662, 221, 662)


def test_binary_example_from_a_c_statistic():
    """pmsampsize(type="b", cstatistic=0.89, parameters=24, prevalence=0.174): 615, 660, 221; n = 660.
    pmsampsize draws a million patients for the R2; this is its limit, so the figures could differ by one
    patient where a criterion sits on a boundary: here they are equal."""
    r = riley_binary(r2_cs=cox_snell_from_c(0.89, 0.174), parameters=24, prevalence=0.174)
    assert (r.criterion_1, r.criterion_2, r.criterion_3, r.n) == (615, 660, 221, 660)


def test_survival_example_of_riley_et_al():
    """pmsampsize(type="s", csrsquared=0.051, parameters=30, rate=0.065, timepoint=2, meanfup=2.07):
    5143, 1039, 5143; n = 5143 (criterion 3 is checked at the n of criteria 1 and 2)."""
    r = riley_survival(r2_cs=0.051, parameters=30, rate=0.065, mean_followup=2.07, horizon=2)
    assert (r.criterion_1, r.criterion_2, r.criterion_3, r.n) == (5143, 1039, 5143, 5143)
    assert 0 < r.margin_of_error < 0.05


def test_cox_snell_from_c_is_the_limit_of_the_simulation():
    """Riley, Van Calster & Collins' simulation (normal linear predictors, a logistic fit) on 400,000 seeded
    patients lands within 0.003 of the quadrature (about 4 standard errors of the simulated R2)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(11)
    n, prev, c = 400_000, 0.3, 0.8
    mu = math.sqrt(2) * __import__("scipy.stats").stats.norm.ppf(c)
    y = np.r_[np.ones(int(prev * n)), np.zeros(n - int(prev * n))]
    lp = np.r_[rng.normal(mu, 1, int(prev * n)), rng.normal(0, 1, n - int(prev * n))]
    p = LogisticRegression(C=np.inf).fit(lp[:, None], y).predict_proba(lp[:, None])[:, 1]
    loglik = np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    null = n * (prev * np.log(prev) + (1 - prev) * np.log(1 - prev))
    simulated = 1 - np.exp(-2 * (loglik - null) / n)
    assert cox_snell_from_c(c, prev) == pytest.approx(simulated, abs=0.003)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="C statistic"):
        cox_snell_from_c(0.4, 0.2)
    with pytest.raises(ValueError, match="R-squared"):
        riley_binary(r2_cs=0.95, parameters=5, prevalence=0.3)


def _curve(gaps: dict, slopes: dict) -> pd.DataFrame:
    rows = [
        {"n": n, "replicate": r, "gap": g, "slope": slopes[n][r]} for n, gs in gaps.items() for r, g in enumerate(gs)
    ]
    return pd.DataFrame(rows)


def test_minimum_n_is_the_first_size_from_which_both_criteria_hold():
    gaps = {100: [0.05, 0.06, 0.04], 200: [0.01, 0.015, 0.03], 400: [0.03, 0.025, 0.01], 800: [0.0, 0.01, 0.005]}
    slopes = {100: [0.5, 0.6, 0.7], 200: [0.95, 0.92, 0.91], 400: [0.95, 0.97, 0.93], 800: [1.0, 0.98, 0.99]}
    found = minimum_n(_curve(gaps, slopes), gap=0.02, slope=0.9, n_boot=200)
    # 200 meets both criteria, 400 misses the gap (median 0.025): from 800 on.
    assert found.n == 800
    assert found.low <= 800 <= found.high


def test_minimum_n_not_reached_is_infinite():
    gaps = {100: [0.1, 0.1], 200: [0.05, 0.06]}
    slopes = {100: [1, 1], 200: [1, 1]}
    found = minimum_n(_curve(gaps, slopes), gap=0.02, slope=0.9, n_boot=100)
    assert math.isinf(found.n) and math.isinf(found.high)


def test_power_counts_significant_tests_with_the_expected_sign():
    power = pd.DataFrame(
        {
            "scenario": "s",
            "panel": "all",
            "n": 100,
            "replicate": [0, 1, 2, 3, 0, 1, 2, 3],
            "model": "baseline",
            "task": ["response"] * 4 + ["survival"] * 4,
            # response: "worse" is a negative log-odds; survival: a positive log hazard ratio
            "coef": [-0.5, -0.4, 0.6, -0.1, 0.3, 0.2, -0.4, 0.5],
            "p": [0.01, 0.2, 0.01, 0.04, 0.01, 0.01, 0.01, 0.3],
        }
    )
    got = power_summary(power, direction="worse").set_index("task")
    assert got.loc["response", "power"] == 0.5  # replicates 0 and 3
    assert got.loc["survival", "power"] == 0.5  # replicates 0 and 1
    assert (got.low < got.power).all() and (got.power < got.high).all()


def test_the_mean_and_assurance_criteria_judge_the_replicates_their_own_way():
    # At 200 the median slope is 0.91 but one replicate over-shrinks badly: the median criterion
    # holds from 200, the mean (E(S) = 0.80) only from 400; assurance (80% of replicates with a gap
    # <= 0.02 and 0.85 < S < 1.15) from 800, where four of five replicates are acceptable.
    gaps = {
        200: [0.01, 0.01, 0.01, 0.01, 0.01],
        400: [0.01, 0.01, 0.01, 0.03, 0.03],
        800: [0.01, 0.01, 0.01, 0.01, 0.03],
    }
    slopes = {
        200: [0.91, 0.92, 0.95, 0.30, 0.91],
        400: [0.92, 0.95, 0.96, 0.97, 0.90],
        800: [0.95, 1.0, 0.97, 0.99, 1.2],
    }
    curve = _curve(gaps, slopes)
    assert minimum_n(curve, gap=0.02, slope=0.9, n_boot=100).n == 200
    assert minimum_n(curve, gap=0.02, slope=0.9, n_boot=100, criterion="mean").n == 400
    assert minimum_n(curve, gap=0.02, slope=0.9, n_boot=100, criterion="assurance", assurance=0.8).n == 800
    assert minimum_n(curve, gap=0.02, slope=0.9, n_boot=100, criterion="assurance", assurance=0.9).n == float("inf")

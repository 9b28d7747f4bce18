"""Targets in a paper's own terms: a reported count, a reported 95% CI, the truth's C-statistic
and a digitised Kaplan-Meier curve."""

from dataclasses import replace

import numpy as np
import pytest

from features.keytable import Problems
from synthetic import ScenarioError, evaluate_targets, generate
from synthetic.calibration import expected_auc, km_survival_at, rank_auc
from synthetic.targets import Target, parse_target

BASE = {"id": "T", "label": "a figure"}


def _parse(spec: dict) -> Target:
    """A target as a scenario file's loader reads it: every problem collected, then raised."""
    problems = Problems("f.toml", ScenarioError)
    target = parse_target("f.toml", 0, spec, problems)
    problems.raise_any()
    assert target is not None
    return target


def test_a_reported_count_gives_the_rate_and_half_a_patient_of_tolerance():
    t = _parse({**BASE, "statistic": "rate", "column": "x", "events": 21, "n": 39})
    assert t.value == pytest.approx(21 / 39)
    assert t.tolerance == pytest.approx(0.5 / 39)
    assert t.within(21.4 / 39) and not t.within(21.6 / 39)


def test_a_reported_ci_gives_a_tenth_of_its_half_width():
    t = _parse({**BASE, "statistic": "median_pfs", "value": 6.0, "ci": [4.2, 6.2]})
    assert t.tolerance == pytest.approx(0.1)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"statistic": "rate", "column": "x", "events": 40, "n": 39}, "within 0..n"),
        ({"statistic": "median_pfs", "events": 4, "n": 39}, "statistic 'median_pfs' does not use 'events'"),
        ({"statistic": "rate", "column": "x", "events": 21, "n": 39, "value": 0.7}, "not the reported count"),
        ({"statistic": "median_pfs", "value": 7.0, "ci": [4.2, 6.2]}, "inside the 95% CI"),
        ({"statistic": "km_curve", "times": [6, 3], "survival": [0.5, 0.4], "tolerance": 0.02}, "increasing"),
        ({"statistic": "km_curve", "times": [3, 6], "survival": [0.4, 0.5], "tolerance": 0.02}, "do not increase"),
        ({"statistic": "km_curve", "times": [3], "survival": [0.5, 0.4], "tolerance": 0.02}, "one length"),
        (
            {"statistic": "rate", "column": "x", "value": 0.5, "tolerance": 0.1, "times": [1]},
            "'rate' does not use 'times'",
        ),
        ({"statistic": "truth_auc", "value": 0.7, "tolerance": 0.01}, "statistic 'truth_auc' needs 'column'"),
        (
            {"statistic": "significant_hr_share", "covariate": "b", "value": 0.8, "where": "x > 1"},
            "'significant_hr_share' does not use 'where'",
        ),
        (
            {"statistic": "significant_hr_share", "covariate": "b", "value": 0.8, "tolerance": 0.1},
            "'significant_hr_share' does not use 'tolerance'",
        ),
        ({"statistic": "rate", "column": "x", "value": 0.5, "tolerance": -1}, "'tolerance' must be >= 0"),
        (
            {"statistic": "rate", "column": "x", "value": "half", "tolerance": 0.1},
            r"'value' has the wrong type \(str\)",
        ),
        ({"statistic": "rate", "column": "x", "events": 3}, "'events' and 'n' together"),
        ({"statistic": "hazard", "value": 1}, "statistic 'hazard' is not one of"),
    ],
)
def test_bad_targets_name_the_file_target_and_rule(extra, message):
    with pytest.raises(ScenarioError, match=message) as info:
        _parse({**BASE, **extra})
    assert "f.toml target 'T'" in str(info.value)


def test_every_problem_of_a_target_is_reported_at_once():
    spec = {**BASE, "statistic": "survival_at", "where": ["a", "b"], "covariate": "x", "tolerance": "wide"}
    with pytest.raises(ScenarioError) as info:
        _parse(spec)
    text = str(info.value)
    assert text.startswith("f.toml: 3 problems"), text
    for fragment in ("does not use 'covariate'", "'tolerance' has the wrong type", "needs 'time'"):
        assert fragment in text


def test_auc_by_ranks_and_the_expected_auc_agree():
    """On 200,000 outcomes drawn from known probabilities, the observed C-statistic and its
    expectation differ by sampling error only (SE about 0.0015; tolerance 0.006)."""
    rng = np.random.default_rng(4)
    p = 1 / (1 + np.exp(-rng.normal(0, 1.5, 200_000)))
    y = rng.random(len(p)) < p
    assert rank_auc(y, p) == pytest.approx(expected_auc(p), abs=0.006)
    assert rank_auc(np.array([True, False, True]), np.array([0.9, 0.1, 0.5])) == 1.0


def test_truth_auc_and_km_curve_targets_on_a_shipped_scenario(icb_scenario):
    cohort = generate(icb_scenario, 60_000, seed=9)
    auc = Target(
        id="A", label="truth AUC", statistic="truth_auc", value=0.7, tolerance=0.01, column="objective_response"
    )
    times = (3.0, 6.0, 12.0)
    curve = tuple(
        km_survival_at(cohort.observed.pfs_months.to_numpy(), cohort.observed.pfs_event.to_numpy(), t) for t in times
    )
    km = Target(id="K", label="KM", statistic="km_curve", value=0.0, tolerance=0.02, times=times, survival=curve)
    got = evaluate_targets(icb_scenario, cohort.observed, cohort.truth, targets=[auc, km])
    fast = evaluate_targets(icb_scenario, cohort.observed, cohort.truth, targets=[auc, km], fast=True)
    assert 0.6 < got["A"] < 0.9 and got["A"] == pytest.approx(fast["A"], abs=0.01)
    assert got["K"] == pytest.approx(0.0, abs=1e-12)  # the cohort's own curve
    assert fast["K"] < 0.02  # the uncensored truth's curve is the same curve, up to censoring and rounding
    shifted = replace(km, survival=tuple(s - 0.05 for s in curve))
    assert evaluate_targets(icb_scenario, cohort.observed, cohort.truth, targets=[shifted])["K"] == pytest.approx(0.05)
    assert np.isnan(evaluate_targets(icb_scenario, cohort.observed, targets=[auc])["A"])

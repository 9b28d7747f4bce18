"""Targets as a trial reports them: the hazard ratio of two groups (Cox, lifelines), the odds
ratio, and the restricted mean survival time, each against its closed form on a declared model
where that form is exact (proportional hazards, a logit model, a Weibull curve)."""

import numpy as np
import pytest
import tomllib
from scipy.integrate import quad
from test_declared import RECOVERY  # tests/synthetic is on the path (pytest prepends a test file's folder)

from synthetic import ScenarioError, evaluate_targets, generate
from synthetic.scenario import parse_scenario

B_G = -0.6  # the group's log hazard ratio and log odds ratio in RECOVERY (b_g)
SHAPE, MEDIAN = 1.3, 10.0
TWO_GROUPS = ["group", "~group"]


def _scenario(*targets: dict):
    raw = tomllib.loads(RECOVERY)
    raw["targets"] = list(targets)
    return parse_scenario(raw, "trial.toml")


HR = {"id": "HR", "label": "HR", "statistic": "hazard_ratio", "where": TWO_GROUPS, "value": 0.55, "ci": [0.4, 0.7]}
OR = {"id": "OR", "label": "OR", "statistic": "odds_ratio", "column": "responder", "where": TWO_GROUPS}
RMST = {"id": "RMST", "label": "RMST", "statistic": "rmst", "time": 12.0, "where": "~group"}


@pytest.fixture(scope="module")
def cohort_and_targets():
    scenario = _scenario(
        {**HR, "adjust": ["x"]},
        {**HR, "id": "HR_marginal"},
        {**OR, "value": 0.55, "tolerance": 0.05},
        {**RMST, "value": 8.0, "tolerance": 0.5},
    )
    cohort = generate(scenario, 200_000, seed=3)
    got = evaluate_targets(scenario, cohort.observed, cohort.truth)
    fast = evaluate_targets(scenario, cohort.observed, cohort.truth, fast=True)
    return scenario, cohort, got, fast


def test_the_hazard_ratio_of_two_groups_is_the_declared_one_under_proportional_hazards(cohort_and_targets):
    """Adjusted for x (which the log hazard also reads), the Cox HR of the groups is exp(b_g):
    log HR's SE with 200,000 uncensored patients in two groups is about sqrt(1/d1 + 1/d0) =
    0.0046, so within 3 SE. Unadjusted, it is attenuated toward 1 (the hazard ratio is not
    collapsible). The solver's value (the first 50,000 patients, unrounded times: log HR's SE
    0.009) agrees within 3 of its SE."""
    _, _, got, fast = cohort_and_targets
    assert np.log(got["HR"]) == pytest.approx(B_G, abs=3 * 0.0046)
    assert np.log(got["HR_marginal"]) > B_G + 0.05
    assert got["HR:p"] < 1e-100
    assert np.log(fast["HR"]) == pytest.approx(np.log(got["HR"]), abs=3 * 0.009)


def test_the_odds_ratio_from_the_truth_and_from_the_outcomes_agree(cohort_and_targets):
    """The odds ratio of the groups' response rates (marginal over x, so nearer 1 than exp(b_g)):
    from the truth's probabilities while solving, from the outcomes when checking; they differ by
    sampling only, within 3 SE of the log odds ratio (sqrt(sum 1/cell) = 0.0092 here)."""
    _, _, got, fast = cohort_and_targets
    assert np.log(got["OR"]) == pytest.approx(np.log(fast["OR"]), abs=3 * 0.0092)
    assert B_G < np.log(fast["OR"]) < 0


def _reference_survival(t: float) -> float:
    """S(t) of the reference group: the Weibull curve exp(-log 2 (t / M)^k e^(b x)) averaged over
    x ~ N(0, 1) (Gauss-Hermite quadrature, 60 nodes; b = b_x['pfs'] = 0.6)."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    return float(np.sum(w * np.exp(-np.log(2) * (t / MEDIAN) ** SHAPE * np.exp(0.6 * x))) / np.sqrt(2 * np.pi))


def test_rmst_against_the_weibull_curve(cohort_and_targets):
    """RMST(12) = the integral of the reference group's S(t) over [0, 12]; the uncensored mean of
    min(T, 12) and the Kaplan-Meier area both within 3 Monte Carlo SE (plus the 0.005 of rounding
    observed times to 2 digits)."""
    _, cohort, got, fast = cohort_and_targets
    exact = quad(_reference_survival, 0, 12.0)[0]
    ref = ~cohort.observed["group"].to_numpy()
    t = np.minimum(cohort.truth["pfs_uncensored"].to_numpy()[ref], 12.0)
    se = t.std() / np.sqrt(len(t))
    assert fast["RMST"] == pytest.approx(exact, abs=3 * se)
    assert got["RMST"] == pytest.approx(exact, abs=3 * se + 0.005)


@pytest.mark.parametrize(
    "target, message",
    [
        ({**HR, "where": "group"}, "statistic 'hazard_ratio' needs two 'where' expressions"),
        ({**HR, "contrast": "ratio"}, "statistic 'hazard_ratio' does not use 'contrast'"),
        ({**HR, "covariate": "group"}, "statistic 'hazard_ratio' does not use 'covariate'"),
        ({**HR, "adjust": ["nope"]}, r"'adjust' names \['nope'\], which are not observed columns"),
        ({**RMST, "value": 8.0, "tolerance": 0.5, "time": None}, "statistic 'rmst' needs 'time'"),
        ({**HR, "statistic": "cox_hr"}, "statistic 'cox_hr' is now called significant_hr_share"),
        ({**OR, "value": 0.5, "tolerance": 0.1, "where": ["group", "x > 0"]}, None),
    ],
)
def test_trial_target_mistakes_are_one_line_each_at_load(target, message):
    target = {k: v for k, v in target.items() if v is not None}
    if message is None:
        _scenario(target)  # overlapping groups are a problem only when evaluated (next test)
        return
    with pytest.raises(ScenarioError, match=message):
        _scenario(target)


def test_a_patient_in_both_groups_of_a_hazard_ratio_is_named():
    scenario = _scenario({**HR, "where": ["group", "x > 0"]})
    cohort = generate(scenario, 2_000, seed=1)
    with pytest.raises(ScenarioError, match="patients are in both 'where' groups"):
        evaluate_targets(scenario, cohort.observed)

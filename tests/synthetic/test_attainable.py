"""The attainable oracle: the best prediction from the observed inputs, an unobserved frailty
integrated out exactly; a model reaches it, and not the full truth."""

import numpy as np
import pytest
import tomllib
from lifelines.utils import concordance_index
from scipy.integrate import quad
from scipy.special import ndtr
from sklearn.linear_model import LogisticRegression

from synthetic import generate, load_scenario, oracle
from synthetic.attainable import attainability
from synthetic.calibration import rank_auc
from synthetic.scenario import parse_scenario

A, B, S = -0.3, 0.8, 1.5  # probit response: a + b x + s u, u an unobserved frailty
C, S2, MEDIAN, SHAPE = 0.5, 1.0, 10.0, 1.2  # PFS log hazard: c x + s2 u

FRAILTY = f"""
[scenario]
name = "frailty"
title = "An unobserved frailty"
source = "tests"
default_n = 1000
calibration_seed = 1

[parameters.s]
kind = "assumption"
id = "T"
value = {S}
reason = "frailty's weight on response"

[nodes.x]
distribution = "normal"
mean = 0
sd = 1

[nodes.u]
distribution = "latent"

[nodes.responder]
outcome = "binary"
link = "probit"
linear_predictor = "{A} + {B} * x + s * u"

[nodes.pfs]
outcome = "time_to_event"
time = "pfs_months"
event = "pfs_event"
median = {MEDIAN}
shape = {SHAPE}
log_hazard = "{C} * x + {S2} * u"
followup = [1000, 1000]
dropout_rate = 0

[[targets]]
id = "T"
label = "the truth's AUC"
statistic = "truth_auc"
column = "responder"
value = 0.7
tolerance = 0.5

[columns.patient_id]
dtype = "int"
role = "id"

[columns.x]
dtype = "float"
role = "feature"

[columns.responder]
dtype = "bool"
role = "outcome"

[columns.pfs_months]
dtype = "float"
role = "outcome"
unit = "months"

[columns.pfs_event]
dtype = "bool"
role = "outcome"
"""


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(tomllib.loads(FRAILTY), "frailty.toml")


def test_the_frailty_is_found_and_integrable(scenario):
    found = attainability(scenario.model)
    assert found["responder"].latents == ("u",) and found["responder"].differs
    assert found["pfs"].latents == ("u",) and found["pfs"].fallback == ""


def test_a_probit_frailty_integrates_to_the_closed_form(scenario):
    """E[Phi(a + b x + s u)] = Phi((a + b x) / sqrt(1 + s^2)) for u ~ N(0, 1): the quadrature
    (64 Gauss-Hermite points, a smooth integrand) agrees to 1e-9."""
    cohort = generate(scenario, 2_000, seed=1)
    x = cohort.observed["x"].to_numpy()
    got = oracle(cohort, [6.0], scenario)["response_probability"]
    np.testing.assert_allclose(got, ndtr((A + B * x) / np.sqrt(1 + S**2)), atol=1e-9)
    full = oracle(cohort, [6.0], scenario, attainable=False)["response_probability"]
    np.testing.assert_array_equal(full, cohort.truth["responder_probability"].to_numpy())


def test_the_survival_frailty_integrates_to_numerical_integration(scenario):
    cohort = generate(scenario, 20, seed=2)
    x = cohort.observed["x"].to_numpy()
    times = np.array([3.0, 10.0, 30.0])
    got = oracle(cohort, times, scenario)["survival"]
    lam = np.log(2) / MEDIAN**SHAPE
    for i in range(5):
        for j, t in enumerate(times):
            integrand = lambda z: (
                np.exp(-lam * t**SHAPE * np.exp(C * x[i] + S2 * z)) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
            )
            assert got[i, j] == pytest.approx(quad(integrand, -12, 12)[0], abs=1e-7)


@pytest.fixture(scope="module")
def trained_and_scored(scenario):
    """A logistic model and a Cox-type score trained on 20,000 patients, scored on 200,000."""
    train = generate(scenario, 20_000, seed=3).observed
    test = generate(scenario, 200_000, seed=4)
    model = LogisticRegression().fit(train[["x"]], train["responder"])
    return test, model.predict_proba(test.observed[["x"]])[:, 1]


def test_a_model_reaches_the_attainable_auc_and_not_the_full_truths(scenario, trained_and_scored):
    """AUCs on 200,000 patients (SE about 0.0015): the model within 0.005 of the attainable
    oracle, and well below the full truth, which knows the frailty."""
    test, p_model = trained_and_scored
    y = test.observed["responder"].to_numpy()
    attainable = rank_auc(y, oracle(test, [6.0], scenario)["response_probability"])
    full = rank_auc(y, oracle(test, [6.0], scenario, attainable=False)["response_probability"])
    model = rank_auc(y, p_model)
    assert abs(model - attainable) < 0.005
    assert full - attainable > 0.05


def test_a_model_reaches_the_attainable_c_index(scenario, trained_and_scored):
    """Harrell's C of the attainable risk equals that of any score increasing in x (x alone is
    observed); the full truth's log hazard, which reads the frailty, is far above."""
    test, _ = trained_and_scored
    t, e = test.observed["pfs_months"].to_numpy(), test.observed["pfs_event"].to_numpy()
    best = oracle(test, [3.0, 10.0, 30.0], scenario)
    full = oracle(test, [3.0, 10.0, 30.0], scenario, attainable=False)
    c_attainable = concordance_index(t, -best["risk"], e)
    c_full = concordance_index(t, -full["risk"], e)
    c_model = concordance_index(t, -test.observed["x"].to_numpy(), e)
    assert abs(c_model - c_attainable) < 0.005
    assert c_full - c_attainable > 0.05


def test_an_input_that_reads_the_latent_keeps_the_full_truth_and_says_why():
    raw = tomllib.loads(FRAILTY)
    raw["nodes"]["marker"] = {"distribution": "normal", "mean": "u", "sd": 1}
    raw["columns"]["marker"] = {"dtype": "float", "role": "feature"}
    scenario = parse_scenario(raw, "frailty.toml")
    found = attainability(scenario.model)["responder"]
    assert not found.differs and "['marker'] also depend on ['u']" in found.fallback
    cohort = generate(scenario, 500, seed=1)
    np.testing.assert_array_equal(
        oracle(cohort, [6.0], scenario)["response_probability"], cohort.truth["responder_probability"].to_numpy()
    )


@pytest.mark.parametrize("name", ["icb_bone_opn", "myeloma_bmm", "keynote024_pdl1"])
def test_without_latents_the_attainable_oracle_is_the_full_truth(name):
    scenario = load_scenario(name)
    assert not any(a.differs for a in attainability(scenario.model).values())
    cohort = generate(scenario, 300, seed=5)
    a, f = oracle(cohort, [6.0, 12.0], scenario), oracle(cohort, [6.0, 12.0], scenario, attainable=False)
    assert a.keys() == f.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], f[k])


def test_truth_auc_is_the_attainable_auc(scenario, trained_and_scored):
    from synthetic import evaluate_targets

    test, _ = trained_and_scored
    y = test.observed["responder"].to_numpy()
    got = evaluate_targets(scenario, test.observed, test.truth)["T"]
    assert got == pytest.approx(rank_auc(y, oracle(test, [6.0], scenario)["response_probability"]), abs=1e-12)
    fast = evaluate_targets(scenario, test.observed, test.truth, fast=True)["T"]
    assert fast == pytest.approx(got, abs=0.005)  # the expected AUC of the attainable probabilities

"""Time to event with a shape and a median per arm (curves that cross, hazards that are not
proportional between arms): the drawn times against the Weibull distribution of each arm, and
the oracle's survival against the closed form."""

import numpy as np
import pytest
import tomllib
from scipy import stats
from scipy.integrate import quad
from scipy.special import gamma, gammainc

from synthetic import ScenarioError, generate, oracle
from synthetic.scenario import parse_scenario

SHAPES = {"io": 0.6, "chemo": 1.4}
MEDIANS = {"io": 9.0, "chemo": 6.0}

ARMS = """
[scenario]
name = "arms"
title = "A Weibull shape and median per arm"
source = "tests"
default_n = 1000
calibration_seed = 1

[parameters.arm_share]
kind = "assumption"
id = "T"
value = { io = 0.5, chemo = 0.5 }
reason = "1:1"

[parameters.shape_by]
kind = "assumption"
id = "T"
value = { io = 0.6, chemo = 1.4 }
reason = "The immunotherapy arm's curve is flatter."

[parameters.median_by]
kind = "assumption"
id = "T"
value = { io = 9.0, chemo = 6.0 }
reason = "Each arm's median."

[nodes.arm]
distribution = "categorical"
probabilities = "arm_share"
levels = ["io", "chemo"]

[nodes.pfs]
outcome = "time_to_event"
time = "pfs_months"
event = "pfs_event"
median = "median_by[arm]"
shape = "shape_by[arm]"
log_hazard = 0

[[targets]]
id = "T"
label = "median"
statistic = "median_pfs"
value = 7
tolerance = 5

[columns.patient_id]
dtype = "int"
role = "id"

[columns.arm]
dtype = "category"
role = "treatment"
categories = ["io", "chemo"]

[columns.pfs_months]
dtype = "float"
role = "outcome"

[columns.pfs_event]
dtype = "bool"
role = "outcome"
"""


def weibull_survival(t, arm):
    """S(t) = exp(-log 2 (t / M)^k): median M, shape k."""
    return np.exp(-np.log(2) * (np.asarray(t) / MEDIANS[arm]) ** SHAPES[arm])


def weibull_rmst(tau, arm):
    """The integral of S over [0, tau]: (1/k) c^(-1/k) Gamma(1/k) P(1/k, c tau^k), c = log 2 / M^k."""
    k = SHAPES[arm]
    c = np.log(2) / MEDIANS[arm] ** k
    return (1 / k) * c ** (-1 / k) * gamma(1 / k) * gammainc(1 / k, c * tau**k)


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(tomllib.loads(ARMS), "arms.toml")


@pytest.fixture(scope="module")
def cohort(scenario):
    return generate(scenario, 1_000_000, seed=8)


@pytest.mark.parametrize("arm", ["io", "chemo"])
def test_each_arm_draws_its_own_weibull(cohort, arm):
    """KS test of the uncensored times against the arm's CDF at 500,000 patients (p > 0.01 at
    this fixed seed); median, 6-month survival and RMST(12) within 3 Monte Carlo SE of the closed
    forms (the median's SE is 1 / (2 f(M) sqrt(n)))."""
    in_arm = (cohort.observed["arm"] == arm).to_numpy()
    t = cohort.truth["pfs_uncensored"].to_numpy()[in_arm]
    n = len(t)
    assert stats.kstest(t, lambda x: 1 - weibull_survival(x, arm)).pvalue > 0.01
    k, m = SHAPES[arm], MEDIANS[arm]
    density_at_median = 0.5 * np.log(2) * k / m  # f(M) = S(M) h(M), h(M) = log 2 k / M
    assert np.median(t) == pytest.approx(m, abs=3 / (2 * density_at_median * np.sqrt(n)))
    s6 = weibull_survival(6.0, arm)
    assert np.mean(t > 6.0) == pytest.approx(s6, abs=3 * np.sqrt(s6 * (1 - s6) / n))
    capped = np.minimum(t, 12.0)
    assert capped.mean() == pytest.approx(weibull_rmst(12.0, arm), abs=3 * capped.std() / np.sqrt(n))


def test_the_curves_cross_where_the_closed_forms_say(cohort):
    """S_io = S_chemo where log 2 (t/9)^0.6 = log 2 (t/6)^1.4, t* = (9^0.6 / 6^1.4)^(1 / (0.6 - 1.4)):
    the flatter arm is below before t* and above after it, in the drawn cohort too."""
    t_star = (9.0**0.6 / 6.0**1.4) ** (1 / (0.6 - 1.4))
    io = (cohort.observed["arm"] == "io").to_numpy()
    t = cohort.truth["pfs_uncensored"].to_numpy()
    for at, io_higher in ((t_star / 2, False), (t_star * 2, True)):
        assert (np.mean(t[io] > at) > np.mean(t[~io] > at)) == io_higher


def test_the_truth_keeps_each_patients_shape_and_the_oracle_uses_it(scenario):
    small = generate(scenario, 2_000, seed=2)
    arm = small.observed["arm"].astype(str).to_numpy()
    np.testing.assert_array_equal(small.truth["pfs_shape"].to_numpy(), [SHAPES[a] for a in arm])
    best = oracle(small, [3.0, 12.0], scenario)
    want = np.stack([[weibull_survival(t, a) for t in (3.0, 12.0)] for a in arm])
    np.testing.assert_allclose(best["survival"], want, rtol=1e-12)
    np.testing.assert_allclose(best["risk"], -np.log(want[:, 1]), rtol=1e-12)  # at the middle time


CURE = {"io": 0.3, "chemo": 0.0}


@pytest.fixture(scope="module")
def cure_scenario():
    raw = tomllib.loads(ARMS)
    raw["parameters"]["cure_by"] = {"kind": "assumption", "id": "T", "value": CURE, "reason": "durable responders"}
    raw["nodes"]["pfs"]["cure"] = "cure_by[arm]"
    raw["nodes"]["pfs"]["followup"] = [24, 60]
    return parse_scenario(raw, "cure.toml")


@pytest.fixture(scope="module")
def cured_cohort(cure_scenario):
    return generate(cure_scenario, 1_000_000, seed=9)


def mixture_survival(t, arm):
    """S(t) = pi + (1 - pi) S_u(t): a share pi never has the event (the plateau)."""
    return CURE[arm] + (1 - CURE[arm]) * weibull_survival(t, arm)


@pytest.mark.parametrize("arm", ["io", "chemo"])
def test_a_cure_fraction_draws_the_mixture(cured_cohort, arm):
    """The share never having the event within 3 binomial SE of pi; the finite times KS-tested
    against the uncured Weibull (p > 0.01 at this fixed seed); 6-month survival within 3 SE and
    the median within 3 SE (1 / (2 f(m) sqrt(n)), f the mixture's density) of the closed forms."""
    in_arm = (cured_cohort.observed["arm"] == arm).to_numpy()
    t = cured_cohort.truth["pfs_uncensored"].to_numpy()[in_arm]
    n, pi = len(t), CURE[arm]
    assert np.mean(np.isinf(t)) == pytest.approx(pi, abs=3 * np.sqrt(pi * (1 - pi) / n) + 1e-12)
    assert stats.kstest(t[np.isfinite(t)], lambda x: 1 - weibull_survival(x, arm)).pvalue > 0.01
    s6 = mixture_survival(6.0, arm)
    assert np.mean(t > 6.0) == pytest.approx(s6, abs=3 * np.sqrt(s6 * (1 - s6) / n))
    k, m_u = SHAPES[arm], MEDIANS[arm]
    median = m_u * (np.log((1 - pi) / (0.5 - pi)) / np.log(2)) ** (1 / k)
    assert mixture_survival(median, arm) == pytest.approx(0.5, abs=1e-12)
    hazard = np.log(2) * k / m_u * (median / m_u) ** (k - 1)  # the uncured hazard at the median
    density = (1 - pi) * weibull_survival(median, arm) * hazard
    assert np.median(t) == pytest.approx(median, abs=3 / (2 * density * np.sqrt(n)))
    np.testing.assert_allclose(cured_cohort.truth["pfs_median"].to_numpy()[in_arm], median, rtol=1e-12)


def test_the_cured_never_have_the_event_and_the_oracle_has_the_plateau(cure_scenario, cured_cohort):
    observed, truth = cured_cohort.observed.head(5_000), cured_cohort.truth.head(5_000)
    cured = np.isinf(truth["pfs_uncensored"].to_numpy())
    assert not observed["pfs_event"].to_numpy()[cured].any()
    small = generate(cure_scenario, 2_000, seed=3)
    arm = small.observed["arm"].astype(str).to_numpy()
    best = oracle(small, [6.0, 1e6], cure_scenario)["survival"]
    want = np.array([[mixture_survival(t, a) for t in (6.0, 1e6)] for a in arm])
    np.testing.assert_allclose(best, want, rtol=1e-12)
    np.testing.assert_allclose(best[:, 1], [CURE[a] for a in arm], atol=1e-12)  # the plateau


def test_a_cure_probability_outside_0_1_or_without_follow_up_is_a_problem_at_load():
    raw = tomllib.loads(ARMS)
    raw["nodes"]["pfs"]["cure"] = 1.2
    with pytest.raises(ScenarioError, match="needs 'followup = \\[min, max\\]'"):
        parse_scenario(raw, "cure.toml")
    raw["nodes"]["pfs"]["followup"] = [24, 60]
    with pytest.raises(ScenarioError, match=r"cure: must be a probability in \[0, 1\)"):
        parse_scenario(raw, "cure.toml")


LOGLOGISTIC_SHAPE, LOG_ACCELERATION = 1.8, 0.5  # io's log_hazard: every quantile shorter by e^-0.5 ... for chemo


def _family_scenario(**pfs) -> object:
    """ARMS with another curve for PFS (its per-arm median and shape tables dropped, if unused)."""
    raw = tomllib.loads(ARMS)
    raw["nodes"]["pfs"].update(pfs)
    for table in ("shape_by", "median_by"):
        if not any(table in str(v) for v in raw["nodes"]["pfs"].values()):
            del raw["parameters"][table]
    return parse_scenario(raw, "family.toml")


@pytest.fixture(scope="module")
def loglogistic():
    scenario = _family_scenario(
        family="loglogistic", median=9.0, shape=LOGLOGISTIC_SHAPE, log_hazard=f"{LOG_ACCELERATION} * (arm == 'chemo')"
    )
    return scenario, generate(scenario, 1_000_000, seed=10)


def loglogistic_survival(t, arm):
    """S(t) = 1 / (1 + (t / alpha)^k), alpha = M e^(-eta)."""
    alpha = 9.0 * np.exp(-LOG_ACCELERATION * (arm == "chemo"))
    return 1 / (1 + (np.asarray(t) / alpha) ** LOGLOGISTIC_SHAPE)


@pytest.mark.parametrize("arm", ["io", "chemo"])
def test_a_loglogistic_aft_draws_its_curve(loglogistic, arm):
    """KS against the log-logistic CDF (p > 0.01 at this seed); median alpha and RMST(12) within
    3 Monte Carlo SE of the closed forms."""
    _, cohort = loglogistic
    t = cohort.truth["pfs_uncensored"].to_numpy()[(cohort.observed["arm"] == arm).to_numpy()]
    n = len(t)
    assert stats.kstest(t, lambda x: 1 - loglogistic_survival(x, arm)).pvalue > 0.01
    alpha = 9.0 * np.exp(-LOG_ACCELERATION * (arm == "chemo"))
    density = LOGLOGISTIC_SHAPE / (4 * alpha)  # f(alpha) = k / (4 alpha)
    assert np.median(t) == pytest.approx(alpha, abs=3 / (2 * density * np.sqrt(n)))
    rmst = quad(lambda x: loglogistic_survival(x, arm), 0, 12.0)[0]
    capped = np.minimum(t, 12.0)
    assert capped.mean() == pytest.approx(rmst, abs=3 * capped.std() / np.sqrt(n))


def test_the_loglogistic_oracle_is_the_closed_form(loglogistic):
    scenario, cohort = loglogistic
    small = cohort.observed.head(1_000)
    arm = small["arm"].astype(str).to_numpy()
    best = oracle(generate(scenario, 1_000, seed=10), [3.0, 9.0, 20.0], scenario)
    want = np.stack([loglogistic_survival([3.0, 9.0, 20.0], a) for a in arm])
    np.testing.assert_allclose(best["survival"], want, rtol=1e-12)


DELAY, LOG_HR_AFTER = 3.0, -0.7  # immunotherapy: no effect for 3 months, then a hazard ratio of e^-0.7


@pytest.fixture(scope="module")
def delayed():
    scenario = _family_scenario(
        median=6.0, shape=1.0, log_hazard=0, change_at=DELAY, log_hazard_after=f"{LOG_HR_AFTER} * (arm == 'io')"
    )
    return scenario, generate(scenario, 1_000_000, seed=11)


def delayed_survival(t, arm):
    """Piecewise-constant hazards: rate r = log 2 / 6 before 3 months, r e^(-0.7) after on io."""
    t = np.asarray(t, dtype=float)
    r = np.log(2) / 6.0
    after = r * np.exp(LOG_HR_AFTER * (arm == "io"))
    return np.exp(-np.where(t < DELAY, r * t, r * DELAY + after * (t - DELAY)))


@pytest.mark.parametrize("arm", ["io", "chemo"])
def test_a_delayed_effect_draws_piecewise_constant_hazards(delayed, arm):
    """KS against the piecewise-exponential CDF; the curves agree before the change point and
    separate after it (landmarks within 3 SE of the closed forms)."""
    _, cohort = delayed
    t = cohort.truth["pfs_uncensored"].to_numpy()[(cohort.observed["arm"] == arm).to_numpy()]
    n = len(t)
    assert stats.kstest(t, lambda x: 1 - delayed_survival(x, arm)).pvalue > 0.01
    for at in (2.0, 12.0):
        s = float(delayed_survival(at, arm))
        assert np.mean(t > at) == pytest.approx(s, abs=3 * np.sqrt(s * (1 - s) / n))


def test_the_delayed_effects_oracle_and_median_are_the_closed_forms(delayed):
    scenario, _ = delayed
    small = generate(scenario, 1_000, seed=12)
    arm = small.observed["arm"].astype(str).to_numpy()
    best = oracle(small, [1.0, 3.0, 12.0], scenario)
    want = np.stack([delayed_survival([1.0, 3.0, 12.0], a) for a in arm])
    np.testing.assert_allclose(best["survival"], want, rtol=1e-12)
    medians = small.truth["pfs_median"].to_numpy()
    np.testing.assert_allclose([float(delayed_survival(m, a)) for m, a in zip(medians, arm)], 0.5, rtol=1e-12)


@pytest.mark.parametrize(
    "pfs, message",
    [
        ({"family": "gompertz"}, "family 'gompertz' is not one of"),
        ({"change_at": 3.0}, "'change_at' and 'log_hazard_after' go together"),
        ({"family": "loglogistic", "change_at": 3.0, "log_hazard_after": 0}, "is for the weibull family"),
        ({"change_at": "3 + (arm == 'io')", "log_hazard_after": 0}, "read parameters only"),
    ],
)
def test_family_mistakes_are_problems_at_load(pfs, message):
    with pytest.raises(ScenarioError, match=message):
        _family_scenario(**pfs)


@pytest.mark.parametrize("start", [(0.1, 1.2), (0.5, 0.35)])
def test_solving_recovers_a_cure_fraction_and_a_shape_from_perturbed_starts(start):
    """The io arm's cure fraction and shape are free, started away from the truth (0.3, 0.6); the
    targets are the closed-form median and survival at 6 and 36 months of the true curve. The
    solver (200,000 patients, common random numbers) recovers both: the sampling error of the
    targets there is about 0.0015 (SE of a survival among 100,000 patients), which moves the
    solution by a few thousandths."""
    raw = tomllib.loads(ARMS)
    raw["parameters"]["cure_io"] = {"kind": "free", "id": "T", "value": start[0], "bounds": [0.0, 0.6], "reason": "r"}
    raw["parameters"]["shape_io"] = {"kind": "free", "id": "T", "value": start[1], "bounds": [0.3, 2.0], "reason": "r"}
    raw["parameters"]["cure_by"] = {
        "kind": "assumption",
        "id": "T",
        "value": {"io": "cure_io", "chemo": 0.0},
        "reason": "r",
    }
    raw["parameters"]["shape_by"]["value"] = {"io": "shape_io", "chemo": 1.4}
    raw["nodes"]["pfs"].update(cure="cure_by[arm]", followup=[100, 100])
    io = "arm == 'io'"
    median = MEDIANS["io"] * (np.log((1 - 0.3) / 0.2) / np.log(2)) ** (1 / 0.6)
    raw["targets"] = [
        {
            "id": "med",
            "label": "m",
            "statistic": "median_pfs",
            "where": io,
            "value": median,
            "tolerance": 0.005,
            "tolerance_type": "relative",
        },
        *(
            {
                "id": f"s{t}",
                "label": "s",
                "statistic": "survival_at",
                "where": io,
                "time": t,
                "value": float(mixture_survival(t, "io")),
                "tolerance": 0.003,
            }
            for t in (6.0, 36.0)
        ),
    ]
    from synthetic import solve

    result = solve(parse_scenario(raw, "recover.toml"), n=200_000, seed=5)
    assert result.values["cure_io"] == pytest.approx(0.3, abs=0.01)
    assert result.values["shape_io"] == pytest.approx(0.6, abs=0.02)


def test_solving_recovers_a_delayed_effect_from_a_perturbed_start():
    """The log hazard ratio after the change point is free, started at 0 (no effect); the targets
    are the io arm's survival at 12 and 24 months of the true curve (-0.7): recovered within 0.02."""
    raw = tomllib.loads(ARMS)
    del raw["parameters"]["shape_by"], raw["parameters"]["median_by"]
    raw["parameters"]["log_hr_after"] = {"kind": "free", "id": "T", "value": 0.0, "bounds": [-2.0, 1.0], "reason": "r"}
    raw["nodes"]["pfs"].update(
        median=6.0, shape=1.0, log_hazard=0, change_at=DELAY, log_hazard_after="log_hr_after * (arm == 'io')"
    )
    raw["targets"] = [
        {
            "id": f"s{t}",
            "label": "s",
            "statistic": "survival_at",
            "where": "arm == 'io'",
            "time": t,
            "value": float(delayed_survival(t, "io")),
            "tolerance": 0.003,
        }
        for t in (12.0, 24.0)
    ]
    from synthetic import solve

    result = solve(parse_scenario(raw, "delayed.toml"), n=200_000, seed=6)
    assert result.values["log_hr_after"] == pytest.approx(LOG_HR_AFTER, abs=0.02)

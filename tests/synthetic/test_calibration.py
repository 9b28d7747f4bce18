"""Statistical tests of the calibrated ICB scenario. Seeds are fixed; each tolerance is stated.

The population-scale tolerances are the targets' own (KM medians 1%, rates 0.5 points, B5 0.25
months, B7 1 point), checked on a population of 4,000,000 drawn with a seed the solver never saw:
at that size the Monte Carlo error of each statistic is below a third of its tolerance.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from synthetic import evaluate_targets, generate, report
from synthetic.calibration import POPULATION_N, _combine, cox_hazard_ratio, km_median

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def population(icb_scenario):
    return generate(icb_scenario, POPULATION_N, seed=icb_scenario.calibration_seed + 1)


def test_targets_hold_at_population_scale(icb_scenario, population):
    got = evaluate_targets(icb_scenario, population.observed, cox_rows=200_000)
    missed = {
        t.id: (t.value, round(got[t.id], 4))
        for t in icb_scenario.targets
        if t.statistic != "significant_hr_share" and not t.within(got[t.id])
    }
    assert missed == {}
    assert got["B6"] > 1 and got["B6:p"] < 1e-6


def test_solver_objectives_agree_with_what_a_study_sees(icb_scenario, population):
    """The solver's smooth truth-based statistics and the observed ones differ by Monte Carlo error only."""
    fast = evaluate_targets(icb_scenario, population.observed, population.truth, fast=True)
    seen = evaluate_targets(icb_scenario, population.observed, cox_rows=1000)
    for t in icb_scenario.targets:
        if t.statistic == "significant_hr_share":
            continue
        scale = t.tolerance * (abs(t.value) if t.tolerance_type == "relative" else 1.0)
        assert abs(fast[t.id] - seen[t.id]) <= scale, t.id


def test_b6_bone_metastasis_independent_predictor_in_most_trials(icb_scenario):
    """B6: HR > 1 with p < 0.05 in >= 80% of 100 seeded replicates of n = 927.

    Seen: 94 of these 100 (92% of 200). The share's Monte Carlo standard error at 100
    replicates is about 0.027, so the margin above 80% is more than 4 standard errors."""
    (b6,) = [t for t in icb_scenario.targets if t.id == "B6"]
    shares = []
    for seed in range(100):
        obs = generate(icb_scenario, 927, seed=10_000 + seed).observed
        hr, p = cox_hazard_ratio(obs, b6.covariate, b6.adjust, "pfs_months", "pfs_event")
        shares.append(hr > 1 and p < 0.05)
    assert np.mean(shares) >= b6.value


def test_cox_recovers_the_generators_log_hazard_ratios(icb_scenario):
    """Parameter recovery (as R's simsurv): a Cox model on the generator's covariate transforms.

    n = 1,000,000 makes the standard error of every coefficient tested for relative bias at most
    a quarter of the 5% tolerance (asserted below, so the test cannot pass by being too loose);
    coefficients that are zero by construction must be within 4 standard errors of 0.
    """
    from lifelines import CoxPHFitter

    v = icb_scenario.values()
    o = generate(icb_scenario, 1_000_000, seed=424242).observed
    x = pd.DataFrame(
        {
            "pfs_per_log2_tmb": np.log2(o.tmb_mut_per_mb / 10),
            "pfs_per_pdl1": o.pdl1_tps_pct / 100,
            "pfs_per_log2_nlr": np.log2(o.nlr / 3),
            "pfs_per_albumin": o.albumin_g_per_l - 38,
            "pfs_per_ecog": o.ecog.astype(float),
            "pfs_per_log2_ldh": np.log2(o.ldh_u_per_l / 220),
            "pfs_driver_mutation": o.driver_mutation.astype(float),
            "pfs_per_log2_opn": np.log2(o.opn_ng_ml / 50),
            "pfs_bone_direct": o.bone_metastasis.astype(float),
            "null_age": o.age_years.astype(float),
            "null_sex": (o.sex == "M").astype(float),
            "null_1": np.log(o.null_biomarker_1),
            "null_2": o.null_biomarker_2,
            "null_3": o.null_biomarker_3.astype(float),
        }
    )
    for t in ["NSCLC", "melanoma", "RCC", "urothelial", "HNSCC"]:
        x[f"type_{t}"] = (o.tumour_type == t).astype(float)
    x["T"], x["E"] = o.pfs_months, o.pfs_event
    fit = CoxPHFitter().fit(x, "T", "E").summary
    other = v["pfs_tumour_log_hr"]["other"]
    truth = {k: v[k] for k in x.columns if k.startswith("pfs_")}
    truth |= {
        f"type_{t}": (v["pfs_log_hr_nsclc"] if t == "NSCLC" else v["pfs_tumour_log_hr"][t]) - other
        for t in ["NSCLC", "melanoma", "RCC", "urothelial", "HNSCC"]
    }
    checked = set()
    for name, beta in truth.items():
        est, se = fit.loc[name, "coef"], fit.loc[name, "se(coef)"]
        if abs(beta) * 0.05 >= 4 * se:
            assert abs(est - beta) <= 0.05 * abs(beta), (name, beta, est)
            checked.add(name)
        else:  # too small for a relative criterion at this n: within 4 SE instead
            assert abs(est - beta) <= 4 * se, (name, beta, est, se)
    # The biomarkers of the causal story are among those held to the 5% criterion.
    assert {
        "pfs_per_log2_opn",
        "pfs_per_pdl1",
        "pfs_per_log2_nlr",
        "pfs_per_albumin",
        "pfs_per_ecog",
        "pfs_per_log2_ldh",
        "type_NSCLC",
    } <= checked
    for name in ("null_age", "null_sex", "null_1", "null_2", "null_3"):
        assert abs(fit.loc[name, "coef"]) <= 4 * fit.loc[name, "se(coef)"], name


def test_kaplan_meier_median_matches_the_truth():
    """km_median on uncensored exponential data: the median of Exp(rate) is log(2)/rate (tolerance 2%, ~6 SE at n=200,000)."""
    rng = np.random.default_rng(0)
    t = rng.exponential(10.0, 200_000)
    assert km_median(t, np.ones_like(t, bool)) == pytest.approx(10 * np.log(2), rel=0.02)
    assert np.isnan(km_median(np.array([]), np.array([], bool)))


def test_contrasts():
    assert _combine(None, 3.0, None) == 3.0
    assert _combine("difference", 11.9, 8.2) == pytest.approx(3.7)
    assert _combine("ratio", 8.2, 11.9) == pytest.approx(8.2 / 11.9)
    assert _combine("relative_reduction", 8.2, 11.9) == pytest.approx(1 - 8.2 / 11.9)


def test_report_table_is_complete(icb_scenario):
    rep = report(icb_scenario, population_n=50_000, replicates=3)
    assert list(rep.table["id"]) == [t.id for t in icb_scenario.targets]
    assert rep.table[["population", "rep_mean", "rep_lo", "rep_hi"]].notna().all().all()
    text = rep.to_text()
    assert "B8.high" in text and "n=927" in text


def test_solver_brings_perturbed_parameters_back_onto_the_targets(icb_scenario):
    """Start the solver away from the shipped values; it must put every solvable target back
    within its tolerance (on its own 300,000-patient population, where it is measured)."""
    from synthetic import solve

    v = icb_scenario.values()
    start = icb_scenario.with_values(
        {"pfs_baseline_median": v["pfs_baseline_median"] * 1.25, "resp_intercept": v["resp_intercept"] + 6.0}
    )
    result = solve(start, n=300_000, seed=77, max_nfev=150)
    assert result.success, result.message
    for t in icb_scenario.targets:
        if t.id in result.achieved:
            assert t.within(result.achieved[t.id]), (t.id, result.achieved[t.id])
    # The parameters themselves need not return exactly: within the tolerances the ten targets
    # leave a narrow valley (baseline median against the NSCLC and OPN log hazard ratios).


def test_solver_needs_free_parameters(icb_scenario):
    from dataclasses import replace

    from synthetic import CalibrationError, solve

    fixed = replace(
        icb_scenario, parameters={k: replace(p, kind="assumption") for k, p in icb_scenario.parameters.items()}
    )
    with pytest.raises(CalibrationError, match="no free parameter"):
        solve(fixed, n=1000)


def test_a_count_tolerance_is_widened_to_the_check_populations_monte_carlo_error():
    """444 of 1,004 gives half a patient (0.0005); among 200,000 patients a rate near 0.44 has a
    Monte Carlo SE of 0.0011, so the check allows 3 SE (0.0033) and says so."""
    from synthetic.calibration_report import _monte_carlo_floor
    from synthetic.targets import Target

    t = Target(id="R", label="rate", statistic="rate", value=444 / 1004, tolerance=0.5 / 1004, column="x")
    checked = _monte_carlo_floor(t, 0.444, 200_000)
    assert checked.tolerance == pytest.approx(3 * (0.444 * 0.556 / 200_000) ** 0.5)
    assert not t.within(0.444) and checked.within(0.444)
    assert _monte_carlo_floor(t, 0.444, 100_000_000) is t  # already coarser than 3 SE there
    mean = replace(t, statistic="mean")
    assert _monte_carlo_floor(mean, 0.444, 200_000) is mean  # only a rate's SE is known in closed form here

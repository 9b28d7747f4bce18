"""The myeloma bone-marrow microenvironment scenario (Scenario 2): arms, mechanisms, recovery.

Mechanism tests regress the truth's linear predictor on the observed transforms within each arm:
the predictor is an exact linear function of them (the generator computes it from the rounded
observed values), so ordinary least squares must return the scenario's arm tables to 1e-6.
"""

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, ndtr

from features import validate
from synthetic import evaluate_targets, generate
from synthetic.calibration import POPULATION_N
from tests import myeloma_truth as mm

#: M7/M8/M9/M10: which arm each resistance mechanism must (True) and must not (False) act on.
MECHANISMS = {
    "resp_per_log2_cd38": {"dara_krd": True, "tal_tec": False, "car_t": False},
    "resp_per_log2_cd55_cd59": {"dara_krd": True, "tal_tec": False, "car_t": False},
    "resp_bcma_silencing": {"dara_krd": False, "tal_tec": True, "car_t": True},
    "resp_per_10pct_gprc5d": {"dara_krd": False, "tal_tec": True, "car_t": True},
    "resp_per_log2_treg": {"dara_krd": True, "tal_tec": True, "car_t": True},
    "resp_per_hypoxia": {"dara_krd": False, "tal_tec": False, "car_t": True},
    "resp_per_log2_lactate": {"dara_krd": False, "tal_tec": False, "car_t": True},
}


def test_default_cohort_is_the_three_trials(myeloma_scenario):
    c = generate(myeloma_scenario, seed=0)
    assert c.n == 154
    assert c.observed["therapy_arm"].value_counts().to_dict() == {"dara_krd": 39, "tal_tec": 94, "car_t": 21}
    assert list(c.observed.columns) == myeloma_scenario.schema.names
    validate(c.observed, myeloma_scenario.schema)


@pytest.mark.parametrize("n", [1, 2, 155, 1001])
def test_arm_sizes_are_exact_for_any_n(myeloma_scenario, n):
    counts = generate(myeloma_scenario, n, seed=3).observed["therapy_arm"].value_counts()
    share = np.array([myeloma_scenario.values()["arm_share"][a] for a in mm.ARMS])
    assert counts.sum() == n
    assert np.all(np.abs(counts[list(mm.ARMS)].to_numpy() - n * share) < 1)


def test_same_seed_same_cohort(myeloma_scenario):
    a, b = generate(myeloma_scenario, 800, seed=4), generate(myeloma_scenario, 800, seed=4)
    pd.testing.assert_frame_equal(a.observed, b.observed)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.observed["pfs_months"].equals(generate(myeloma_scenario, 800, seed=5).observed["pfs_months"])


def test_every_parameter_names_its_figure_and_reason(myeloma_scenario):
    for p in myeloma_scenario.parameters.values():
        assert p.id == "none" or re.fullmatch(r"M\d+(,M\d+)*", p.id), (p.name, p.id)
        assert len(p.reason) > 15, p.name
    ids = {t.id.split(".")[0] for t in myeloma_scenario.targets}
    assert ids == {f"M{i}" for i in range(1, 8)}
    assert {"M8", "M9", "M10"} <= {
        i for p in myeloma_scenario.parameters.values() if p.kind == "mechanism" for i in p.id.split(",")
    }


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_mechanisms_act_on_the_arms_they_should(myeloma_scenario, name):
    """M7-M10 as the scenario file encodes them: non-zero exactly where the mechanism acts."""
    table = myeloma_scenario.values()[name]
    assert {arm: table[arm] != 0 for arm in mm.ARMS} == MECHANISMS[name]


def _design(obs: pd.DataFrame, values) -> pd.DataFrame:
    med = values["tme_median"]
    return pd.DataFrame(
        {
            "resp_per_log2_cd38": np.log2(obs.cd38_density_k / 50),
            "resp_per_log2_cd55_cd59": np.log2(obs.cd55_cd59_fold),
            "resp_per_log2_treg": np.log2(obs.treg_pct / med["treg_pct"]),
            "resp_per_log2_mdsc": np.log2(obs.mdsc_pct / med["mdsc_pct"]),
            "resp_per_log2_tgfb": np.log2(obs.tgfb_pg_ml / med["tgfb_pg_ml"]),
            "resp_per_log2_il6": np.log2(obs.il6_pg_ml / med["il6_pg_ml"]),
            "resp_per_log2_lactate": np.log2(obs.lactate_mmol_l / med["lactate_mmol_l"]),
            "resp_per_hypoxia": obs.hypoxia_score,
            "resp_per_10pct_pd1_cd8": (obs.pd1_cd8_pct - 30) / 10,
            "resp_bcma_silencing": expit((obs.bcma_methylation_pct - 70) / 5),
            "resp_per_10pct_gprc5d": (obs.gprc5d_positive_pct - 80) / 10,
            "resp_emd": obs.extramedullary_disease.astype(float),
            "resp_per_iss": obs.iss_stage - 1.0,
            "resp_high_risk": obs.high_risk_cytogenetics.astype(float),
            "resp_per_10y_age": (obs.age_years - 65) / 10,
            "resp_per_prior_line": obs.prior_lines.astype(float),
            "null_1": np.log(obs.null_biomarker_1),
            "null_2": obs.null_biomarker_2,
            "null_3": obs.null_biomarker_3.astype(float),
        }
    )


def test_response_predictor_is_the_documented_formula(myeloma_scenario):
    """OLS of the truth's m(x) on the docstring's transforms, per arm, returns the parameters exactly."""
    v = myeloma_scenario.values()
    c = generate(myeloma_scenario, 20_000, seed=6)
    X = _design(c.observed, v)
    for arm in mm.ARMS:
        rows = (c.observed.therapy_arm == arm).to_numpy()
        A = np.column_stack([np.ones(rows.sum()), X[rows].to_numpy()])
        if arm == "dara_krd":  # no prior lines in newly diagnosed disease: drop the constant column
            keep = [i for i, name in enumerate(["intercept", *X.columns]) if name != "resp_per_prior_line"]
            A, names = A[:, keep], [n for n in ["intercept", *X.columns] if n != "resp_per_prior_line"]
        else:
            names = ["intercept", *X.columns]
        coef, *_ = np.linalg.lstsq(A, c.truth.resp_linear_predictor.to_numpy()[rows], rcond=None)
        got = dict(zip(names, coef))
        assert got["intercept"] == pytest.approx(v[f"resp_intercept_{arm}"], abs=1e-6)
        for name in names[1:]:
            want = 0.0 if name.startswith("null_") else (v[name][arm] if isinstance(v[name], dict) else v[name])
            assert got[name] == pytest.approx(want, abs=1e-6), (arm, name)


def test_imwg_categories_follow_the_cut_points(myeloma_scenario):
    """Ordered probit: the share in each category matches the truth's probabilities (tolerance 4 binomial SE, n = 100,000)."""
    v = myeloma_scenario.values()
    c = generate(myeloma_scenario, 100_000, seed=7)
    obs, m = c.observed, c.truth.resp_linear_predictor.to_numpy()
    rank = obs.best_response.cat.codes.to_numpy()
    for level, cut in enumerate([0.0, v["cut_vgpr"], v["cut_cr"], v["cut_scr"]], start=1):
        p = ndtr(m - cut)
        seen = (rank >= level).mean()
        assert abs(seen - p.mean()) <= 4 * np.sqrt(p.mean() * (1 - p.mean()) / len(p)), (
            myeloma_scenario.model.graph.node("best_response").levels[level]
        )
    assert ((rank >= 1) == obs.objective_response).all()
    assert ((rank >= 3) == obs.cr_or_better).all()
    assert not (obs.mrd_negative & ~obs.cr_or_better).any()  # MRD is assessed in CR


def test_oracle_survival_is_the_documented_weibull(myeloma_scenario):
    """The true S(t | x) at 18 months, averaged, matches the uncensored times (4 SE, n = 100,000)."""
    c = generate(myeloma_scenario, 100_000, seed=8)
    s18 = myeloma_scenario.model.oracle(c.truth, c.parameters, np.array([18.0]))["survival"][:, 0]
    seen = (c.truth.pfs_months_uncensored > 18).to_numpy()
    assert abs(seen.mean() - s18.mean()) <= 4 * np.sqrt(s18.mean() * (1 - s18.mean()) / len(s18))


@pytest.mark.slow
def test_cox_recovers_the_pfs_log_hazard_ratios(myeloma_scenario):
    """Parameter recovery (simsurv style): lifelines Cox on 300,000 patients, every coefficient
    within 5% of the generator's, or within 4 SE where 5% is below 4 SE."""
    from lifelines import CoxPHFitter

    v = myeloma_scenario.values()
    c = generate(myeloma_scenario, 300_000, seed=9)
    obs, truth = c.observed, c.truth
    k = v["pfs_weibull_shape"]
    intercept = obs.therapy_arm.map({a: v[f"resp_intercept_{a}"] for a in mm.ARMS}).astype(float)
    x = pd.DataFrame(
        {
            "depth": truth.resp_linear_predictor - intercept,
            "high_risk": obs.high_risk_cytogenetics.astype(float),
            "iss": obs.iss_stage - 1.0,
            "tal_tec": (obs.therapy_arm == "tal_tec").astype(float),
            "car_t": (obs.therapy_arm == "car_t").astype(float),
            "T": obs.pfs_months,
            "E": obs.pfs_event,
        }
    )
    fit = CoxPHFitter().fit(x, "T", "E").summary
    want = {
        "depth": -v["pfs_log_hr_per_depth"],
        "high_risk": v["pfs_high_risk"],
        "iss": v["pfs_per_iss"],
        "tal_tec": k * np.log(v["pfs_median_dara_krd"] / v["pfs_median_tal_tec"]),
        "car_t": k * np.log(v["pfs_median_dara_krd"] / v["pfs_median_car_t"]),
    }
    for name, beta in want.items():
        est, se = fit.loc[name, "coef"], fit.loc[name, "se(coef)"]
        assert abs(est - beta) <= max(0.05 * abs(beta), 4 * se), (name, beta, est, se)


@pytest.mark.slow
def test_targets_hold_at_population_scale(myeloma_scenario):
    """Every target within its own tolerance on 4,000,000 patients drawn with a seed the solver
    never saw (the Monte Carlo SE of the smallest subgroup's rate, CAR-T at 545,000, is 0.0007)."""
    c = generate(myeloma_scenario, POPULATION_N, seed=myeloma_scenario.calibration_seed + 1)
    got = evaluate_targets(myeloma_scenario, c.observed)
    missed = {t.id: (t.value, round(got[t.id], 4)) for t in myeloma_scenario.targets if not t.within(got[t.id])}
    assert missed == {}
    fast = evaluate_targets(myeloma_scenario, c.observed, c.truth, fast=True)
    for t in myeloma_scenario.targets:
        if t.tolerance_type != "at_least":
            assert abs(fast[t.id] - got[t.id]) <= t.tolerance, t.id


def test_biomarker_effects_are_the_coefficients_times_the_arms_iqr(myeloma_scenario):
    from synthetic import generate
    from tests.myeloma_truth import NULL_BIOMARKERS, biomarker_effects

    cohort = generate(myeloma_scenario, 6000, seed=3)
    values = cohort.parameters
    effects = biomarker_effects(cohort.observed, values)
    assert list(effects.columns) == ["dara_krd", "tal_tec", "car_t"]
    assert (effects.loc[list(NULL_BIOMARKERS)] == 0).all().all()
    assert effects.loc["gprc5d_positive_pct", "dara_krd"] == 0 and effects.loc["cd38_density_k", "car_t"] == 0
    arm = cohort.observed[cohort.observed.therapy_arm == "dara_krd"]
    q25, q75 = np.percentile(np.log2(arm.cd38_density_k / 50.0), [25, 75])
    assert effects.loc["cd38_density_k", "dara_krd"] == pytest.approx(
        values["resp_per_log2_cd38"]["dara_krd"] * (q75 - q25)
    )
    assert (effects > 0).sum().to_dict() == {"dara_krd": 6, "tal_tec": 5, "car_t": 7}

"""SHAP recovers the generator's true effects (seeded; the margins below are wide, see figures).

At n = 20,000 (seed 1), XGBoost with depth-2 trees, and XGBoost's linear booster (the other
family the experiments' search may choose); SHAP on 5,000 patients. Every biomarker with a
true effect on the task ranks above every null biomarker, and higher OPN pushes PFS risk up and
response down. Bone metastasis is left out of the "true effect" set: its effect on response is
entirely mediated by OPN (B11, a mechanism parameter of 0), and its direct PFS log hazard ratio
(about 0.05) is too small to separate from noise at this size.
"""

import numpy as np
import pandas as pd
import pytest

from features.pipeline import CohortFeatures
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv
from predictor.training import shap_importance, shap_importance_by
from synthetic import generate

pytestmark = pytest.mark.slow

TRUE_EFFECTS = [
    "opn_ng_ml",
    "tmb_mut_per_mb",
    "pdl1_tps_pct",
    "nlr",
    "albumin_g_per_l",
    "ecog",
    "ldh_u_per_l",
    "driver_mutation",
    "tumour_type",
]
NULLS = ["null_biomarker_1", "null_biomarker_2", "null_biomarker_3"]


BOOSTERS = {
    "gbtree": {"max_depth": 2},
    "gblinear": {"learning_rate": 0.5, "reg_lambda": 0.0, "n_estimators": 300, "early_stopping_rounds": None},
}


@pytest.fixture(scope="module", params=list(BOOSTERS))
def fitted(icb_scenario, request):
    obs = generate(icb_scenario, 20_000, seed=1).observed
    features = CohortFeatures(schema=icb_scenario.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(obs)
    X = features.transform(obs)
    kw = {"booster": request.param, "random_state": 0, **BOOSTERS[request.param]}
    models = {
        "survival": XGBSurvival(**kw).fit(X, make_surv(obs.pfs_event, obs.pfs_months)),
        "response": XGBResponseClassifier(**kw).fit(X, obs.objective_response),
    }
    return obs.iloc[:5000], X.iloc[:5000], features, models


@pytest.mark.parametrize("task", ["survival", "response"])
def test_true_effects_rank_above_nulls(fitted, icb_scenario, task):
    v = icb_scenario.values()
    prefix = "pfs_" if task == "survival" else "resp_"
    # the generator's coefficients of the listed biomarkers are indeed non-zero
    assert all(v[k] != 0 for k in v if k.startswith(prefix + "per_")) and v[prefix + "driver_mutation"] != 0
    _, X, features, models = fitted
    values, _ = models[task].shap_values(X)
    imp = shap_importance(pd.DataFrame(values, columns=X.columns, index=X.index), features)
    assert imp[TRUE_EFFECTS].min() > imp[NULLS].max(), imp.round(4).to_dict()
    assert imp.index[0] in ("opn_ng_ml", "tumour_type")


def test_higher_osteopontin_pushes_risk_up_and_response_down(fitted):
    obs, X, features, models = fitted
    opn_cols = [c for c in X.columns if features.source_of(c) == "opn_ng_ml"]
    for task, sign in (("survival", 1), ("response", -1)):
        values, _ = models[task].shap_values(X)
        contrib = pd.DataFrame(values, columns=X.columns)[opn_cols].sum(axis=1)
        assert sign * np.corrcoef(np.log(obs["opn_ng_ml"]), contrib)[0, 1] > 0.9


# --------------------------------------------------------------------------------- myeloma arms
@pytest.fixture(scope="module")
def myeloma_fitted(myeloma_scenario):
    """n = 30,000 (seed 1): 24,000 to fit depth-3 XGBoost, 3,000 to explain within each arm."""
    obs = generate(myeloma_scenario, 30_000, seed=1).observed
    features = CohortFeatures(schema=myeloma_scenario.schema).fit(obs)
    X = features.transform(obs)
    tr, ev = slice(0, 24_000), slice(24_000, 27_000)
    y_surv = make_surv(obs.pfs_event.iloc[tr], obs.pfs_months.iloc[tr])
    models = {
        "response": XGBResponseClassifier(random_state=0, max_depth=3).fit(X.iloc[tr], obs.objective_response.iloc[tr]),
        "survival": XGBSurvival(random_state=0, max_depth=3).fit(X.iloc[tr], y_surv),
    }
    return {
        task: shap_importance_by(
            m, X.iloc[ev], obs.therapy_arm.iloc[ev], X.iloc[tr], obs.therapy_arm.iloc[tr], features
        )
        for task, m in models.items()
    }


@pytest.mark.parametrize("task", ["response", "survival"])
def test_shap_within_arms_recovers_the_arm_specific_mechanisms(myeloma_fitted, task):
    """M7/M9: BCMA methylation matters for the BCMA-directed arms, not for anti-CD38; M8: CD38
    density matters for anti-CD38 and not for the others. "Matters" is mean |SHAP| within the arm;
    the margin is 3x (seen: at least 4.7x; the generator's effects are exactly 0 where they should be)."""
    imp = myeloma_fitted[task]
    bcma, cd38 = imp.loc["bcma_methylation_pct"], imp.loc["cd38_density_k"]
    assert min(bcma["tal_tec"], bcma["car_t"]) > 3 * bcma["dara_krd"], bcma.round(3).to_dict()
    assert cd38["dara_krd"] > 3 * max(cd38["tal_tec"], cd38["car_t"]), cd38.round(3).to_dict()
    assert (imp.loc["therapy_arm"] == 0).all()  # constant within an arm: no credit
    nulls = imp.loc[NULLS].max().max()
    assert min(bcma["tal_tec"], bcma["car_t"], cd38["dara_krd"]) > 3 * nulls


# ------------------------------------------------- the shipped myeloma model, against the truth
#: The penalties the shipped myeloma search picks on this fixture's cohort (20,000 patients, seed
#: 2), measured by running ``predictor.training.search`` on it: 0.0 for response (CV AUC 0.836),
#: 0.003 for survival (CV C-index 0.726). The fixture fits the chosen candidate directly; running
#: the search here (36 fits of the linear booster) cost about 95 s of CPU in every suite run and
#: gave the same model bit for bit. The search is tested elsewhere: the golden test pins its
#: choice and CV score on the ICB experiment (both boosters; ``tests/golden/icb_search.json``), and
#: ``tests/predictor/training/test_myeloma_models.py`` runs the shipped myeloma search in full (both
#: boosters, arm terms) on a cohort seed of its own.
SEARCH_CHOICE = {"response": 0.0, "survival": 0.003}


def _shipped_candidate(exp, task_name: str):
    """The shipped search's candidate with the penalty it chose for ``task_name``, exactly one
    (so a grid that no longer offers that penalty fails here, not silently)."""
    import predictor.training as stages

    grid = stages.search_candidates(("gblinear",), exp.search.n_iter, exp.search.seed, exp.search.interactions)
    matches = [p for p in grid if p["reg_lambda"] == SEARCH_CHOICE[task_name]]
    assert len(matches) == 1, (task_name, grid)
    return stages.SearchResult(params=matches[0], cv_score=float("nan"), metric="not searched")


@pytest.fixture(scope="module")
def myeloma_shipped():
    """The shipped myeloma experiment's linear booster with arm terms (the candidate its search
    picks, its features, its SHAP within arms) on 20,000 patients of cohort seed 2, which no
    shipped experiment uses (15,000 to fit, 3,000 of the rest explained)."""
    from dataclasses import replace

    import predictor.training as stages
    from predictor.config.experiment import load_experiment
    from tests.myeloma_truth import biomarker_effects

    exp = load_experiment("myeloma_bmm")
    exp = replace(
        exp,
        cohort=replace(exp.cohort, n=20_000, seed=2),
        validation=replace(exp.validation, n=0),
        outcomes=replace(exp.outcomes, binary=()),
    )
    data = stages.load_data(exp)
    features = stages.fit_features(exp, data)
    X = features.transform(data.train.frame)
    fitted = []
    for task in data.tasks:
        y = task.target(data.train.frame)
        chosen = _shipped_candidate(exp, task.name)
        fitted.append(
            stages.FittedTask(
                task=task, model=stages.fit_xgboost(task, chosen, exp.search.seed, X, y), baseline=None, search=chosen
            )
        )
    explained = stages.explain(fitted, data.test, features, data.train, data.schema, exp.shap, exp.evaluation.seed)
    return explained, biomarker_effects(data.observed, data.source.parameters)


@pytest.mark.parametrize("task", ["response", "survival"])
def test_shipped_myeloma_model_ranks_acting_biomarkers_above_inert_ones_in_every_arm(myeloma_shipped, task):
    """Within each arm, a biomarker that moves the response linear predictor by >= 0.1 across
    its IQR there ("acting") gets a larger mean |SHAP| than one with no effect there ("inert":
    the null biomarkers, and those whose mechanism does not act on the arm) in at least 80% of
    the (acting, inert) pairs of every arm, and in every pair of at least two of the three arms.

    The margin, measured on cohort seeds 2-5 (none of them a shipped experiment's) with the
    same search: at 20,000 patients (this test's size) the share of pairs ordered was at least
    0.91 in each of the 24 arm-task pairs, and every pair was ordered in 18 of the 24; at
    30,000, at least 0.857, and 20 of 24; never fewer than two arms of a task at either size.
    It is not a promise that every pair orders: the misses are mostly TGF-beta, which acts in
    the Tal-Tec arm alone, ranked high in the CAR-T arm. The linear booster's ridge penalty
    prefers one coefficient shared by the arms to an arm-specific one, so a strong effect in one
    arm leaks into the others, and the microenvironment markers share a latent score, so an
    inert marker borrows credit from acting ones it correlates with.

    At the shipped size (5,000 patients, 3,750 to fit) no model can promise even this: a
    correctly specified logistic regression on the generator's own transforms, fitted within
    the arm, separates them in 0 of 10 cohorts in the CAR-T arm (511 patients, 90% responders)
    and 3 of 10 in the Dara-KRd arm (README, "Myeloma: options measured")."""
    from predictor.metrics import shap_recovery

    explained, effects = myeloma_shipped
    recovery = shap_recovery(explained[task].importance_by, effects)
    assert len(recovery) == 3, recovery.to_string()
    assert (recovery.ranked_pairs >= 0.8).all() and recovery.separated.sum() >= 2, recovery.to_string()

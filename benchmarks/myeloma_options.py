"""Measure the modelling options of the myeloma experiment on several cohort seeds, side by side.

For each cohort seed (default: 11, the shipped experiment's, and 101, 202, 303, which no shipped
experiment uses) the experiment ``myeloma_bmm`` is rebuilt with that cohort seed and the
validation seed + 1, and each option is searched, fitted and scored on the 10,000-patient
validation cohort, exactly as ``predictor train`` does (same stages, same bootstrap), beside
the logistic / Cox baselines and the oracle. Each row also says whether SHAP within each arm
ranks every biomarker that acts there (moves the response linear predictor by >= 0.1 across its
interquartile range) above every biomarker with no effect there.

    python benchmarks/myeloma_options.py [--seeds 11 101 202 303] [--options trees linear ...]

Options: ``trees`` (8 seeded draws of trees, the experiment before this comparison), ``trees24``
(24 draws), ``linear`` (the linear booster, main effects), ``linear_arm`` (the linear booster
with a coefficient per arm), ``shipped`` (trees and the linear booster with arm terms compete on
CV score: the shipped file), ``shipped_bcma70`` (the same, plus the flag BCMA methylation > 70%,
M7's threshold). Prints one markdown table per outcome; takes about 2 minutes per seed and option
set on 2 cores.

    python benchmarks/myeloma_options.py --well-specified 3750 10

asks instead how often even a correctly specified model (a logistic regression within each arm
on the generator's own terms) separates acting from inert biomarkers at a training size.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

OPTIONS = {
    "trees": {"search": {"boosters": ("gbtree",), "interactions": None}},
    "trees24": {"search": {"boosters": ("gbtree",), "interactions": None, "n_iter": 24}},
    "linear": {"search": {"boosters": ("gblinear",), "interactions": None}},
    "linear_arm": {"search": {"boosters": ("gblinear",), "interactions": "therapy_arm"}},
    "shipped": {},
    "shipped_bcma70": {"features": {"cutoffs": {"bcma_methylation_pct": (70.0,)}}},
}


def _experiment(seed: int, option: str):
    from predictor.config.experiment import load_experiment

    exp = load_experiment("myeloma_bmm")
    exp = replace(
        exp,
        cohort=replace(exp.cohort, seed=seed),
        validation=replace(exp.validation, seed=seed + 1),
        outcomes=replace(exp.outcomes, binary=()),
    )
    for section, changes in OPTIONS[option].items():
        exp = replace(exp, **{section: replace(getattr(exp, section), **changes)})
    return exp


def run(seed: int, option: str, data=None) -> tuple[list[dict], object]:
    """One option on one cohort seed: a row per task (validation metrics, choice, time, SHAP check)."""
    import predictor.training as stages
    from predictor.metrics import shap_recovery

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests/
    from tests.myeloma_truth import biomarker_effects

    exp = _experiment(seed, option)
    data = stages.load_data(exp) if data is None else data
    start = time.perf_counter()
    features = stages.fit_features(exp, data)
    X = features.transform(data.train.frame)
    fitted = []
    for task in data.tasks:
        chosen = stages.search(task, X, task.target(data.train.frame), exp.search)
        fitted.append(stages.fit(task, chosen, exp, data, features, X_train=X))
    seconds = time.perf_counter() - start
    ev = stages.evaluate(fitted, [data.validation], features, data.source, exp.evaluation)
    shap = stages.explain(fitted, data.test, features, data.train, data.schema, exp.shap, exp.evaluation.seed)
    effects = biomarker_effects(data.validation.frame, data.source.parameters)
    m = ev.metrics
    rows = []
    for f in fitted:
        headline = "auc" if f.task.name == "response" else "harrell_c"
        pick = lambda model: m[(m.task == f.task.name) & (m.model == model) & (m.metric == headline)].iloc[0]
        recovery = shap_recovery(shap[f.task.name].importance_by, effects)
        rows.append(
            {
                "seed": seed,
                "option": option,
                "task": f.task.name,
                "choice": _choice(f.search.params),
                "xgboost": pick("xgboost").estimate,
                "baseline": pick("baseline").estimate,
                "oracle": pick("oracle").estimate,
                "diff": pick("xgboost_minus_baseline"),
                "gap": pick("oracle_minus_xgboost").estimate,
                "seconds": seconds,
                "shap_arms": ", ".join(f"{r.group} {'yes' if r.separated else 'no'}" for r in recovery.itertuples()),
            }
        )
    return rows, data


def _choice(params) -> str:
    if params["booster"] == "gbtree":
        return f"trees (depth {params['max_depth']}, eta {params['learning_rate']})"
    arms = " + arm terms" if params.get("interaction_by") else ""
    return f"linear{arms} (lambda {params['reg_lambda']})"


def well_specified(n: int, cohorts: int) -> None:
    """How often a correctly specified model separates acting from inert biomarkers within each
    arm: an unpenalised logistic regression fitted within the arm on the generator's own terms
    (log2 CD38 / 50, BCMA silencing, ...; the null biomarkers on log or raw scale) and the
    clinical covariates, on ``cohorts`` cohorts of ``n`` (seeds 1000, 1001, ...). Its SHAP values
    are coefficient x (x - mean), so mean |SHAP| is |coefficient| x mean |x - mean|."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from predictor.metrics import shap_recovery
    from synthetic import generate, load_scenario

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests/
    from tests.myeloma_truth import (
        ARMS,
        EFFECT_BIOMARKERS,
        biomarker_effects,
        effect_terms,
    )

    scenario = load_scenario("myeloma_bmm")
    clinical = ["age_years", "iss_stage", "high_risk_cytogenetics", "extramedullary_disease", "prior_lines"]
    passed = {arm: 0 for arm in ARMS}
    for seed in range(1000, 1000 + cohorts):
        cohort = generate(scenario, n, seed)
        obs, values = cohort.observed, cohort.parameters
        effects = biomarker_effects(obs, values)
        importance = {}
        for arm in ARMS:
            d = obs[obs.therapy_arm == arm]
            terms = effect_terms({c: d[c].to_numpy() for c in EFFECT_BIOMARKERS.values()}, values)
            X = pd.DataFrame({column: terms[coef] for coef, column in EFFECT_BIOMARKERS.items()})
            X["null_biomarker_1"] = np.log(d.null_biomarker_1.to_numpy())
            X["null_biomarker_2"] = d.null_biomarker_2.to_numpy()
            X["null_biomarker_3"] = d.null_biomarker_3.to_numpy(dtype=float)
            for c in clinical:
                X[c] = d[c].to_numpy(dtype=float)
            X = X.loc[:, X.std() > 0]
            Z = (X - X.mean()) / X.std()
            coef = LogisticRegression(C=np.inf, max_iter=5000).fit(Z, d.objective_response).coef_[0]
            importance[arm] = pd.Series(np.abs(coef) * Z.abs().mean().to_numpy(), index=X.columns)
        recovery = shap_recovery(pd.DataFrame(importance), effects).set_index("group")
        for arm in ARMS:
            passed[arm] += bool(recovery.loc[arm, "separated"])
    print(
        f"\nwell-specified logistic regression within each arm, {cohorts} cohorts of {n:,}: "
        + ", ".join(f"{arm} separated in {k}/{cohorts}" for arm, k in passed.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 101, 202, 303])
    parser.add_argument("--options", nargs="+", default=list(OPTIONS), choices=list(OPTIONS))
    parser.add_argument(
        "--well-specified",
        type=int,
        nargs=2,
        metavar=("N", "COHORTS"),
        help="instead: how often a correctly specified model separates the biomarkers within arms",
    )
    args = parser.parse_args()
    if args.well_specified:
        well_specified(*args.well_specified)
        return
    rows = []
    for seed in args.seeds:
        data = None
        for option in args.options:
            # Options that change the features read the same cohort: generate it once per seed.
            got, data = run(seed, option, data)
            rows += got
            for r in got:
                d = r["diff"]
                print(
                    f"seed {seed} {option:15s} {r['task']:9s} {r['xgboost']:.4f} vs baseline {r['baseline']:.4f} "
                    f"({d.estimate:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}]), oracle gap {r['gap']:+.4f}, "
                    f"{r['seconds']:.0f} s, {r['choice']}; SHAP separated: {r['shap_arms']}",
                    flush=True,
                )
    for task, metric in (("response", "AUC"), ("survival", "Harrell's C")):
        print(f"\n{task} ({metric} on the validation cohort; paired 95% CI of the difference)\n")
        print(
            "| seed | option | XGBoost | baseline | XGBoost - baseline | oracle - XGBoost | search + fit (s) | chosen | SHAP within arms separated |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r["task"] == task:
                d = r["diff"]
                print(
                    f"| {r['seed']} | {r['option']} | {r['xgboost']:.3f} | {r['baseline']:.3f} | {d.estimate:+.4f} "
                    f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}] | {r['gap']:+.4f} | {r['seconds']:.0f} | {r['choice']} | {r['shap_arms']} |"
                )


if __name__ == "__main__":
    main()

"""Train, evaluate and explain: one experiment from cohort to metrics, SHAP and figures.

Plain functions and estimators; nothing here talks to MLflow (see :mod:`predictor.tracking`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import ParameterGrid, ParameterSampler, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline

from features import validate
from features.pipeline import CohortFeatures, baseline_preprocessor

from .bundle import ModelBundle
from .errors import TrainingError
from .evaluation import bootstrap_draws, paired_difference, response_metrics, summarise, survival_metrics
from .experiment import TIME_UNITS, Experiment
from .models import CoxPHBaseline, XGBResponseClassifier, XGBSurvival, make_surv

__all__ = ["TrainingResult", "train", "SEARCH_SPACE", "LINEAR_SEARCH_SPACE", "search_candidates", "shap_importance", "shap_importance_by"]

#: The seeded random search's space for trees (shared by both XGBoost models): ``n_iter`` draws.
SEARCH_SPACE = {
    "max_depth": [1, 2, 3, 4],
    "learning_rate": [0.02, 0.05, 0.1],
    "min_child_weight": [1, 5, 10, 20],
    "subsample": [0.7, 0.85, 1.0],
    "colsample_bytree": [0.6, 0.8, 1.0],
    "reg_lambda": [1.0, 5.0, 20.0],
}
#: The grid for XGBoost's linear booster (a ridge-penalised GLM), searched in full beside the trees
#: when ``[search] boosters`` includes "gblinear": cheap, and the right model when the truth is
#: smooth and additive and the cohort too small for trees to find its shape. Each candidate runs
#: coordinate descent to convergence (no early stopping: the penalty alone regularises, so the
#: model is the penalised maximum-likelihood fit). XGBoost multiplies gblinear's ``reg_lambda`` by
#: the number of rows: it is a penalty per patient (scikit-learn's default ``C=1`` is ``1/n``).
LINEAR_SEARCH_SPACE = {"learning_rate": [0.5], "n_estimators": [300], "early_stopping_rounds": [None],
                       "reg_lambda": [0.0, 0.001, 0.003, 0.01, 0.03, 0.1]}
#: Above this many rows Uno's C (quadratic in scikit-survival) is a point estimate without a CI.
UNO_BOOTSTRAP_MAX_N = 5000

Progress = Callable[[str], None]


@dataclass
class TrainingResult:
    """What :func:`train` produced.

    Attributes
    ----------
    bundle : ModelBundle
        The fitted feature pipeline and XGBoost models.
    metrics : DataFrame
        Columns ``dataset`` (test, validation), ``task`` (response, survival), ``model``
        (xgboost, baseline, oracle, and the paired contrasts ``xgboost_minus_baseline`` and
        ``oracle_minus_xgboost``: differences within each bootstrap replicate), ``metric``,
        ``estimate``, ``ci_low``, ``ci_high``.
    best_params : dict
        The search's choice per task, with its cross-validated score.
    shap : dict
        Per task: ``values`` (DataFrame, patients x features), ``base_value``, ``data`` (the
        model input of those patients), ``importance`` (mean |SHAP| per input column) and, with
        ``[shap] by``, ``importance_by`` (input columns x groups of that column).
    figures : dict
        Name -> matplotlib Figure.
    """

    experiment: Experiment
    bundle: ModelBundle
    metrics: pd.DataFrame
    best_params: dict[str, dict[str, Any]]
    shap: dict[str, dict[str, Any]]
    figures: dict[str, Any]
    train_frame: pd.DataFrame
    cohort_info: dict[str, Any]
    calibration: pd.DataFrame | None = None
    synthetic: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def search_candidates(boosters: Sequence[str], n_iter: int, seed: int) -> list[dict[str, Any]]:
    """The search's candidates: ``n_iter`` seeded draws from :data:`SEARCH_SPACE` for "gbtree",
    then the whole :data:`LINEAR_SEARCH_SPACE` grid for "gblinear"."""
    out: list[dict[str, Any]] = []
    if "gbtree" in boosters:
        out += [{"booster": "gbtree", **p} for p in ParameterSampler(SEARCH_SPACE, n_iter=n_iter, random_state=seed)]
    if "gblinear" in boosters:
        out += [{"booster": "gblinear", **p} for p in ParameterGrid(LINEAR_SEARCH_SPACE)]
    return out


def _search(make, X: pd.DataFrame, y, score, splits, candidates: list[dict[str, Any]], progress: Progress | None,
            task: str):
    best, best_score = None, -np.inf
    for i, params in enumerate(candidates, 1):
        scores = []
        for tr, va in splits:
            model = make(**params).fit(X.iloc[tr], y[tr])
            scores.append(score(model, X.iloc[va], y[va]))
        mean = float(np.mean(scores))
        if mean > best_score:
            best, best_score = params, mean
        if progress:
            progress(f"{task}: search {i}/{len(candidates)}, {params['booster']} (best CV score {best_score:.3f}, {best['booster']})")
    return best, best_score


#: Paired contrasts reported beside the models: name, minuend, subtrahend.
CONTRASTS = (("xgboost_minus_baseline", "xgboost", "baseline"), ("oracle_minus_xgboost", "oracle", "xgboost"))


def _contrast_frames(draws: dict[str, tuple[dict, pd.DataFrame]], dataset: str, task: str) -> list[pd.DataFrame]:
    return [_metrics_frame(paired_difference(draws[a], draws[b]), dataset, task, name)
            for name, a, b in CONTRASTS if a in draws and b in draws]


def _metrics_frame(table: pd.DataFrame, dataset: str, task: str, model: str) -> pd.DataFrame:
    t = table.reset_index(names="metric")
    t.insert(0, "model", model)
    t.insert(0, "task", task)
    t.insert(0, "dataset", dataset)
    return t


def shap_importance(values: pd.DataFrame, features: CohortFeatures) -> pd.Series:
    """Mean |SHAP| per input column (one-hot levels and cutoff flags summed per patient first)."""
    return features.sum_by_source(values).abs().mean().sort_values(ascending=False)


def shap_importance_by(model, X: pd.DataFrame, groups: pd.Series, background: pd.DataFrame,
                       background_groups: pd.Series, features: CohortFeatures, *, n_background: int = 200,
                       random_state: int = 0) -> pd.DataFrame:
    """Mean |SHAP| per input column *within* each group (a therapy arm): input columns x groups.

    Plain SHAP values split an arm-by-biomarker interaction between the arm and the biomarker, so
    a biomarker that acts in one arm only still gets credit in the others. Here each group's
    patients are explained by interventional TreeSHAP against a background from the same group
    (at most ``n_background`` rows of ``background``, drawn with ``random_state``): the grouping
    column is constant within the group and gets 0, and every other column gets its effect on
    the model within that group.
    """
    rng = np.random.default_rng(random_state)
    order = list(groups.cat.categories) if isinstance(groups.dtype, pd.CategoricalDtype) else sorted(groups.dropna().unique())
    table = {}
    for g in order:
        rows, pool = (groups == g).to_numpy(), np.flatnonzero((background_groups == g).to_numpy())
        if not rows.any() or len(pool) == 0:
            continue
        bg = background.iloc[np.sort(rng.permutation(pool)[:n_background])]
        values, _ = model.shap_values(X.loc[rows], background=bg)
        table[g] = shap_importance(pd.DataFrame(values, columns=X.columns), features)
    out = pd.DataFrame(table)
    return out.loc[out.mean(axis=1).sort_values(ascending=False).index]


def train(exp: Experiment, progress: Progress | None = None) -> TrainingResult:
    """Run one experiment: cohort, features, search, fit, evaluate (with oracle), SHAP, figures.

    Raises
    ------
    TrainingError
        The cohort cannot support the models (no events, one response class, too few rows).
    SchemaValidationError / ScenarioError
        The cohort breaks its schema, or the scenario is unknown.
    """
    from synthetic import evaluate_targets, generate, load_scenario, oracle

    say = progress or (lambda message: None)
    scenario = None
    if exp.synthetic:
        scenario = load_scenario(exp.scenario)
        say(f"generating cohort '{scenario.name}' (n={exp.n or scenario.default_n}, seed {exp.seed})")
        cohort = generate(scenario, exp.n, exp.seed)
        obs, truth_all, schema = cohort.observed, cohort.truth, scenario.schema
        info = cohort.metadata()
    else:
        obs, schema = _read_user_cohort(exp, say)
        truth_all, cohort = None, None
        info = {"source": str(exp.data_path), "n": len(obs)}
    obs = validate(obs, schema)
    if exp.shap_by and exp.shap_by not in schema:
        raise TrainingError(f"[shap] by = '{exp.shap_by}' is not a column of the cohort")
    R, T, E = exp.outcomes.get("response"), exp.outcomes.get("time"), exp.outcomes.get("event")
    if len(obs) < 40:
        raise TrainingError(f"the cohort has {len(obs)} patients; at least 40 are needed to train and test")
    if exp.survival and not obs[E].astype(bool).any():
        raise TrainingError(f"the cohort has no events ('{E}' is False for every patient): a survival model cannot be trained")
    if exp.response and obs[R].nunique() < 2:
        raise TrainingError(f"'{R}' takes a single value in the cohort: a response model cannot be trained")

    strat = obs[R].to_numpy() if exp.response else obs[E].to_numpy()
    idx_tr, idx_te = train_test_split(np.arange(len(obs)), test_size=exp.test_fraction, random_state=exp.eval_seed, stratify=strat)
    train_df, test_df = obs.iloc[idx_tr], obs.iloc[idx_te]
    features = CohortFeatures(schema=schema, columns=exp.columns, log=exp.log, cutoffs=exp.cutoffs or None).fit(train_df)
    X_tr, X_te = features.transform(train_df), features.transform(test_df)
    datasets = {"test": (test_df, X_te, truth_all.iloc[idx_te] if truth_all is not None else None)}
    val_cohort = None
    if exp.validation_n:
        say(f"generating validation cohort (n={exp.validation_n}, seed {exp.validation_seed})")
        val_cohort = generate(scenario, exp.validation_n, exp.validation_seed)
        datasets["validation"] = (val_cohort.observed, features.transform(val_cohort.observed), val_cohort.truth)

    candidates = search_candidates(exp.search_boosters, exp.search_n_iter, exp.search_seed)
    frames: list[pd.DataFrame] = []
    best_params: dict[str, dict[str, Any]] = {}
    response_model = survival_model = None
    horizons = exp.horizons
    response_preds: dict[str, dict[str, np.ndarray]] = {}

    if exp.response:
        y_tr = train_df[R].to_numpy().astype(bool)
        splits = list(StratifiedKFold(exp.search_cv_folds, shuffle=True, random_state=exp.search_seed).split(X_tr, y_tr))
        from sklearn.metrics import roc_auc_score

        auc = lambda m, X, y: roc_auc_score(y, m.predict_proba(X)[:, 1])
        params, cv = _search(lambda **p: XGBResponseClassifier(random_state=exp.search_seed, **p), X_tr, y_tr, auc,
                             splits, candidates, say, "response")
        best_params["response"] = {**params, "cv_auc": cv}
        say("response: fitting XGBoost and the logistic-regression baseline")
        response_model = XGBResponseClassifier(random_state=exp.search_seed, **params).fit(X_tr, y_tr)
        baseline = make_pipeline(baseline_preprocessor(schema=schema, columns=features.columns_, log=exp.log, cutoffs=exp.cutoffs or None),
                                 LogisticRegression(max_iter=5000)).fit(train_df, y_tr)
        for name, (df, X, truth) in datasets.items():
            y = df[R].to_numpy().astype(bool)
            preds = {"xgboost": response_model.predict_proba(X)[:, 1], "baseline": baseline.predict_proba(df)[:, 1]}
            if truth is not None:
                preds["oracle"] = truth["response_probability"].to_numpy()
            response_preds[name] = preds
            n_boot = exp.n_bootstrap if name == "test" else max(exp.n_bootstrap // 2, 0)
            draws = {}
            for model, p in preds.items():
                say(f"response: evaluating {model} on {name}")
                # The same seed and strata for every model: the same replicates, so differences pair.
                draws[model] = bootstrap_draws(lambda i, p=p: response_metrics(y[i], p[i]), len(y), n_boot=n_boot,
                                               random_state=exp.eval_seed, stratify=y)
                frames.append(_metrics_frame(summarise(*draws[model]), name, "response", model))
            frames += _contrast_frames(draws, name, "response")

    if exp.survival:
        y_tr = make_surv(train_df[E].astype(bool), train_df[T])
        splits = list(StratifiedKFold(exp.search_cv_folds, shuffle=True, random_state=exp.search_seed).split(X_tr, y_tr["event"]))
        from lifelines.utils import concordance_index

        cindex = lambda m, X, y: concordance_index(y["time"], -m.predict(X), y["event"])
        params, cv = _search(lambda **p: XGBSurvival(objective=exp.survival, random_state=exp.search_seed, **p), X_tr, y_tr,
                             cindex, splits, candidates, say, "survival")
        best_params["survival"] = {**params, "cv_harrell_c": cv}
        say("survival: fitting XGBoost and the Cox PH baseline")
        survival_model = XGBSurvival(objective=exp.survival, random_state=exp.search_seed, **params).fit(X_tr, y_tr)
        pre = baseline_preprocessor(schema=schema, columns=features.columns_, log=exp.log, cutoffs=exp.cutoffs or None).fit(train_df)
        cox = CoxPHBaseline().fit(pre.transform(train_df), y_tr)
        for name, (df, X, truth) in datasets.items():
            y = make_surv(df[E].astype(bool), df[T])
            Z = pre.transform(df)
            models = {
                "xgboost": (survival_model.predict(X), lambda t, X=X: survival_model.predict_survival_function(X, t)),
                "baseline": (cox.predict(Z), lambda t, Z=Z: cox.predict_survival_function(Z, t)),
            }
            if truth is not None:
                from synthetic import Cohort

                true_cohort = Cohort(observed=df, truth=truth, scenario=scenario.name, seed=exp.seed, parameters=info["parameters"])
                models["oracle"] = (truth["pfs_linear_predictor"].to_numpy(),
                                    lambda t, c=true_cohort: oracle(c, t, scenario)["survival"])
            n_boot = exp.n_bootstrap if name == "test" else max(exp.n_bootstrap // 2, 0)
            big = len(y) > UNO_BOOTSTRAP_MAX_N
            draws = {}
            for model, (risk, surv) in models.items():
                say(f"survival: evaluating {model} on {name}")
                # Survival curves of every row at the horizons are the same in each replicate: computed
                # once. Other grids (the Brier score's) change with each replicate and are not kept.
                at_horizons = {tuple(horizons): surv(np.asarray(horizons))}

                def curves(t, surv=surv, cached=at_horizons):
                    hit = cached.get(tuple(np.asarray(t, dtype=float)))
                    return hit if hit is not None else surv(np.asarray(t))

                def evaluate(i, risk=risk, curves=curves, uno=True):
                    return survival_metrics(y_tr, y[i], risk[i], lambda t: curves(t)[i], horizons, uno=uno,
                                            unit=TIME_UNITS[exp.time_unit])

                draws[model] = bootstrap_draws(lambda i: evaluate(i, uno=not big), len(y), n_boot=n_boot,
                                               random_state=exp.eval_seed, point_metric=evaluate)
                frames.append(_metrics_frame(summarise(*draws[model]), name, "survival", model))
            frames += _contrast_frames(draws, name, "survival")

    bundle = ModelBundle(schema=schema.subset(features.columns_), features=features, response=response_model,
                         survival=survival_model, horizons=horizons,
                         package_version=_version(),
                         metadata={"experiment": exp.name, "scenario": exp.scenario, "outcomes": exp.outcomes})
    metrics = pd.concat(frames, ignore_index=True)

    # SHAP on the validation cohort (or the test split), TreeSHAP from XGBoost with an additivity check.
    shap_df, shap_X, shap_truth = datasets.get("validation", datasets["test"])
    rows = np.random.default_rng(exp.eval_seed).permutation(len(shap_X))[: exp.shap_max_rows]
    shap: dict[str, dict[str, Any]] = {}
    for task, model in (("response", response_model), ("survival", survival_model)):
        if model is None:
            continue
        say(f"{task}: SHAP values for {len(rows)} patients")
        Xs = shap_X.iloc[np.sort(rows)]
        values, base = model.shap_values(Xs)
        vdf = pd.DataFrame(values, index=shap_df.index[np.sort(rows)], columns=Xs.columns)
        ids = [c.name for c in schema.by_role("id") if c.name in shap_df.columns]
        vdf.insert(0, "patient_id", (shap_df[ids[0]] if ids else pd.Series(shap_df.index, index=shap_df.index)).to_numpy()[np.sort(rows)])
        shap[task] = {"values": vdf, "base_value": base, "data": Xs, "features": features,
                      "importance": shap_importance(vdf.drop(columns="patient_id"), features),
                      "scale": "log-odds of response" if task == "response" else
                               ("log hazard ratio" if exp.survival == "survival:cox" else "log PFS time (AFT)")}
        if exp.shap_by:
            say(f"{task}: SHAP within each {exp.shap_by}")
            shap[task]["importance_by"] = shap_importance_by(
                model, Xs, shap_df[exp.shap_by].iloc[np.sort(rows)], X_tr, train_df[exp.shap_by], features,
                random_state=exp.eval_seed)

    say("drawing figures")
    from .plots import make_figures

    shown = "validation" if "validation" in datasets else "test"
    figures = make_figures(shap, datasets, survival_model, response_preds.get(shown), exp.shap_dependence, R, T, E,
                           by=exp.shap_by)
    calibration = None
    if scenario is not None:
        try:
            got = evaluate_targets(scenario, obs)
            calibration = pd.DataFrame([{"id": t.id, "label": t.label, "target": t.value, "this_cohort": got.get(t.id)}
                                        for t in scenario.targets])
        except Exception:  # a target undefined on a small cohort (an empty subgroup) is not a training failure
            calibration = None
    info = {k: v for k, v in info.items() if k != "parameters"}
    return TrainingResult(
        experiment=exp, bundle=bundle, metrics=metrics, best_params=best_params, shap=shap, figures=figures,
        train_frame=train_df, cohort_info=info | {"n_train": len(train_df), "n_test": len(test_df)},
        calibration=calibration, synthetic=exp.synthetic,
    )


def _version() -> str:
    from synthetic.generation import package_version

    return package_version()


def _read_user_cohort(exp: Experiment, say: Progress) -> tuple[pd.DataFrame, Any]:
    """Read a user's CSV/Parquet cohort and its declared schema (nothing coerced, nothing dropped)."""
    from features import Schema
    from features.errors import FeaturesError

    path = exp.data_path
    try:
        schema = Schema.from_dict(exp.columns_spec)
    except FeaturesError as exc:
        raise TrainingError(f"{exp.path} [columns]: {exc}") from None
    say(f"reading cohort file {path}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif path.suffix.lower() in (".csv", ".txt"):
            df = pd.read_csv(path)
        else:
            raise TrainingError(f"cohort file {path}: expected .csv or .parquet")
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read cohort file {path}: {exc}") from None
    extra = [c for c in df.columns if c not in schema]
    if extra:
        say(f"ignoring undeclared column(s) of the cohort file: {', '.join(map(str, extra))}")
    return df, schema

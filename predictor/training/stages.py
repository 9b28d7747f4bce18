"""The stages of training, each a plain function with typed inputs and outputs.

:func:`predictor.training.train` runs them in order::

    load_data -> make_tasks -> fit_features -> search -> fit -> evaluate -> explain -> (figures, bundle)

Each can be called alone (a simulation study runs load_data -> search -> fit -> evaluate many
times). Stages loop over :mod:`predictor.training.tasks`; nothing here depends on which outcome kind a
task is. Nothing here talks to MLflow.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import (ParameterGrid, ParameterSampler, RepeatedStratifiedKFold, StratifiedKFold,
                                     train_test_split)

from features import Schema, read_table, validate
from features.errors import FeaturesError
from features.pipeline import CohortFeatures, baseline_preprocessor

from predictor.errors import TrainingError
from predictor.metrics.evaluation import bootstrap_draws, paired_difference, summarise
from predictor.config.experiment import EvaluationSection, Experiment, SearchSection, ShapSection
from predictor.training.tasks import BinaryOutcome, BinaryTask, SurvivalTask, Task, TimeToEvent

__all__ = [
    "Progress", "Synthetic", "Part", "Data", "SearchResult", "FittedTask", "Evaluation", "Explanation",
    "SEARCH_SPACE", "LINEAR_SEARCH_SPACE", "CONTRASTS", "MIN_PATIENTS",
    "load_data", "make_tasks", "fit_features", "search_candidates", "search", "fit", "fit_xgboost", "fit_baseline", "development_data", "evaluation_parts", "evaluate", "evaluate_model", "score", "Scored",
    "explain", "shap_importance", "shap_importance_by", "check_calibration", "NestedCV", "nested_cv",
]

Progress = Callable[[str], None]

#: The seeded random search's space for trees (shared by every task): ``n_iter`` draws.
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
#: Paired contrasts reported beside the models: name, minuend, subtrahend.
CONTRASTS = (("xgboost_minus_baseline", "xgboost", "baseline"), ("oracle_minus_xgboost", "oracle", "xgboost"))
#: The fewest patients a cohort may have to be split into training and test rows.
MIN_PATIENTS = 40


def _silent(message: str) -> None:
    pass


# --------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Synthetic:
    """Where a synthetic cohort came from: what its oracle needs besides the truth frame."""

    scenario: Any  # synthetic.Scenario
    seed: int
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Part:
    """Rows of a cohort: the observed ``frame`` and, for a synthetic cohort, its ``truth``."""

    name: str
    frame: pd.DataFrame
    truth: pd.DataFrame | None = None


@dataclass(frozen=True)
class Data:
    """The cohort split for training: what every later stage reads.

    ``tasks`` are the experiment's tasks (:func:`make_tasks`), checked on this cohort;
    ``validation`` is a fresh synthetic cohort (None for a user's file, or with ``[validation]
    n = 0``); ``external`` the cohort of ``[validation] path`` (None without one); ``source`` is
    None for a user's file; ``info`` describes the cohort for the run (scenario, seed, n; or the
    file).
    """

    schema: Schema
    tasks: tuple[Task, ...]
    observed: pd.DataFrame
    train: Part
    test: Part
    validation: Part | None
    source: Synthetic | None
    info: Mapping[str, Any]
    external: Part | None = None


def load_data(exp: Experiment, say: Progress = _silent) -> Data:
    """The cohort (generated, or read from the user's file), checked against its schema and
    split into training and test rows; and the validation cohort.

    Raises
    ------
    TrainingError
        Too few patients, or a ``[shap] by`` column the cohort lacks.
    SchemaValidationError, TableReadError, ScenarioError
        The cohort breaks its schema, the file cannot be read, the scenario is unknown.
    """
    from synthetic import generate, load_scenario

    source = None
    if exp.synthetic:
        scenario = load_scenario(exp.cohort.scenario)
        say(f"generating cohort '{scenario.name}' (n={exp.cohort.n or scenario.default_n}, seed {exp.cohort.seed})")
        cohort = generate(scenario, exp.cohort.n, exp.cohort.seed)
        observed, truth, schema = cohort.observed, cohort.truth, scenario.schema
        source = Synthetic(scenario=scenario, seed=exp.cohort.seed, parameters=cohort.parameters)
        info = {k: v for k, v in cohort.metadata().items() if k != "parameters"}
    else:
        observed, schema = _read_user_cohort(exp, say)
        truth = None
        info = {"source": str(exp.cohort.path), "n": len(observed)}
    observed = validate(observed, schema)
    if exp.shap.by and exp.shap.by not in schema:
        raise TrainingError(f"[shap] by = '{exp.shap.by}' is not a column of the cohort")
    tasks = _checked_tasks(exp, schema, observed, "to train and test")
    # Stratified by the first task's strata (the response class, else the event indicator).
    strata = tasks[0].strata(tasks[0].target(observed))
    tr, te = train_test_split(np.arange(len(observed)), test_size=exp.evaluation.test_fraction,
                              random_state=exp.evaluation.seed, stratify=strata)
    take = lambda name, rows: Part(name, observed.iloc[rows], truth.iloc[rows] if truth is not None else None)
    validation = None
    if exp.validation.n and source is not None:
        say(f"generating validation cohort (n={exp.validation.n}, seed {exp.validation.seed})")
        v = generate(source.scenario, exp.validation.n, exp.validation.seed)
        validation = Part("validation", v.observed, v.truth)
    external = None
    if exp.validation.path is not None:
        say(f"reading external cohort {exp.validation.path}")
        frame = validate(read_table(exp.validation.path), schema, what="external cohort")
        external = Part("external", frame)
        info = info | {"external": str(exp.validation.path), "n_external": len(frame)}
    return Data(schema=schema, tasks=tasks, observed=observed, train=take("train", tr), test=take("test", te),
                validation=validation, source=source, info=info | {"n_train": len(tr), "n_test": len(te)},
                external=external)


def development_data(exp: Experiment, scenario: Any, say: Progress = _silent) -> Data:
    """A synthetic development cohort of ``exp.cohort.n`` patients from ``scenario`` (a
    :class:`synthetic.Scenario`, possibly with parameters overridden) and seed
    ``exp.cohort.seed``, every patient a training row: what a simulation study fits, to be scored
    on a separate large validation cohort rather than on a test split (``test`` is empty).

    Raises
    ------
    TrainingError
        Too few patients, or an outcome with a single class or no events.
    """
    from synthetic import generate

    say(f"generating development cohort (n={exp.cohort.n}, seed {exp.cohort.seed})")
    cohort = generate(scenario, exp.cohort.n, exp.cohort.seed)
    observed, schema = cohort.observed, scenario.schema
    tasks = _checked_tasks(exp, schema, observed, "to train")
    source = Synthetic(scenario=scenario, seed=exp.cohort.seed, parameters=cohort.parameters)
    info = {k: v for k, v in cohort.metadata().items() if k != "parameters"}
    return Data(schema=schema, tasks=tasks, observed=observed, train=Part("train", observed, cohort.truth),
                test=Part("test", observed.iloc[:0], cohort.truth.iloc[:0]), validation=None, source=source,
                info=info | {"n_train": len(observed), "n_test": 0})


def _checked_tasks(exp: Experiment, schema: Schema, observed: pd.DataFrame, purpose: str) -> tuple[Task, ...]:
    """The experiment's tasks, once the cohort has enough patients (``purpose``: what for) and
    every task can be trained on it (TrainingError otherwise)."""
    if len(observed) < MIN_PATIENTS:
        raise TrainingError(f"the cohort has {len(observed)} patients; at least {MIN_PATIENTS} are needed {purpose}")
    by = exp.search.interactions
    if by is not None and (by not in schema or schema[by].dtype != "category"
                           or (exp.features.columns is not None and by not in exp.features.columns)):
        raise TrainingError(f"[search] interactions = '{by}' must be a categorical model input of the cohort")
    tasks = make_tasks(exp, schema)
    for task in tasks:
        task.check(observed)
    return tasks


def _read_user_cohort(exp: Experiment, say: Progress) -> tuple[pd.DataFrame, Schema]:
    """A user's CSV/Parquet cohort and its declared schema (nothing coerced, nothing dropped)."""
    try:
        schema = Schema.from_dict(exp.columns)
    except FeaturesError as exc:
        raise TrainingError(f"{exp.path} [columns]: {exc}") from None
    say(f"reading cohort file {exp.cohort.path}")
    df = read_table(exp.cohort.path)
    extra = [c for c in df.columns if c not in schema]
    if extra:
        say(f"ignoring undeclared column(s) of the cohort file: {', '.join(map(str, extra))}")
    return df, schema


# -------------------------------------------------------------------------------------- tasks
def make_tasks(exp: Experiment, schema: Schema) -> tuple[Task, ...]:
    """The tasks the experiment asks for, in order: response, survival, then more binary outcomes.

    A time outcome's unit is its column's declared unit.

    Raises
    ------
    TrainingError
        An outcome column the schema lacks, or a time column without a known unit.
    """
    out, o = [], exp.outcomes
    for column in (o.response, o.time, o.event, *o.binary):
        if column is not None and column not in schema:
            raise TrainingError(f"outcome column '{column}' is not a column of the cohort")
    if exp.models.response and o.response:
        out.append(BinaryTask("response", BinaryOutcome(o.response)))
    if exp.models.survival and o.time:
        outcome = TimeToEvent(time=o.time, event=o.event, unit=schema[o.time].unit or "", endpoint=o.endpoint)
        out.append(SurvivalTask(outcome, exp.models.survival, exp.evaluation.horizons))
    out += [BinaryTask(column, BinaryOutcome(column)) for column in o.binary]
    return tuple(out)


def fit_features(exp: Experiment, data: Data) -> CohortFeatures:
    """The feature pipeline, fitted on the training rows."""
    f = exp.features
    return CohortFeatures(schema=data.schema, columns=f.columns, log=f.log, cutoffs=f.cutoffs or None).fit(data.train.frame)


def _baseline_preprocessor(exp: Experiment, data: Data, features: CohortFeatures):
    f = exp.features
    return baseline_preprocessor(schema=data.schema, columns=features.columns_, log=f.log, cutoffs=f.cutoffs or None)


# ------------------------------------------------------------------------------------- search
@dataclass(frozen=True)
class SearchResult:
    """The search's choice for one task, and its mean cross-validated score (``metric``)."""

    params: Mapping[str, Any]
    cv_score: float
    metric: str

    def summary(self) -> dict[str, Any]:
        """The choice with its score as ``cv_<metric>``: what a run logs as ``best.<task>.*``."""
        return {**self.params, f"cv_{self.metric}": self.cv_score}


def search_candidates(boosters: Sequence[str], n_iter: int, seed: int, interactions: str | None = None) -> list[dict[str, Any]]:
    """The search's candidates: ``n_iter`` seeded draws from :data:`SEARCH_SPACE` for "gbtree",
    then the whole :data:`LINEAR_SEARCH_SPACE` grid for "gblinear" (each with
    ``interaction_by=interactions`` when given: a coefficient per level of that input)."""
    out: list[dict[str, Any]] = []
    if "gbtree" in boosters:
        out += [{"booster": "gbtree", **p} for p in ParameterSampler(SEARCH_SPACE, n_iter=n_iter, random_state=seed)]
    if "gblinear" in boosters:
        extra = {"interaction_by": interactions} if interactions else {}
        out += [{"booster": "gblinear", **p, **extra} for p in ParameterGrid(LINEAR_SEARCH_SPACE)]
    return out


def search(task: Task, X: pd.DataFrame, y: np.ndarray, config: SearchSection, say: Progress = _silent) -> SearchResult:
    """The candidate with the best mean score over ``config.cv_folds`` stratified folds (the
    first best on a tie; the same folds and model seed for every candidate).

    The candidates' fits run ``config.n_jobs`` at a time in threads (XGBoost releases the GIL
    while it trains), each on one XGBoost thread: on a cohort of hundreds, one thread per fit and
    fits side by side are faster than threads inside each fit, and each fit's result does not
    depend on how many run at once.
    """
    candidates = search_candidates(config.boosters, config.n_iter, config.seed, config.interactions)
    splits = list(StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed).split(X, task.strata(y)))

    def score(params: Mapping[str, Any], tr: np.ndarray, va: np.ndarray) -> float:
        model = task.make_model(params, config.seed).set_params(n_jobs=1)
        return task.cv_score(model.fit(X.iloc[tr], y[tr]), X.iloc[va], y[va])

    best, best_score = None, -np.inf
    with ThreadPoolExecutor(config.n_jobs or _cores()) as pool:
        futures = [[pool.submit(score, params, tr, va) for tr, va in splits] for params in candidates]
        for i, (params, scores) in enumerate(zip(candidates, futures), 1):
            mean = float(np.mean([f.result() for f in scores]))
            if mean > best_score:
                best, best_score = params, mean
            say(f"{task.name}: search {i}/{len(candidates)}, {params['booster']} (best CV score {best_score:.3f}, {best['booster']})")
    return SearchResult(params=best, cv_score=best_score, metric=task.headline)


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ---------------------------------------------------------------------------------------- fit
@dataclass(frozen=True)
class FittedTask:
    """A task with its fitted XGBoost model, the baseline beside it, the search's choice, and what
    scoring needs from the training data (:meth:`predictor.training.tasks.Task.reference`)."""

    task: Task
    model: Any
    baseline: Any
    search: SearchResult
    reference: Any = None


def fit(task: Task, chosen: SearchResult, exp: Experiment, data: Data, features: CohortFeatures,
        X_train: pd.DataFrame | None = None, say: Progress = _silent) -> FittedTask:
    """The XGBoost model with the search's choice, and the baseline, on the training rows."""
    say(f"{task.name}: fitting XGBoost and the baseline")
    X_train = features.transform(data.train.frame) if X_train is None else X_train
    y = task.target(data.train.frame)
    model = fit_xgboost(task, chosen, exp.search.seed, X_train, y)
    baseline = fit_baseline(task, exp, data, features, y)
    return FittedTask(task=task, model=model, baseline=baseline, search=chosen, reference=task.reference(y))


def fit_xgboost(task: Task, chosen: SearchResult, seed: int, X: pd.DataFrame, y: np.ndarray, n_jobs: int | None = None):
    """The task's XGBoost model with the search's choice, fitted on ``X``, ``y`` (``n_jobs``
    XGBoost threads; None: the model's default)."""
    model = task.make_model(chosen.params, seed)
    if n_jobs is not None:
        model.set_params(n_jobs=n_jobs)
    return model.fit(X, y)


def fit_baseline(task: Task, exp: Experiment, data: Data, features: CohortFeatures, y: np.ndarray):
    """The task's classical baseline (logistic regression, Cox PH) on the training rows."""
    return task.fit_baseline(_baseline_preprocessor(exp, data, features), data.train.frame, y)


# ----------------------------------------------------------------------------------- evaluate
@dataclass(frozen=True)
class Evaluation:
    """Metrics of every model on every evaluated cohort, and the predictions they came from.

    ``metrics`` has columns ``dataset`` (test, validation), ``task``, ``model`` (xgboost,
    baseline, oracle, and the paired contrasts of :data:`CONTRASTS`: differences within each
    bootstrap replicate), ``metric``, ``estimate``, ``ci_low``, ``ci_high``. ``predictions`` maps
    (dataset, task) to {model: prediction}. ``decision`` holds the decision curves: ``dataset``,
    ``task``, ``horizon`` (NaN for a binary outcome), ``model`` (the models, ``all``, ``none``),
    ``threshold``, ``net_benefit`` and the rates behind it (:func:`predictor.metrics.decision.decision_curve`).
    """

    metrics: pd.DataFrame
    predictions: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    decision: pd.DataFrame | None = None


def evaluation_parts(data: Data) -> list[Part]:
    """The cohorts a run is evaluated on: the test split, the validation cohort and the external
    cohort, where there are ones."""
    return [data.test] + [p for p in (data.validation, data.external) if p is not None]


def evaluate(fitted: Sequence[FittedTask], parts: Sequence[Part], features: CohortFeatures, source: Synthetic | None,
             config: EvaluationSection, say: Progress = _silent) -> Evaluation:
    """Every model (XGBoost, baseline, oracle where the truth is known) on every cohort in
    ``parts``, with bootstrap 95% CIs, the paired contrasts, and decision curves.

    The test split and an external cohort get ``config.bootstrap`` replicates, the synthetic
    validation cohort half as many; every model of a task on one cohort sees the same replicates,
    so their differences pair. The IPCW
    survival metrics use each task's training reference (``FittedTask.reference``).
    """
    frames, predictions, curves = [], {}, []
    for part in parts:
        X = features.transform(part.frame)
        for f in fitted:
            task = f.task
            preds = {"xgboost": task.predict(f.model, X), "baseline": task.predict_baseline(f.baseline, part.frame)}
            truth = task.oracle(part.truth, source) if source is not None else None
            if truth is not None:
                preds["oracle"] = truth
            predictions[(part.name, task.name)] = preds
            scored = score(task, f.reference, part, preds, _replicates(config, part), config.seed, say)
            frames.append(scored.metrics)
            curves.append(scored.decision)
    return Evaluation(metrics=pd.concat(frames, ignore_index=True), predictions=predictions,
                      decision=pd.concat(curves, ignore_index=True) if curves else None)


def evaluate_model(bundle, part: Part, config: EvaluationSection, source: Synthetic | None = None,
                   say: Progress = _silent) -> Evaluation:
    """A trained model (:class:`predictor.training.bundle.ModelBundle`) on another cohort: external validation.

    Every task's metrics with bootstrap CIs (``config.bootstrap`` replicates, seed
    ``config.seed``) and its decision curve, for the model (``xgboost``) and, for a synthetic
    cohort (``source`` and ``part.truth``), the oracle with the paired gap. A trained model
    carries no baseline. The survival metrics use the training data's censoring distribution
    kept in the model, so a cohort the training run also scored gets the same numbers.

    Raises
    ------
    SchemaValidationError
        The cohort lacks a model input or an outcome column, or breaks their declarations (the
        message names the column, the rule and the rows).
    """
    from features import Schema

    outcomes = {name: decl for task in bundle.tasks for name, decl in task.outcome_columns().items()}
    validate(part.frame, Schema.from_dict(outcomes), what=f"{part.name} cohort (outcomes)")
    X = bundle.transform(part.frame)
    frames, predictions, curves = [], {}, []
    for task in bundle.tasks:
        preds = {"xgboost": task.predict(bundle.models[task.name], X)}
        truth = task.oracle(part.truth, source) if source is not None else None
        if truth is not None:
            preds["oracle"] = truth
        predictions[(part.name, task.name)] = preds
        reference = getattr(bundle, "references", {}).get(task.name)
        if reference is None:  # a time to event needs one; a model saved before they were kept has none
            reference = task.reference(task.target(part.frame))
        scored = score(task, reference, part, preds, config.bootstrap, config.seed, say)
        frames.append(scored.metrics)
        curves.append(scored.decision)
    return Evaluation(metrics=pd.concat(frames, ignore_index=True), predictions=predictions,
                      decision=pd.concat(curves, ignore_index=True))


def _replicates(config: EvaluationSection, part: Part) -> int:
    """Bootstrap replicates of a cohort: ``config.bootstrap``, and half as many for the (large)
    synthetic validation cohort, whose CIs are narrower."""
    return max(config.bootstrap // 2, 0) if part.name == "validation" else config.bootstrap


@dataclass(frozen=True)
class Scored:
    """One task's models scored on one cohort: metric rows (with the paired contrasts) and the
    decision curve (columns as in :class:`Evaluation`)."""

    metrics: pd.DataFrame
    decision: pd.DataFrame


def score(task: Task, reference: Any, part: Part, predictions: Mapping[str, Any], n_boot: int, seed: int,
          say: Progress = _silent) -> Scored:
    """Metrics with bootstrap CIs of each of ``predictions`` ({model: prediction}) of ``task`` on
    ``part``, the paired contrasts of :data:`CONTRASTS` among them, and their decision curve."""
    y = task.target(part.frame)
    frames, draws = [], {}
    for name, pred in predictions.items():
        say(f"{task.name}: evaluating {name} on {part.name}")
        s = task.scorer(reference, y, pred)
        draws[name] = bootstrap_draws(s.metric, len(y), n_boot=n_boot, random_state=seed, stratify=s.stratify,
                                      point_metric=s.point)
        frames.append(_metrics_frame(summarise(*draws[name]), part.name, task.name, name))
    frames += [_metrics_frame(paired_difference(draws[a], draws[b]), part.name, task.name, name)
               for name, a, b in CONTRASTS if a in draws and b in draws]
    say(f"{task.name}: decision curve on {part.name}")
    decision = task.decision_curve(y, predictions)
    decision.insert(0, "task", task.name)
    decision.insert(0, "dataset", part.name)
    decision = decision[["dataset", "task", "horizon", *[c for c in decision.columns if c not in ("dataset", "task", "horizon")]]]
    return Scored(metrics=pd.concat(frames, ignore_index=True), decision=decision)


def _metrics_frame(table: pd.DataFrame, dataset: str, task: str, model: str) -> pd.DataFrame:
    t = table.reset_index(names="metric")
    t.insert(0, "model", model)
    t.insert(0, "task", task)
    t.insert(0, "dataset", dataset)
    return t


# --------------------------------------------------------------------------------- nested CV
@dataclass(frozen=True)
class NestedCV:
    """A nested cross-validation of the development cohort (:func:`nested_cv`).

    ``folds`` has one row per outer fit and task: ``repeat``, ``fold``, ``task``, ``metric``
    (the task's headline), ``xgboost`` and ``baseline`` (their scores on the outer fold),
    ``inner_cv`` (the search's mean CV score of the candidate it chose, on the outer training
    rows) and ``choice`` (that candidate's booster).
    """

    folds: pd.DataFrame
    n_folds: int
    n_repeats: int

    def summary(self) -> pd.DataFrame:
        """Per task: the mean and SD over outer fits of each model's score; the mean inner CV
        score of the chosen candidates; ``optimism``, the inner CV score minus the outer score
        (how much the search's choice flatters itself); and how often each booster was chosen."""
        rows = []
        for task, f in self.folds.groupby("task", sort=False):
            rows.append({"task": task, "metric": f["metric"].iloc[0], "fits": len(f),
                         "xgboost": f["xgboost"].mean(), "xgboost_sd": f["xgboost"].std(ddof=1),
                         "baseline": f["baseline"].mean(), "baseline_sd": f["baseline"].std(ddof=1),
                         "inner_cv": f["inner_cv"].mean(), "optimism": (f["inner_cv"] - f["xgboost"]).mean(),
                         "choices": ", ".join(f"{b} {k}" for b, k in Counter(f["choice"]).most_common())})
        return pd.DataFrame(rows)


def nested_cv(exp: Experiment, data: Data, say: Progress = _silent) -> NestedCV | None:
    """Nested cross-validation of the whole development cohort (training and test rows), as
    ``[evaluation] nested_folds`` and ``nested_repeats`` ask (None when off).

    Each outer fold is held out while the feature pipeline, the search (its own inner
    ``[search] cv_folds``-fold CV), the chosen XGBoost model and the baseline are fitted on the
    other folds, exactly as a run fits its own model on the training split; both models are then
    scored (the task's headline metric) on the held-out fold. Outer folds are stratified like
    the test split (seed ``[evaluation] seed``).
    """
    config = exp.evaluation
    if not config.nested_folds:
        return None
    observed = data.observed
    first = data.tasks[0]
    splitter = RepeatedStratifiedKFold(n_splits=config.nested_folds, n_repeats=config.nested_repeats,
                                       random_state=config.seed)
    splits = list(splitter.split(observed, first.strata(first.target(observed))))
    rows = []
    for i, (tr, te) in enumerate(splits):
        repeat, fold = divmod(i, config.nested_folds)
        say(f"nested CV: outer fit {i + 1}/{len(splits)} (repeat {repeat + 1}, fold {fold + 1})")
        outer = replace(data, train=Part("train", observed.iloc[tr]), test=Part("test", observed.iloc[te]),
                        validation=None, external=None)
        features = fit_features(exp, outer)
        X, X_out = features.transform(outer.train.frame), features.transform(outer.test.frame)
        for task in data.tasks:
            try:
                task.check(outer.train.frame)
            except TrainingError as exc:
                raise TrainingError(f"nested CV, repeat {repeat + 1}, fold {fold + 1}: {exc}; "
                                    "ask for fewer [evaluation] nested_folds") from None
            y, y_out = task.target(outer.train.frame), task.target(outer.test.frame)
            chosen = search(task, X, y, exp.search)
            model = fit_xgboost(task, chosen, exp.search.seed, X, y)
            baseline = fit_baseline(task, exp, outer, features, y)
            rows.append({"repeat": repeat + 1, "fold": fold + 1, "task": task.name, "metric": task.headline,
                         "xgboost": _fold_score(task, y_out, task.predict(model, X_out)),
                         "baseline": _fold_score(task, y_out, task.predict_baseline(baseline, outer.test.frame)),
                         "inner_cv": chosen.cv_score, "choice": chosen.params["booster"]})
    return NestedCV(folds=pd.DataFrame(rows), n_folds=config.nested_folds, n_repeats=config.nested_repeats)


def _fold_score(task: Task, y: np.ndarray, prediction) -> float:
    """The headline score on one held-out fold; NaN where the fold cannot give one (a single
    response class; no comparable pair of times), left out of the means."""
    try:
        return task.headline_score(y, prediction)
    except (ValueError, ZeroDivisionError):
        return float("nan")


# ------------------------------------------------------------------------------------ explain
@dataclass(frozen=True)
class Explanation:
    """SHAP values of one task's model on the explained patients.

    ``values``: patients x model features, with a leading ``patient_id`` column; ``data``: those
    patients' model input; ``importance``: mean |SHAP| per input column; ``importance_by``: the
    same within each group of ``by`` (input columns x groups), or None.
    """

    task: str
    values: pd.DataFrame
    base_value: float
    data: pd.DataFrame
    importance: pd.Series
    scale: str
    importance_by: pd.DataFrame | None = None
    by: str | None = None


def shap_importance(values: pd.DataFrame, features: CohortFeatures) -> pd.Series:
    """Mean |SHAP| per input column (one-hot levels and cutoff flags summed per patient first)."""
    return features.sum_by_source(values).abs().mean().sort_values(ascending=False)


def shap_importance_by(model, X: pd.DataFrame, groups: pd.Series, background: pd.DataFrame,
                       background_groups: pd.Series, features: CohortFeatures, *, n_background: int = 200,
                       random_state: int = 0) -> pd.DataFrame:
    """Mean |SHAP| per input column *within* each group (a therapy arm): input columns x groups.

    Plain SHAP values split an arm-by-biomarker interaction between the arm and the biomarker, so
    a biomarker that acts in one arm only still gets credit in the others. Here each group's
    patients are explained by interventional SHAP (TreeSHAP for trees; exact for the linear
    booster, arm terms included) against a background from the same group
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


def explain(fitted: Sequence[FittedTask], part: Part, features: CohortFeatures, train: Part, schema: Schema,
            config: ShapSection, seed: int, say: Progress = _silent) -> dict[str, Explanation]:
    """SHAP values (TreeSHAP, or exact linear SHAP; additivity checked) of each task's model on at
    most ``config.max_rows`` patients of ``part`` drawn with ``seed``; with ``config.by``, also
    importance within each group against a background of training rows of the same group."""
    rows = np.sort(np.random.default_rng(seed).permutation(len(part.frame))[: config.max_rows])
    df = part.frame.iloc[rows]
    X = features.transform(df)
    ids = [c.name for c in schema.by_role("id") if c.name in df.columns]
    patient_id = (df[ids[0]] if ids else pd.Series(df.index, index=df.index)).to_numpy()
    background = features.transform(train.frame) if config.by else None  # the same for every task: built once
    out = {}
    for f in fitted:
        say(f"{f.task.name}: SHAP values for {len(rows)} patients")
        values, base = f.model.shap_values(X)
        vdf = pd.DataFrame(values, index=df.index, columns=X.columns)
        importance = shap_importance(vdf, features)
        vdf.insert(0, "patient_id", patient_id)
        by = None
        if config.by:
            say(f"{f.task.name}: SHAP within each {config.by}")
            by = shap_importance_by(f.model, X, df[config.by], background, train.frame[config.by],
                                    features, random_state=seed)
        out[f.task.name] = Explanation(task=f.task.name, values=vdf, base_value=base, data=X, importance=importance,
                                       scale=f.task.shap_scale(f.model), importance_by=by, by=config.by)
    return out


# -------------------------------------------------------------------------------- calibration
def check_calibration(data: Data) -> pd.DataFrame | None:
    """The scenario's published targets beside this cohort's values (None for a user's file, or
    where a target is undefined on a small cohort, such as an empty subgroup)."""
    from synthetic import evaluate_targets
    from synthetic.errors import SyntheticError

    if data.source is None:
        return None
    scenario = data.source.scenario
    try:
        got = evaluate_targets(scenario, data.observed)
    except (SyntheticError, ValueError, ArithmeticError):  # an empty subgroup, a Cox fit that cannot converge
        return None
    return pd.DataFrame([{"id": t.id, "label": t.label, "target": t.value, "this_cohort": got.get(t.id)}
                         for t in scenario.targets])

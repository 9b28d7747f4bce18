"""Evaluation: every model of every task scored on every cohort with bootstrap CIs, the paired
contrasts and decision curves (one loop for a training run and for external validation), and
the nested cross-validation of the development cohort.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

from features import Schema, validate
from features.pipeline import CohortFeatures
from predictor.config.experiment import EvaluationSection, Experiment
from predictor.errors import TrainingError
from predictor.metrics.resampling import bootstrap_draws, paired_difference, summarise
from predictor.training.data import (
    Data,
    Part,
    Progress,
    Synthetic,
    fit_features,
    no_progress,
)
from predictor.training.fitting import FittedTask, fit_baseline, fit_xgboost, search
from predictor.training.tasks import Task
from synthetic.attainable import attainability

__all__ = [
    "CONTRASTS",
    "Evaluation",
    "evaluation_parts",
    "evaluate",
    "evaluate_model",
    "Scored",
    "score",
    "NestedCV",
    "nested_cv",
]


#: Paired contrasts reported beside the models: name, minuend, subtrahend.
CONTRASTS = (("xgboost_minus_baseline", "xgboost", "baseline"), ("oracle_minus_xgboost", "oracle", "xgboost"))


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
    return data.evaluated_parts


def evaluate(
    fitted: Sequence[FittedTask],
    parts: Sequence[Part],
    features: CohortFeatures,
    source: Synthetic | None,
    config: EvaluationSection,
    say: Progress = no_progress,
) -> Evaluation:
    """Every model (XGBoost, baseline, oracle where the truth is known) on every cohort in
    ``parts``, with bootstrap 95% CIs, the paired contrasts, and decision curves.

    The test split and an external cohort get ``config.bootstrap`` replicates, the synthetic
    validation cohort half as many; every model of a task on one cohort sees the same replicates,
    so their differences pair. The IPCW
    survival metrics use each task's training reference (``FittedTask.reference``).
    """
    scorings = [_Scoring(f.task, f.model, f.baseline, f.reference) for f in fitted]
    return _evaluate(
        scorings, parts, features.transform, source, lambda part: _replicates(config, part), config.seed, say
    )


def evaluate_model(
    bundle, part: Part, config: EvaluationSection, source: Synthetic | None = None, say: Progress = no_progress
) -> Evaluation:
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
    TrainingError
        An outcome with a single class or no events, on which the metrics are undefined.
    """

    outcomes = {name: decl for task in bundle.tasks for name, decl in task.outcome_columns().items()}
    validate(part.frame, Schema.from_dict(outcomes), what=f"{part.name} cohort (outcomes)")
    for task in bundle.tasks:  # one class or no events: the metrics are undefined (it crashed in dcurves)
        task.check(part.frame, doing="evaluated")
    scorings = [
        _Scoring(task, bundle.models[task.name], None, bundle.references.get(task.name)) for task in bundle.tasks
    ]
    return _evaluate(scorings, [part], bundle.transform, source, lambda part: config.bootstrap, config.seed, say)


@dataclass(frozen=True)
class _Scoring:
    """One task's models as the evaluation loop scores them: the XGBoost ``model``, the
    ``baseline`` (None for a trained bundle, which carries none) and the training ``reference``
    (None: taken from the scored cohort itself)."""

    task: Task
    model: Any
    baseline: Any
    reference: Any


def _evaluate(
    scorings: Sequence[_Scoring],
    parts: Sequence[Part],
    transform: Callable[[pd.DataFrame], pd.DataFrame],
    source: Synthetic | None,
    replicates: Callable[[Part], int],
    seed: int,
    say: Progress,
) -> Evaluation:
    """The one evaluation loop: every model of every task, with the oracle where the truth is
    known, scored on every cohort of ``parts`` (:func:`score`)."""
    frames, predictions, curves = [], {}, []
    for part in parts:
        X = transform(part.frame)
        for s in scorings:
            task = s.task
            preds = {"xgboost": task.predict(s.model, X)}
            if s.baseline is not None:
                preds["baseline"] = task.predict_baseline(s.baseline, part.frame)
            truth = task.oracle(part.truth, source, part.frame) if source is not None else None
            if truth is not None:
                preds["oracle"] = truth  # the attainable oracle: the best prediction from the inputs
                if source is not None and reads_latents(source.scenario):
                    preds["full_truth"] = task.oracle(part.truth, source)  # knows the latents too
            predictions[(part.name, task.name)] = preds
            reference = s.reference if s.reference is not None else task.reference(task.target(part.frame))
            scored = score(task, reference, part, preds, replicates(part), seed, say)
            frames.append(scored.metrics)
            curves.append(scored.decision)
    return Evaluation(
        metrics=pd.concat(frames, ignore_index=True),
        predictions=predictions,
        decision=pd.concat(curves, ignore_index=True) if curves else None,
    )


def reads_latents(scenario: Any) -> bool:
    """Whether an outcome of ``scenario`` reads a latent that the attainable oracle integrates
    out (its oracle then differs from the full truth, shown beside it)."""
    return any(a.differs for a in attainability(scenario.model).values())


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


def score(
    task: Task,
    reference: Any,
    part: Part,
    predictions: Mapping[str, Any],
    n_boot: int,
    seed: int,
    say: Progress = no_progress,
) -> Scored:
    """Metrics with bootstrap CIs of each of ``predictions`` ({model: prediction}) of ``task`` on
    ``part``, the paired contrasts of :data:`CONTRASTS` among them, and their decision curve."""
    y = task.target(part.frame)
    frames, draws = [], {}
    for name, pred in predictions.items():
        say(f"{task.name}: evaluating {name} on {part.name}")
        s = task.scorer(reference, y, pred)
        draws[name] = bootstrap_draws(
            s.metric, len(y), n_boot=n_boot, random_state=seed, stratify=s.stratify, point_metric=s.point
        )
        frames.append(_metrics_frame(summarise(*draws[name]), part.name, task.name, name))
    frames += [
        _metrics_frame(paired_difference(draws[a], draws[b]), part.name, task.name, name)
        for name, a, b in CONTRASTS
        if a in draws and b in draws
    ]
    say(f"{task.name}: decision curve on {part.name}")
    decision = task.decision_curve(y, predictions)
    decision.insert(0, "task", task.name)
    decision.insert(0, "dataset", part.name)
    decision = decision[
        ["dataset", "task", "horizon", *[c for c in decision.columns if c not in ("dataset", "task", "horizon")]]
    ]
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
            rows.append(
                {
                    "task": task,
                    "metric": f["metric"].iloc[0],
                    "fits": len(f),
                    "xgboost": f["xgboost"].mean(),
                    "xgboost_sd": f["xgboost"].std(ddof=1),
                    "baseline": f["baseline"].mean(),
                    "baseline_sd": f["baseline"].std(ddof=1),
                    "inner_cv": f["inner_cv"].mean(),
                    "optimism": (f["inner_cv"] - f["xgboost"]).mean(),
                    "choices": ", ".join(f"{b} {k}" for b, k in Counter(f["choice"]).most_common()),
                }
            )
        return pd.DataFrame(rows)


def nested_cv(exp: Experiment, data: Data, say: Progress = no_progress) -> NestedCV | None:
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
    splitter = RepeatedStratifiedKFold(
        n_splits=config.nested_folds, n_repeats=config.nested_repeats, random_state=config.seed
    )
    splits = list(splitter.split(observed, first.strata(first.target(observed))))
    rows = []
    for i, (tr, te) in enumerate(splits):
        repeat, fold = divmod(i, config.nested_folds)
        say(f"nested CV: outer fit {i + 1}/{len(splits)} (repeat {repeat + 1}, fold {fold + 1})")
        outer = replace(
            data,
            train=Part("train", observed.iloc[tr]),
            test=Part("test", observed.iloc[te]),
            validation=None,
            external=None,
        )
        features = fit_features(exp, outer)
        X, X_out = features.transform(outer.train.frame), features.transform(outer.test.frame)
        for task in data.tasks:
            try:
                task.check(outer.train.frame)
            except TrainingError as exc:
                raise TrainingError(
                    f"nested CV, repeat {repeat + 1}, fold {fold + 1}: {exc}; ask for fewer [evaluation] nested_folds"
                ) from None
            y, y_out = task.target(outer.train.frame), task.target(outer.test.frame)
            chosen = search(task, X, y, exp.search)
            model = fit_xgboost(task, chosen, exp.search.seed, X, y)
            baseline = fit_baseline(task, exp, outer, features, y)
            rows.append(
                {
                    "repeat": repeat + 1,
                    "fold": fold + 1,
                    "task": task.name,
                    "metric": task.headline,
                    "xgboost": _fold_score(task, y_out, task.predict(model, X_out)),
                    "baseline": _fold_score(task, y_out, task.predict_baseline(baseline, outer.test.frame)),
                    "inner_cv": chosen.cv_score,
                    "choice": chosen.params["booster"],
                }
            )
    return NestedCV(folds=pd.DataFrame(rows), n_folds=config.nested_folds, n_repeats=config.nested_repeats)


def _fold_score(task: Task, y: np.ndarray, prediction) -> float:
    """The headline score on one held-out fold; NaN where the fold cannot give one (a single
    response class; no comparable pair of times), left out of the means."""
    try:
        return task.headline_score(y, prediction)
    except (ValueError, ZeroDivisionError):
        return float("nan")

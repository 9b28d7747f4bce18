"""Train, evaluate and explain: one experiment from cohort to metrics, SHAP and figures.

:func:`train` is the list of its stages (:mod:`predictor.training`). Plain functions and
estimators; nothing here talks to MLflow (see :mod:`predictor.tracking`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from predictor.config.experiment import Experiment
from predictor.reporting.figures import evaluation_figures, make_figures
from predictor.training.bundle import ModelBundle
from predictor.training.data import (
    Data,
    Progress,
    check_calibration,
    fit_features,
    load_data,
)
from predictor.training.evaluation import (
    Evaluation,
    NestedCV,
    evaluate,
    evaluation_parts,
    nested_cv,
)
from predictor.training.explanation import Explanation, explain
from predictor.training.fitting import FittedTask, fit, search

__all__ = ["TrainingResult", "train"]


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` produced: the output of each stage.

    Attributes
    ----------
    experiment : Experiment
        The resolved configuration.
    data : Data
        The cohort, its split and the validation cohort.
    fitted : dict
        Task name -> :class:`~predictor.training.FittedTask` (model, baseline, search's choice).
    evaluation : Evaluation
        Metrics with CIs (``evaluation.metrics``) and the predictions they came from.
    explanations : dict
        Task name -> :class:`~predictor.training.Explanation`.
    figures : dict
        Artifact path -> matplotlib Figure.
    bundle : ModelBundle
        What is logged and served: the feature pipeline and one model per task.
    calibration : DataFrame or None
        The scenario's published targets beside this cohort's values.
    timings : dict
        Seconds spent in each stage: data, search, fit, evaluate, nested_cv, explain, figures.
    nested : NestedCV or None
        The nested cross-validation of the development cohort (``[evaluation] nested_folds``).
    """

    experiment: Experiment
    data: Data
    fitted: Mapping[str, FittedTask]
    evaluation: Evaluation
    explanations: Mapping[str, Explanation]
    figures: Mapping[str, Any]
    bundle: ModelBundle
    calibration: pd.DataFrame | None = None
    timings: Mapping[str, float] = field(default_factory=dict)
    nested: NestedCV | None = None

    @property
    def metrics(self) -> pd.DataFrame:
        """Every metric of every model on every evaluated cohort (see :class:`~predictor.training.Evaluation`)."""
        return self.evaluation.metrics

    @property
    def synthetic(self) -> bool:
        """Whether the cohort was synthetic (its patient rows may be logged)."""
        return self.data.source is not None

    @property
    def best_params(self) -> dict[str, dict[str, Any]]:
        """The search's choice per task, with its cross-validated score as ``cv_<metric>``."""
        return {name: f.search.summary() for name, f in self.fitted.items()}


def train(exp: Experiment, progress: Progress | None = None) -> TrainingResult:
    """Run one experiment: data, features, search, fit, evaluate (with the oracle), the nested
    CV where the experiment asks for it, SHAP, figures.

    Raises
    ------
    TrainingError
        The cohort cannot support the models (no events, one response class, too few rows).
    SchemaValidationError / TableReadError / ScenarioError
        The cohort breaks its schema, its file cannot be read, or the scenario is unknown.
    """

    say = progress or (lambda message: None)
    timings: dict[str, float] = {}
    with _timed(timings, "data"):
        data = load_data(exp, say)
        features = fit_features(exp, data)
        X_train = features.transform(data.train.frame)
        y_train = {task.name: task.target(data.train.frame) for task in data.tasks}
    fitted = {}
    for task in data.tasks:
        with _timed(timings, "search"):
            chosen = search(task, X_train, y_train[task.name], exp.search, say)
        with _timed(timings, "fit"):
            fitted[task.name] = fit(task, chosen, exp, data, features, X_train, say)
    with _timed(timings, "evaluate"):
        evaluation = evaluate(list(fitted.values()), evaluation_parts(data), features, data.source, exp.evaluation, say)
    if exp.evaluation.nested_folds:
        with _timed(timings, "nested_cv"):
            nested = nested_cv(exp, data, say)
    else:
        nested = None
    shown = data.validation or data.test
    with _timed(timings, "explain"):
        explanations = explain(
            list(fitted.values()), shown, features, data.train, data.schema, exp.shap, exp.evaluation.seed, say
        )
    with _timed(timings, "figures"):
        say("drawing figures")
        figures = make_figures(explanations, evaluation, shown, fitted, features, exp.shap.dependence)
        if data.external is not None:  # an external cohort gets its own calibration and decision figures
            figures.update(evaluation_figures(evaluation, data.external, data.tasks))
        bundle = ModelBundle.from_fitted(
            data.schema, features, fitted.values(), metadata={"experiment": exp.name, "scenario": exp.cohort.scenario}
        )
        calibration = check_calibration(data)
    return TrainingResult(
        experiment=exp,
        data=data,
        fitted=fitted,
        evaluation=evaluation,
        explanations=explanations,
        figures=figures,
        bundle=bundle,
        calibration=calibration,
        timings=timings,
        nested=nested,
    )


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the seconds spent in the block to ``timings[stage]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - start

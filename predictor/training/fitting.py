"""The search and the fit: a seeded random search over the tree booster and a grid over the
linear booster, scored by stratified cross-validation; the chosen XGBoost model and the
classical baseline fitted on the training rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid, ParameterSampler, StratifiedKFold

from features.pipeline import CohortFeatures, baseline_preprocessor
from predictor.config.experiment import Experiment, SearchSection
from predictor.errors import TrainingError
from predictor.training.data import Data, Progress, no_progress
from predictor.training.tasks import Task

__all__ = [
    "SEARCH_SPACE",
    "LINEAR_SEARCH_SPACE",
    "SearchResult",
    "search_candidates",
    "search",
    "FittedTask",
    "fit",
    "fit_xgboost",
    "fit_baseline",
]


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
LINEAR_SEARCH_SPACE = {
    "learning_rate": [0.5],
    "n_estimators": [300],
    "early_stopping_rounds": [None],
    "reg_lambda": [0.0, 0.001, 0.003, 0.01, 0.03, 0.1],
}


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


def search_candidates(
    boosters: Sequence[str], n_iter: int, seed: int, interactions: str | None = None
) -> list[dict[str, Any]]:
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


def search(
    task: Task, X: pd.DataFrame, y: np.ndarray, config: SearchSection, say: Progress = no_progress
) -> SearchResult:
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

    best: Mapping[str, Any] | None = None
    best_score = -np.inf
    with ThreadPoolExecutor(config.n_jobs or _cores()) as pool:
        futures = [[pool.submit(score, params, tr, va) for tr, va in splits] for params in candidates]
        for i, (params, scores) in enumerate(zip(candidates, futures, strict=True), 1):
            mean = float(np.mean([f.result() for f in scores]))
            if mean > best_score:
                best, best_score = params, mean
            say(
                f"{task.name}: search {i}/{len(candidates)}, {params['booster']} "
                f"(best CV score {best_score:.3f}, {best['booster'] if best else 'none yet'})"
            )
    if best is None:
        raise TrainingError(f"{task.name}: no candidate of the search has a finite CV score")
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


def fit(
    task: Task,
    chosen: SearchResult,
    exp: Experiment,
    data: Data,
    features: CohortFeatures,
    X_train: pd.DataFrame | None = None,
    say: Progress = no_progress,
) -> FittedTask:
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


def fit_baseline(
    task: Task, exp: Experiment, data: Data, features: CohortFeatures, y: np.ndarray, *, penalised: bool = True
):
    """The task's classical baseline (logistic regression, Cox PH) on the training rows; by
    maximum likelihood with ``penalised=False`` (a study's ``unpenalised`` family)."""
    return task.fit_baseline(_baseline_preprocessor(exp, data, features), data.train.frame, y, penalised=penalised)


def _baseline_preprocessor(exp: Experiment, data: Data, features: CohortFeatures):
    f = exp.features
    return baseline_preprocessor(schema=data.schema, columns=features.columns_, log=f.log, cutoffs=f.cutoffs or None)

"""Tasks: everything that differs between outcome kinds, so that the stages of training do not.

A task owns its outcome (which columns, what they mean, in which unit), the target it builds from
a cohort, the XGBoost estimator and the baseline it fits, the score its cross-validated search
maximises, the predictions of a fitted model, the oracle's predictions from a synthetic cohort's
truth, the metrics and the bootstrap scheme that scores them, and the prediction columns of a
trained bundle. The stages (:mod:`predictor.training`) loop over tasks and never ask which kind
they hold.

Two kinds: :class:`BinaryTask` (objective response; a deeper response such as >= CR is another
:class:`BinaryTask` on another column) and :class:`SurvivalTask` (a time to event: PFS, OS).
A new kind is one new subclass of :class:`Task`.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from predictor.errors import TrainingError
from predictor.metrics.decision import decision_curve
from predictor.metrics.fast import harrell_c, roc_auc
from predictor.metrics.scores import (
    TIME_UNITS,
    SurvivalMetrics,
    TrainingReference,
    response_metrics,
)
from predictor.models.baselines import CoxPHBaseline, FullRankDesign
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv
from synthetic import Cohort, oracle, survival_columns, true_probability

__all__ = [
    "BinaryOutcome",
    "TimeToEvent",
    "BinaryPrediction",
    "SurvivalPrediction",
    "Scorer",
    "Task",
    "BinaryTask",
    "SurvivalTask",
]


@dataclass(frozen=True)
class BinaryOutcome:
    """A yes/no outcome: the boolean ``column``."""

    column: str

    def describe(self) -> str:
        return self.column.replace("_", " ")


@dataclass(frozen=True)
class TimeToEvent:
    """A time to an event: ``time`` (in ``unit``) and ``event`` (True: observed, False: censored).

    ``endpoint`` says what the time measures (``"pfs"``: progression-free survival, ``"os"``:
    overall survival); it names the prediction columns (``median_pfs_months``, ``os_prob_90d``).
    """

    time: str
    event: str
    unit: str
    endpoint: str = "pfs"

    def __post_init__(self) -> None:
        if self.unit not in TIME_UNITS:
            raise TrainingError(
                f"the time outcome '{self.time}' is in {self.unit!r}; declare its unit as one of "
                f"{', '.join(TIME_UNITS)} (the unit names the horizons and prediction columns)"
            )

    @property
    def suffix(self) -> str:
        """The horizon suffix: ``m``, ``d``, ``w`` or ``y``."""
        return TIME_UNITS[self.unit]

    def at(self, horizon: float) -> str:
        """A horizon as it appears in names: ``12m``, ``90d``."""
        return f"{horizon:g}{self.suffix}"

    def describe(self, horizon: float | None = None) -> str:
        """``PFS``, or ``PFS at 12 months``."""
        name = self.endpoint.upper()
        return name if horizon is None else f"{name} at {horizon:g} {self.unit}"


@dataclass(frozen=True)
class BinaryPrediction:
    """Predicted probability of the outcome, per patient."""

    probability: np.ndarray


@dataclass(frozen=True)
class SurvivalPrediction:
    """A risk score per patient (**higher = worse**) and ``survival(times) -> (n, len(times))``."""

    risk: np.ndarray
    survival: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Scorer:
    """How to score one model's predictions on one cohort: ``metric(rows)`` for a bootstrap
    replicate, ``point(rows)`` on all rows (None: ``metric``), ``stratify`` the resampling."""

    metric: Callable[[np.ndarray], Mapping[str, float]]
    point: Callable[[np.ndarray], Mapping[str, float]] | None = None
    stratify: np.ndarray | None = None


class Task(ABC):
    """One outcome to predict. Subclasses fill in what differs between outcome kinds."""

    #: The task's name: metric keys (``validation/response/xgboost/auc``), bundle parts.
    name: str
    #: The metric the search maximises and the run page leads with (higher is better).
    headline: str
    #: What kind of outcome it is ("binary", "survival"): how reports draw and word it.
    kind: str

    @abstractmethod
    def target(self, df: pd.DataFrame) -> np.ndarray:
        """The target of ``df``'s patients, as the task's estimators take it."""

    @abstractmethod
    def strata(self, y: np.ndarray) -> np.ndarray:
        """Labels that stratified splits keep in proportion (the class, or the event indicator)."""

    @abstractmethod
    def outcome_columns(self) -> dict[str, dict[str, Any]]:
        """The outcome columns this task reads, declared as a schema declares columns (what a
        cohort to evaluate the trained model on must hold)."""

    @abstractmethod
    def check(self, df: pd.DataFrame, doing: str = "trained") -> None:
        """Raise :class:`TrainingError` if ``df`` cannot train (or, with ``doing="evaluated"``,
        score) this task: one class, no events."""

    @abstractmethod
    def make_model(self, params: Mapping[str, Any], random_state: int):
        """An unfitted XGBoost estimator with the search's ``params``."""

    @abstractmethod
    def fit_baseline(self, preprocessor, df: pd.DataFrame, y: np.ndarray, *, penalised: bool = True) -> Pipeline:
        """The classical baseline fitted on raw columns ``df``: a scikit-learn :class:`Pipeline`
        of the unfitted ``preprocessor`` and the task's regression (the same shape for every task);
        ridge-penalised (the default), or by maximum likelihood with ``penalised=False``."""

    @abstractmethod
    def coefficient_test(
        self, baseline: Pipeline, df: pd.DataFrame, y: np.ndarray, covariate: str
    ) -> tuple[float, float]:
        """The coefficient of ``covariate`` in this task's (fitted) baseline regression on ``df``
        and its Wald p-value: the test a study's power analysis counts. NaN, NaN where the fit
        does not converge.

        Raises
        ------
        TrainingError
            ``covariate`` is not one column of the baseline's design (a boolean or numeric input).
        """

    def cv_score(self, model, X: pd.DataFrame, y: np.ndarray) -> float:
        """The search's score (:attr:`headline`) of a fitted ``model`` on held-out rows."""
        return self.headline_score(y, self.predict(model, X))

    @abstractmethod
    def headline_score(self, y: np.ndarray, prediction) -> float:
        """The :attr:`headline` metric of one model's ``prediction`` for the patients of ``y``."""

    @abstractmethod
    def predict(self, model, X: pd.DataFrame):
        """Predictions of the fitted XGBoost ``model`` on model input ``X``."""

    @abstractmethod
    def predict_baseline(self, baseline, df: pd.DataFrame):
        """Predictions of the fitted baseline on raw columns ``df``."""

    @abstractmethod
    def oracle(self, truth: pd.DataFrame | None, source, observed: pd.DataFrame | None = None) -> Any:
        """The best possible predictions, from a synthetic cohort's ``truth`` (None without one).

        ``source`` is the :class:`predictor.training.Synthetic` the cohort came from. With the
        cohort's ``observed`` rows, the attainable oracle: the best prediction from the model's
        inputs, latents that no input reveals integrated out (:mod:`synthetic.attainable`);
        without them, the full truth."""

    def reference(self, y_train: np.ndarray) -> Any:
        """What scoring needs from the training target besides the predictions (None here; a
        time to event keeps its censoring distribution): kept with the trained model."""
        return None

    @abstractmethod
    def scorer(self, reference: Any, y: np.ndarray, prediction) -> Scorer:
        """How :func:`predictor.training.evaluate` scores ``prediction`` of target ``y``, given the
        training data's :meth:`reference`."""

    @abstractmethod
    def decision_curve(self, y: np.ndarray, predictions: Mapping[str, Any]) -> pd.DataFrame:
        """Net benefit of acting on each model's predicted risk (:func:`predictor.metrics.decision.decision_curve`),
        with a ``horizon`` column (NaN for a binary outcome)."""

    @abstractmethod
    def shap_scale(self, model) -> str:
        """What a SHAP value of this task's model measures (its margin's scale)."""

    @abstractmethod
    def output_columns(self) -> list[str]:
        """The columns a trained bundle predicts for this task."""

    @abstractmethod
    def outputs(self, model, X: pd.DataFrame, out: np.ndarray) -> None:
        """Write the bundle's predictions into ``out`` (rows x :meth:`output_columns`)."""


class BinaryTask(Task):
    """A binary outcome: XGBoost classifier, logistic-regression baseline, AUC-scored search.

    Parameters
    ----------
    name : str
        ``"response"`` for objective response; another binary outcome is named by its column.
    outcome : BinaryOutcome
    """

    headline = "auc"
    kind = "binary"

    def __init__(self, name: str, outcome: BinaryOutcome):
        self.name = name
        self.outcome = outcome

    def __repr__(self) -> str:
        return f"BinaryTask({self.name!r}, {self.outcome!r})"

    def target(self, df: pd.DataFrame) -> np.ndarray:
        return df[self.outcome.column].to_numpy().astype(bool)

    def strata(self, y: np.ndarray) -> np.ndarray:
        return y

    def outcome_columns(self) -> dict[str, dict[str, Any]]:
        return {self.outcome.column: {"dtype": "bool", "role": "outcome"}}

    def check(self, df: pd.DataFrame, doing: str = "trained") -> None:
        if df[self.outcome.column].nunique() < 2:
            raise TrainingError(
                f"'{self.outcome.column}' takes a single value in the cohort: a {self.name} model cannot be {doing}"
            )

    def make_model(self, params: Mapping[str, Any], random_state: int) -> XGBResponseClassifier:
        return XGBResponseClassifier(random_state=random_state, **params)

    def fit_baseline(self, preprocessor, df: pd.DataFrame, y: np.ndarray, *, penalised: bool = True) -> Pipeline:
        if penalised:
            return make_pipeline(preprocessor, LogisticRegression(max_iter=5000)).fit(df, y)
        return make_pipeline(preprocessor, FullRankDesign(), LogisticRegression(C=np.inf, max_iter=5000)).fit(df, y)

    def coefficient_test(
        self, baseline: Pipeline, df: pd.DataFrame, y: np.ndarray, covariate: str
    ) -> tuple[float, float]:
        # scikit-learn's logistic regression gives no standard errors: the same design (the
        # baseline's preprocessor output) is refitted without penalty by statsmodels, the
        # maintained library that gives them.
        import statsmodels.api as sm  # lazy: statsmodels is slow to import and only studies ask

        preprocessor = baseline[:-1]
        Z = pd.DataFrame(preprocessor.transform(df), columns=preprocessor.get_feature_names_out())
        # Full rank beside the intercept: constant columns out, and the first level of each one-hot group.
        first_levels = {c.split("=", 1)[0]: c for c in reversed(Z.columns) if "=" in c}.values()
        Z = Z.loc[:, (Z.std() > 0) & ~Z.columns.isin(list(first_levels))]
        logit = sm.Logit(np.asarray(y, dtype=float), sm.add_constant(Z, has_constant="add"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a fit that does not converge is reported as NaN below
            fit = logit.fit(disp=0, maxiter=100)
            if not fit.mle_retvals.get("converged", False):
                # Newton's steps can stall on statsmodels' own convergence test where a
                # quasi-Newton search converges to the same estimates (seen on 240 patients).
                fit = logit.fit(disp=0, maxiter=1000, method="bfgs")
        row = _design_column(Z.columns, covariate)
        if not fit.mle_retvals.get("converged", False):
            return math.nan, math.nan
        return float(fit.params[row]), float(fit.pvalues[row])

    def headline_score(self, y: np.ndarray, prediction: BinaryPrediction) -> float:
        # scikit-learn's roc_auc_score without its input checks: the search calls it once a fold
        # and candidate, where the checks took longer than the score
        return roc_auc(y, prediction.probability)

    def predict(self, model, X: pd.DataFrame) -> BinaryPrediction:
        return BinaryPrediction(model.predict_proba(X)[:, 1])

    def predict_baseline(self, baseline, df: pd.DataFrame) -> BinaryPrediction:
        return BinaryPrediction(baseline.predict_proba(df)[:, 1])

    def oracle(
        self, truth: pd.DataFrame | None, source, observed: pd.DataFrame | None = None
    ) -> BinaryPrediction | None:
        if truth is None:
            return None
        return BinaryPrediction(
            true_probability(source.scenario, truth, self.outcome.column, observed, source.parameters)
        )

    def scorer(self, reference: None, y: np.ndarray, prediction: BinaryPrediction) -> Scorer:
        p = prediction.probability
        # Stratified resampling: every replicate keeps both classes.
        return Scorer(metric=lambda i: response_metrics(y[i], p[i]), stratify=y)

    def decision_curve(self, y: np.ndarray, predictions: Mapping[str, BinaryPrediction]) -> pd.DataFrame:

        return decision_curve(y, {m: p.probability for m, p in predictions.items()}).assign(horizon=np.nan)

    def shap_scale(self, model) -> str:
        return "log-odds of response" if self.name == "response" else f"log-odds of {self.outcome.describe()}"

    def output_columns(self) -> list[str]:
        return [f"{self.name}_probability"]

    def outputs(self, model, X: pd.DataFrame, out: np.ndarray) -> None:
        out[:, 0] = 1.0 / (1.0 + np.exp(-model.margin(X)))


class SurvivalTask(Task):
    """A time to event: XGBoost Cox or AFT, Cox PH baseline, Harrell's-C-scored search.

    Parameters
    ----------
    outcome : TimeToEvent
    objective : {"survival:cox", "survival:aft"}
    horizons : sequence of float
        Times (in the outcome's unit) of the time-dependent metrics and predicted probabilities.
    """

    name = "survival"
    headline = "harrell_c"
    kind = "survival"

    def __init__(self, outcome: TimeToEvent, objective: str, horizons: Sequence[float]):
        self.outcome = outcome
        self.objective = objective
        self.horizons = tuple(float(h) for h in horizons)

    def __repr__(self) -> str:
        return f"SurvivalTask({self.outcome!r}, {self.objective!r}, horizons={self.horizons})"

    def target(self, df: pd.DataFrame) -> np.ndarray:
        return make_surv(df[self.outcome.event].astype(bool), df[self.outcome.time])

    def strata(self, y: np.ndarray) -> np.ndarray:
        return y["event"]

    def outcome_columns(self) -> dict[str, dict[str, Any]]:
        o = self.outcome
        return {
            o.time: {"dtype": "float", "role": "outcome", "min": 0, "unit": o.unit},
            o.event: {"dtype": "bool", "role": "outcome"},
        }

    def check(self, df: pd.DataFrame, doing: str = "trained") -> None:
        if not df[self.outcome.event].astype(bool).any():
            raise TrainingError(
                f"the cohort has no events ('{self.outcome.event}' is False for every patient): "
                f"a survival model cannot be {doing}"
            )

    def make_model(self, params: Mapping[str, Any], random_state: int) -> XGBSurvival:
        return XGBSurvival(objective=self.objective, random_state=random_state, **params)

    def fit_baseline(self, preprocessor, df: pd.DataFrame, y: np.ndarray, *, penalised: bool = True) -> Pipeline:
        if penalised:
            return make_pipeline(preprocessor, CoxPHBaseline()).fit(df, y)
        return make_pipeline(preprocessor, FullRankDesign(), CoxPHBaseline(penalizer=0.0)).fit(df, y)

    def coefficient_test(
        self, baseline: Pipeline, df: pd.DataFrame, y: np.ndarray, covariate: str
    ) -> tuple[float, float]:
        summary = baseline[-1].model_.summary  # lifelines' fit has the coefficients and their Wald tests
        row = _design_column(summary.index, covariate)
        return float(summary.loc[row, "coef"]), float(summary.loc[row, "p"])

    def headline_score(self, y: np.ndarray, prediction: SurvivalPrediction) -> float:
        return float(harrell_c(y["time"], y["event"], prediction.risk))

    def predict(self, model, X: pd.DataFrame) -> SurvivalPrediction:
        m = model.margin(X)  # once: a bootstrap asks for survival curves at new times many times
        return SurvivalPrediction(model.risk_from_margin(m), lambda t: model.survival_from_margin(m, t))

    def predict_baseline(self, baseline: Pipeline, df: pd.DataFrame) -> SurvivalPrediction:
        cox = baseline[-1]
        Z = baseline[:-1].transform(df)
        v = cox.hazard_ratio(Z)
        return SurvivalPrediction(cox.predict(Z), lambda t: cox.survival_from_hazard_ratio(v, t))

    def oracle(
        self, truth: pd.DataFrame | None, source, observed: pd.DataFrame | None = None
    ) -> SurvivalPrediction | None:
        if truth is None or survival_columns(source.scenario) != (self.outcome.time, self.outcome.event):
            return None
        cohort = Cohort(
            observed=observed if observed is not None else pd.DataFrame(index=truth.index),
            truth=truth,
            scenario=source.scenario.name,
            seed=source.seed,
            parameters=source.parameters,
        )
        truly = lambda t: oracle(cohort, t, source.scenario, attainable=observed is not None)
        return SurvivalPrediction(truly(self.horizons)["risk"], lambda t: truly(t)["survival"])

    def reference(self, y_train: np.ndarray) -> TrainingReference:
        return TrainingReference.from_target(y_train)

    def scorer(self, reference: TrainingReference, y: np.ndarray, prediction: SurvivalPrediction) -> Scorer:
        metrics = SurvivalMetrics(
            reference, y, prediction.risk, prediction.survival, self.horizons, self.outcome.suffix
        )
        return Scorer(metric=metrics, point=lambda rows: metrics(rows, calibration=True))

    @property
    def decision_horizon(self) -> float:
        """The horizon of the decision curve: the middle one of :attr:`horizons`."""
        return self.horizons[len(self.horizons) // 2]

    def decision_curve(self, y: np.ndarray, predictions: Mapping[str, SurvivalPrediction]) -> pd.DataFrame:

        h = self.decision_horizon
        risks = {m: 1.0 - p.survival(np.array([h]))[:, 0] for m, p in predictions.items()}
        return decision_curve(y["event"], risks, time=y["time"], horizon=h).assign(horizon=h)

    def shap_scale(self, model) -> str:
        return "log hazard ratio" if self.objective == "survival:cox" else f"log {self.outcome.describe()} time (AFT)"

    def output_columns(self) -> list[str]:
        e, o = self.outcome.endpoint, self.outcome
        return ["risk_score", f"median_{e}_{o.unit}", *[f"{e}_prob_{o.at(h)}" for h in self.horizons]]

    def outputs(self, model, X: pd.DataFrame, out: np.ndarray) -> None:
        m = model.margin(X)  # once, for every survival output
        out[:, 0] = model.risk_from_margin(m)
        out[:, 1] = model.median_from_margin(m)
        model.survival_from_margin(m, self.horizons, out=out[:, 2:])


def _design_column(names: Iterable[str], covariate: str) -> str:
    """The design column of a (boolean or numeric) covariate: itself, or its log."""
    names = list(names)
    for candidate in (covariate, f"log({covariate})"):
        if candidate in names:
            return candidate
    raise TrainingError(
        f"covariate '{covariate}' is not one column of the baseline's design (a boolean or numeric input of the model)"
    )

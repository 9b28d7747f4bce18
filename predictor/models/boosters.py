"""Response and survival models as scikit-learn-style estimators (no MLflow here).

The survival target is one structured array with fields ``event`` (bool) and ``time`` (float),
as scikit-survival's ``Surv`` makes it (:func:`make_surv`). Risk scores are **higher = worse**
(higher hazard, shorter PFS) for every survival model here.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.stats import norm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import Tags
from sklearn.utils._param_validation import (  # scikit-learn's own constraint types, as scikit-survival uses them
    Interval,
    StrOptions,
)
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import assert_all_finite, check_is_fitted, column_or_1d
from sksurv.base import SurvivalAnalysisMixin
from sksurv.linear_model.coxph import BreslowEstimator

from predictor.errors import ModelInputError
from predictor.models.engines import ENGINES, LinearEngine, TreeEngine
from predictor.models.linear import LinearBooster
from predictor.models.target import _count_above, as_frame, surv_arrays

__all__ = ["BOOSTERS", "XGBResponseClassifier", "XGBSurvival"]


#: The boosters a model may use: trees, or XGBoost's linear booster (a penalised GLM).
BOOSTERS = ("gbtree", "gblinear")


class _XGBBase(LinearBooster, BaseEstimator):
    """What both XGBoost estimators share: their parameters (checked at fit against
    :attr:`_parameter_constraints`, as scikit-learn's estimators are), XGBoost's training with
    early stopping, margins and SHAP values for either booster."""

    _parameter_constraints: dict = {
        "booster": [StrOptions(set(BOOSTERS))],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [Interval(Integral, 1, None, closed="left")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "interaction_by": [str, None],
        "random_state": ["random_state"],
        "n_jobs": [Interval(Integral, 0, None, closed="left")],
        "device": [StrOptions({"cpu", "cuda"})],
    }

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # XGBoost learns where missing values go; the linear booster imputes
        tags.input_tags.sparse = False
        return tags

    def _engine(self) -> TreeEngine | LinearEngine:
        """What differs between the two boosters (:data:`predictor.models.engines.ENGINES`)."""
        return ENGINES[self.booster]

    def _params(self) -> dict[str, Any]:
        return self._engine().params(self)

    def _train(self, params: dict, make_dmatrix, X: pd.DataFrame, y, stratify=None) -> None:
        engine = self._engine()
        for stale in (
            "coef_",
            "intercept_",
            "feature_mean_",
            "feature_scale_",
            "input_mean_",
            "interaction_pairs_",
        ):  # from an earlier linear fit
            self.__dict__.pop(stale, None)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        x, names = engine.design(self, X)
        booster = self._boost(params, make_dmatrix, x, y, stratify)
        # Training threads stay fixed (n_jobs), so a seed gives the same model on any machine.
        # Prediction computes each row on its own and gives the same numbers on any number of
        # threads, so it uses every core of the machine it runs on (XGBoost's nthread 0).
        booster.set_param({"nthread": 0})
        booster.feature_names = [str(n) for n in names]
        self.booster_ = booster
        engine.keep(self, booster, x, names)

    def _boost(self, params: dict, make_dmatrix: Any, X: np.ndarray, y: Any, stratify: Any) -> xgb.Booster:
        """XGBoost's training: with early stopping on an internal validation split, then a refit
        on every row with the rounds it chose; or ``n_estimators`` rounds."""
        if self.early_stopping_rounds and len(X) >= 50:
            idx = np.arange(len(X))
            tr, va = train_test_split(
                idx, test_size=self.validation_fraction, random_state=self.random_state, stratify=stratify
            )
            dtrain, dvalid = make_dmatrix(X[tr], y[tr]), make_dmatrix(X[va], y[va])
            booster = xgb.train(
                params,
                dtrain,
                num_boost_round=self.n_estimators,
                evals=[(dvalid, "valid")],
                early_stopping_rounds=self.early_stopping_rounds,
                verbose_eval=False,
            )
            self.best_iteration_ = int(booster.best_iteration)
            # Refit on all rows with the number of rounds early stopping chose.
            booster = xgb.train(
                params, make_dmatrix(X, y), num_boost_round=self.best_iteration_ + 1, verbose_eval=False
            )
        else:
            booster = xgb.train(params, make_dmatrix(X, y), num_boost_round=self.n_estimators, verbose_eval=False)
            self.best_iteration_ = self.n_estimators - 1
        return booster

    def _checked(self, X) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        X = as_frame(X)
        if list(X.columns) != list(self.feature_names_in_):
            count = (
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} features "
                "as input: "
                if X.shape[1] != self.n_features_in_
                else "the input's columns are not the training features: "
            )
            raise ModelInputError(f"{count}expected features {list(self.feature_names_in_)}, got {list(X.columns)}")
        return X

    def margin(self, X) -> np.ndarray:
        """The raw score of the booster (log-odds, log hazard ratio or log time)."""
        return self._engine().margin(self, self._checked(X))

    def shap_values(self, X, background=None) -> tuple[np.ndarray, float]:
        """SHAP contributions on the margin scale, exact for both boosters.

        Trees: TreeSHAP. Without ``background``, XGBoost's native path-dependent TreeSHAP
        (``pred_contribs``); with it, shap's interventional TreeSHAP against these rows.
        Linear booster: a linear model's exact SHAP values ``coef_j * (z_j - mean_B z_j)`` on the
        standardised input ``z``, where ``B`` is ``background`` or, without it, the training data
        (shap's ``LinearExplainer`` with an independent masker computes the same). With
        ``interaction_by``, each product term ``c * a * x`` is a two-player game whose exact
        interventional Shapley values (the definition TreeSHAP's interventional mode computes)
        are ``phi_a = c/2 [(a E[x] - E[ax]) + (ax - E[a] x)]`` and ``phi_x = c/2 [(E[a] x - E[ax])
        + (ax - a E[x])]``, expectations over ``B``; within one arm (``a`` constant in ``B`` and
        ``X``) the arm gets 0 and the biomarker its arm's whole coefficient.

        Parameters
        ----------
        X : DataFrame
            Model input.
        background : DataFrame, optional
            The contributions explain the model's output relative to the background's mean
            output. A background from one subgroup (one therapy arm) explains the model *within*
            that subgroup: a column that is constant in the background and in ``X`` gets 0.

        Returns
        -------
        values : ndarray, shape (n, n_features)
        base_value : float
            ``values.sum(axis=1) + base_value`` equals :meth:`margin` (checked).
        """
        X = self._checked(X)
        values, base = self._engine().shap(self, X, None if background is None else self._checked(background))
        margin = self.margin(X)
        if not np.allclose(values.sum(axis=1) + base, margin, rtol=1e-4, atol=1e-4):
            raise ModelInputError("SHAP additivity check failed: contributions do not sum to the model output")
        return values, float(base[0]) if len(base) else 0.0


class XGBResponseClassifier(ClassifierMixin, _XGBBase):
    """Gradient boosting for objective response (binary), on XGBoost.

    Parameters
    ----------
    booster : {"gbtree", "gblinear"}
        Trees, or XGBoost's linear booster: a ridge-penalised logistic regression fitted by
        coordinate descent on inputs standardised with the training mean and SD (a missing value
        counts as the mean). The experiment's search chooses between them by cross-validation.
    n_estimators : int
        Most boosting rounds; early stopping may use fewer.
    learning_rate, reg_lambda
        Shrinkage and L2 penalty (both boosters). With ``gblinear`` XGBoost multiplies
        ``reg_lambda`` by the number of rows: it is a penalty per patient, so 1.0 shrinks hard.
    max_depth, min_child_weight, subsample, colsample_bytree
        XGBoost's tree parameters (``gbtree`` only).
    early_stopping_rounds : int or None
        Stop when the log-loss of an internal validation split (``validation_fraction``,
        stratified) has not improved for this many rounds, then refit on all rows.
    interaction_by : str or None
        ``gblinear`` only: the name of a one-hot encoded categorical input (``"therapy_arm"``,
        whose levels are the columns ``therapy_arm=LEVEL``). The linear model gains the product
        of each level with every other input, so each level has its own coefficients (an effect
        that acts in one therapy arm only); missing inputs count as their training mean.
    random_state : int
        Seed of the split and of XGBoost's sampling.
    n_jobs : int
        Threads used to train the trees (fixed, for the same model on any machine; the linear
        booster trains on one, its coordinate descent being slower on more); prediction and
        SHAP use every core.
    device : str
        ``"cpu"`` or ``"cuda"``.

    Attributes
    ----------
    booster_ : xgboost.Booster
    classes_ : ndarray
    best_iteration_ : int
    coef_, intercept_, feature_mean_, feature_scale_ : ndarray, float, ndarray, ndarray
        ``gblinear`` only: weights on the standardised inputs, the margin at the training mean,
        and the standardisation (of the input followed by its product terms, with ``interaction_by``).
    interaction_pairs_, input_mean_ : ndarray
        ``gblinear`` with ``interaction_by`` only: the (level, input) column indices of each
        product term, and the training mean that stands in for a missing input.
    """

    def __init__(
        self,
        *,
        booster: str = "gbtree",
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int | None = 30,
        validation_fraction: float = 0.2,
        interaction_by: str | None = None,
        random_state: int = 0,
        n_jobs: int = 2,
        device: str = "cpu",
    ):
        self.booster = booster
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.interaction_by = interaction_by
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # objective response: binary
        return tags

    def fit(self, X, y) -> XGBResponseClassifier:
        """Fit on features ``X`` (DataFrame) and binary ``y``."""
        self._validate_params()
        if y is None:
            raise ModelInputError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X = as_frame(X)
        y = column_or_1d(y, warn=True)
        if y.dtype.kind == "f":
            # NaN or inf in y: scikit-learn's own message, before type_of_target's cast to int
            # warns about them ("invalid value encountered in cast") on its way to that message.
            assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "unknown") and len(np.unique(y)) > 2:
            raise ModelInputError(f"Only binary classification is supported. The type of the target is {kind}.")
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ModelInputError(
                "objective response needs both classes in the training data; found "
                + (f"one class, {self.classes_.tolist()}" if len(self.classes_) == 1 else f"{self.classes_.tolist()}")
            )
        yb = (y == self.classes_[1]).astype(float)
        params = {**self._params(), "objective": "binary:logistic", "eval_metric": "logloss"}
        self._train(params, lambda a, b: xgb.DMatrix(a, label=b, missing=np.nan), X, yb, stratify=yb)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of each class, shape (n, 2)."""
        p = 1.0 / (1.0 + np.exp(-self.margin(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """Most likely class."""
        check_is_fitted(self, "booster_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class XGBSurvival(SurvivalAnalysisMixin, _XGBBase):
    """Gradient boosting (trees or XGBoost's linear booster) for progression-free survival, on XGBoost.

    ``objective="survival:cox"``: the margin is a log hazard ratio; a Breslow estimate of the
    baseline hazard (scikit-survival's ``BreslowEstimator``) on the training data turns it into
    survival curves. ``objective="survival:aft"``: accelerated failure time with a normal
    error on log time (``aft_sigma``); censored rows enter as intervals ``[time, inf)``.

    :meth:`predict` returns a **risk score, higher = worse** (the log hazard ratio for Cox,
    minus the predicted log time for AFT), and :meth:`score` Harrell's C of it
    (scikit-survival's ``SurvivalAnalysisMixin``, as its own estimators score).

    Parameters are those of :class:`XGBResponseClassifier`, plus ``objective`` and ``aft_sigma``;
    with ``booster="gblinear"`` and ``survival:cox`` the model is a ridge-penalised Cox model.
    """

    def __init__(
        self,
        *,
        objective: str = "survival:cox",
        booster: str = "gbtree",
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        min_child_weight: float = 1.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        aft_sigma: float = 1.0,
        early_stopping_rounds: int | None = 30,
        validation_fraction: float = 0.2,
        interaction_by: str | None = None,
        random_state: int = 0,
        n_jobs: int = 2,
        device: str = "cpu",
    ):
        self.objective = objective
        self.booster = booster
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.aft_sigma = aft_sigma
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.interaction_by = interaction_by
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.device = device

    _parameter_constraints: dict = {
        **_XGBBase._parameter_constraints,
        "objective": [StrOptions({"survival:cox", "survival:aft"})],
        "aft_sigma": [Interval(Real, 0, None, closed="neither")],
    }

    def _dm(self, X: pd.DataFrame, y: np.ndarray) -> xgb.DMatrix:
        event, time = y["event"], y["time"]
        if self.objective == "survival:cox":
            return xgb.DMatrix(X, label=np.where(event, time, -time), missing=np.nan)
        d = xgb.DMatrix(X, missing=np.nan)
        d.set_float_info("label_lower_bound", time)
        d.set_float_info("label_upper_bound", np.where(event, time, np.inf))
        return d

    def fit(self, X, y) -> XGBSurvival:
        """Fit on features ``X`` and the survival target ``y`` (:func:`make_surv`)."""
        self._validate_params()
        X = as_frame(X)
        event, time = surv_arrays(y)
        if not event.any():
            raise ModelInputError("the survival target has no events: nothing to learn a hazard from")
        params = {**self._params(), "objective": self.objective}
        if self.objective == "survival:cox":
            params["eval_metric"] = "cox-nloglik"
        else:
            params.update(
                eval_metric="aft-nloglik", aft_loss_distribution="normal", aft_loss_distribution_scale=self.aft_sigma
            )
        self._train(params, self._dm, X, y, stratify=event)
        if self.objective == "survival:cox":
            breslow = BreslowEstimator().fit(self.margin(X), event, time)
            self.baseline_time_ = np.asarray(breslow.baseline_survival_.x, dtype=float)
            self.baseline_survival_ = np.asarray(breslow.baseline_survival_.y, dtype=float)
        self.event_times_ = np.unique(time[event])
        return self

    def predict(self, X) -> np.ndarray:
        """Risk score, higher = worse."""
        return self.risk_from_margin(self.margin(X))

    def predict_survival_function(self, X, times) -> np.ndarray:
        """S(t | x) at ``times`` for each row of ``X``: array of shape (n, len(times))."""
        return self.survival_from_margin(self.margin(X), times)

    def survival_from_margin(self, m: np.ndarray, times, out: np.ndarray | None = None) -> np.ndarray:
        """S(t | x) at ``times`` from margins already computed (see :meth:`margin`): rows x times,
        written into ``out`` if given (column by column; by default a column-major array)."""
        times = np.atleast_1d(np.asarray(times, dtype=float))
        out = np.empty((len(m), len(times)), order="F") if out is None else out
        if self.objective == "survival:cox":
            idx = np.searchsorted(self.baseline_time_, times, side="right") - 1
            s0 = np.where(idx >= 0, self.baseline_survival_[np.clip(idx, 0, None)], 1.0)
            hazard_ratio = np.exp(m)
            for j in range(len(times)):
                np.power(s0[j], hazard_ratio, out=out[:, j])
            return out
        for j, t in enumerate(times):
            out[:, j] = norm.sf((np.log(t) - m) / self.aft_sigma)
        return out

    def predict_median(self, X) -> np.ndarray:
        """Predicted median PFS (inf where the curve never reaches 0.5 within the follow-up)."""
        return self.median_from_margin(self.margin(X))

    def risk_from_margin(self, m: np.ndarray) -> np.ndarray:
        """Risk score (higher = worse) from margins."""
        return m if self.objective == "survival:cox" else -m

    def median_from_margin(self, m: np.ndarray) -> np.ndarray:
        """Predicted median from margins already computed."""
        if self.objective == "survival:aft":
            return np.exp(m)  # the median of a log-normal time
        check_is_fitted(self, "baseline_time_")
        # S(t|x) = S0(t)^exp(m) <= 0.5  <=>  S0(t) <= 0.5^exp(-m): one search in the (non-increasing)
        # baseline curve per patient, instead of an n x (event times) matrix.
        threshold = np.exp(-np.log(2.0) * np.exp(-m))
        idx = _count_above(self.baseline_survival_, threshold)
        return np.r_[self.baseline_time_, np.inf][idx]  # past the last point: never reaches 0.5

"""The classical baselines' estimators: Cox proportional hazards (lifelines) as a scikit-learn
estimator. (The logistic baseline is scikit-learn's own ``LogisticRegression``.) Both are the
last step of a :class:`~sklearn.pipeline.Pipeline` behind the baseline preprocessor.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval  # scikit-learn's own constraint types
from sklearn.utils.validation import check_is_fitted
from sksurv.base import SurvivalAnalysisMixin

from predictor.errors import ModelInputError
from predictor.models.target import as_frame, surv_arrays

__all__ = ["CoxPHBaseline", "FullRankDesign"]


class FullRankDesign(BaseEstimator):
    """Keep a full-rank design beside an intercept: drop constant columns and the first level of
    each one-hot group (columns named ``"column=level"``). A maximum-likelihood regression needs
    it; a ridge-penalised one does not. Pandas in, pandas out.

    scikit-learn's ``OneHotEncoder(drop="first")`` does this inside an encoder; the baseline
    preprocessor's one-hot columns come from the feature pipeline, so the selection is made here.
    """

    def fit(self, X, y=None):  # noqa: ANN001, ANN201 - scikit-learn's signature
        X = as_frame(X)
        first = {c.split("=", 1)[0]: c for c in reversed(X.columns) if "=" in str(c)}.values()
        varying = X.std() > 0
        self.columns_ = [c for c in X.columns if varying[c] and c not in set(first)]
        return self

    def transform(self, X):  # noqa: ANN001, ANN201 - scikit-learn's signature
        check_is_fitted(self, "columns_")
        return as_frame(X)[self.columns_]

    def get_feature_names_out(self, input_features=None):  # noqa: ANN001, ANN201
        check_is_fitted(self, "columns_")
        return np.asarray(self.columns_, dtype=object)


class CoxPHBaseline(SurvivalAnalysisMixin, BaseEstimator):
    """Cox proportional hazards (lifelines' ``CoxPHFitter``) as a scikit-learn estimator.

    :meth:`predict` returns the linear predictor, **higher = worse**, and :meth:`score` Harrell's
    C of it (scikit-survival's ``SurvivalAnalysisMixin``).

    Parameters
    ----------
    penalizer : float
        Ridge penalty (lifelines' ``penalizer``), which keeps the fit stable with one-hot features.
    """

    _parameter_constraints: dict = {"penalizer": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, *, penalizer: float = 0.01):
        self.penalizer = penalizer

    def fit(self, X, y) -> CoxPHBaseline:

        self._validate_params()
        X = as_frame(X)
        if not np.isfinite(X.to_numpy(dtype=np.float64, na_value=np.nan)).all():
            raise ModelInputError("Input X contains NaN or infinity: the Cox baseline's preprocessor imputes first")
        event, time = surv_arrays(y)
        if not event.any():
            raise ModelInputError("the survival target has no events: nothing to learn a hazard from")
        keep = [c for c in X.columns if np.nanstd(X[c].to_numpy(dtype=float)) > 0]
        df = X[keep].astype(float).copy()
        df["__time"], df["__event"] = time, event
        from lifelines import CoxPHFitter  # lazy: over a second to import, needed only to fit

        self.model_ = CoxPHFitter(penalizer=self.penalizer).fit(df, "__time", "__event")
        self.columns_ = keep
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Linear predictor (log partial hazard), higher = worse."""
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict_log_partial_hazard(as_frame(X)[self.columns_].astype(float)), dtype=float)

    def hazard_ratio(self, X) -> np.ndarray:
        """exp(linear predictor) per row: what :meth:`survival_from_hazard_ratio` takes."""
        return np.exp(self.predict(X))

    def predict_survival_function(self, X, times) -> np.ndarray:
        """S(t | x) at ``times``: array of shape (n, len(times))."""
        return self.survival_from_hazard_ratio(self.hazard_ratio(X), times)

    def survival_from_hazard_ratio(self, v: np.ndarray, times) -> np.ndarray:
        """S(t | x) at ``times`` from hazard ratios already computed (:meth:`hazard_ratio`):
        lifelines' ``predict_survival_function``, exp(-H0(t) v) with its Breslow baseline H0
        interpolated linearly, without recomputing the linear predictor at each call."""

        from lifelines.utils import interpolate_at_times  # lazy: the fitted model_ has imported lifelines

        check_is_fitted(self, "model_")
        h0 = interpolate_at_times(self.model_.baseline_cumulative_hazard_, np.atleast_1d(times).astype(float))
        return np.exp(-(h0[:, None] * np.asarray(v, dtype=float)[None, :])).T

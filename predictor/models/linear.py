"""XGBoost's linear booster as a penalised GLM: the design it fits (the input, standardised,
with product terms by an arm when asked), margins computed with NumPy, and exact SHAP values.

:class:`LinearBooster` holds what the linear booster adds to an XGBoost estimator; the tree
booster needs none of it.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import xgboost as xgb

from predictor.errors import ModelInputError

__all__ = ["LinearBooster", "column_stats"]


def column_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and SD ignoring missing values (an all-missing column: 0 and 1; a
    constant one: SD 1)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, scale = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    return np.where(np.isfinite(mean), mean, 0.0), np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def _indicator(columns: np.ndarray, width: int) -> np.ndarray:
    """A (len(columns), width) 0/1 matrix sending term i to input column ``columns[i]``."""
    out = np.zeros((len(columns), width))
    out[np.arange(len(columns)), columns] = 1.0
    return out


class LinearBooster:
    """The linear booster's part of an XGBoost estimator (a mixin: it reads the estimator's
    ``interaction_by`` and fitted attributes ``feature_mean_``, ``feature_scale_``, ``coef_``,
    ``intercept_``, ``input_mean_``, ``interaction_pairs_``)."""

    interaction_by: str | None
    n_features_in_: int
    feature_mean_: np.ndarray
    feature_scale_: np.ndarray
    coef_: np.ndarray
    intercept_: float
    input_mean_: np.ndarray
    interaction_pairs_: np.ndarray

    def _linear_design(self, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """The standardised design the booster fits and its column names (the input's, then the
        product terms'); its training statistics are kept."""
        names = list(X.columns)
        x = X.to_numpy(dtype=np.float64, na_value=np.nan)
        if self.interaction_by is not None:
            pairs = self._find_pairs(names)
            self.input_mean_ = column_stats(x)[0]
            self.interaction_pairs_ = pairs
            x = self._design(x)
            names += [f"{names[k]}*{names[j]}" for k, j in pairs]
        self.feature_mean_, self.feature_scale_ = column_stats(x)
        return self._scaled(x), names

    def _keep_weights(self, booster: xgb.Booster, width: int, names: list[str]) -> None:
        """XGBoost has no in-place prediction for gblinear: keep the weights (on the standardised
        scale) and the intercept (bias + base score), and compute margins with NumPy."""
        weights = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["weights"]
        self.coef_ = np.asarray(weights[:width], dtype=np.float64)
        zero = xgb.DMatrix(np.zeros((1, width)), feature_names=names)
        self.intercept_ = float(booster.predict(zero, output_margin=True)[0])

    def _linear_margin(self, X: pd.DataFrame) -> np.ndarray:
        if self._interacting():
            return self.intercept_ + self._standardised(X) @ self.coef_
        # intercept + coef . (x - mean) / scale, folded into one matrix-vector product on the raw
        # input; a row with a missing value comes out NaN and is recomputed with the mean in its place.
        x = X.to_numpy(dtype=np.float64, na_value=np.nan)
        w = self.coef_ / self.feature_scale_
        m = (self.intercept_ - float(w @ self.feature_mean_)) + x @ w
        bad = np.isnan(m)
        if bad.any():
            m[bad] = self.intercept_ + self._standardised(X.iloc[np.flatnonzero(bad)]) @ self.coef_
        return m

    def _linear_shap(self, X: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact SHAP values of the linear model (see the estimator's ``shap_values``)."""
        if self._interacting():
            return self._interaction_shap(X, background)
        center = np.zeros(X.shape[1]) if background is None else self._standardised(background).mean(axis=0)
        values = (self._standardised(X) - center) * self.coef_
        return values, np.full(len(X), self.intercept_ + float(center @ self.coef_))

    def _standardised(self, X: pd.DataFrame) -> np.ndarray:
        """The linear booster's input: (design - training mean) / training SD, missing -> 0 (the
        mean). The design is the input itself, or with ``interaction_by`` the input and its
        products (:meth:`_design`)."""
        x = X.to_numpy(dtype=np.float64, na_value=np.nan)
        return self._scaled(self._design(x) if self._interacting() else x)

    def _scaled(self, design: np.ndarray) -> np.ndarray:
        """(design - training mean) / training SD, missing -> 0."""
        Z = design - self.feature_mean_
        Z /= self.feature_scale_
        Z[np.isnan(Z)] = 0.0
        return Z

    def _interacting(self) -> bool:
        return getattr(self, "interaction_pairs_", None) is not None

    def _find_pairs(self, names: list[str]) -> np.ndarray:
        """(indicator, other) column indices of the product terms: each one-hot level
        ``interaction_by=LEVEL`` of the input times every input that is not such a level."""
        prefix = f"{self.interaction_by}="
        levels = [i for i, c in enumerate(names) if str(c).startswith(prefix)]
        if not levels:
            raise ModelInputError(
                f"interaction_by = '{self.interaction_by}' names no one-hot input column "
                f"('{prefix}LEVEL'); the inputs are {names}"
            )
        others = [j for j in range(len(names)) if j not in levels]
        return np.array([(k, j) for k in levels for j in others], dtype=np.int64).reshape(-1, 2)

    def _imputed(self, x: np.ndarray) -> np.ndarray:
        """The input with each missing value replaced by its column's training mean."""
        return np.where(np.isnan(x), self.input_mean_, x)

    def _design(self, x: np.ndarray) -> np.ndarray:
        """Input columns (missing -> training mean) followed by the products of
        :attr:`interaction_pairs_`, on the raw scale."""
        x = self._imputed(x)
        k, j = self.interaction_pairs_[:, 0], self.interaction_pairs_[:, 1]
        return np.hstack([x, x[:, k] * x[:, j]])

    def _interaction_shap(self, X: pd.DataFrame, background) -> tuple[np.ndarray, np.ndarray]:
        """Exact interventional SHAP values of the linear booster with product terms (see
        :meth:`shap_values`): per input column, and the base value per row."""
        p = self.n_features_in_
        k, j = self.interaction_pairs_[:, 0], self.interaction_pairs_[:, 1]
        if background is None:  # the training data, whose design means are kept
            design_mean = self.feature_mean_
        else:
            design_mean = self._design(background.to_numpy(dtype=np.float64, na_value=np.nan)).mean(axis=0)
        ex, e_prod = design_mean[:p], design_mean[p:]
        x = self._imputed(X.to_numpy(dtype=np.float64, na_value=np.nan))
        w = self.coef_ / self.feature_scale_  # per unit of the raw design column
        values = (x - ex) * w[:p]
        a, b, c = x[:, k], x[:, j], w[p:]
        to_a = c * 0.5 * ((a * ex[j] - e_prod) + (a * b - ex[k] * b))
        to_b = c * 0.5 * ((ex[k] * b - e_prod) + (a * b - a * ex[j]))
        values += to_a @ _indicator(k, p) + to_b @ _indicator(j, p)
        base = self.intercept_ + float(((design_mean - self.feature_mean_) / self.feature_scale_) @ self.coef_)
        return values, np.full(len(X), base)

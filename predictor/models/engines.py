"""What differs between XGBoost's two boosters, one object each: the estimators of
:mod:`predictor.models.boosters` hold the parameters both share and delegate the rest to the
engine their ``booster`` names (so that a search can compare the boosters as one parameter).

An engine's methods take the estimator (``est``): its parameters, its fitted booster and, for the
linear booster, the weights :class:`predictor.models.linear.LinearBooster` keeps on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from predictor.errors import ModelInputError

__all__ = ["TreeEngine", "LinearEngine", "ENGINES"]


class TreeEngine:
    """The tree booster: XGBoost's histogram trees, margins without a DMatrix, TreeSHAP."""

    def params(self, est: Any) -> dict[str, Any]:
        return {
            "eta": est.learning_rate,
            "max_depth": est.max_depth,
            "min_child_weight": est.min_child_weight,
            "subsample": est.subsample,
            "colsample_bytree": est.colsample_bytree,
            "lambda": est.reg_lambda,
            "tree_method": "hist",
            "seed": est.random_state,
            "nthread": est.n_jobs,
            "device": est.device,
        }

    def design(self, est: Any, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """XGBoost gets a bare float array and the booster its feature names afterwards: with names
        on the DMatrix it re-reads and compares them at every boosting round (a third of the
        search's time on a small cohort). The model is the same."""
        if est.interaction_by is not None:
            raise ModelInputError("interaction_by is for the linear booster (trees find interactions themselves)")
        return X.to_numpy(dtype=np.float64, na_value=np.nan), list(X.columns)

    def keep(self, est: Any, booster: xgb.Booster, x: np.ndarray, names: list[str]) -> None:
        """Nothing beyond the booster."""

    def margin(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        # inplace_predict skips building a DMatrix: the fast path for small and large batches alike.
        # It reads the float64 frame as it is (XGBoost rounds each value to float32 as it goes, as
        # a float32 copy would): no conversion pass.
        m = est.booster_.inplace_predict(
            X.to_numpy(dtype=np.float64, copy=False), predict_type="margin", missing=np.nan
        )
        return np.asarray(m, dtype=np.float64)

    def shap(self, est: Any, X: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        if background is None:
            # A DMatrix from the float array, not the frame: pandas conversion costs milliseconds per call.
            dm = xgb.DMatrix(X.to_numpy(dtype=np.float32), missing=np.nan, feature_names=list(est.feature_names_in_))
            contribs = est.booster_.predict(dm, pred_contribs=True)
            return contribs[:, :-1], contribs[:, -1]
        import shap  # lazy: importing shap loads numba (about 70 MB); only interventional TreeSHAP needs it

        explainer = shap.TreeExplainer(
            est.booster_,
            data=background.astype(np.float64),
            feature_perturbation="interventional",
            model_output="raw",
        )
        values = np.asarray(explainer.shap_values(X.astype(np.float64), check_additivity=False))
        return values, np.full(len(X), float(np.ravel(explainer.expected_value)[0]))


class LinearEngine:
    """The linear booster: a penalised GLM on standardised inputs (:class:`predictor.models.linear.LinearBooster`)."""

    def params(self, est: Any) -> dict[str, Any]:
        # Coordinate descent, one cyclic pass over the features per round: deterministic, and
        # run to convergence (the search turns early stopping off) it reaches the
        # ridge-penalised maximum-likelihood GLM of the objective. One thread whatever n_jobs
        # says: XGBoost's coordinate descent ran 3.5-7 times slower on 2 threads than on 1, from
        # 927 to 100,000 rows (benchmarks/bench_train.py prints both).
        return {
            "booster": "gblinear",
            "eta": est.learning_rate,
            "lambda": est.reg_lambda,
            "updater": "coord_descent",
            "feature_selector": "cyclic",
            "seed": est.random_state,
            "nthread": 1,
        }

    def design(self, est: Any, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        return est._linear_design(X)

    def keep(self, est: Any, booster: xgb.Booster, x: np.ndarray, names: list[str]) -> None:
        est._keep_weights(booster, x.shape[1], names)

    def margin(self, est: Any, X: pd.DataFrame) -> np.ndarray:
        return est._linear_margin(X)

    def shap(self, est: Any, X: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
        return est._linear_shap(X, background)


#: What differs between the boosters, one object each: the estimators hold the parameters
#: both share and delegate the rest (``booster`` chooses, so a search can compare them).
ENGINES: dict[str, TreeEngine | LinearEngine] = {"gbtree": TreeEngine(), "gblinear": LinearEngine()}

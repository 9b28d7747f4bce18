"""The estimators: XGBoost's tree and linear boosters for response and survival, and the classical baselines."""

from predictor.models.baselines import CoxPHBaseline, FullRankDesign
from predictor.models.boosters import BOOSTERS, XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv, median_from_survival, surv_arrays

__all__ = [
    "make_surv",
    "surv_arrays",
    "median_from_survival",
    "BOOSTERS",
    "XGBResponseClassifier",
    "XGBSurvival",
    "CoxPHBaseline",
    "FullRankDesign",
]

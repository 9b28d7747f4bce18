"""MLflow: the only part of :mod:`predictor` that talks to it.

One MLflow experiment per experiment file; one run per training. A run holds the experiment's
settings and the search's choices (parameters), every metric with its bootstrap CI, the
training dataset (digest and schema, never a user's rows), figures, SHAP tables, the cohort's
calibration against the published targets, and the model: a pyfunc that wraps the feature
pipeline and the models and returns response probability, risk score, predicted median PFS and
PFS probabilities (not class labels). A successful run's model is registered under the
experiment's model name; the alias ``champion`` points at the version with the best headline
metric on the validation cohort. A run that fails is marked FAILED and registers nothing.
External validation and studies get runs of their own.
"""

from predictor.config.store import DEFAULT_TRACKING_URI, resolve_tracking_uri
from predictor.tracking.evaluation import LoggedEvaluation, log_evaluation
from predictor.tracking.model import PredictorModel, load_bundle, load_bundle_from_uri
from predictor.tracking.registry import CHAMPION_ALIAS
from predictor.tracking.study import LoggedStudy, run_study_and_log
from predictor.tracking.training import LoggedRun, run_and_log

__all__ = [
    "DEFAULT_TRACKING_URI",
    "resolve_tracking_uri",
    "PredictorModel",
    "load_bundle",
    "load_bundle_from_uri",
    "CHAMPION_ALIAS",
    "LoggedRun",
    "run_and_log",
    "LoggedEvaluation",
    "log_evaluation",
    "LoggedStudy",
    "run_study_and_log",
]

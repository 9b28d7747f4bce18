"""Models, evaluation, SHAP, MLflow tracking, the Python API and the ``predictor`` CLI.

>>> import predictor
>>> model = predictor.load("models:/icb_bone_opn@champion")      # doctest: +SKIP
>>> model.predict(patients)                                      # doctest: +SKIP
"""

from predictor.api import ExtraColumnsWarning, Predictor, load
from predictor.errors import (
    ExperimentError,
    PredictorError,
    TrackingError,
    TrainingError,
)

__all__ = [
    "ExperimentError",
    "ExtraColumnsWarning",
    "Predictor",
    "PredictorError",
    "TrackingError",
    "TrainingError",
    "load",
]

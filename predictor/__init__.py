"""Models, evaluation, SHAP, MLflow tracking, the Python API and the ``predictor`` CLI."""

from .errors import PredictorError

__all__ = ["PredictorError"]

"""Models, evaluation, SHAP, MLflow tracking, the Python API and the ``predictor`` CLI.

>>> import predictor
>>> model = predictor.load("models:/icb_bone_opn@champion")      # doctest: +SKIP
>>> model.predict(patients)                                      # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from predictor.errors import (
    ExperimentError,
    PredictorError,
    TrackingError,
    TrainingError,
)

if TYPE_CHECKING:
    from predictor.api import ExtraColumnsWarning, Predictor, load

__all__ = [
    "ExperimentError",
    "ExtraColumnsWarning",
    "Predictor",
    "PredictorError",
    "TrackingError",
    "TrainingError",
    "load",
]

#: Names the package root takes from :mod:`predictor.api`, imported on first use: the API
#: brings MLflow, lifelines and matplotlib (seconds), which the CLI's data commands and a
#: study's Dask workers never need (PEP 562).
_FROM_API = ("ExtraColumnsWarning", "Predictor", "load")


def __getattr__(name: str) -> Any:
    if name in _FROM_API:
        return getattr(importlib.import_module("predictor.api"), name)
    raise AttributeError(f"module 'predictor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

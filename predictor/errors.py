"""Exceptions raised by the :mod:`predictor` package."""

from __future__ import annotations

__all__ = ["PredictorError", "ModelInputError", "ExperimentError", "TrainingError", "TrackingError", "StudyError"]


class PredictorError(Exception):
    """Base class of every error raised by :mod:`predictor`."""


class ModelInputError(PredictorError, ValueError):
    """Data an estimator cannot fit or predict on (one response class, no events, the wrong
    columns): a :class:`ValueError` too, as scikit-learn's conventions expect."""


class ExperimentError(PredictorError):
    """An experiment file is missing or malformed (the message names the file and the key)."""


class TrainingError(PredictorError):
    """Training cannot go on with this data (no events, a single response class, ...)."""


class TrackingError(PredictorError):
    """The MLflow store cannot be reached or written."""


class StudyError(PredictorError):
    """A study file is malformed, or its cluster cannot be reached (the message names the file,
    the key and the rule, or the address)."""

"""Exceptions raised by the :mod:`predictor` package."""

from __future__ import annotations

__all__ = ["PredictorError"]


class PredictorError(Exception):
    """Base class of every error raised by :mod:`predictor`."""

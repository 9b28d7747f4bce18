"""Exceptions raised by the :mod:`synthetic` package."""

from __future__ import annotations

__all__ = ["SyntheticError", "ScenarioError", "GenerationError", "CohortIOError", "CalibrationError"]


class SyntheticError(Exception):
    """Base class of every error raised by :mod:`synthetic`."""


class ScenarioError(SyntheticError):
    """Unknown scenario, or a scenario file that is malformed (the message names file and key)."""


class GenerationError(SyntheticError):
    """Bad arguments to a generator (``n <= 0``, a bad seed)."""


class CohortIOError(SyntheticError):
    """A cohort could not be written or read (nothing half-written is left behind)."""


class CalibrationError(SyntheticError):
    """Calibration could not be carried out (the solver failed, or no target to solve for)."""

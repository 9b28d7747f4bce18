"""Where cohorts come from: scenarios calibrated to published figures, samplers, calibration.

``synthetic`` never imports :mod:`predictor`: generating data knows nothing of models.
"""

from .calibration import evaluate_targets, solve
from .calibration_report import CalibrationReport, report
from .cohort import Cohort, truth_path_for
from .errors import CalibrationError, CohortIOError, GenerationError, ScenarioError, SyntheticError
from .generation import generate
from .oracle import oracle, survival_columns, true_probability
from .scenario import Parameter, Scenario, Target, available_scenarios, load_scenario

__all__ = [
    "CalibrationError",
    "CalibrationReport",
    "Cohort",
    "CohortIOError",
    "GenerationError",
    "Parameter",
    "Scenario",
    "ScenarioError",
    "SyntheticError",
    "Target",
    "available_scenarios",
    "evaluate_targets",
    "generate",
    "load_scenario",
    "oracle",
    "report",
    "solve",
    "survival_columns",
    "true_probability",
    "truth_path_for",
]

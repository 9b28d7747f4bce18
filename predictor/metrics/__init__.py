"""Scoring: fast survival metrics, calibration, the bootstrap, decision curves and SHAP recovery."""

from predictor.metrics.calibration import (
    FlexibleCalibration,
    SurvivalCalibration,
    calibration_slope_intercept,
    flexible_calibration,
    survival_calibration,
)
from predictor.metrics.decision import THRESHOLDS, decision_curve
from predictor.metrics.fast import (
    Concordance,
    brier,
    brier_scores,
    concordance_counts,
    cumulative_dynamic_auc,
    harrell_c,
    integrated_brier,
    kaplan_meier,
    roc_auc,
    step_at,
    uno_c,
)
from predictor.metrics.recovery import shap_recovery
from predictor.metrics.resampling import (
    bootstrap,
    bootstrap_draws,
    paired_difference,
    summarise,
)
from predictor.metrics.scores import (
    HORIZONS,
    SurvivalMetrics,
    TrainingReference,
    response_metrics,
    survival_metrics,
)

__all__ = [
    "Concordance",
    "concordance_counts",
    "harrell_c",
    "uno_c",
    "kaplan_meier",
    "step_at",
    "roc_auc",
    "brier",
    "cumulative_dynamic_auc",
    "brier_scores",
    "integrated_brier",
    "calibration_slope_intercept",
    "FlexibleCalibration",
    "flexible_calibration",
    "SurvivalCalibration",
    "survival_calibration",
    "HORIZONS",
    "response_metrics",
    "TrainingReference",
    "SurvivalMetrics",
    "survival_metrics",
    "bootstrap_draws",
    "summarise",
    "paired_difference",
    "bootstrap",
    "THRESHOLDS",
    "decision_curve",
    "shap_recovery",
]

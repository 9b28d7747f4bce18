"""Training as stages over Tasks: data, search, fit, evaluate, explain, and the served bundle."""

from predictor.training.bundle import ModelBundle
from predictor.training.data import (
    Data,
    Part,
    Progress,
    Synthetic,
    check_calibration,
    development_data,
    fit_features,
    load_data,
    make_tasks,
)
from predictor.training.evaluation import (
    CONTRASTS,
    Evaluation,
    NestedCV,
    Scored,
    evaluate,
    evaluate_model,
    evaluation_parts,
    nested_cv,
    score,
)
from predictor.training.explanation import (
    Explanation,
    explain,
    shap_importance,
    shap_importance_by,
)
from predictor.training.fitting import (
    LINEAR_SEARCH_SPACE,
    SEARCH_SPACE,
    FittedTask,
    SearchResult,
    fit,
    fit_baseline,
    fit_xgboost,
    search,
    search_candidates,
)
from predictor.training.pipeline import TrainingResult, train
from predictor.training.tasks import (
    BinaryOutcome,
    BinaryPrediction,
    BinaryTask,
    Scorer,
    SurvivalPrediction,
    SurvivalTask,
    Task,
    TimeToEvent,
)

__all__ = ["BinaryOutcome", "TimeToEvent", "BinaryPrediction", "SurvivalPrediction", "Scorer", "Task", "BinaryTask", "SurvivalTask", "Progress", "Synthetic", "Part", "Data", "load_data", "development_data", "make_tasks", "fit_features", "check_calibration", "SEARCH_SPACE", "LINEAR_SEARCH_SPACE", "SearchResult", "search_candidates", "search", "FittedTask", "fit", "fit_xgboost", "fit_baseline", "CONTRASTS", "Evaluation", "evaluation_parts", "evaluate", "evaluate_model", "Scored", "score", "NestedCV", "nested_cv", "Explanation", "shap_importance", "shap_importance_by", "explain", "ModelBundle", "TrainingResult", "train"]

"""Experiment and study files: frozen sections parsed from TOML by one key-table parser."""

from predictor.config.experiment import (
    CONSTRAINTS,
    DEFAULT_EXPERIMENT,
    MIN_PATIENTS,
    SCENARIO_OUTCOMES,
    SURVIVAL_OBJECTIVES,
    CohortSection,
    EvaluationSection,
    Experiment,
    ExperimentSection,
    FeaturesSection,
    ModelsSection,
    OutcomesSection,
    RegistrySection,
    SearchSection,
    ShapSection,
    ValidationSection,
    experiments_dir,
    load_experiment,
)
from predictor.config.keys import Key, KeyTable, parse_section
from predictor.config.study import (
    MODEL_FAMILIES,
    STUDY_CONSTRAINTS,
    CriteriaSection,
    Panel,
    PowerSection,
    SearchOverrides,
    Study,
    StudySection,
    Variant,
    load_study,
)

__all__ = ["Key", "KeyTable", "parse_section", "DEFAULT_EXPERIMENT", "SURVIVAL_OBJECTIVES", "ExperimentSection", "CohortSection", "OutcomesSection", "SCENARIO_OUTCOMES", "ValidationSection", "FeaturesSection", "ModelsSection", "SearchSection", "EvaluationSection", "ShapSection", "RegistrySection", "CONSTRAINTS", "Experiment", "experiments_dir", "load_experiment", "MIN_PATIENTS", "MODEL_FAMILIES", "StudySection", "SearchOverrides", "CriteriaSection", "PowerSection", "Panel", "Variant", "STUDY_CONSTRAINTS", "Study", "load_study"]

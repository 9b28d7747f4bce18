"""Simulation studies: the grid and its seeds, one cell, the cache, the Dask driver, the analysis and sample size."""

from predictor.config.study import Study, load_study
from predictor.study import scheduling
from predictor.study.adaptive import CurveData, curve_data, next_cells
from predictor.study.analysis import (
    ALPHA,
    LOWER_IS_BETTER,
    analyse,
    gap,
    panel_parameters,
    power_table,
    results_table,
    sample_size_table,
)
from predictor.study.cache import CellCache
from predictor.study.cell import (
    CellResult,
    OutcomeFacts,
    ValidationSet,
    cell_experiment,
    make_validation,
    run_cell,
)
from predictor.study.driver import Replay, replay, run_study
from predictor.study.expected import SLOPE_RANGE, expected_performance
from predictor.study.grid import (
    Cell,
    cell_key,
    cell_seed,
    plan_cells,
    validation_key,
    validation_seed,
)
from predictor.study.learning_curve import STATUSES, CurveAnswer, LogisticCurve, PowerLaw, answer_curve, round_size
from predictor.study.plan import StudyPlan, plan_study
from predictor.study.result import StudyProgress, StudyResult
from predictor.study.sample_size import (
    Z95,
    MinimumN,
    RileySize,
    acceptable,
    cox_snell_from_c,
    curve_summary,
    minimum_n,
    power_summary,
    riley_binary,
    riley_survival,
)
from predictor.study.scheduling import ClusterSpec, Connection, Job, connect, probe
from predictor.study.validation_size import (
    ValidationSize,
    riley_validation_binary,
    simulated_widths,
    validation_size_table,
)
from predictor.study.verify import verify

__all__ = [
    "CurveData",
    "curve_data",
    "next_cells",
    "Replay",
    "replay",
    "STATUSES",
    "CurveAnswer",
    "PowerLaw",
    "LogisticCurve",
    "answer_curve",
    "round_size",
    "ValidationSize",
    "riley_validation_binary",
    "simulated_widths",
    "validation_size_table",
    "verify",
    "StudyPlan",
    "plan_study",
    "SLOPE_RANGE",
    "expected_performance",
    "Study",
    "load_study",
    "Cell",
    "cell_seed",
    "validation_seed",
    "plan_cells",
    "cell_key",
    "validation_key",
    "OutcomeFacts",
    "ValidationSet",
    "make_validation",
    "CellResult",
    "cell_experiment",
    "run_cell",
    "CellCache",
    "StudyProgress",
    "StudyResult",
    "LOWER_IS_BETTER",
    "ALPHA",
    "gap",
    "results_table",
    "power_table",
    "panel_parameters",
    "analyse",
    "sample_size_table",
    "Z95",
    "acceptable",
    "RileySize",
    "riley_binary",
    "riley_survival",
    "cox_snell_from_c",
    "MinimumN",
    "minimum_n",
    "curve_summary",
    "power_summary",
    "ClusterSpec",
    "Job",
    "Connection",
    "connect",
    "probe",
    "run_study",
    "scheduling",
]

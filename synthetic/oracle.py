"""The oracle: the best possible predictions for a synthetic cohort, from its truth table."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .cohort import Cohort
from .models import get_model
from .scenario import Scenario, load_scenario

__all__ = ["oracle"]


def oracle(cohort: Cohort, times: Sequence[float], scenario: Scenario | None = None) -> dict[str, np.ndarray]:
    """True response probability, true risk (higher = worse) and true survival at ``times``.

    Parameters
    ----------
    cohort : Cohort
        A synthetic cohort (its ``truth`` and ``parameters`` are used).
    times : sequence of float
        Months at which to give the true survival probabilities.
    scenario : Scenario, optional
        Default: the shipped scenario named by ``cohort.scenario``.
    """
    sc = scenario if scenario is not None else load_scenario(cohort.scenario)
    return get_model(sc.model).oracle(cohort.truth, cohort.parameters, np.asarray(times, dtype=float))

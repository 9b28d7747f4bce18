"""The oracle: the best possible predictions for a synthetic cohort, from its truth table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .cohort import Cohort
from .errors import ScenarioError
from .scenario import Scenario, load_scenario

__all__ = ["oracle", "true_probability", "survival_columns"]


def oracle(cohort: Cohort, times: Sequence[float], scenario: Scenario | None = None) -> dict[str, np.ndarray]:
    """True response probability, true risk (higher = worse) and true survival at ``times``.

    Parameters
    ----------
    cohort : Cohort
        A synthetic cohort (its ``truth`` and ``parameters`` are used).
    times : sequence of float
        Times, in the unit of the scenario's time column (months), at which to give the true
        survival probabilities.
    scenario : Scenario, optional
        Default: the shipped scenario named by ``cohort.scenario``.
    """
    sc = scenario if scenario is not None else load_scenario(cohort.scenario)
    return sc.model.oracle(cohort.truth, cohort.parameters, np.asarray(times, dtype=float))


def true_probability(scenario: Scenario, truth: pd.DataFrame, column: str) -> np.ndarray:
    """The true probability that the binary outcome ``column`` is True, for each patient.

    Raises
    ------
    ScenarioError
        The scenario's generator keeps no expectation for ``column``.
    """
    try:
        return truth[scenario.model.graph_truth(column)].to_numpy()
    except KeyError:
        known = scenario.model.binary_names()
        raise ScenarioError(
            f"scenario '{scenario.name}' keeps no true probability of '{column}'; it has: {', '.join(known)}"
        ) from None


def survival_columns(scenario: Scenario) -> tuple[str, str]:
    """The (time, event) columns whose true survival :func:`oracle` gives."""
    survival = scenario.model.survival
    if survival is None:
        raise ScenarioError(f"scenario '{scenario.name}' declares no time_to_event outcome")
    return survival[0], survival[1]

"""The oracle: the best possible predictions for a synthetic cohort.

By default the *attainable* oracle: the best prediction from the observed model inputs, with
the latents that no input reveals integrated out (:mod:`synthetic.attainable`). Where no outcome
reads a latent, it is the full truth itself. ``attainable=False`` gives the full truth, which
knows every latent and which no model can reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .attainable import attainable_predictions
from .cohort import Cohort
from .errors import ScenarioError
from .scenario import Scenario, load_scenario

__all__ = ["oracle", "true_probability", "survival_columns"]


def oracle(
    cohort: Cohort, times: Sequence[float], scenario: Scenario | None = None, *, attainable: bool = True
) -> dict[str, np.ndarray]:
    """Response probability, risk (higher = worse) and survival at ``times``, the best possible.

    Parameters
    ----------
    cohort : Cohort
        A synthetic cohort (its ``observed`` model inputs, ``truth`` and ``parameters``).
    times : sequence of float
        Times, in the unit of the scenario's time column (months), at which to give the
        survival probabilities.
    scenario : Scenario, optional
        Default: the shipped scenario named by ``cohort.scenario``.
    attainable : bool
        The best prediction from the observed inputs (default), or the full truth (``False``).
    """
    sc = scenario if scenario is not None else load_scenario(cohort.scenario)
    t = np.asarray(times, dtype=float)
    out = sc.model.oracle(cohort.truth, cohort.parameters, t)
    if attainable:
        better = attainable_predictions(sc.model, cohort.observed, cohort.parameters, t)
        binaries = sc.model.binary_names()
        if binaries and binaries[0] in better:
            out["response_probability"] = better[binaries[0]]
        out.update({k: better[k] for k in ("risk", "survival") if k in better})
    return out


def true_probability(
    scenario: Scenario,
    truth: pd.DataFrame,
    column: str,
    observed: pd.DataFrame | None = None,
    values: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """The true probability that the binary outcome ``column`` is True, for each patient: the
    attainable one (latents no input reveals integrated out) when ``observed`` holds the model
    inputs, else the full truth's.

    Raises
    ------
    ScenarioError
        The scenario's generator keeps no expectation for ``column``.
    """
    if observed is not None:
        values = scenario.values() if values is None else values
        better = attainable_predictions(scenario.model, observed, values, np.zeros(1))
        if column in better:
            return better[column]
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

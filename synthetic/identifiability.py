"""Which targets identify which free parameters: the sensitivity of each solvable target to each
free parameter at the file's values, on one population drawn once (common random numbers).

A free parameter that no target moves cannot be solved (the solver would leave it wherever it
starts); a target that no free parameter moves cannot be reached. Both are problems of the file.
So is a set of free parameters that the targets move only together: three parameters against two
targets each of which they all move. That is read from the rank of the sensitivity matrix (its
singular values), not one parameter at a time: a direction in which the parameters can move
together while no target shifts by :data:`MOVES` tolerances is a null direction, and the
parameters along it are named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .calibration import evaluate_targets
from .generation import draw_noise, simulate
from .scenario import Scenario
from .targets import CHECKED_ONLY

__all__ = ["Identifiability", "identifiability", "MOVES"]

#: A target "moves" with a parameter when sweeping the parameter across its bounds shifts the
#: target by at least this many tolerances (finite difference at 1% of the bounds' width).
MOVES = 0.5


@dataclass(frozen=True)
class Identifiability:
    """Sensitivity of the solvable targets to the free parameters.

    Attributes
    ----------
    sensitivity : pandas.DataFrame
        Targets x free parameters: how many tolerances the target shifts when the parameter is
        swept across its bounds (linearised at the file's values).
    problems : tuple of str
        A line for each free parameter no target moves and each target no free parameter moves.
    """

    sensitivity: pd.DataFrame
    problems: tuple[str, ...]

    def identified_by(self, parameter: str) -> list[str]:
        """The targets that move with ``parameter``."""
        column = self.sensitivity[parameter].abs()
        return list(column[column >= MOVES].index)


def identifiability(scenario: Scenario, *, n: int = 100_000, seed: int | None = None) -> Identifiability:
    """The sensitivity matrix and the identifiability problems of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
    n : int
        Patients in the population (drawn once).
    seed : int, optional
        Default the scenario's ``calibration_seed``.
    """
    free = scenario.free
    targets = [t for t in scenario.targets if t.kind == "target" and t.statistic not in CHECKED_ONLY]
    if not free or not targets:
        return Identifiability(pd.DataFrame(index=[t.id for t in targets]), ())
    noise = draw_noise(scenario, n, scenario.calibration_seed if seed is None else seed)
    values = scenario.values()

    def achieved(updates: dict[str, float]) -> np.ndarray:
        obs, truth = simulate(scenario, noise, {**values, **updates})
        got = evaluate_targets(scenario.with_values(updates), obs, truth, fast=True, targets=targets)
        return np.array([got[t.id] for t in targets])

    base = achieved({})
    scale = np.array([t.tolerance * (abs(t.value) if t.tolerance_type == "relative" else 1.0) for t in targets])
    scale = np.where(scale > 0, scale, 0.01)
    columns = {}
    for p in free:
        assert p.bounds is not None  # a free parameter has bounds (checked when the file loads)
        lo, hi = p.bounds
        step = 0.01 * (hi - lo)
        x = float(p.value) + step if float(p.value) + step <= hi else float(p.value) - step
        delta = (achieved({p.name: x}) - base) / (x - float(p.value))
        columns[p.name] = np.where(np.isfinite(delta), delta * (hi - lo) / scale, 0.0)
    table = pd.DataFrame(columns, index=[t.id for t in targets])
    problems = [
        f"free parameter '{name}': no target moves it (sweeping its bounds shifts none by {MOVES} tolerance)"
        for name in table.columns
        if not (table[name].abs() >= MOVES).any()
    ]
    problems += [
        f"target '{tid}': no free parameter moves it (it cannot be solved for; make it kind = \"check\"?)"
        for tid in table.index
        if not (table.loc[tid].abs() >= MOVES).any()
    ]
    problems += null_directions(table)
    return Identifiability(table, tuple(problems))


def null_directions(table: pd.DataFrame) -> list[str]:
    """A line for each combination of free parameters that no target identifies.

    ``table`` is targets x free parameters, in tolerances across each parameter's bounds. Its
    right singular vectors with a singular value under :data:`MOVES` are directions (in units of
    each parameter's bounds) along which the parameters move together and no target shifts by
    :data:`MOVES` tolerances. A direction that is one parameter alone is already reported as "no
    target moves it"; the others are named with the parameters that carry them.
    """
    a = table.to_numpy(dtype=float)
    _, singular, vt = np.linalg.svd(a, full_matrices=True)
    singular = np.concatenate([singular, np.zeros(vt.shape[0] - len(singular))])
    rank = int(np.sum(singular >= MOVES))
    unmoved = {name for name in table.columns if not (table[name].abs() >= MOVES).any()}
    lines = []
    for s, v in zip(singular, vt, strict=True):
        share = dict(zip(table.columns, v / np.abs(v).max(), strict=True))
        carried = {name: c for name, c in share.items() if abs(c) >= 0.1}
        if s >= MOVES or set(carried) <= unmoved:
            continue  # identified, or only parameters whose own line says no target moves them
        named = {name: c for name, c in share.items() if abs(c) >= 0.01}
        combo = " ".join(f"{'+' if c > 0 else '-'} {abs(c):.2f} {name}" for name, c in named.items())
        lines.append(
            f"free parameters {', '.join(named)}: the targets identify only {rank} combination(s) of the "
            f"{a.shape[1]} free parameters; moving them together ({combo.removeprefix('+ ')}, in units of "
            f"their bounds) shifts no target by {MOVES} tolerance. Add a target that separates them, or make "
            "one an assumption"
        )
    return lines

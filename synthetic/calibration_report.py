"""The calibration report of a scenario: every published target checked at population scale
(on a population the solver never saw) and over trial-sized replicates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .calibration import POPULATION_N, evaluate_targets, group_size
from .generation import _check, generate
from .scenario import Scenario, Target

__all__ = ["CalibrationReport", "report", "COX_POPULATION_N"]

#: Patients of the population used for the population-scale Cox model of B6 (a Cox fit on two
#: million rows takes minutes and adds nothing to a hazard ratio known to three decimals).
COX_POPULATION_N = 200_000


@dataclass
class CalibrationReport:
    """The calibration table of a scenario.

    ``table`` has one row per target: ``id``, ``label``, ``target``, ``tolerance``,
    ``population`` (achieved on ``population_n`` patients), ``population_ok``, and over the
    replicates of ``replicate_n`` patients ``rep_mean``, ``rep_median``, ``rep_lo``, ``rep_hi`` (2.5% and 97.5%
    quantiles) and, for ``significant_hr_share`` targets, ``rep_share`` (share with HR > 1 and p < 0.05).
    """

    scenario: str
    table: pd.DataFrame
    population_n: int
    population_seed: int
    replicate_n: int
    replicates: int
    replicate_seed: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every target is within its tolerance."""
        return bool(self.table["ok"].all())

    @property
    def failures(self) -> list[str]:
        """Ids of the targets that miss their tolerance."""
        return self.table.loc[~self.table["ok"], "id"].tolist()

    def to_text(self) -> str:
        """The table as fixed-width text, for a terminal or the README."""
        rows = []
        for r in self.table.itertuples():
            is_cox = r.statistic == "significant_hr_share"
            fmt = "{:.3f}" if (abs(r.target) < 2 and not is_cox) else "{:.2f}"
            target = "HR>1, p<0.05" if is_cox else fmt.format(r.target)
            pop = f"HR {r.population:.2f}" if is_cox else fmt.format(r.population)
            centre = f"median {fmt.format(r.rep_median)}" if r.statistic == "hazard_ratio" else fmt.format(r.rep_mean)
            rep = (
                f"{r.rep_share:.1%} significant"
                if is_cox
                else f"{centre} [{fmt.format(r.rep_lo)}, {fmt.format(r.rep_hi)}]"
            )
            rows.append((r.id, r.label, target, r.tolerance, pop, "yes" if r.ok else "NO", rep))
        head = (
            "id",
            "figure",
            "target",
            "tolerance",
            f"population (n={self.population_n:,})",
            "ok",
            f"n={self.replicate_n}: mean (HR: median) [95% range] over {self.replicates}",
        )
        widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
        line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
        return "\n".join(out)


#: A rate's tolerance is never finer than this many Monte Carlo standard errors of the check
#: population: a count such as 444 of 1,004 gives half a patient (0.0005), which a population of
#: 200,000 patients cannot tell from sampling noise (SE 0.0011).
MC_SE_FLOOR = 3.0


def _monte_carlo_floor(t: Target, achieved: float, group_size: int) -> Target:
    """``t`` with its tolerance widened to :data:`MC_SE_FLOOR` Monte Carlo SE of a rate among
    ``group_size`` patients, where its own is finer (other statistics as they are)."""
    if t.statistic != "rate" or t.contrast is not None or t.tolerance_type != "absolute" or group_size == 0:
        return t
    p = min(max(achieved, 0.0), 1.0)
    floor = MC_SE_FLOOR * np.sqrt(p * (1 - p) / group_size)
    return replace(t, tolerance=float(floor)) if floor > t.tolerance else t


def _report_row(t: Target, pop: dict[str, float], rep: pd.DataFrame, group_size: int) -> dict[str, Any]:
    """One target's row of the calibration table: its population value and the spread over
    the replicates (for a Cox HR, the share of replicates where it is significant and > 1)."""
    vals = rep[t.id].to_numpy(dtype=float)
    checked = _monte_carlo_floor(t, pop[t.id], group_size)
    widened = f" (widened to {checked.tolerance_text}: {MC_SE_FLOOR:g} Monte Carlo SE)" if checked is not t else ""
    row = {
        "id": t.id,
        "label": t.label,
        "statistic": t.statistic,
        "kind": t.kind,
        "target": t.value,
        "tolerance": t.tolerance_text + widened,
        "population": pop[t.id],
        "rep_mean": float(np.nanmean(vals)),
        "rep_median": float(np.nanmedian(vals)),
        "rep_lo": float(np.nanquantile(vals, 0.025)),
        "rep_hi": float(np.nanquantile(vals, 0.975)),
        "rep_share": np.nan,
        "rep_undefined": int(np.sum(~np.isfinite(vals))),
    }
    if t.statistic == "significant_hr_share":
        share = float(np.mean((vals > 1) & (rep[f"{t.id}:p"].to_numpy() < 0.05)))
        row["rep_share"] = share
        row["population_ok"] = bool(pop[t.id] > 1)
        row["ok"] = row["population_ok"] and t.within(share)
    else:
        row["population_ok"] = checked.within(pop[t.id])
        row["ok"] = row["population_ok"]
    return row


def _population(
    scenario: Scenario, n: int, seed: int, progress: Callable[[str, int, int], None] | None
) -> tuple[dict[str, float], dict[str, int]]:
    """Every target on a population of ``n``, and the patients in each target's group."""
    if progress:
        progress("population", 0, 1)
    cohort = generate(scenario, n, seed)
    pop = evaluate_targets(scenario, cohort.observed, cohort.truth, cox_rows=COX_POPULATION_N)
    sizes = {t.id: group_size(cohort.observed, t) for t in scenario.targets}
    if progress:
        progress("population", 1, 1)
    return pop, sizes


def report(
    scenario: Scenario,
    *,
    population_n: int = POPULATION_N,
    population_seed: int | None = None,
    replicates: int = 200,
    replicate_n: int | None = None,
    replicate_seed: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> CalibrationReport:
    """Check every target at population scale and over trial-sized replicates.

    Parameters
    ----------
    scenario : Scenario
    population_n : int
        Patients in the population check (default 4,000,000).
    population_seed : int, optional
        Default ``calibration_seed + 1``: a population the solver never saw.
    replicates : int
        Number of trial-sized replicates (seeds ``replicate_seed .. replicate_seed + replicates - 1``).
    replicate_n : int, optional
        Replicate size; default the scenario's ``default_n``.
    progress : callable, optional
        Called with (stage, done, total).

    Returns
    -------
    CalibrationReport
    """
    population_n, _ = _check(population_n, 0)
    replicates, replicate_seed = _check(replicates, replicate_seed)
    replicate_n = scenario.default_n if replicate_n is None else replicate_n
    replicate_n, _ = _check(replicate_n, 0)
    pop_seed = scenario.calibration_seed + 1 if population_seed is None else population_seed
    pop, sizes = _population(scenario, population_n, pop_seed, progress)
    reps: list[dict[str, float]] = []
    for r in range(replicates):
        c = generate(scenario, replicate_n, replicate_seed + r)
        reps.append(evaluate_targets(scenario, c.observed, c.truth))
        if progress:
            progress("replicates", r + 1, replicates)
    rep = pd.DataFrame(reps)
    rows = [_report_row(target, pop, rep, sizes[target.id]) for target in scenario.targets]
    return CalibrationReport(
        scenario=scenario.name,
        table=pd.DataFrame(rows),
        population_n=population_n,
        population_seed=pop_seed,
        replicate_n=replicate_n,
        replicates=replicates,
        replicate_seed=replicate_seed,
        details={"replicate_values": rep},
    )

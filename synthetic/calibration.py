"""Calibration: solve free parameters so that population statistics hit the published targets,
and report how close a scenario comes, at population scale and at trial size.

Solving (:func:`solve`) draws one large population once and reuses its random numbers for every
trial value of the parameters (common random numbers), so that the objective is a smooth,
deterministic function of the parameters; :func:`scipy.optimize.least_squares` then finds the
root of the residuals ``(achieved - target) / tolerance``. While solving, rates and means are
taken from the truth table's expectations (``response_probability``, ``expected_best_pct_change``)
and medians from the uncensored event times, which censoring-independent Kaplan-Meier medians
estimate without bias.

Reporting (:func:`report`) uses only what a study would see: Kaplan-Meier medians of the
censored observed times (lifelines), observed response rates and means, and a multivariable Cox
model (lifelines) for B6, on a fresh population (another seed than the solver's) and on many
trial-sized replicates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .errors import CalibrationError, ScenarioError
from .generation import _check, draw_noise, generate, simulate
from .models import get_model
from .scenario import Scenario, Target

__all__ = [
    "evaluate_targets",
    "km_median",
    "km_survival_at",
    "cox_hazard_ratio",
    "solve",
    "SolveResult",
    "report",
    "CalibrationReport",
    "POPULATION_N",
    "COX_POPULATION_N",
]

T = TypeVar("T")

#: Patients in the population used to check targets (and to solve).
POPULATION_N = 4_000_000
#: Patients of the population used for the population-scale Cox model of B6 (a Cox fit on two
#: million rows takes minutes and adds nothing to a hazard ratio known to three decimals).
COX_POPULATION_N = 200_000


def _evaluate(observed: pd.DataFrame, expr: str, target_id: str, failure: str) -> np.ndarray:
    """A pandas expression over the observed columns, one value per patient; ``failure`` starts
    the message when it cannot be evaluated or does not give one value per patient."""
    try:
        out = observed.eval(expr, engine="python")
    except Exception as exc:  # pandas raises many types for a bad expression
        raise ScenarioError(f"target '{target_id}': {failure}: {exc}") from None
    arr = np.asarray(out)
    if arr.shape != (len(observed),):
        raise ScenarioError(f"target '{target_id}': {failure}: it does not give one value per patient")
    return arr


def _mask(observed: pd.DataFrame, expr: str, target_id: str) -> np.ndarray:
    if not expr.strip():
        return np.ones(len(observed), dtype=bool)
    arr = _evaluate(observed, expr, target_id, f"cannot evaluate where = {expr!r}")
    if arr.dtype != bool:
        raise ScenarioError(f"target '{target_id}': where = {expr!r} is not a True/False condition per patient")
    return arr


def km_survival_at(time: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan-Meier probability (lifelines) of being event-free at ``at``."""
    from lifelines import KaplanMeierFitter

    if len(time) == 0:
        return float("nan")
    kmf = KaplanMeierFitter().fit(time, event_observed=event)
    return float(kmf.survival_function_at_times(at).iloc[0])


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median (lifelines): first time the KM curve is at or below 0.5; inf if never."""
    from lifelines import KaplanMeierFitter

    if len(time) == 0:
        return float("nan")
    kmf = KaplanMeierFitter().fit(time, event_observed=event)
    return float(kmf.median_survival_time_)


def cox_hazard_ratio(
    observed: pd.DataFrame, covariate: str, adjust: tuple[str, ...], time: str, event: str
) -> tuple[float, float]:
    """Hazard ratio and Wald p-value of ``covariate`` in a Cox model adjusted for ``adjust`` (lifelines)."""
    from lifelines import CoxPHFitter

    x = pd.get_dummies(observed[[covariate, *adjust]], drop_first=True, dtype=float)
    x = x.loc[:, x.std() > 0]
    x["_T"] = observed[time].to_numpy()
    x["_E"] = observed[event].to_numpy()
    cph = CoxPHFitter().fit(x, duration_col="_T", event_col="_E")
    return float(np.exp(cph.params_[covariate])), float(cph.summary.loc[covariate, "p"])


def _stat(
    target: Target, observed: pd.DataFrame, truth: pd.DataFrame, mask: np.ndarray, model: Any, fast: bool
) -> float:
    if not mask.any():
        return float("nan")
    if target.statistic == "median_pfs":
        time_col, event_col, uncensored_col = model.SURVIVAL
        if fast:
            return float(np.median(truth[uncensored_col].to_numpy()[mask]))
        return km_median(observed[time_col].to_numpy()[mask], observed[event_col].to_numpy()[mask])
    if target.statistic == "survival_at":
        time_col, event_col, uncensored_col = model.SURVIVAL
        if fast:
            return float(np.mean(truth[uncensored_col].to_numpy()[mask] > target.time))
        at = _given(target.time, f"target '{target.id}'")
        return km_survival_at(observed[time_col].to_numpy()[mask], observed[event_col].to_numpy()[mask], at)
    col = _given(target.column, f"target '{target.id}'")
    if fast and col in model.EXPECTATIONS:
        return float(truth[model.EXPECTATIONS[col]].to_numpy()[mask].mean())
    return float(_column(observed, col, target.id)[mask].astype(float).mean())


def _column(observed: pd.DataFrame, col: str, target_id: str) -> np.ndarray:
    """An observed column, or a pandas expression over the observed columns (``"x > 70"``)."""
    if col in observed.columns:
        return observed[col].to_numpy()
    arr = _evaluate(
        observed, col, target_id, f"no column '{col}' in the cohort, and not an expression over its columns"
    )
    if not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise ScenarioError(f"target '{target_id}': column = {col!r} does not give one number per patient")
    return arr


def _given(value: T | None, what: str) -> T:
    """A key that ``what`` needs (checked when the scenario loads)."""
    if value is None:
        raise ScenarioError(f"{what} lacks a key it needs")
    return value


def _combine(contrast: str | None, a: float, b: float | None) -> float:
    if contrast is None:
        return a
    if b is None:
        raise ScenarioError(f"a '{contrast}' contrast needs a second group")
    if contrast == "difference":
        return a - b
    if contrast == "ratio":
        return a / b
    return 1.0 - a / b  # relative_reduction


def evaluate_targets(
    scenario: Scenario,
    observed: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    *,
    fast: bool = False,
    targets: list[Target] | None = None,
    cox_rows: int | None = None,
) -> dict[str, float]:
    """Each target's statistic on one cohort.

    Parameters
    ----------
    scenario : Scenario
        Declares the targets and the model (which columns are times, events, expectations).
    observed, truth : pandas.DataFrame
        The cohort. ``truth`` is needed only with ``fast=True``.
    fast : bool
        Use the smooth truth-based versions (expectations, uncensored medians) used by the
        solver, instead of what a study would compute from observed data.
    targets : list of Target, optional
        Default all of the scenario's targets.
    cox_rows : int, optional
        Fit ``cox_hr`` targets on the first ``cox_rows`` patients only.

    Returns
    -------
    dict
        ``{target id: value}``; for ``cox_hr`` targets the hazard ratio, with the p-value under
        ``"<id>:p"``.
    """
    model = get_model(scenario.model)
    out: dict[str, float] = {}
    for t in targets if targets is not None else scenario.targets:
        if t.statistic == "cox_hr":
            if fast:
                continue
            time_col, event_col, _ = model.SURVIVAL
            obs = observed if cox_rows is None else observed.iloc[:cox_rows]
            hr, p = cox_hazard_ratio(obs, _given(t.covariate, f"target '{t.id}'"), t.adjust, time_col, event_col)
            out[t.id], out[f"{t.id}:p"] = hr, p
            continue
        values = [_stat(t, observed, truth, _mask(observed, w, t.id), model, fast) for w in t.where]
        out[t.id] = _combine(t.contrast, values[0], values[1] if len(values) > 1 else None)
    return out


@dataclass
class SolveResult:
    """Outcome of :func:`solve`."""

    values: dict[str, float]
    achieved: dict[str, float]
    success: bool
    message: str
    nfev: int
    cost: float


def solve(
    scenario: Scenario,
    *,
    n: int = POPULATION_N,
    seed: int | None = None,
    progress: Callable[[int, float], None] | None = None,
    max_nfev: int = 400,
    stop_at: float = 0.05,
) -> SolveResult:
    """Solve the scenario's free parameters so that its ``kind = "target"`` targets hold.

    Parameters
    ----------
    scenario : Scenario
        Starting values are the free parameters' current values; bounds are theirs.
    n : int
        Size of the simulated population (common random numbers, drawn once).
    seed : int, optional
        Default the scenario's ``calibration_seed``.
    progress : callable, optional
        Called with (evaluations so far, current cost) after each evaluation.
    max_nfev : int
        Most evaluations of the objective.
    stop_at : float
        Stop as soon as every target is within this fraction of its tolerance of the target
        (0.05: within 5% of the tolerance); the best point seen is returned.

    Returns
    -------
    SolveResult

    Raises
    ------
    CalibrationError
        No free parameter, or no solvable target.
    """
    from scipy.optimize import least_squares

    free = scenario.free
    targets = [t for t in scenario.targets if t.kind == "target" and t.statistic != "cox_hr"]
    if not free:
        raise CalibrationError(f"scenario '{scenario.name}' has no free parameter to solve")
    if not targets:
        raise CalibrationError(f"scenario '{scenario.name}' has no target to solve for")
    seed = scenario.calibration_seed if seed is None else seed
    noise = draw_noise(scenario, n, seed)
    base = scenario.values()
    names = [p.name for p in free]
    # An "at least" bound counts only when missed; its scale is 0.01 below a zero tolerance.
    scales = np.array(
        [
            max(t.tolerance, 0.01)
            if t.tolerance_type == "at_least"
            else t.tolerance * (abs(t.value) if t.tolerance_type == "relative" else 1.0)
            for t in targets
        ]
    )
    at_least = np.array([t.tolerance_type == "at_least" for t in targets])
    goal = np.array([t.value for t in targets])
    calls = {"n": 0}
    best: dict[str, Any] = {"x": None, "cost": np.inf, "r": None}

    class _Solved(Exception):
        pass

    def residuals(x: np.ndarray) -> np.ndarray:
        values = {**base, **dict(zip(names, map(float, x), strict=True))}
        obs, truth = simulate(scenario, noise, values)
        got = evaluate_targets(scenario, obs, truth, fast=True, targets=targets)
        r = (np.array([got[t.id] for t in targets]) - goal) / scales
        r = np.where(at_least, np.minimum(r, 0.0), r)
        r = np.where(np.isfinite(r), r, 1e3)
        cost = float(0.5 * np.sum(r**2))
        calls["n"] += 1
        if cost < best["cost"]:
            best.update(x=np.array(x, dtype=float), cost=cost, r=r)
        if progress is not None:
            progress(calls["n"], cost)
        if np.max(np.abs(r)) <= stop_at:
            best.update(x=np.array(x, dtype=float), cost=cost, r=r)
            raise _Solved
        return r

    x0 = np.array([float(p.value) for p in free])
    bounds = [_given(p.bounds, f"free parameter '{p.name}'") for p in free]
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    try:
        res = least_squares(
            residuals,
            np.clip(x0, lo, hi),
            bounds=(lo, hi),
            diff_step=1e-3,
            x_scale="jac",
            max_nfev=max_nfev,
            xtol=1e-8,
            ftol=1e-8,
            gtol=1e-8,
        )
        message = str(res.message)
    except _Solved:
        message = f"every target within {stop_at:.0%} of its tolerance"
    x = best["x"]
    values = dict(zip(names, map(float, x), strict=True))
    obs, truth = simulate(scenario, noise, {**base, **values})
    achieved = evaluate_targets(scenario, obs, truth, fast=True, targets=targets)
    return SolveResult(
        values=values,
        achieved=achieved,
        success=bool(np.all(np.abs(best["r"]) <= 1.0)),
        message=message,
        nfev=calls["n"],
        cost=float(best["cost"]),
    )


@dataclass
class CalibrationReport:
    """The calibration table of a scenario.

    ``table`` has one row per target: ``id``, ``label``, ``target``, ``tolerance``,
    ``population`` (achieved on ``population_n`` patients), ``population_ok``, and over the
    replicates of ``replicate_n`` patients ``rep_mean``, ``rep_lo``, ``rep_hi`` (2.5% and 97.5%
    quantiles) and, for ``cox_hr`` targets, ``rep_share`` (share with HR > 1 and p < 0.05).
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
            is_cox = r.statistic == "cox_hr"
            fmt = "{:.3f}" if (abs(r.target) < 2 and not is_cox) else "{:.2f}"
            target = "HR>1, p<0.05" if is_cox else fmt.format(r.target)
            pop = f"HR {r.population:.2f}" if is_cox else fmt.format(r.population)
            rep = (
                f"{r.rep_share:.1%} significant"
                if is_cox
                else f"{fmt.format(r.rep_mean)} [{fmt.format(r.rep_lo)}, {fmt.format(r.rep_hi)}]"
            )
            rows.append((r.id, r.label, target, r.tolerance, pop, "yes" if r.ok else "NO", rep))
        head = (
            "id",
            "figure",
            "target",
            "tolerance",
            f"population (n={self.population_n:,})",
            "ok",
            f"n={self.replicate_n}: mean [95% range] over {self.replicates}",
        )
        widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
        line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
        return "\n".join(out)


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
    if progress:
        progress("population", 0, 1)
    cohort = generate(scenario, population_n, pop_seed)
    pop = evaluate_targets(scenario, cohort.observed, cohort.truth, cox_rows=COX_POPULATION_N)
    del cohort
    if progress:
        progress("population", 1, 1)
    reps: list[dict[str, float]] = []
    for r in range(replicates):
        c = generate(scenario, replicate_n, replicate_seed + r)
        reps.append(evaluate_targets(scenario, c.observed))
        if progress:
            progress("replicates", r + 1, replicates)
    rep = pd.DataFrame(reps)
    rows = []
    for t in scenario.targets:
        vals = rep[t.id].to_numpy(dtype=float)
        row = {
            "id": t.id,
            "label": t.label,
            "statistic": t.statistic,
            "kind": t.kind,
            "target": t.value,
            "tolerance": t.tolerance_text,
            "population": pop[t.id],
            "rep_mean": float(np.nanmean(vals)),
            "rep_lo": float(np.nanquantile(vals, 0.025)),
            "rep_hi": float(np.nanquantile(vals, 0.975)),
            "rep_share": np.nan,
            "rep_undefined": int(np.sum(~np.isfinite(vals))),
        }
        if t.statistic == "cox_hr":
            share = float(np.mean((vals > 1) & (rep[f"{t.id}:p"].to_numpy() < 0.05)))
            row["rep_share"] = share
            row["population_ok"] = bool(pop[t.id] > 1)
            row["ok"] = row["population_ok"] and t.within(share)
        else:
            row["population_ok"] = t.within(pop[t.id])
            row["ok"] = row["population_ok"]
        rows.append(row)
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

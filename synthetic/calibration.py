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
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from sklearn.metrics import roc_auc_score

from .attainable import attainable_predictions
from .declared import DeclaredModel
from .errors import CalibrationError, ScenarioError
from .expressions import evaluate_on_frame
from .generation import draw_noise, simulate
from .scenario import Scenario, Target
from .targets import CHECKED_ONLY

__all__ = [
    "evaluate_targets",
    "km_median",
    "km_survival_at",
    "km_rmst",
    "cox_hazard_ratio",
    "solve",
    "SolveResult",
    "POPULATION_N",
]

T = TypeVar("T")

#: Patients in the population used to check targets (and to solve).
POPULATION_N = 4_000_000
#: A ``hazard_ratio`` target is fitted on at most this many patients of a population (lifelines'
#: Cox fit on millions of rows takes minutes): the log hazard ratio's standard error there is
#: about 2 / sqrt(events), 0.006 with 100,000 events, a fraction of a published CI's tenth.
HR_ROWS = 200_000
#: While solving, a ``hazard_ratio`` is fitted on the first 50,000 patients of the solver's
#: population (0.1 s a fit), on the unrounded times the truth keeps, so that it moves smoothly
#: with the parameters at the solver's step (SE of the log HR about 0.01 there; the check after
#: the solve fits :data:`HR_ROWS` patients of a fresh population).
SOLVER_HR_ROWS = 50_000


def _mask(observed: pd.DataFrame, expr: str, target_id: str) -> np.ndarray:
    """The patients a target's ``where`` selects (everyone for an empty expression)."""
    if not expr.strip():
        return np.ones(len(observed), dtype=bool)
    arr = evaluate_on_frame(expr, observed, where=f"target '{target_id}' where")
    if arr.dtype != bool:
        raise ScenarioError(f"target '{target_id}': where = {expr!r} is not a True/False condition per patient")
    return arr


def group_size(observed: pd.DataFrame, target: Target) -> int:
    """Patients in a target's (first) ``where`` group."""
    return int(_mask(observed, target.where[0], target.id).sum())


def _kaplan_meier(time: np.ndarray, event: np.ndarray) -> Any:
    """lifelines' Kaplan-Meier fit of ``time`` and ``event``."""
    from lifelines import KaplanMeierFitter  # lazy: 1 s to import; generating never needs it

    return KaplanMeierFitter().fit(time, event_observed=event)


def km_survival_at(time: np.ndarray, event: np.ndarray, at: float) -> float:
    """Kaplan-Meier probability (lifelines) of being event-free at ``at``."""

    if len(time) == 0:
        return float("nan")
    return float(_kaplan_meier(time, event).survival_function_at_times(at).iloc[0])


def km_rmst(time: np.ndarray, event: np.ndarray, tau: float) -> float:
    """Restricted mean survival time to ``tau`` (lifelines): the area under the Kaplan-Meier
    curve from 0 to ``tau``."""
    from lifelines.utils import restricted_mean_survival_time  # lazy: as in _kaplan_meier

    if len(time) == 0:
        return float("nan")
    return float(restricted_mean_survival_time(_kaplan_meier(time, event), t=tau))


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median (lifelines): first time the KM curve is at or below 0.5; inf if never."""

    if len(time) == 0:
        return float("nan")
    return float(_kaplan_meier(time, event).median_survival_time_)


def cox_hazard_ratio(
    observed: pd.DataFrame, covariate: str, adjust: tuple[str, ...], time: str, event: str
) -> tuple[float, float]:
    """Hazard ratio and Wald p-value of ``covariate`` in a Cox model adjusted for ``adjust`` (lifelines)."""

    from lifelines import CoxPHFitter  # lazy: 1 s to import; generating never needs it

    x = pd.get_dummies(observed[[covariate, *adjust]], drop_first=True, dtype=float)
    x = x.loc[:, x.std() > 0]
    x["_T"] = observed[time].to_numpy()
    x["_E"] = observed[event].to_numpy()
    cph = CoxPHFitter().fit(x, duration_col="_T", event_col="_E")
    return float(np.exp(cph.params_[covariate])), float(cph.summary.loc[covariate, "p"])


def _stat(
    target: Target,
    observed: pd.DataFrame,
    truth: pd.DataFrame | None,
    mask: np.ndarray,
    model: DeclaredModel,
    fast: bool,
) -> float:
    if not mask.any():
        return float("nan")
    if target.statistic in ("truth_auc", "km_curve"):
        return _curve_or_auc(target, observed, truth, mask, model, fast)
    if fast and truth is None:
        raise ScenarioError("fast target statistics need the truth frame")
    truth = truth if truth is not None else pd.DataFrame()  # read only when fast
    if target.statistic == "median_pfs":
        time_col, event_col, uncensored_col = _survival(model)
        if fast:
            return float(np.median(truth[uncensored_col].to_numpy()[mask]))
        return km_median(observed[time_col].to_numpy()[mask], observed[event_col].to_numpy()[mask])
    if target.statistic in ("survival_at", "rmst"):
        return _landmark(target, observed, truth, mask, model, fast)
    col = _given(target.column, f"target '{target.id}'")
    expected = model.expectation(col) if fast else None
    if expected is not None:
        return float(truth[expected].to_numpy()[mask].mean())
    return float(_column(observed, col, target.id)[mask].astype(float).mean())


def _landmark(
    target: Target, observed: pd.DataFrame, truth: pd.DataFrame, mask: np.ndarray, model: DeclaredModel, fast: bool
) -> float:
    """``survival_at``: P(T > time); ``rmst``: E[min(T, time)] (the uncensored truth while
    solving, else Kaplan-Meier on the observed times)."""
    time_col, event_col, uncensored_col = _survival(model)
    at = _given(target.time, f"target '{target.id}'")
    if fast:
        t = truth[uncensored_col].to_numpy()[mask]
        return float(np.mean(t > at) if target.statistic == "survival_at" else np.mean(np.minimum(t, at)))
    time, event = observed[time_col].to_numpy()[mask], observed[event_col].to_numpy()[mask]
    return km_survival_at(time, event, at) if target.statistic == "survival_at" else km_rmst(time, event, at)


def _curve_or_auc(
    target: Target,
    observed: pd.DataFrame,
    truth: pd.DataFrame | None,
    mask: np.ndarray,
    model: DeclaredModel,
    fast: bool,
) -> float:
    """``truth_auc``: the C-statistic of the true probability (nan without the truth frame);
    ``km_curve``: the weighted RMS distance of the cohort's survival from the digitised curve."""
    if target.statistic == "truth_auc":
        if truth is None:
            return float("nan")
        col = _given(target.column, f"target '{target.id}'")
        p = truth[model.graph_truth(col)].to_numpy()[mask]
        return expected_auc(p) if fast else rank_auc(observed[col].to_numpy()[mask].astype(bool), p)
    time_col, event_col, uncensored_col = _survival(model)
    times = np.asarray(target.times)
    if fast:
        assert truth is not None
        t = np.sort(truth[uncensored_col].to_numpy()[mask])
        got = 1.0 - np.searchsorted(t, times, side="right") / len(t)
    else:
        kmf = _kaplan_meier(observed[time_col].to_numpy()[mask], observed[event_col].to_numpy()[mask])
        got = kmf.survival_function_at_times(times).to_numpy()
    weights = np.asarray(target.at_risk) if target.at_risk else np.ones(len(times))
    return float(np.sqrt(np.sum(weights * (got - np.asarray(target.survival)) ** 2) / np.sum(weights)))


def rank_auc(y: np.ndarray, score: np.ndarray) -> float:
    """The C-statistic (area under the ROC curve) of ``score`` for ``y`` (scikit-learn's), nan
    when ``y`` holds one class only."""
    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, score))


def expected_auc(p: np.ndarray) -> float:
    r"""The C-statistic that true probabilities ``p`` reach on average over outcomes drawn from
    them: :math:`\sum_{i \ne j} p_i (1 - p_j) [p_i > p_j] / \sum_{i \ne j} p_i (1 - p_j)`,
    a smooth function of the parameters for the solver (sorting, O(n log n))."""
    p = np.sort(np.asarray(p, dtype=float))
    below = np.concatenate([[0.0], np.cumsum(1.0 - p)[:-1]])  # sum of (1 - p_j) over p_j below p_i
    pairs = p.sum() * (1.0 - p).sum() - np.sum(p * (1.0 - p))
    return float(np.sum(p * below) / pairs) if pairs > 0 else float("nan")


def _column(observed: pd.DataFrame, col: str, target_id: str) -> np.ndarray:
    """An observed column, or an expression over the observed columns (``"x > 70"``)."""
    if col in observed.columns:
        return observed[col].to_numpy()
    arr = evaluate_on_frame(col, observed, where=f"target '{target_id}' column")
    if not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise ScenarioError(f"target '{target_id}': column = {col!r} does not give one number per patient")
    return arr


def _survival(model: DeclaredModel) -> tuple[str, str, str]:
    survival = model.survival
    if survival is None:  # checked when the scenario loads
        raise ScenarioError("the scenario declares no time_to_event outcome")
    return survival


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
    if contrast == "odds_ratio":
        return (a / (1.0 - a)) / (b / (1.0 - b))
    return 1.0 - a / b  # relative_reduction


def _attainable_truth(
    scenario: Scenario, observed: pd.DataFrame, truth: pd.DataFrame | None, targets: list[Target]
) -> pd.DataFrame | None:
    """The truth frame with each ``truth_auc`` outcome's probability made the attainable one
    (latents no model input reveals integrated out): the C-statistic the best model can reach."""
    columns = {t.column for t in targets if t.statistic == "truth_auc"}
    if truth is None or not columns:
        return truth
    better = attainable_predictions(scenario.model, observed, scenario.values(), np.zeros(1))
    swap = {scenario.model.graph_truth(c): better[c] for c in columns if c in better}
    return truth.assign(**swap) if swap else truth


def _unrounded(observed: pd.DataFrame, truth: pd.DataFrame | None, model: DeclaredModel, rows: int) -> pd.DataFrame:
    """The first ``rows`` patients with their observed time and event made from the truth's
    unrounded event and censoring times (smooth in the parameters, for the solver)."""
    if truth is None:
        raise ScenarioError("fast target statistics need the truth frame")
    time_col, event_col, uncensored_col = _survival(model)
    node = next(nd for nd in model.graph.nodes if nd.kind == "time_to_event")
    t, c = truth[uncensored_col].to_numpy()[:rows], truth[node.truth["censor"]].to_numpy()[:rows]
    return observed.iloc[:rows].assign(**{time_col: np.minimum(t, c), event_col: t <= c})


def _group_hazard_ratio(t: Target, observed: pd.DataFrame, model: DeclaredModel) -> tuple[float, float]:
    """Cox hazard ratio (and p-value) of the first ``where`` group against the second, adjusted
    for ``adjust``, on the patients of either group."""
    first, second = (_mask(observed, w, t.id) for w in t.where)
    if (first & second).any():
        raise ScenarioError(f"target '{t.id}': {int((first & second).sum())} patients are in both 'where' groups")
    rows = observed[first | second].assign(_first_group=first[first | second].astype(float))
    time_col, event_col, _ = _survival(model)
    return cox_hazard_ratio(rows, "_first_group", t.adjust, time_col, event_col)


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
        Fit ``significant_hr_share`` targets on the first ``cox_rows`` patients only.

    Returns
    -------
    dict
        ``{target id: value}``; for ``significant_hr_share`` targets the hazard ratio, with the p-value under
        ``"<id>:p"``.
    """
    model = scenario.model
    out: dict[str, float] = {}
    chosen = list(targets if targets is not None else scenario.targets)
    auc_truth = _attainable_truth(scenario, observed, truth, chosen)
    for t in chosen:
        if t.statistic == "hazard_ratio":
            rows = _unrounded(observed, truth, model, SOLVER_HR_ROWS) if fast else observed.iloc[:HR_ROWS]
            out[t.id], out[f"{t.id}:p"] = _group_hazard_ratio(t, rows, model)
            continue
        if t.statistic == "significant_hr_share":
            if fast:
                continue
            time_col, event_col, _ = _survival(model)
            obs = observed if cox_rows is None else observed.iloc[:cox_rows]
            hr, p = cox_hazard_ratio(obs, _given(t.covariate, f"target '{t.id}'"), t.adjust, time_col, event_col)
            out[t.id], out[f"{t.id}:p"] = hr, p
            continue
        t_truth = auc_truth if t.statistic == "truth_auc" else truth
        values = [_stat(t, observed, t_truth, _mask(observed, w, t.id), model, fast) for w in t.where]
        contrast = "odds_ratio" if t.statistic == "odds_ratio" else t.contrast
        out[t.id] = _combine(contrast, values[0], values[1] if len(values) > 1 else None)
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
    free = scenario.free
    targets = [t for t in scenario.targets if t.kind == "target" and t.statistic not in CHECKED_ONLY]
    if not free:
        raise CalibrationError(f"scenario '{scenario.name}' has no free parameter to solve")
    if not targets:
        raise CalibrationError(f"scenario '{scenario.name}' has no target to solve for")
    seed = scenario.calibration_seed if seed is None else seed
    objective = _Objective(scenario, draw_noise(scenario, n, seed), targets, progress, stop_at)
    message = _minimise(objective, free, max_nfev, stop_at)
    assert objective.best_x is not None and objective.best_r is not None  # least_squares evaluates at least once
    values = dict(zip(objective.names, map(float, objective.best_x), strict=True))
    obs, truth = simulate(scenario, objective.noise, {**objective.base, **values})
    achieved = evaluate_targets(scenario, obs, truth, fast=True, targets=targets)
    return SolveResult(
        values=values,
        achieved=achieved,
        success=bool(np.all(np.abs(objective.best_r) <= 1.0)),
        message=message,
        nfev=objective.calls,
        cost=float(objective.best_cost),
    )


def _minimise(objective: _Objective, free: list[Any], max_nfev: int, stop_at: float) -> str:
    """Bounded least squares (SciPy) from the free parameters' current values; the solver's
    message, or why it stopped early."""

    x0 = np.array([float(p.value) for p in free])
    bounds = [_given(p.bounds, f"free parameter '{p.name}'") for p in free]
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    # SciPy's finite-difference step is relative to the variable (diff_step * x), so a parameter
    # at 0 got a step of about 1e-8 and a zero derivative (the statistics are counts on a finite
    # population): the solver stopped at once. It works on x shifted into [width, 2 width], so that
    # each step is 0.1-0.2% of the parameter's bounds, wherever the parameter is.
    shift = (hi - lo) - lo
    try:
        res = least_squares(
            lambda y: objective(y - shift),
            np.clip(x0, lo, hi) + shift,
            bounds=(lo + shift, hi + shift),
            diff_step=1e-3,
            x_scale="jac",
            max_nfev=max_nfev,
            xtol=1e-8,
            ftol=1e-8,
            gtol=1e-8,
        )
        return str(res.message)
    except _Solved:
        return f"every target within {stop_at:.0%} of its tolerance"


class _Solved(Exception):
    """Every target is close enough: the solver stops at the best point seen."""


class _Objective:
    """The solver's residuals: each target's miss in units of its tolerance (an "at least" bound
    counts only when missed; its scale is 0.01 below a zero tolerance), on one population drawn
    once (common random numbers). Remembers the best point seen."""

    def __init__(
        self,
        scenario: Scenario,
        noise: Any,
        targets: list[Target],
        progress: Callable[[int, float], None] | None,
        stop_at: float,
    ):
        self.scenario, self.noise, self.targets = scenario, noise, targets
        self.progress, self.stop_at = progress, stop_at
        self.base = scenario.values()
        self.names = [p.name for p in scenario.free]
        self.scales = np.array(
            [
                max(t.tolerance, 0.01)
                if t.tolerance_type == "at_least"
                else t.tolerance * (abs(t.value) if t.tolerance_type == "relative" else 1.0)
                for t in targets
            ]
        )
        self.at_least = np.array([t.tolerance_type == "at_least" for t in targets])
        self.goal = np.array([t.value for t in targets])
        self.calls = 0
        self.best_x: np.ndarray | None = None
        self.best_cost = np.inf
        self.best_r: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        updates = dict(zip(self.names, map(float, x), strict=True))
        obs, truth = simulate(self.scenario, self.noise, {**self.base, **updates})
        at = self.scenario.with_values(updates)  # the values an attainable truth_auc integrates at
        got = evaluate_targets(at, obs, truth, fast=True, targets=self.targets)
        r = (np.array([got[t.id] for t in self.targets]) - self.goal) / self.scales
        r = np.where(self.at_least, np.minimum(r, 0.0), r)
        r = np.where(np.isfinite(r), r, 1e3)
        cost = float(0.5 * np.sum(r**2))
        self.calls += 1
        if cost < self.best_cost:
            self.best_x, self.best_cost, self.best_r = np.array(x, dtype=float), cost, r
        if self.progress is not None:
            self.progress(self.calls, cost)
        if np.max(np.abs(r)) <= self.stop_at:
            self.best_x, self.best_cost, self.best_r = np.array(x, dtype=float), cost, r
            raise _Solved
        return r

"""The adaptive search for n: each learning curve's answer, and where the next round's
replicates go.

A study with an ``[adaptive]`` section starts from its grid (``n`` x ``replicates``). After each
round, every learning curve (scenario variant x task x model family x panel) is fitted
(:mod:`predictor.study.learning_curve`) and judged:

* ``imprecise``: ``batch`` new replicates at its predicted crossing n* (to two significant
  figures, so that curves and rounds share sizes and cells);
* ``beyond`` or ``unreachable``: ``batch`` replicates at twice the largest size tried (at most
  ``max_n``), to see whether the plateau holds; once ``max_n`` has been tried, that is the answer;
* ``ok`` or ``below``: done.

A cell serves both tasks of its model and panel, so one round's cells are the union of what the
curves ask for. The search stops when no curve asks for more, after ``rounds`` rounds, or when
the next round would pass ``max_cells``/``max_seconds``; a curve still imprecise then has the
status ``budget``. Each round is a function of the cells before it, and the cells of their seeds,
so the same study gives the same rounds and answers on any number of workers and after a resume
(the cache replays the rounds already run).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from predictor.config.experiment import MIN_PATIENTS
from predictor.config.study import MIN_SIZES, Study
from predictor.study.cell import ValidationSet
from predictor.study.grid import Cell, cell_seed
from predictor.study.learning_curve import CurveAnswer, answer_curve, round_size

__all__ = ["CurveData", "headlines", "curve_data", "answer", "fitted_curves", "smallest_size", "next_cells"]


@dataclass(frozen=True)
class CurveData:
    """One learning curve's replicates: ``frame`` has ``n``, ``replicate``, ``gap`` (of the
    task's ``metric``) and ``slope`` (the calibration slope), one row per ok cell."""

    scenario: str
    task: str
    metric: str
    model: str
    panel: str
    frame: pd.DataFrame


def headlines(validations: Mapping[str, ValidationSet]) -> dict[str, str]:
    """Task -> its headline metric (the one whose gap to the oracle a curve follows)."""
    return {t.name: t.headline for v in validations.values() for t in v.tasks}


def curve_data(table: pd.DataFrame, headlines: Mapping[str, str]) -> list[CurveData]:
    """Every learning curve of a study's tidy ``table``; ``headlines``: task -> headline metric."""
    ok = table[table.status == "ok"]
    keys = ["scenario", "model", "panel", "n", "replicate"]
    out = []
    for task, metric in headlines.items():
        head = ok[(ok.task == task) & (ok.metric == metric)][[*keys, "gap"]]
        slopes = ok[(ok.task == task) & (ok.metric == "cal_slope")][[*keys, "value"]]
        both = head.merge(slopes.rename(columns={"value": "slope"}), on=keys)
        for (scenario, model, panel), frame in both.groupby(["scenario", "model", "panel"], sort=True):
            out.append(
                CurveData(
                    scenario=str(scenario),
                    task=task,
                    metric=metric,
                    model=str(model),
                    panel=str(panel),
                    frame=frame[["n", "replicate", "gap", "slope"]].reset_index(drop=True),
                )
            )
    return out


def answer(study: Study, data: CurveData) -> CurveAnswer:
    """The curve's minimum n under the study's criteria and adaptive settings."""
    c, a = study.criteria, study.adaptive
    f = data.frame
    return answer_curve(
        f["n"].to_numpy(float),
        f["gap"].to_numpy(float),
        f["slope"].to_numpy(float),
        criterion=c.statistic,
        gap_target=c.gap,
        slope_target=c.slope,
        assurance=c.assurance,
        slope_range=c.slope_bounds,
        precision=a.precision if a is not None else 0.2,
        max_n=a.max_n if a is not None else math.inf,
        bootstrap=c.bootstrap,
        random_state=study.study.seed,
    )


def fitted_curves(
    study: Study, table: pd.DataFrame, validations: Mapping[str, ValidationSet]
) -> list[tuple[CurveData, CurveAnswer]]:
    """Every learning curve of ``table`` with its answer; a curve with fewer than
    :data:`~predictor.config.study.MIN_SIZES` sizes (its cells failed) cannot be fitted and
    is left out."""
    return [
        (d, answer(study, d)) for d in curve_data(table, headlines(validations)) if d.frame.n.nunique() >= MIN_SIZES
    ]


def smallest_size(study: Study) -> int:
    """The smallest cohort a cell can take (a split and the cross-validation's folds)."""
    folds = study.search.cv_folds or study.base.search.cv_folds
    return max(MIN_PATIENTS, 10 * folds)


def _wanted(study: Study, data: CurveData, found: CurveAnswer) -> int | None:
    """The size this curve wants its next replicates at (None: it is done)."""
    a = study.adaptive
    assert a is not None
    largest = int(data.frame["n"].max())
    if found.status == "imprecise":
        return round_size(found.n, smallest=smallest_size(study), largest=a.max_n)
    if found.status in ("beyond", "unreachable") and largest < a.max_n:
        return min(2 * largest, a.max_n)
    return None


def next_cells(
    study: Study, curves: Iterable[tuple[CurveData, CurveAnswer]], done: Iterable[Cell], budget: int
) -> list[Cell]:
    """The next round's cells: ``batch`` new replicates of each (scenario, model, panel) at each
    size a curve wants, at most ``budget`` of them (in the curves' order).

    New replicates are numbered after every replicate that (scenario, model, panel) has used at
    any size (``done``), so they are fresh cohorts. Numbered after those at the new size only,
    they took the seeds of the grid's replicates, and a cohort of 480 was the first 480 patients
    of a cohort already used at 500: the rounds added almost no new information and the
    estimate of n* stayed biased toward the grid's answer. A replicate's own sizes within the grid
    stay nested (paired learning-curve steps, which the curve's bootstrap resamples as a whole).
    """
    a = study.adaptive
    assert a is not None
    taken: dict[tuple[str, str, str], int] = {}
    for cell in done:
        key3 = (cell.scenario, cell.model, cell.panel)
        taken[key3] = max(taken.get(key3, 0), cell.replicate + 1)
    wanted: dict[tuple[str, str, str, int], None] = {}
    for data, found in curves:
        size = _wanted(study, data, found)
        if size is not None:
            wanted[(data.scenario, data.model, data.panel, size)] = None
    out = []
    for key in wanted:
        first = max(taken.get(key[:3], 0), study.study.first_replicate)
        taken[key[:3]] = first + a.batch  # two sizes wanted in one round get distinct cohorts too
        for r in range(first, first + a.batch):
            out.append(
                Cell(
                    scenario=key[0],
                    n=key[3],
                    replicate=r,
                    model=key[1],
                    panel=key[2],
                    seed=cell_seed(study.study.seed, r),
                )
            )
    return out[:budget]

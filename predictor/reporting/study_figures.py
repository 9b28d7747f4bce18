"""The figures of a simulation study: learning curves against the oracle (with each family's
minimum n) and the power of the baseline's test of a covariate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from predictor.metrics.scores import LOWER_IS_BETTER
from predictor.reporting.figures import new_figure
from predictor.reporting.tables import metric_label

__all__ = ["learning_curves", "power_curves", "study_figures"]


def learning_curves(
    curves: pd.DataFrame,
    sample_size: pd.DataFrame | None,
    scenario: str,
    task: str,
    metric: str,
    slope_target: float = 0.9,
    metric_label: str | None = None,
    replicates: pd.DataFrame | None = None,
    ticks: Sequence[int] | None = None,
):
    """A study's learning curves for one scenario variant and task: the headline metric (top
    row) and the calibration slope (bottom row) against the development cohort's size (log
    scale), one column per biomarker panel; per model family the replicates' median and 90%
    band, each replicate as a dot (``replicates``: the study's tidy table), and, for an adaptive
    study, the fitted learning curve (dashed) with n* (dotted) and its 95% interval (shaded); the
    oracle (top) and the slope target and 1 (bottom) as lines. ``ticks``: the sizes labelled
    on the n axis (default: every size)."""
    c = curves[(curves.scenario == scenario) & (curves.task == task)]
    panels = list(dict.fromkeys(c.panel))
    fig, axes = new_figure(2, len(panels), figsize=(4.6 * len(panels) + 0.8, 7), sharex=True, squeeze=False)
    found = (
        pd.DataFrame()
        if sample_size is None
        else sample_size[(sample_size.scenario == scenario) & (sample_size.task == task)]
    )
    mine = None if replicates is None else replicates[replicates.scenario.eq(scenario) & replicates.task.eq(task)]
    span = (float(c.n.min()), float(c.n.max())) if len(c) else (1.0, 1.0)  # the sizes tried
    for j, panel in enumerate(panels):
        for i, m in enumerate((metric, "cal_slope")):
            ax = axes[i, j]
            rows = c[(c.panel == panel) & (c.metric == m)]
            _families(ax, rows, None if mine is None else mine[mine.panel.eq(panel) & mine.metric.eq(m)])
            oracle = rows.oracle.iloc[0] if len(rows) else np.nan
            for r in found[found.panel == panel].itertuples() if len(found) else ():
                _fitted(
                    ax, r, "gap" if i == 0 else "slope", oracle, span, higher_is_better=metric not in LOWER_IS_BETTER
                )
            if i == 0 and len(rows):
                ax.axhline(oracle, color="black", ls="--", lw=1, label="oracle")
                ax.set_title(f"panel: {panel}")
            if i == 1:
                ax.axhline(1.0, color="black", ls="--", lw=1)
                ax.axhline(slope_target, color="grey", ls=":", lw=1, label=f"slope {slope_target:g}")
                ax.set_xlabel("development cohort size n (patients, log scale)")
            _grid_ticks(ax, sorted(ticks if ticks is not None else c.n.unique()))
        axes[0, j].legend(fontsize="small", loc="lower right")
    axes[0, 0].set_ylabel(metric_label or metric)
    axes[1, 0].set_ylabel("calibration slope")
    fitted = len(found) and np.isfinite(found.get("gap_a", pd.Series(dtype=float))).any()
    what = "\ndashed: the fitted learning curve; shaded: n*'s 95% interval" if fitted else ""
    fig.suptitle(f"Learning curves: {task} ({scenario})\nmedian, 90% band and replicates; dotted: minimum n{what}")
    fig.tight_layout()
    return fig


def _families(ax, rows: pd.DataFrame, dots: pd.DataFrame | None) -> None:
    """Per model family: the replicates' median and 90% band, and each replicate as a dot."""
    for model, g in rows.groupby("model", sort=False):
        g = g.sort_values("n")
        color = _FAMILY_STYLE.get(model)
        ax.plot(g.n, g["median"], marker="o", ms=3, color=color, label=model)
        ax.fill_between(g.n, g.q05, g.q95, color=color, alpha=0.15, lw=0)
        if dots is not None:
            mine = dots[dots.model == model]
            ax.scatter(mine.n, mine.value, s=6, color=color, alpha=0.35, lw=0)


def _fitted(ax, r, quantity: str, oracle: float, span: tuple[float, float], *, higher_is_better: bool) -> None:
    """One family's fitted learning curve (``quantity`` gap or slope, from its sample-size row)
    over ``span`` (the sizes tried) and its n* with the 95% interval."""
    color = _FAMILY_STYLE.get(r.model)
    if np.isfinite(r.study_n):
        ax.axvline(r.study_n, color=color, ls=":", lw=1)
        if np.isfinite(r.study_low) and np.isfinite(r.study_high):
            ax.axvspan(r.study_low, r.study_high, color=color, alpha=0.08, lw=0)
    a, b, c = (getattr(r, f"{quantity}_{k}", np.nan) for k in "abc")
    if not np.isfinite(a):
        return
    lo, hi = span
    if np.isfinite(r.study_high):
        hi = max(hi, r.study_high)
    n = np.geomspace(lo, hi, 100)
    y = a + b * n ** (-c)
    if quantity == "gap":
        y = oracle - y if higher_is_better else oracle + y
    ax.plot(n, y, color=color, ls="--", lw=1.2)


def _grid_ticks(ax, sizes) -> None:
    """A log-scale n axis labelled at the grid's sizes only."""
    from matplotlib.ticker import NullLocator  # lazy: start-up time (see figures.new_figure)

    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(sizes, [f"{int(n):,}" for n in sizes])
    ax.grid(alpha=0.3)


def power_curves(power: pd.DataFrame, covariate: str, scenario: str):
    """Power against n: the share of replicates in which ``covariate`` is significant with the
    expected sign, per task (columns) and panel (lines), with Wilson 95% intervals."""
    p = power[power.scenario == scenario]
    tasks = list(dict.fromkeys(p.task))
    fig, axes = new_figure(1, len(tasks), figsize=(4.6 * len(tasks) + 0.6, 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for panel, g in p[p.task == task].groupby("panel", sort=False):
            g = g.sort_values("n")
            (line,) = ax.plot(g.n, g.power, marker="o", ms=3, label=f"panel: {panel}")
            ax.fill_between(g.n, g.low, g.high, color=line.get_color(), alpha=0.15, lw=0)
        ax.axhline(0.8, color="grey", ls=":", lw=1)
        _grid_ticks(ax, sorted(p.n.unique()))
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("n (patients, log scale)")
        ax.set_title(task)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    axes[0, 0].set_ylabel(f"power: {covariate}, p < 0.05, expected sign")
    fig.suptitle(f"Power of the baseline's test of {covariate} ({scenario})")
    fig.tight_layout()
    return fig


def study_figures(result) -> dict[str, Any]:
    """Every figure of a finished study (:class:`predictor.study.StudyResult`): artifact path -> figure."""

    out = {}
    s = result.study
    for v in s.variants:
        val = result.validations.get(v.name)
        for task in val.tasks if val is not None else ():
            out[f"figures/learning_curves_{v.name}_{task.name}.png"] = learning_curves(
                result.curves,
                result.sample_size,
                v.name,
                task.name,
                task.headline,
                s.criteria.slope,
                metric_label(task.headline),
                replicates=result.table,
                ticks=s.study.n,
            )
        if s.power.covariate and not result.power_summary.empty:
            out[f"figures/power_{v.name}.png"] = power_curves(result.power_summary, s.power.covariate, v.name)
    return out


_FAMILY_STYLE = {
    "xgboost": "#1f77b4",
    "gbtree": "#2ca02c",
    "gblinear": "#9467bd",
    "baseline": "#ff7f0e",
    "unpenalised": "#8c564b",
}

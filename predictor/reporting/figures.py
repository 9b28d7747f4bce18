"""Figures a reader would rather look at than read: SHAP, KM curves by risk group, calibration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from sklearn.calibration import calibration_curve

from predictor.metrics.calibration import flexible_calibration, survival_calibration

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "shap_bar",
    "shap_bar_by",
    "shap_beeswarm",
    "shap_dependence",
    "km_by_risk_group",
    "reliability",
    "survival_reliability",
    "decision_plot",
    "make_figures",
    "evaluation_figures",
]


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **subplots: Any
) -> tuple[Figure, Any]:
    """A figure and its axes, made outside pyplot: it is saved (to a file, MLflow, the report)
    without choosing a backend, so importing the package changes no notebook's backend, and no
    figure is kept alive by pyplot's registry."""
    # matplotlib takes ~1 s of CPU to import, and most processes that import the package (Dask
    # workers, `predictor predict`) draw nothing
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: start-up time (see above)
    from matplotlib.figure import Figure  # lazy: start-up time

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)  # a raster canvas of its own: draws and saves PNGs headless, whatever the backend
    return fig, fig.subplots(nrows, ncols, **subplots)


def shap_bar(importance: pd.Series, title: str):
    fig, ax = new_figure(figsize=(7, 0.35 * len(importance) + 1.2))
    imp = importance.iloc[::-1]
    colors = ["#9e9e9e" if name.startswith("null_") else "#1f77b4" for name in imp.index]
    ax.barh(imp.index, imp.to_numpy(), color=colors)
    ax.set_xlabel("mean |SHAP| (summed over a column's one-hot levels and cutoff flags)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def shap_bar_by(table: pd.DataFrame, title: str, by: str, max_display: int = 15):
    """Grouped bars: mean absolute SHAP of each input column (rows of ``table``) within each group (columns)."""
    t = table.iloc[:max_display].iloc[::-1]
    groups = list(t.columns)
    height = 0.8 / max(len(groups), 1)
    fig, ax = new_figure(figsize=(7.5, 0.45 * len(t) * max(1, len(groups) / 2) + 1.5))
    y = np.arange(len(t))
    for i, g in enumerate(groups):
        ax.barh(y + (i - (len(groups) - 1) / 2) * height, t[g].to_numpy(), height=height, label=f"{by} = {g}")
    ax.set_yticks(y, t.index)
    ax.set_xlabel("mean |SHAP| within the group (interventional, background from the same group)")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def shap_beeswarm(
    values: pd.DataFrame, data: pd.DataFrame, base: float, title: str, max_display: int = 15, random_state: int = 0
):
    """SHAP values patient by patient (shap's beeswarm summary plot): one row per model input,
    ranked by mean absolute SHAP, the rest summed into a last row; each dot is a patient at its SHAP
    value, piled up where patients crowd, coloured by the input's value (blue low, red high,
    between its 5th and 95th percentiles; grey missing).

    Drawn here with matplotlib rather than by ``shap.plots.beeswarm``: importing shap loads numba's
    compiler (about 70 MB of memory and a second of start-up, measured) that nothing else in a
    training run without ``[shap] by`` needs, since the SHAP values themselves come from XGBoost.
    The layout follows shap's (dots binned along the axis, stacked alternately above and below
    the row), and is deterministic: ``random_state`` orders the dots, where shap shuffles them
    with the global random state.
    """

    v = values.to_numpy(dtype=float)
    x = data.to_numpy(dtype=float)
    order = np.argsort(-np.abs(v).mean(axis=0), kind="stable")
    keep = max_display if len(order) <= max_display else max_display - 1  # at most max_display rows in all
    shown, rest = order[:keep], order[keep:]
    rows = [(str(values.columns[j]), v[:, j], x[:, j]) for j in shown]
    if rest.size:
        rows.append((f"sum of {rest.size} other inputs", v[:, rest].sum(axis=1), None))
    rng = np.random.default_rng(random_state)
    from matplotlib import colormaps  # lazy: start-up time (see new_figure)
    from matplotlib.cm import ScalarMappable  # lazy: start-up time
    from matplotlib.colors import Normalize  # lazy: start-up time

    cmap = colormaps["coolwarm"]
    fig, ax = new_figure(figsize=(8, 0.4 * len(rows) + 1.5))
    ax.axvline(0, color="#999999", lw=1, zorder=-1)
    for pos, (_, shap_values, feature) in enumerate(reversed(rows)):
        dots = rng.permutation(len(shap_values))
        y = pos + 0.4 * _pile(shap_values[dots])
        if feature is None:
            ax.scatter(shap_values[dots], y, s=10, color="#777777", alpha=0.6, linewidths=0, rasterized=True)
            continue
        _coloured_dots(ax, shap_values[dots], y, feature[dots], cmap)
    ax.set_yticks(range(len(rows)), [name for name, _, _ in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("SHAP value (impact on model output)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    bar = fig.colorbar(ScalarMappable(norm=Normalize(0, 1), cmap=cmap), ax=ax, ticks=[0, 1], aspect=40, pad=0.02)
    bar.set_ticklabels(["low", "high"])
    bar.set_label("input value", labelpad=-8)
    bar.outline.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _coloured_dots(ax: Any, shap_values: np.ndarray, y: np.ndarray, f: np.ndarray, cmap: Any) -> None:
    """One beeswarm row: grey where the input is missing, else coloured by its value between
    its 5th and 95th percentiles."""
    known = np.isfinite(f)
    lo, hi = np.nanpercentile(f, [5, 95]) if known.any() else (0.0, 1.0)
    if hi <= lo:
        lo, hi = (np.nanmin(f), np.nanmax(f)) if known.any() else (0.0, 1.0)
    ax.scatter(shap_values[~known], y[~known], s=10, color="#bbbbbb", alpha=0.6, linewidths=0, rasterized=True)
    ax.scatter(
        shap_values[known],
        y[known],
        s=10,
        c=np.clip(f[known], lo, hi),
        cmap=cmap,
        vmin=lo,
        vmax=hi if hi > lo else lo + 1,
        alpha=0.8,
        linewidths=0,
        rasterized=True,
    )


def _pile(values: np.ndarray, bins: int = 100) -> np.ndarray:
    """Vertical offsets in [-1, 1] that pile up dots whose values fall in the same one of ``bins``
    bins along the axis: 0, +1, -1, +2, -2, ... within a bin, scaled by the tallest pile."""
    span = values.max() - values.min() if len(values) else 0.0
    b = np.round(bins * (values - values.min()) / (span + 1e-8)).astype(np.int64) if len(values) else values
    order = np.argsort(b, kind="stable")
    sorted_bins = b[order]
    first = np.searchsorted(sorted_bins, sorted_bins, side="left")
    layer = np.empty(len(values), dtype=np.int64)
    layer[order] = np.arange(len(values)) - first
    offset = np.ceil(layer / 2) * np.where(layer % 2 == 1, 1.0, -1.0)
    return offset / (np.abs(offset).max() + 1) if len(values) else offset


def shap_dependence(values: pd.DataFrame, raw: pd.DataFrame, column: str, features, title: str):
    cols = [f for f in values.columns if f != "patient_id" and features.source_of(f) == column]
    contrib = values[cols].sum(axis=1).to_numpy()
    x = raw[column]
    fig, ax = new_figure(figsize=(6, 4))
    if x.dtype == bool or x.nunique() <= 6:
        groups = sorted(x.dropna().unique())
        ax.boxplot([contrib[(x == g).to_numpy()] for g in groups], showfliers=False)
        ax.set_xticks(range(1, len(groups) + 1), [str(g) for g in groups])
    else:
        ax.scatter(x, contrib, s=6, alpha=0.4)
        if (x > 0).all():
            ax.set_xscale("log")
        for cut in (features.cutoffs or {}).get(column, ()):
            ax.axvline(cut, color="grey", ls="--", lw=1)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel(column)
    ax.set_ylabel(f"SHAP of {column}")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def km_by_risk_group(
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    title: str,
    groups: int = 3,
    xlabel: str = "time",
    ylabel: str = "event-free",
):

    fig, ax = new_figure(figsize=(6, 4))
    cuts = np.quantile(risk, np.linspace(0, 1, groups + 1)[1:-1])
    label = np.searchsorted(cuts, risk, side="right")
    names = ["low risk", "middle risk", "high risk"] if groups == 3 else [f"group {g + 1}" for g in range(groups)]
    for g in range(groups):
        m = label == g
        KaplanMeierFitter(label=f"{names[g]} (n={m.sum()})").fit(time[m], event[m]).plot_survival_function(
            ax=ax, ci_show=True
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def reliability(
    y: np.ndarray,
    preds: dict[str, np.ndarray],
    title: str,
    what: str = "response",
    band_for: str = "xgboost",
    n_boot: int = 100,
    random_state: int = 0,
):
    """Calibration of each model's probabilities: the flexible calibration curve (restricted cubic
    spline, :func:`predictor.metrics.flexible_calibration`) with its ICI in the legend, a
    bootstrap 95% band around ``band_for``'s curve (``n_boot`` seeded replicates), and the
    observed rate in deciles of predicted probability as dots."""

    y = np.asarray(y).astype(int)
    fig, ax = new_figure(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    rng = np.random.default_rng(random_state)
    for k, (name, p) in enumerate(preds.items()):
        color = f"C{k}"
        lo, hi = np.quantile(p, [0.01, 0.99])
        grid = np.linspace(lo, hi, 100)
        try:
            curve = flexible_calibration(y, p)
        except ValueError:
            continue
        ax.plot(grid, curve(grid), color=color, label=f"{name} (ICI {curve.ici:.3f})")
        if name == band_for and n_boot:
            boot = []
            for _ in range(n_boot):
                idx = rng.integers(0, len(y), len(y))
                try:
                    boot.append(flexible_calibration(y[idx], p[idx])(grid))
                except ValueError:
                    continue
            if boot:
                low, high = np.quantile(np.array(boot), [0.025, 0.975], axis=0)
                ax.fill_between(grid, low, high, color=color, alpha=0.2, lw=0, label=f"{name}: bootstrap 95% band")
        frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
        ax.plot(mean, frac, ls="none", marker="o", ms=4, color=color, alpha=0.7)
    return _calibration_axes(fig, ax, f"predicted probability of {what}", f"observed {what} rate", title)


def _calibration_axes(fig, ax, xlabel: str, ylabel: str, title: str):
    """The unit square, labels, legend and title of a calibration figure."""
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def survival_reliability(
    time: np.ndarray, event: np.ndarray, preds: dict[str, Any], horizon: float, title: str, what: str
):
    """Calibration of each model's predicted probability of an event by ``horizon``: the smoothed
    observed probability (:func:`predictor.metrics.survival_calibration`) against the predicted
    one, with the ICI in the legend."""

    fig, ax = new_figure(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    for k, (name, pred) in enumerate(preds.items()):
        p = 1.0 - pred.survival(np.array([horizon]))[:, 0]
        try:
            c = survival_calibration(time, event, p, horizon)
        except ValueError:
            continue
        order = np.argsort(c.predicted)
        lo, hi = np.searchsorted(c.predicted[order], np.quantile(p, [0.01, 0.99]))
        keep = order[lo:hi]
        ax.plot(c.predicted[keep], c.observed[keep], color=f"C{k}", label=f"{name} (ICI {c.ici:.3f})")
    return _calibration_axes(
        fig, ax, f"predicted probability of {what}", f"observed probability of {what} (smoothed)", title
    )


def decision_plot(table: pd.DataFrame, title: str, what: str):
    """Net benefit against the threshold probability: each model, treat all, treat none."""
    fig, ax = new_figure(figsize=(6, 4))
    styles = {"all": dict(color="black", lw=1), "none": dict(color="grey", lw=1, ls="--")}
    for k, (model, t) in enumerate(table.groupby("model", sort=False)):
        label = {"all": "treat all", "none": "treat none"}.get(model, model)
        ax.plot(
            t["threshold"], t["net_benefit"], label=label, **styles.get(model, dict(color=f"C{k}", marker="o", ms=3))
        )
    top = table.loc[table.model != "none", "net_benefit"].max()
    ax.set_ylim(-0.05 * max(top, 0.01), max(top, 0.01) * 1.1)
    ax.set_xlabel(f"threshold probability of {what}")
    ax.set_ylabel("net benefit")
    ax.legend(fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def make_figures(explanations, evaluation, part, fitted, features, dependence) -> dict[str, Any]:
    """Every figure of a training run, keyed by its artifact path.

    Parameters
    ----------
    explanations : dict of str to predictor.training.Explanation
    evaluation : predictor.training.Evaluation
        Its predictions on ``part`` are plotted.
    part : predictor.training.Part
        The cohort the figures show (the validation cohort, else the test split).
    fitted : dict of str to predictor.training.FittedTask
    features : features.pipeline.CohortFeatures
        The fitted feature pipeline (which model features come from which input column).
    dependence : sequence of str
        Input columns that get a SHAP dependence plot.
    """
    figs: dict[str, Any] = {}
    df = part.frame
    for task, s in explanations.items():
        figs[f"shap/{task}_importance.png"] = shap_bar(s.importance, f"{task}: global SHAP importance ({s.scale})")
        figs[f"shap/{task}_beeswarm.png"] = shap_beeswarm(
            s.values.drop(columns="patient_id"), s.data, s.base_value, f"{task}: SHAP values ({s.scale})"
        )
        if s.importance_by is not None:
            figs[f"shap/{task}_importance_by_{s.by}.png"] = shap_bar_by(
                s.importance_by, f"{task}: SHAP importance by {s.by} ({s.scale})", s.by
            )
        raw = df.loc[s.values.index]
        for column in dependence:
            if column in raw.columns:
                figs[f"shap/{task}_dependence_{column}.png"] = shap_dependence(
                    s.values, raw, column, features, f"{task}: SHAP of {column}"
                )
    figs.update(evaluation_figures(evaluation, part, [f.task for f in fitted.values()]))
    return figs


def evaluation_figures(evaluation, part, tasks) -> dict[str, Any]:
    """The figures of how each task's models did on ``part``: calibration (binary outcomes) or
    Kaplan-Meier curves by predicted risk tertile (times to event), and the decision curve."""

    figs: dict[str, Any] = {}
    df, name = part.frame, part.name
    for task in tasks:
        preds = evaluation.predictions.get((name, task.name))
        if preds is None:
            continue
        if evaluation.decision is not None:
            table = evaluation.decision[(evaluation.decision.dataset == name) & (evaluation.decision.task == task.name)]
            if len(table):
                h = table["horizon"].iloc[0]
                what = task.outcome.describe() if task.kind == "binary" else f"an event by {h:g} {task.outcome.unit}"
                figs[f"evaluation/{task.name}_decision_curve_{name}.png"] = decision_plot(
                    table, f"{task.name}: decision curve ({name} cohort)", what
                )
        if task.kind == "binary":
            what = "response" if task.name == "response" else task.outcome.describe()
            figs[f"evaluation/{task.name}_calibration_{name}.png"] = reliability(
                task.target(df),
                {m: p.probability for m, p in preds.items()},
                f"{what} calibration ({name} cohort)",
                what,
            )
        elif task.kind == "survival":
            o = task.outcome
            h = task.decision_horizon
            figs[f"evaluation/{task.name}_calibration_{name}.png"] = survival_reliability(
                df[o.time].to_numpy(dtype=float),
                df[o.event].to_numpy().astype(bool),
                preds,
                h,
                f"{o.describe(h)}: calibration ({name} cohort)",
                f"an event by {h:g} {o.unit}",
            )
            figs[f"evaluation/km_by_risk_group_{name}.png"] = km_by_risk_group(
                df[o.time].to_numpy(dtype=float),
                df[o.event].to_numpy().astype(bool),
                preds["xgboost"].risk,
                f"{o.describe()} by predicted risk tertile ({name} cohort)",
                xlabel=f"time ({o.unit})",
                ylabel=f"{o.describe()}: event-free",
            )
    return figs

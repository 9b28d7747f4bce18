"""Figures a reader would rather look at than read: SHAP, KM curves by risk group, calibration."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are written to files and MLflow, never shown
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["make_figures", "shap_bar", "shap_bar_by", "shap_beeswarm", "shap_dependence", "km_by_risk_group",
           "reliability"]


def shap_bar(importance: pd.Series, title: str):
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(importance) + 1.2))
    imp = importance.iloc[::-1]
    colors = ["#9e9e9e" if name.startswith("null_") else "#1f77b4" for name in imp.index]
    ax.barh(imp.index, imp.to_numpy(), color=colors)
    ax.set_xlabel("mean |SHAP| (summed over a column's one-hot levels and cutoff flags)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def shap_bar_by(table: pd.DataFrame, title: str, by: str, max_display: int = 15):
    """Grouped bars: mean |SHAP| of each input column (rows of ``table``) within each group (columns)."""
    t = table.iloc[:max_display].iloc[::-1]
    groups = list(t.columns)
    height = 0.8 / max(len(groups), 1)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(t) * max(1, len(groups) / 2) + 1.5))
    y = np.arange(len(t))
    for i, g in enumerate(groups):
        ax.barh(y + (i - (len(groups) - 1) / 2) * height, t[g].to_numpy(), height=height, label=f"{by} = {g}")
    ax.set_yticks(y, t.index)
    ax.set_xlabel("mean |SHAP| within the group (interventional, background from the same group)")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def shap_beeswarm(values: pd.DataFrame, data: pd.DataFrame, base: float, title: str, max_display: int = 15):
    import shap

    plt.figure()
    expl = shap.Explanation(values=values.to_numpy(), base_values=np.full(len(values), base),
                            data=data.to_numpy(), feature_names=list(data.columns))
    shap.plots.beeswarm(expl, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def shap_dependence(values: pd.DataFrame, raw: pd.DataFrame, column: str, features, title: str):
    cols = [f for f in values.columns if f != "patient_id" and features.source_of(f) == column]
    contrib = values[cols].sum(axis=1).to_numpy()
    x = raw[column]
    fig, ax = plt.subplots(figsize=(6, 4))
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


def km_by_risk_group(time: np.ndarray, event: np.ndarray, risk: np.ndarray, title: str, groups: int = 3):
    from lifelines import KaplanMeierFitter

    fig, ax = plt.subplots(figsize=(6, 4))
    cuts = np.quantile(risk, np.linspace(0, 1, groups + 1)[1:-1])
    label = np.searchsorted(cuts, risk, side="right")
    names = ["low risk", "middle risk", "high risk"] if groups == 3 else [f"group {g + 1}" for g in range(groups)]
    for g in range(groups):
        m = label == g
        KaplanMeierFitter(label=f"{names[g]} (n={m.sum()})").fit(time[m], event[m]).plot_survival_function(ax=ax, ci_show=True)
    ax.set_xlabel("time")
    ax.set_ylabel("progression-free")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def reliability(y: np.ndarray, preds: dict[str, np.ndarray], title: str):
    from sklearn.calibration import calibration_curve

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
    for name, p in preds.items():
        frac, mean = calibration_curve(y, p, n_bins=10, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=name)
    ax.set_xlabel("predicted probability of response")
    ax.set_ylabel("observed response rate")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def make_figures(shap: dict[str, dict[str, Any]], datasets: dict, survival_model, response_preds: dict | None,
                 dependence: list[str], response_col: str | None = "objective_response",
                 time_col: str | None = "pfs_months", event_col: str | None = "pfs_event",
                 by: str | None = None) -> dict[str, Any]:
    """Every figure of a training run, keyed by its artifact path."""
    figs: dict[str, Any] = {}
    name = "validation" if "validation" in datasets else "test"
    df, X, _ = datasets[name]
    for task, s in shap.items():
        figs[f"shap/{task}_importance.png"] = shap_bar(s["importance"], f"{task}: global SHAP importance ({s['scale']})")
        figs[f"shap/{task}_beeswarm.png"] = shap_beeswarm(s["values"].drop(columns="patient_id"), s["data"], s["base_value"],
                                                          f"{task}: SHAP values ({s['scale']})")
        if by and "importance_by" in s:
            figs[f"shap/{task}_importance_by_{by}.png"] = shap_bar_by(
                s["importance_by"], f"{task}: SHAP importance by {by} ({s['scale']})", by)
        raw = df.loc[s["values"].index]
        for column in dependence:
            if column in raw.columns:
                figs[f"shap/{task}_dependence_{column}.png"] = shap_dependence(
                    s["values"], raw, column, s["features"], f"{task}: SHAP of {column}")
    if response_preds:
        figs[f"evaluation/response_calibration_{name}.png"] = reliability(
            df[response_col].to_numpy().astype(bool), response_preds, f"response calibration ({name} cohort)")
    if survival_model is not None:
        figs[f"evaluation/km_by_risk_group_{name}.png"] = km_by_risk_group(
            df[time_col].to_numpy(dtype=float), df[event_col].to_numpy().astype(bool), survival_model.predict(X),
            f"survival by predicted risk tertile ({name} cohort)")
    return figs

"""The summary a reader wants first: model vs baseline vs oracle, with CIs, on the headline cohort.

One table, two renderings: plain text for the terminal (:func:`summary_table`) and markdown for the
MLflow run's description (:func:`summary_markdown`, shown on the run page). Plain code: no MLflow,
no printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .tasks import TIME_UNITS

__all__ = ["Summary", "summary", "summary_table", "summary_markdown", "summary_rows", "metric_label"]

#: How the summary names each metric; horizon metrics (``td_auc_12m``) are named from their key.
METRIC_LABELS = {"auc": "AUC", "brier": "Brier", "cal_slope": "calibration slope", "cal_intercept": "calibration intercept",
                 "oe_ratio": "observed / expected", "ici": "ICI (flexible calibration)", "e50": "E50", "e90": "E90",
                 "harrell_c": "Harrell's C", "uno_c": "Uno's C", "ibs": "integrated Brier", "ibs_km": "integrated Brier (KM)"}
_HEAD = ("task", "metric", "XGBoost [95% CI]", "baseline [95% CI]", "oracle [95% CI]", "XGBoost - baseline",
         "oracle - XGBoost")


def metric_label(metric: str) -> str:
    """``td_auc_12m`` -> ``AUC(12 months)``; ``calib_90d`` -> ``KM - predicted S(90 days)``; ``auc`` -> ``AUC``."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    words = {suffix: unit for unit, suffix in TIME_UNITS.items()}
    found = re.fullmatch(rf"(td_auc|calib|ici)_([0-9.]+)([{''.join(words)}])", metric)
    if not found:
        return metric
    kind, h, suffix = found.groups()
    at = f"{h} {words[suffix]}"
    return {"td_auc": f"AUC({at})", "calib": f"KM - predicted S({at})", "ici": f"ICI({at})"}[kind]


def _is_horizon(metric: str) -> bool:
    return metric not in METRIC_LABELS and metric_label(metric) != metric


def summary_rows(metrics: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(task, metric key, label) in the table's order: the fixed metrics, then each horizon's."""
    rows = []
    for task in metrics["task"].unique():
        keys = list(dict.fromkeys(metrics.loc[metrics.task == task, "metric"]))
        rows += [(task, k, METRIC_LABELS[k]) for k in METRIC_LABELS if k in keys]
        horizons = [k for k in keys if _is_horizon(k)]
        kinds = ("td_auc", "calib", "ici")
        by_time = sorted(horizons, key=lambda k: (float(k.rsplit("_", 1)[1][:-1]), kinds.index(k.rsplit("_", 1)[0])))
        rows += [(task, k, metric_label(k)) for k in by_time]
    return rows


def _fmt_ci(row, signed: bool = False) -> str:
    if row is None or pd.isna(row["estimate"]):
        return "-"
    f = "{:+.4f}" if signed else "{:.3f}"
    if pd.isna(row["ci_low"]):
        return f.format(row["estimate"])
    return f"{f.format(row['estimate'])} [{f.format(row['ci_low'])}, {f.format(row['ci_high'])}]"


@dataclass(frozen=True)
class Summary:
    """The summary of one evaluated cohort, ready to render: its name, a caption saying what the
    columns compare, the header and the rows of formatted cells."""

    dataset: str
    caption: str
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]


def summary(metrics: pd.DataFrame, dataset: str | None = None) -> Summary:
    """The :class:`Summary` of ``dataset`` (default: the headline cohort, validation if there is
    one, else test): model, baseline and oracle with CIs, and the paired differences, where the
    metrics have them."""
    dataset = dataset or ("validation" if (metrics["dataset"] == "validation").any() else "test")
    m = metrics[metrics.dataset == dataset]
    rows = []
    for task, metric, label in summary_rows(m):
        sub = m[(m.task == task) & (m.metric == metric)].set_index("model")
        get = lambda model: sub.loc[model] if model in sub.index else None
        # the differences come with their paired bootstrap CIs (training's contrasts)
        rows.append((task, label, _fmt_ci(get("xgboost")), _fmt_ci(get("baseline")), _fmt_ci(get("oracle")),
                     _fmt_ci(get("xgboost_minus_baseline"), signed=True),
                     _fmt_ci(get("oracle_minus_xgboost"), signed=True)))
    present = set(m["model"])
    oracle, baseline = "oracle" in present, "baseline" in present
    keep = [0, 1, 2] + ([3] if baseline else []) + ([4] if oracle else []) + ([5] if baseline else []) + ([6] if oracle else [])
    head, rows = tuple(_HEAD[i] for i in keep), [tuple(r[i] for i in keep) for r in rows]
    caption = (f"{dataset} cohort ("
               + ("baseline: logistic regression / Cox PH" if baseline else "the trained model; a trained model carries no baseline")
               + ("; oracle: the generator's truth" if oracle else "; no oracle for a cohort file")
               + ("; differences with paired bootstrap 95% CIs)" if baseline or oracle else "; bootstrap 95% CIs)"))
    return Summary(dataset=dataset, caption=caption, head=head, rows=rows)


def summary_table(metrics: pd.DataFrame, dataset: str | None = None) -> str:
    """The summary as aligned plain text (what ``predictor train`` prints)."""
    table = summary(metrics, dataset)
    caption, head, rows = table.caption, table.head, table.rows
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([caption, line(head), line(["-" * w for w in widths]), *[line(r) for r in rows]])


def summary_markdown(metrics: pd.DataFrame, *, title: str, notes: list[str] | None = None) -> str:
    """The summary as a markdown document: a title, the table of every evaluated cohort (headline
    cohort first), and ``notes`` as a bullet list (what the search chose, where the figures are)."""
    datasets = list(dict.fromkeys(metrics["dataset"]))
    datasets.sort(key=lambda d: d != "validation")
    parts = [f"### {title}", ""]
    for dataset in datasets:
        table = summary(metrics, dataset)
        caption, head = table.caption, table.head
        parts += [f"**{caption[0].upper()}{caption[1:]}**", "", "| " + " | ".join(head) + " |",
                  "|" + "|".join("---" for _ in head) + "|", *["| " + " | ".join(r) + " |" for r in table.rows], ""]
    parts += [f"- {n}" for n in (notes or [])]
    return "\n".join(parts).rstrip() + "\n"

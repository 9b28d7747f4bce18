"""The summary a reader wants first: model vs baseline vs oracle, with CIs, on the headline cohort.

One table, two renderings: plain text for the terminal (:func:`summary_table`) and markdown for the
MLflow run's description (:func:`summary_markdown`, shown on the run page). Plain code: no MLflow,
no printing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from predictor.metrics.scores import TIME_UNITS

__all__ = [
    "run_description",
    "METRIC_LABELS",
    "metric_label",
    "summary_rows",
    "Summary",
    "summary",
    "summary_table",
    "summary_markdown",
    "study_rows",
    "power_rows",
    "study_criteria",
    "study_text",
    "study_markdown",
    "nested_rows",
    "NESTED_NOTE",
    "nested_text",
    "nested_markdown",
]

#: How the summary names each metric; horizon metrics (``td_auc_12m``) are named from their key.
METRIC_LABELS = {
    "auc": "AUC",
    "brier": "Brier",
    "cal_slope": "calibration slope",
    "cal_intercept": "calibration intercept",
    "oe_ratio": "observed / expected",
    "ici": "ICI (flexible calibration)",
    "e50": "E50",
    "e90": "E90",
    "harrell_c": "Harrell's C",
    "uno_c": "Uno's C",
    "ibs": "integrated Brier",
    "ibs_km": "integrated Brier (KM)",
}
_HEAD = (
    "task",
    "metric",
    "XGBoost [95% CI]",
    "baseline [95% CI]",
    "oracle [95% CI]",
    "full truth [95% CI]",
    "XGBoost - baseline",
    "oracle - XGBoost",
)


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
        get = lambda model, sub=sub: sub.loc[model] if model in sub.index else None
        # the differences come with their paired bootstrap CIs (training's contrasts)
        rows.append(
            (
                task,
                label,
                _fmt_ci(get("xgboost")),
                _fmt_ci(get("baseline")),
                _fmt_ci(get("oracle")),
                _fmt_ci(get("full_truth")),
                _fmt_ci(get("xgboost_minus_baseline"), signed=True),
                _fmt_ci(get("oracle_minus_xgboost"), signed=True),
            )
        )
    present = set(m["model"])
    oracle, baseline, full = "oracle" in present, "baseline" in present, "full_truth" in present
    keep = (
        [0, 1, 2]
        + ([3] if baseline else [])
        + ([4] if oracle else [])
        + ([5] if full else [])
        + ([6] if baseline else [])
        + ([7] if oracle else [])
    )
    head = tuple(_HEAD[i] for i in keep)
    shown: list[tuple[str, ...]] = [tuple(r[i] for i in keep) for r in rows]
    caption = (
        f"{dataset} cohort ("
        + (
            "baseline: logistic regression / Cox PH"
            if baseline
            else "the trained model; a trained model carries no baseline"
        )
        + ("; oracle: the best prediction from the inputs, by the generator's truth" if oracle else "")
        + ("; full truth: the oracle that knows the latents too, which no model reaches" if full else "")
        + ("" if oracle else "; no oracle for a cohort file")
        + ("; differences with paired bootstrap 95% CIs)" if baseline or oracle else "; bootstrap 95% CIs)")
    )
    return Summary(dataset=dataset, caption=caption, head=head, rows=shown)


def summary_table(metrics: pd.DataFrame, dataset: str | None = None) -> str:
    """The summary as aligned plain text (what ``predictor train`` prints)."""
    table = summary(metrics, dataset)
    caption, head, rows = table.caption, table.head, table.rows
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
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
        parts += [
            f"**{caption[0].upper()}{caption[1:]}**",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
            *["| " + " | ".join(r) + " |" for r in table.rows],
            "",
        ]
    parts += [f"- {n}" for n in (notes or [])]
    return "\n".join(parts).rstrip() + "\n"


# ------------------------------------------------------------------------------------ studies
def _n(value: float) -> str:
    return "not reached" if not np.isfinite(value) else f"{int(value):,}"


def _interval(low: float, high: float, largest: int) -> str:
    lo = f"> {largest:,}" if not np.isfinite(low) else f"{int(low):,}"
    hi = f"> {largest:,}" if not np.isfinite(high) else f"{int(high):,}"
    return f"[{lo}, {hi}]"


def study_rows(result) -> tuple[list[str], list[list[str]]]:
    """The sample-size table of a study (:class:`predictor.study.StudyResult`): header and rows;
    an adaptive study's with each answer's status and the isotonic cross-check."""
    s = result.sample_size
    adaptive = result.study.adaptive is not None
    largest = int(result.table.n.max()) if len(result.table) else max(result.study.study.n)
    what = "study n* [95% CI]" if adaptive else "study min n [95% CI]"
    header = ["scenario", "task", "model", "panel", what, "status"]
    header += ["isotonic"] if adaptive else []
    header += ["Riley n (1 / 2 / 3)", "p", "oracle"]
    never = lambda v: f"{int(v):,}" if np.isfinite(v) else "never"  # an adaptive n* past a plateau
    rows = []
    for r in s.itertuples():
        row = [r.scenario, r.task, r.model, r.panel]
        if adaptive:
            row.append(f"{never(r.study_n)} [{never(r.study_low)}, {never(r.study_high)}]")
        else:
            row.append(
                f"{_n(r.study_n) if np.isfinite(r.study_n) else f'> {largest:,}'} "
                f"{_interval(r.study_low, r.study_high, largest)}"
            )
        row.append(r.status)
        if adaptive:
            row.append(f"{int(r.isotonic_n):,}" if np.isfinite(r.isotonic_n) else f"> {largest:,}")
        row.append(
            "-"
            if not np.isfinite(r.riley_n)
            else f"{int(r.riley_n):,} ({int(r.riley_1):,} / {int(r.riley_2):,} / {int(r.riley_3):,})"
        )
        row += [str(int(r.parameters)), f"{metric_label(r.metric)} {r.oracle:.3f}"]
        rows.append(row)
    return header, rows


def power_rows(result) -> tuple[list[str], list[list[str]]]:
    """The power table of a study: power [95% CI] per scenario, panel, task (rows) and n (columns)."""
    p = result.power_summary
    if p.empty:
        return [], []
    sizes = sorted(p.n.unique())
    if result.study.adaptive is not None:  # the grid's sizes: the rounds add sizes only where a curve needed them
        sizes = [n for n in sizes if n in result.study.study.n]
    header = ["scenario", "panel", "task", *[f"n={n:,}" for n in sizes]]
    rows = []
    s = result.study
    order = lambda key: (
        [v.name for v in s.variants].index(key[0][0]),
        [q.name for q in s.panels].index(key[0][1]),
        key[0][2],
    )
    for (scenario, panel, task), g in sorted(
        p.groupby(["scenario", "panel", "task"]), key=order
    ):  # as the file lists them
        at = g.set_index("n")
        rows.append([scenario, panel, task, *[f"{at.power[n]:.2f}" if n in at.index else "-" for n in sizes]])
    return header, rows


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *["| " + " | ".join(r) + " |" for r in rows]]
    )


def study_criteria(result) -> str:
    """What the study's minimum n means, and Riley's."""
    c, a = result.study.criteria, result.study.adaptive
    if c.statistic == "assurance":
        lo, hi = c.slope_range
        rule = (
            f"at least {c.assurance:.0%} of the replicates have a gap to the oracle <= {c.gap:g} and a calibration "
            f"slope within {lo:g}-{hi:g}"
        )
    else:
        what = c.statistic
        rule = f"the {what} gap to the oracle is <= {c.gap:g} and the {what} calibration slope >= {c.slope:g}"
    riley = (
        f"Riley n: the closed-form criteria of pmsampsize (1: shrinkage {c.slope:g}; 2: optimism in R2 <= 0.05; "
        "3: precise overall risk) for p predictor parameters and the oracle's R2."
    )
    if a is None:
        return (
            f"study min n: the smallest n of the grid from which on {rule} "
            f"(95% CI: {c.bootstrap} bootstrap resamples of the replicates); status beyond: never within the grid; "
            + riley
        )
    return (
        f"study n*: where the fitted learning curve says {rule} (95% CI: the curve refitted to {c.bootstrap} "
        f"bootstrap resamples of the replicates), after {result.rounds - 1} adaptive round(s). "
        f"status ok: the interval is within +-{a.precision:.0%} of n*; budget: not yet when the budget "
        f"(rounds {a.rounds}, cells {a.max_cells}"
        + (f", {a.max_seconds:g} s" if a.max_seconds else "")
        + f") ran out; below: met at every size tried; beyond: above max_n ({a.max_n:,}); unreachable: "
        "a plateau misses the target. isotonic: the smallest size tried where a monotone fit meets it. " + riley
    )


def study_text(result) -> str:
    """The study's results as text: sample sizes, why they differ, power."""

    out = [_text_table(*study_rows(result)), "", study_criteria(result), WHY_THEY_DIFFER]
    header, rows = power_rows(result)
    if rows:
        out += [
            "",
            f"power: share of replicates in which the baseline's {result.study.power.covariate} has p < 0.05 "
            "with the expected sign",
            _text_table(header, rows),
        ]
    return "\n".join(out)


def study_markdown(result) -> str:
    """The study's results in markdown: the parent run's description and the README's table."""

    s = result.study
    grid = s.grid()
    out = [
        f"**Study {s.name}** ({s.study.description})" if s.study.description else f"**Study {s.name}**",
        "",
        f"Grid: n = {', '.join(f'{n:,}' for n in grid['n'])}; {grid['replicates']} replicates; models "
        f"{', '.join(grid['models'])}; panels {', '.join(grid['panels'])}; scenarios {', '.join(grid['scenarios'])}; "
        f"validation cohort {s.study.validation_n:,} patients per scenario.",
        "",
        _markdown_table(*study_rows(result)),
        "",
        study_criteria(result),
        "",
        WHY_THEY_DIFFER,
    ]
    header, rows = power_rows(result)
    if rows:
        out += [
            "",
            f"Power of the baseline's test of {s.power.covariate} (p < 0.05, expected sign):",
            "",
            _markdown_table(header, rows),
        ]
    return "\n".join(out)


def nested_rows(nested, metrics: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The nested CV beside the single test split: per task, each model's test-split figure, its
    mean (SD) over the outer folds, the search's own CV score and the optimism."""
    header = [
        "task",
        "metric",
        "test split: XGBoost",
        "baseline",
        f"nested CV ({nested.n_folds} folds x {nested.n_repeats}): XGBoost",
        "baseline",
        "search's CV score",
        "optimism",
        "chosen",
    ]
    rows = []
    for r in nested.summary().itertuples():
        test = metrics[(metrics.dataset == "test") & (metrics.task == r.task) & (metrics.metric == r.metric)].set_index(
            "model"
        )["estimate"]
        rows.append(
            [
                r.task,
                metric_label(r.metric),
                f"{test.get('xgboost', np.nan):.3f}",
                f"{test.get('baseline', np.nan):.3f}",
                f"{r.xgboost:.3f} (SD {r.xgboost_sd:.3f})",
                f"{r.baseline:.3f} (SD {r.baseline_sd:.3f})",
                f"{r.inner_cv:.3f}",
                f"{r.optimism:+.3f}",
                r.choices,
            ]
        )
    return header, rows


NESTED_NOTE = (
    "nested CV: each outer fold held out while the features, the search and both models are fitted on the "
    "others, as the run fits its own; optimism = the search's CV score of its choice minus that choice's "
    "score on the held-out fold (how much the choice is fitted to the search's CV)."
)


def nested_text(nested, metrics: pd.DataFrame) -> str:
    """The nested CV as text, for the terminal."""
    return "\n".join([_text_table(*nested_rows(nested, metrics)), NESTED_NOTE])


def nested_markdown(nested, metrics: pd.DataFrame) -> str:
    """The nested CV in markdown, for the run's description."""
    return "\n".join([_markdown_table(*nested_rows(nested, metrics)), "", NESTED_NOTE])


# ------------------------------------------------------------------------------- the analysis
#: Why the study's minimum n and Riley's differ, printed under the sample-size table.
WHY_THEY_DIFFER = (
    "Riley's n bounds the overfitting of an unpenalised regression with p parameters whose R-squared is the "
    "oracle's, whatever the truth's shape; the study's n is where this model family, with its own tuning and "
    "penalty, gets within the gap of the oracle with a calibration slope at the target, so it is smaller where "
    "the learner shrinks itself and larger where it must find structure a regression is told."
)


def run_description(result: Any) -> str:
    """The description of a training run (markdown, shown on its MLflow page): the summary
    tables, the search's choice, the SHAP ranking, where to look next."""
    exp = result.experiment
    notes = []
    for task, params in result.best_params.items():
        cv = ", ".join(f"{k[3:]} {v:.3f}" for k, v in params.items() if k.startswith("cv_"))
        notes.append(f"search chose for **{task}**: `{params['booster']}` (CV {cv})")
    for task, s in result.explanations.items():
        top = ", ".join(f"{k} {v:.3f}" for k, v in s.importance.head(5).items())
        notes.append(f"SHAP, {task} (mean |SHAP|, {s.scale}): {top}")
    cohort = result.data.info
    source = (
        f"scenario `{cohort['scenario']}`, seed {cohort.get('seed')}"
        if "scenario" in cohort
        else f"file `{cohort.get('source')}`"
    )
    notes.append(
        f"cohort: {source}, {cohort.get('n')} patients "
        f"({cohort.get('n_train')} to train, {cohort.get('n_test')} to test)"
    )
    notes.append("figures: `shap/` and `evaluation/` under Artifacts; every metric with its CI under Model metrics")
    text = summary_markdown(result.metrics, title=f"{exp.name}: {exp.experiment.description}".rstrip(": "), notes=notes)
    if result.nested is not None:
        text += (
            "\n**Nested cross-validation beside the single test split**\n\n"
            + nested_markdown(result.nested, result.metrics)
            + "\n"
        )
    return text

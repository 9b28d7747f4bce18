"""A one-page model report of a training run, following the items of TRIPOD+AI (Collins et al.,
BMJ 2024;385:e078378) that a run can fill in itself: source of data, participants, outcome,
predictors, sample size and events, missing data, model and its tuning, internal and external
validation with discrimination, calibration and decision curves, explainability, intended use and
limits.

Self-contained HTML (figures embedded), so that MLflow's artifact viewer shows it as a page.
Plain code: no MLflow here. Aggregates only: no patient rows.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from predictor.reporting.tables import NESTED_NOTE, nested_rows, summary

__all__ = ["model_report_html"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; max-width: 1100px;
       color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; border-bottom: 1px solid #ddd; padding-bottom: 3px; margin-top: 26px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
th { background: #f4f4f4; } .muted { color: #666; font-size: 13px; } img { max-width: 520px; margin: 6px 12px 6px 0; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _html_table(head, rows) -> str:
    out = ["<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _participants(result) -> list[tuple[str, ...]]:
    """One row per evaluated cohort: patients, and per task the events (or positives)."""

    data = result.data
    rows = []
    for part in [data.train, *data.evaluated_parts]:
        cells = [part.name, f"{len(part.frame):,}"]
        for task in data.tasks:
            y = task.target(part.frame)
            events = y["event"] if y.dtype.names else y
            cells.append(f"{int(np.sum(events)):,} ({np.mean(events):.0%})")
        rows.append(tuple(cells))
    return rows


def _predictors(result) -> list[tuple[str, ...]]:
    data, features = result.data, result.bundle.features
    rows: list[tuple[str, ...]] = []
    for name in features.columns_:
        col = data.schema[name]
        missing = data.train.frame[name].isna().mean()
        how = "log(1 + x)" if name in features.log_columns_ else ""
        cuts = (features.cutoffs or {}).get(name)
        if cuts:
            how = (how + "; " if how else "") + "flags at " + ", ".join(f"{c:g}" for c in cuts)
        if col.dtype == "category":
            how = "one-hot: " + ", ".join(col.levels)
        rows.append((name, col.dtype, col.unit or "", col.role, f"{missing:.1%}", how, col.description))
    return rows


def model_report_html(result: Any, figures: Mapping[str, Any] | None = None) -> str:
    """The report of :class:`predictor.training.pipeline.TrainingResult` ``result`` as one HTML page;
    ``figures`` (artifact path -> matplotlib figure) are embedded where the report names them.
    Its sections follow TRIPOD+AI."""
    figures = figures or result.figures
    sections = (_title, _intended_use, _participants_section, _outcomes, _predictors_section, _models, _performance)
    parts = [line for section in sections for line in section(result)]
    parts += _figures_and_explainability(result, figures) + _LIMITATIONS
    return "\n".join(parts)


def _title(result: Any) -> list[str]:
    """The page's head and title."""
    exp = result.experiment
    return [
        f"<html><head><meta charset='utf-8'><title>{_e(exp.name)}: model report</title><style>{_STYLE}</style>"
        "</head><body>",
        f"<h1>{_e(exp.name)}: model report</h1><p class='muted'>{_e(exp.experiment.description)}</p>",
        "<p class='muted'>Following TRIPOD+AI (Collins et al., BMJ 2024;385:e078378). Written by the training run; "
        f"package version {_e(result.bundle.package_version)}.</p>",
    ]


def _intended_use(result: Any) -> list[str]:
    """Intended use and limits."""
    data = result.data
    out: list[str] = []
    synthetic = data.source is not None
    out += [
        "<h2>Intended use and limits</h2>",
        "<p>A research model: it estimates, from routinely measured biomarkers, "
        + ", ".join(_e(t.outcome.describe() if hasattr(t.outcome, "describe") else t.name) for t in data.tasks)
        + ". It is not a medical device and has not been validated for decisions about individual patients. "
        + (
            "It was trained on a <b>synthetic</b> cohort: its figures say what the biomarkers could achieve if the "
            "published effects hold, not how it performs on real patients. "
            if synthetic
            else ""
        )
        + "Use it on patients like those it was developed on (the predictors' ranges below); outside them, "
        "its predictions are extrapolations.</p>",
    ]
    return out


def _participants_section(result: Any) -> list[str]:
    """Source of data and participants."""
    exp, data = result.experiment, result.data
    out: list[str] = []
    info = data.info
    synthetic = data.source is not None
    task_names = [t.name for t in data.tasks]
    source = (
        f"synthetic cohort of scenario <b>{_e(info.get('scenario'))}</b> (seed {_e(info.get('seed'))}), "
        "calibrated to published figures (SEED_STATISTICS.md); the truth behind each patient is kept, so "
        "the models are also scored against the best possible one (the oracle)"
        if synthetic
        else f"the user's cohort file <code>{_e(info.get('source'))}</code>"
    )
    out += [
        "<h2>Source of data and participants</h2>",
        f"<p>{source}.</p>",
        _html_table(("cohort", "patients", *[f"{t}: events (share)" for t in task_names]), _participants(result)),
        "<p class='muted'>train/test: a stratified random split of the development cohort "
        f"(test share {exp.evaluation.test_fraction:g}, seed {exp.evaluation.seed}); validation: a fresh synthetic "
        "cohort of the same scenario; external: another cohort file (<code>[validation] path</code>).</p>",
    ]
    return out


def _outcomes(result: Any) -> list[str]:
    """The outcomes and their columns."""
    data = result.data
    out: list[str] = []
    out += ["<h2>Outcomes</h2><ul>"]
    for t in data.tasks:
        cols = ", ".join(f"<code>{_e(c)}</code>" for c in t.outcome_columns())
        out.append(f"<li><b>{_e(t.name)}</b>: {cols}</li>")
    out += ["</ul>"]
    return out


def _predictors_section(result: Any) -> list[str]:
    """Predictors, their transformations and missing data."""
    out: list[str] = []
    out += [
        "<h2>Predictors and missing data</h2>",
        _html_table(
            ("column", "type", "unit", "role", "missing (train)", "transformation", "description"), _predictors(result)
        ),
        "<p class='muted'>Missing values: XGBoost learns a default direction for them at each split (the linear "
        "booster uses the training mean); the baselines impute the training median and add a missing-value "
        "indicator.</p>",
    ]
    return out


def _models(result: Any) -> list[str]:
    """The models the search chose, and the baselines."""
    exp = result.experiment
    out: list[str] = []
    out += ["<h2>Models</h2><ul>"]
    for name, p in result.best_params.items():
        cv = ", ".join(f"{k[3:]} {v:.3f}" for k, v in p.items() if k.startswith("cv_"))
        settings = ", ".join(f"{k} {v}" for k, v in p.items() if k != "booster" and not k.startswith("cv_"))
        out.append(
            f"<li><b>{_e(name)}</b>: XGBoost <code>{_e(p['booster'])}</code> ({_e(settings)}); chosen by "
            f"{exp.search.cv_folds}-fold cross-validation on the training rows (CV {_e(cv)})</li>"
        )
    out += [
        "</ul><p class='muted'>Baselines: logistic regression (binary outcomes), Cox proportional hazards "
        "(times to event), on the same predictors.</p>"
    ]
    return out


def _performance(result: Any) -> list[str]:
    """Every evaluated cohort's metrics, and the nested CV."""
    out: list[str] = []
    out += [
        "<h2>Performance</h2><p class='muted'>Percentile bootstrap 95% CIs; differences from paired replicates "
        "(the same resampled patients for both models).</p>"
    ]
    for dataset in dict.fromkeys(result.metrics["dataset"]):
        table = summary(result.metrics, dataset)
        out += [f"<p><b>{_e(table.caption)}</b></p>", _html_table(table.head, table.rows)]
    if result.nested is not None:
        out += [
            "<p><b>Nested cross-validation of the development cohort, beside the single test split</b></p>",
            _html_table(*nested_rows(result.nested, result.metrics)),
            f"<p class='muted'>{_e(NESTED_NOTE)}</p>",
        ]
    return out


def _figures_and_explainability(result: Any, figures: Mapping[str, Any]) -> list[str]:
    """Calibration, risk-group and decision-curve figures; SHAP."""
    out: list[str] = []
    shown = [k for k in figures if k.startswith("evaluation/")]
    if shown:
        out += ["<h2>Calibration, risk groups and decision curves</h2>"]
        out += [_png(figures[k]) for k in shown]
    out += ["<h2>Explainability</h2><ul>"]
    for task, s in result.explanations.items():
        top = ", ".join(f"{k} {v:.3f}" for k, v in s.importance.head(6).items())
        out.append(f"<li><b>{_e(task)}</b> (mean |SHAP|, {_e(s.scale)}): {_e(top)}</li>")
    out += ["</ul>"]
    beeswarm = [k for k in figures if k.endswith("_beeswarm.png")]
    out += [_png(figures[k]) for k in beeswarm[:2]]
    return out


_LIMITATIONS = [
    "<h2>Limitations</h2><ul>",
    "<li>Performance on the test split is internal validation; only an external cohort (another centre or "
    "period) shows how the model transports.</li>",
    "<li>SHAP values explain the model, not the biology: a predictor correlated with a causal one shares its "
    "credit.</li>",
    "<li>Calibration can drift with case mix and treatment practice; recalibrate before use elsewhere.</li>",
    "</ul></body></html>",
]

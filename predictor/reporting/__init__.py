"""What a reader sees: summary tables, the model report and the figures (no MLflow, no printing)."""

from predictor.reporting.figures import (
    decision_plot,
    evaluation_figures,
    km_by_risk_group,
    make_figures,
    reliability,
    shap_bar,
    shap_bar_by,
    shap_beeswarm,
    shap_dependence,
    survival_reliability,
)
from predictor.reporting.model_report import model_report_html
from predictor.reporting.study_figures import (
    learning_curves,
    power_curves,
    study_figures,
)
from predictor.reporting.tables import (
    METRIC_LABELS,
    NESTED_NOTE,
    Summary,
    metric_label,
    nested_markdown,
    nested_rows,
    nested_text,
    power_rows,
    study_criteria,
    study_markdown,
    study_rows,
    study_text,
    summary,
    summary_markdown,
    summary_rows,
    summary_table,
)

__all__ = ["METRIC_LABELS", "metric_label", "summary_rows", "Summary", "summary", "summary_table", "summary_markdown", "study_rows", "power_rows", "study_criteria", "study_text", "study_markdown", "nested_rows", "NESTED_NOTE", "nested_text", "nested_markdown", "shap_bar", "shap_bar_by", "shap_beeswarm", "shap_dependence", "km_by_risk_group", "reliability", "survival_reliability", "decision_plot", "make_figures", "evaluation_figures", "learning_curves", "power_curves", "study_figures", "model_report_html"]

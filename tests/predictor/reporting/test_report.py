"""The summary: the same table as text (terminal) and markdown (the MLflow run's description)."""

import pandas as pd

from predictor.reporting.tables import (
    metric_label,
    summary_markdown,
    summary_rows,
    summary_table,
)


def _metrics(oracle=True):
    rows = []
    for dataset in ("test", "validation"):
        for model, est in (
            ("xgboost", 0.70),
            ("baseline", 0.69),
            ("oracle", 0.72),
            ("xgboost_minus_baseline", 0.01),
            ("oracle_minus_xgboost", 0.02),
        ):
            if not oracle and model.startswith("oracle"):
                continue
            for metric in ("harrell_c", "td_auc_12m", "calib_12m", "td_auc_6m"):
                rows.append(
                    dict(
                        dataset=dataset,
                        task="survival",
                        model=model,
                        metric=metric,
                        estimate=est,
                        ci_low=est - 0.01,
                        ci_high=est + 0.01,
                    )
                )
    return pd.DataFrame(rows)


def test_labels_and_order():
    assert metric_label("td_auc_90d") == "AUC(90 days)" and metric_label("calib_12m") == "KM - predicted S(12 months)"
    assert [r[1] for r in summary_rows(_metrics())] == ["harrell_c", "td_auc_6m", "td_auc_12m", "calib_12m"]


def test_text_and_markdown_hold_the_same_cells():
    m = _metrics()
    text = summary_table(m)
    assert (
        text.startswith("validation cohort") and "0.700 [0.690, 0.710]" in text and "+0.0100 [+0.0000, +0.0200]" in text
    )
    md = summary_markdown(m, title="t", notes=["a note"])
    assert md.startswith("### t\n") and md.rstrip().endswith("- a note")
    assert "| survival | Harrell's C | 0.700 [0.690, 0.710] | 0.690 [0.680, 0.700] | 0.720 [0.710, 0.730] |" in md
    assert md.index("**Validation cohort") < md.index("**Test cohort")


def test_a_cohort_file_has_no_oracle_column():
    m = _metrics(oracle=False)
    for out in (summary_table(m), summary_markdown(m, title="t")):
        assert "oracle [95% CI]" not in out and "oracle - XGBoost" not in out and "no oracle for a cohort file" in out

"""Each stage of training alone, on small seeded cohorts: no MLflow, no end-to-end run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predictor.config.experiment import load_experiment
from predictor.errors import TrainingError
from predictor.training import (
    CONTRASTS,
    evaluate,
    evaluation_parts,
    explain,
    fit,
    fit_features,
    load_data,
    make_tasks,
    search,
    search_candidates,
)
from predictor.training.tasks import BinaryTask, SurvivalTask

SMALL = """
[experiment]
name = "stages"
[cohort]
scenario = "{scenario}"
n = 400
seed = 5
[validation]
n = 600
seed = 6
[outcomes]
binary = {binary}
[search]
n_iter = 1
cv_folds = 2
boosters = ["gbtree", "gblinear"]
[evaluation]
bootstrap = 6
horizons = [6, 12]
[shap]
max_rows = 120
"""


def _experiment(tmp_path, scenario="icb_bone_opn", binary="[]", **sections):
    path = tmp_path / f"{scenario}.toml"
    path.write_text(SMALL.format(scenario=scenario, binary=binary))
    exp = load_experiment(path)
    return replace(exp, **{k: replace(getattr(exp, k), **v) for k, v in sections.items()})


@pytest.fixture(scope="module")
def icb(tmp_path_factory):
    exp = _experiment(tmp_path_factory.mktemp("stages"))
    data = load_data(exp)
    features = fit_features(exp, data)
    X = features.transform(data.train.frame)
    y = {t.name: t.target(data.train.frame) for t in data.tasks}
    fitted = [fit(t, search(t, X, y[t.name], exp.search), exp, data, features, X) for t in data.tasks]
    return exp, data, features, y, fitted


def test_load_data_splits_stratified_and_keeps_truth_aligned(icb):
    exp, data, *_ = icb
    assert len(data.train.frame) + len(data.test.frame) == 400 and len(data.test.frame) == 100
    assert set(data.train.frame.index).isdisjoint(data.test.frame.index)
    for part in (data.train, data.test, data.validation):
        assert (part.truth["patient_id"].to_numpy() == part.frame["patient_id"].to_numpy()).all()
    # stratified by the first task (response): the two response rates differ by at most one patient's worth
    rates = [p.frame["objective_response"].mean() for p in (data.train, data.test)]
    assert abs(rates[0] - rates[1]) < 1 / len(data.test.frame) + 1e-12
    assert len(data.validation.frame) == 600 and data.info["n_train"] == 300
    assert [type(t) for t in data.tasks] == [BinaryTask, SurvivalTask]


def test_truth_never_enters_the_model_input(icb):
    _, data, features, *_ = icb
    X = features.transform(data.validation.frame)
    truth_cols = set(data.validation.truth.columns) - {"patient_id"}
    assert not {features.source_of(f) for f in X.columns} & truth_cols
    assert not {features.source_of(f) for f in X.columns} & {
        "objective_response",
        "pfs_months",
        "pfs_event",
        "patient_id",
    }


def test_make_tasks_units_and_names(tmp_path):
    from features import Schema
    from predictor.config.experiment import experiments_dir

    exp = load_experiment(experiments_dir() / "veterans_lung_cancer.toml")
    (task,) = make_tasks(exp, Schema.from_dict(exp.columns))
    assert task.outcome.unit == "days" and task.outcome.endpoint == "os"
    assert task.output_columns() == ["risk_score", "median_os_days", "os_prob_30d", "os_prob_90d", "os_prob_180d"]
    columns = {
        **exp.columns,
        "Survival_in_days": {k: v for k, v in exp.columns["Survival_in_days"].items() if k != "unit"},
    }
    with pytest.raises(TrainingError, match="declare its unit"):
        make_tasks(exp, Schema.from_dict(columns))


def test_bad_cohorts_stop_before_any_fit(tmp_path):
    with pytest.raises(TrainingError, match="at least 40"):
        load_data(_experiment(tmp_path, cohort={"n": 30}))
    with pytest.raises(TrainingError, match="not a column of the cohort"):
        load_data(_experiment(tmp_path, shap={"by": "arm"}))
    with pytest.raises(TrainingError, match="outcome column 'nope'"):
        load_data(_experiment(tmp_path, binary='["nope"]'))
    for column in ("opn_ng_ml", "nope"):  # not categorical; not a column
        with pytest.raises(
            TrainingError, match=f"\\[search\\] interactions = '{column}' must be a categorical model input"
        ):
            load_data(_experiment(tmp_path, search={"interactions": column}))


@pytest.mark.slow
def test_nested_cv_refits_the_search_in_every_outer_fold(tmp_path):
    """Every outer fit searches and fits on the other folds and scores the held-out fold; the
    table is the same on a second run (seeded: a run of one repeat gives the first repeat's rows
    again), and its summary is the table's own mean."""
    from predictor.training import nested_cv

    exp = _experiment(tmp_path, evaluation={"nested_folds": 3, "nested_repeats": 2})
    data = load_data(exp)
    nested = nested_cv(exp, data)
    f = nested.folds
    assert len(f) == 3 * 2 * len(data.tasks) and set(f.task) == {t.name for t in data.tasks}
    assert sorted(set(zip(f.repeat, f.fold))) == [(r, k) for r in (1, 2) for k in (1, 2, 3)]
    assert f[["xgboost", "baseline", "inner_cv"]].apply(lambda c: c.between(0.3, 1.0)).all().all()
    assert set(f.choice) <= {"gbtree", "gblinear"}
    once = nested_cv(replace(exp, evaluation=replace(exp.evaluation, nested_repeats=1)), data).folds
    pd.testing.assert_frame_equal(once, f[f.repeat == 1].reset_index(drop=True), check_exact=True)
    s = nested.summary().set_index("task")
    response = f[f.task == "response"]
    assert s.loc["response", "xgboost"] == pytest.approx(response.xgboost.mean())
    assert s.loc["response", "optimism"] == pytest.approx((response.inner_cv - response.xgboost).mean())
    assert nested_cv(replace(exp, evaluation=replace(exp.evaluation, nested_folds=0)), data) is None


def test_search_is_seeded_and_returns_the_best_candidate(icb):
    exp, data, features, y, fitted = icb
    task = data.tasks[0]
    X = features.transform(data.train.frame)
    first, again = search(task, X, y["response"], exp.search), search(task, X, y["response"], exp.search)
    assert first == again
    assert first.params in search_candidates(exp.search.boosters, exp.search.n_iter, exp.search.seed)
    assert first.summary()["cv_auc"] == first.cv_score and 0.5 < first.cv_score < 1


def test_evaluate_scores_every_model_with_paired_contrasts(icb):
    exp, data, features, y, fitted = icb
    ev = evaluate(fitted, evaluation_parts(data), features, data.source, exp.evaluation)
    m = ev.metrics.set_index(["dataset", "task", "model", "metric"])["estimate"]
    for dataset in ("test", "validation"):
        for task, head in (("response", "auc"), ("survival", "harrell_c")):
            for name, a, b in CONTRASTS:
                assert m[(dataset, task, name, head)] == pytest.approx(
                    m[(dataset, task, a, head)] - m[(dataset, task, b, head)]
                )
    assert "td_auc_12m" in ev.metrics.metric.values and "calib_6m" in ev.metrics.metric.values
    # the oracle's AUC on 600 fresh patients beats chance clearly; its probabilities are the truth's
    assert m[("validation", "response", "oracle", "auc")] > 0.7
    oracle = ev.predictions[("validation", "response")]["oracle"].probability
    np.testing.assert_array_equal(oracle, data.validation.truth["response_probability"].to_numpy())


def test_evaluate_draws_a_decision_curve_for_every_task_and_cohort(icb):
    exp, data, features, y, fitted = icb
    ev = evaluate(fitted, evaluation_parts(data), features, data.source, exp.evaluation)
    d = ev.decision
    assert set(zip(d.dataset, d.task)) == {(p, t.name) for p in ("test", "validation") for t in data.tasks}
    assert set(d.model) == {"xgboost", "baseline", "oracle", "all", "none"}
    assert d[d.task == "survival"].horizon.unique().tolist() == [12.0]  # the middle of [6, 12]
    assert d[d.task == "response"].horizon.isna().all()


def test_evaluate_without_a_source_has_no_oracle(icb):
    exp, data, features, y, fitted = icb
    ev = evaluate(fitted, [data.test], features, None, exp.evaluation)
    assert set(ev.metrics.model) == {"xgboost", "baseline", "xgboost_minus_baseline"}


def test_explain_is_additive_and_names_patients(icb):
    exp, data, features, y, fitted = icb
    ex = explain(fitted, data.validation, features, data.train, data.schema, exp.shap, exp.evaluation.seed)
    for f in fitted:
        e = ex[f.task.name]
        assert len(e.values) == 120 and e.values.columns[0] == "patient_id"
        assert set(e.values["patient_id"]) <= set(data.validation.frame["patient_id"])
        total = e.values.drop(columns="patient_id").sum(axis=1).to_numpy() + e.base_value
        np.testing.assert_allclose(total, f.model.margin(e.data), rtol=1e-4, atol=1e-4)
        assert e.importance.index.isin(features.columns_).all() and (e.importance >= 0).all()
    assert ex["response"].scale == "log-odds of response" and ex["survival"].scale == "log hazard ratio"


def test_a_second_binary_outcome_is_one_more_task_with_its_oracle(tmp_path):
    """>= CR on the myeloma scenario: the same stages, its own oracle (the truth's probability)."""
    exp = _experiment(tmp_path, scenario="myeloma_bmm", binary='["cr_or_better"]', models={"survival": None})
    data = load_data(exp)
    assert [t.name for t in data.tasks] == ["response", "cr_or_better"]
    features = fit_features(exp, data)
    X = features.transform(data.train.frame)
    task = data.tasks[1]
    y = {t.name: t.target(data.train.frame) for t in data.tasks}
    f = fit(task, search(task, X, y[task.name], exp.search), exp, data, features, X)
    ev = evaluate([f], [data.validation], features, data.source, exp.evaluation)
    auc = ev.metrics.set_index(["model", "metric"])["estimate"]
    assert auc[("oracle", "auc")] > auc[("xgboost", "auc")] - 0.05 and auc[("oracle", "auc")] > 0.7
    np.testing.assert_array_equal(
        ev.predictions[("validation", "cr_or_better")]["oracle"].probability,
        data.validation.truth["cr_or_better_probability"].to_numpy(),
    )
    ex = explain([f], data.validation, features, data.train, data.schema, exp.shap, 0)
    assert ex["cr_or_better"].scale == "log-odds of cr or better"
    assert task.output_columns() == ["cr_or_better_probability"]
    out = np.empty((5, 1))
    task.outputs(f.model, X.iloc[:5], out)
    np.testing.assert_allclose(out[:, 0], f.model.predict_proba(X.iloc[:5])[:, 1])


def test_a_cohort_in_days_of_overall_survival_says_so_everywhere(tmp_path):
    """The VA lung trial: prediction columns, metric names and plot axes in days, of OS."""
    import shutil

    from sksurv.datasets import load_veterans_lung_cancer

    from predictor.config.experiment import experiments_dir
    from predictor.training.pipeline import train

    X, y = load_veterans_lung_cancer()
    X.assign(Status=y["Status"], Survival_in_days=y["Survival_in_days"]).to_csv(
        tmp_path / "veterans_lung_cancer.csv", index=False
    )
    path = Path(shutil.copy(experiments_dir() / "veterans_lung_cancer.toml", tmp_path / "v.toml"))
    path.write_text(
        path.read_text()
        .replace("bootstrap = 200", "bootstrap = 5")
        .replace("n_iter = 8", "n_iter = 1")
        .replace("nested_folds = 5", "nested_folds = 0")
    )
    result = train(load_experiment(path))
    assert result.bundle.output_columns == [
        "risk_score",
        "median_os_days",
        "os_prob_30d",
        "os_prob_90d",
        "os_prob_180d",
    ]
    assert {"td_auc_30d", "td_auc_90d", "calib_180d"} <= set(result.metrics.metric)
    ax = result.figures["evaluation/km_by_risk_group_test.png"].axes[0]
    assert ax.get_xlabel() == "time (days)" and ax.get_ylabel().startswith("OS")


def test_search_choice_does_not_depend_on_how_many_fits_run_at_once(icb):
    """Each candidate fits on one XGBoost thread; n_jobs only says how many run side by side."""
    exp, data, features, y, _ = icb
    X = features.transform(data.train.frame)
    task = data.tasks[1]
    one, two = (search(task, X, y[task.name], replace(exp.search, n_jobs=k)) for k in (1, 2))
    assert one == two


@pytest.mark.slow
def test_train_records_the_time_of_each_stage_and_leaves_shap_unimported(tmp_path):
    """Stage timings are recorded; and without [shap] by nothing in a training run needs the shap
    package, whose import loads numba's compiler (memory the main job does not spend). A fresh
    interpreter, so that other tests' imports do not hide one."""
    import subprocess
    import sys

    path = tmp_path / "small.toml"
    path.write_text(SMALL.format(scenario="icb_bone_opn", binary="[]"))
    code = (
        "import sys; from predictor.config.experiment import load_experiment; from predictor.training.pipeline import train; "
        f"r = train(load_experiment({str(path)!r})); "
        "print(list(r.timings), all(t >= 0 for t in r.timings.values()), 'shap' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True).stdout
    assert out.strip() == "['data', 'search', 'fit', 'evaluate', 'explain', 'figures'] True False"


def test_beeswarm_is_deterministic(icb):
    import matplotlib.pyplot as plt

    from predictor.reporting.figures import shap_beeswarm

    exp, data, features, y, fitted = icb
    ex = explain(fitted, data.validation, features, data.train, data.schema, exp.shap, 0)["response"]
    values = ex.values.drop(columns="patient_id")
    pixels = []
    for _ in range(2):
        fig = shap_beeswarm(values, ex.data, ex.base_value, "t", max_display=6)
        fig.canvas.draw()
        pixels.append(np.asarray(fig.canvas.buffer_rgba()).copy())
        assert len(fig.axes[0].get_yticklabels()) == 6  # five inputs and the sum of the others
        plt.close(fig)
    assert np.array_equal(*pixels)


def test_a_trained_model_scores_a_cohort_as_its_training_run_did(icb):
    """Predictor.evaluate on the validation cohort gives the training run's numbers for it: every
    point estimate and CI bound of the XGBoost model (same predictions, same censoring
    distribution from the training data, same bootstrap replicates)."""
    from predictor.api import Predictor
    from predictor.training.bundle import ModelBundle

    exp, data, features, y, fitted = icb
    ev = evaluate(fitted, [data.validation], features, data.source, exp.evaluation)
    bundle = ModelBundle.from_fitted(data.schema, features, fitted, metadata={})
    again = Predictor(bundle).evaluate(
        data.validation.frame, name="validation", bootstrap=exp.evaluation.bootstrap // 2, seed=exp.evaluation.seed
    )
    keys = ["dataset", "task", "model", "metric"]
    want = ev.metrics[ev.metrics.model == "xgboost"].set_index(keys).sort_index()
    got = again.metrics.set_index(keys).sort_index()
    assert list(got.index) == list(want.index)
    np.testing.assert_array_equal(
        got[["estimate", "ci_low", "ci_high"]].to_numpy(), want[["estimate", "ci_low", "ci_high"]].to_numpy()
    )
    d = ev.decision
    np.testing.assert_array_equal(
        again.decision.net_benefit.to_numpy(), d[d.model.isin(["xgboost", "all", "none"])].net_benefit.to_numpy()
    )


def test_evaluate_names_a_missing_outcome_column(icb):
    from features import SchemaValidationError
    from predictor.api import Predictor
    from predictor.training.bundle import ModelBundle

    exp, data, features, y, fitted = icb
    bundle = ModelBundle.from_fitted(data.schema, features, fitted, metadata={})
    with pytest.raises(SchemaValidationError, match="pfs_event"):
        Predictor(bundle).evaluate(data.validation.frame.drop(columns="pfs_event"))


@pytest.mark.slow
def test_an_external_cohort_file_is_evaluated_beside_the_test_split(tmp_path):
    from synthetic import generate

    generate("icb_bone_opn", 300, seed=41).observed.to_csv(tmp_path / "other.csv", index=False)
    path = tmp_path / "ext.toml"
    path.write_text(
        SMALL.format(scenario="icb_bone_opn", binary="[]").replace(
            "[validation]\nn = 600\nseed = 6", '[validation]\nn = 0\npath = "other.csv"'
        )
    )
    exp = load_experiment(path)
    assert exp.validation.path == tmp_path / "other.csv"
    data = load_data(exp)
    assert data.validation is None and len(data.external.frame) == 300
    assert [p.name for p in evaluation_parts(data)] == ["test", "external"]

    from predictor.training.pipeline import train

    result = train(exp)
    external = result.metrics[result.metrics.dataset == "external"]
    assert set(external.model) >= {"xgboost", "baseline", "xgboost_minus_baseline"}
    assert {"evaluation/response_calibration_external.png", "evaluation/survival_decision_curve_external.png"} <= set(
        result.figures
    )


@pytest.mark.slow
def test_model_report_follows_tripod_ai_and_holds_no_patient_rows(tmp_path):
    from predictor.reporting.model_report import model_report_html
    from predictor.training.pipeline import train

    result = train(_experiment(tmp_path))
    page = model_report_html(result)
    for section in (
        "Intended use and limits",
        "Source of data and participants",
        "Outcomes",
        "Predictors and missing data",
        "Models",
        "Performance",
        "Explainability",
        "Limitations",
    ):
        assert f"<h2>{section}</h2>" in page, section
    assert "<td>validation</td><td>600</td>" in page and "synthetic</b> cohort" in page
    # aggregates only: no patient's values (the ids are 1..n, so look for a row's biomarker values)
    row = result.data.test.frame.iloc[0]
    assert f"{row['opn_ng_ml']}" not in page and "patient_id" not in page

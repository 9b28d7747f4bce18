"""`predictor train` end to end: a small experiment into a temporary MLflow store."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.helpers import store

pytestmark = pytest.mark.slow

SMALL = """
[experiment]
name = "{name}"
[cohort]
scenario = "icb_bone_opn"
n = {n}
seed = 3
[validation]
n = 3000
seed = 4
[features]
cutoffs = {{ opn_ng_ml = [50, 85] }}
[search]
n_iter = 2
cv_folds = 2
[evaluation]
bootstrap = 20
[shap]
max_rows = 500
dependence = ["opn_ng_ml", "bone_metastasis"]
"""


def train(tmp_path, name="small", n=600, *extra, first_run=False):
    """``predictor train`` of the small experiment in ``tmp_path``, into a store copied from an
    empty one (:func:`tests.e2e.helpers.store`), or with ``first_run`` one the command creates."""
    path = tmp_path / f"{name}.toml"
    path.write_text(SMALL.format(name=name, n=n))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if first_run else store(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", "train", str(path), "--tracking-uri", uri, *extra],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    return proc, uri


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    proc, uri = train(tmp, first_run=True)  # the first run in an empty folder creates the store
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, proc, uri


def test_summary_and_run_id_printed(trained):
    _, proc, _ = trained
    assert "oracle - XGBoost" in proc.stdout and "Harrell's C" in proc.stdout
    assert "registered model 'small' version 1" in proc.stdout
    assert "predictor ui" in proc.stdout
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr


def test_run_metrics_artifacts_and_registry(trained):
    import mlflow
    from mlflow import MlflowClient

    _, _, uri = trained
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    exp = client.get_experiment_by_name("small")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    m = run.data.metrics
    for key in (
        "validation/response/xgboost/auc",
        "validation/response/oracle/auc",
        "validation/survival/xgboost/harrell_c",
        "validation/survival/baseline/uno_c",
        "test/survival/xgboost/td_auc_12m",
        "validation/survival/xgboost/ibs",
        "validation/response/gap_to_oracle/auc",
        "test/response/xgboost/cal_slope",
        "validation/response/xgboost_minus_baseline/auc",
        "validation/survival/oracle_minus_xgboost/harrell_c/ci_low",
    ):
        assert key in m, key
    assert 0.6 < m["validation/response/oracle/auc"] < 0.95
    assert (
        m["validation/response/xgboost/auc/ci_low"]
        <= m["validation/response/xgboost/auc"]
        <= m["validation/response/xgboost/auc/ci_high"]
    )
    assert m["validation/response/oracle/auc"] - m["validation/response/xgboost/auc"] == pytest.approx(
        m["validation/response/oracle_minus_xgboost/auc"]
    )
    params = run.data.params
    assert params["cohort.n"] == "600"
    for task in ("response", "survival"):  # the search's choice, with the settings of its family
        assert params[f"best.{task}.booster"] in ("gbtree", "gblinear")
        assert f"best.{task}.reg_lambda" in params
        assert (f"best.{task}.max_depth" in params) == (params[f"best.{task}.booster"] == "gbtree")
    paths = set()
    stack = [""]
    while stack:
        for f in client.list_artifacts(run.info.run_id, stack.pop()):
            (stack.append(f.path) if f.is_dir else paths.add(f.path))
    for p in (
        "shap/response_beeswarm.png",
        "shap/survival_importance.png",
        "shap/response_dependence_opn_ng_ml.png",
        "shap/survival_values.csv",
        "evaluation/metrics.csv",
        "evaluation/km_by_risk_group_validation.png",
        "cohort/cohort_calibration.csv",
    ):
        assert p in paths, p
    mv = client.get_model_version_by_alias("small", "champion")
    assert str(mv.version) == "1"
    assert run.inputs.dataset_inputs and run.inputs.dataset_inputs[0].dataset.digest


def test_registered_model_predicts_probabilities_not_labels(trained):
    import mlflow

    from synthetic import generate

    _, _, uri = trained
    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/small@champion")
    cohort = generate("icb_bone_opn", 400, seed=99)
    cols = model.metadata.get_input_schema().input_names()
    from predictor.tracking.model import plain_frame

    out = model.predict(plain_frame(cohort.observed[cols]))
    assert list(out.columns[:3]) == ["response_probability", "risk_score", "median_pfs_months"]
    assert out["response_probability"].between(0, 1).all() and out["response_probability"].nunique() > 50
    assert np.corrcoef(out["risk_score"], cohort.truth["pfs_linear_predictor"])[0, 1] > 0.3
    assert (out["pfs_prob_6m"] >= out["pfs_prob_12m"]).all() and (out["pfs_prob_12m"] >= out["pfs_prob_24m"]).all()


def test_failed_run_is_marked_failed_and_registers_nothing(tmp_path):
    import mlflow
    from mlflow import MlflowClient

    proc, uri = train(tmp_path, name="tiny", n=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "at least 40" in proc.stderr
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.info.status == "FAILED"
    assert client.search_registered_models() == []


def test_bad_experiment_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment]\nname = 'x'\n[cohort]\nscenario = 'icb_bone_opn'\nn = 'many'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", "train", str(bad)], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "bad.toml" in proc.stderr and "'n' has the wrong type" in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_user_cohort_file_trains_and_logs_no_patient_rows(tmp_path):
    """The README's own-cohort example (VA lung cancer trial, shipped in scikit-survival)."""
    import shutil

    import mlflow
    from mlflow import MlflowClient
    from sksurv.datasets import load_veterans_lung_cancer

    from predictor.config.experiment import experiments_dir

    X, y = load_veterans_lung_cancer()
    X.assign(Status=y["Status"], Survival_in_days=y["Survival_in_days"]).to_csv(
        tmp_path / "veterans_lung_cancer.csv", index=False
    )
    exp = tmp_path / "veterans.toml"
    shutil.copy(experiments_dir() / "veterans_lung_cancer.toml", exp)
    text = exp.read_text()
    assert "nested_repeats = 4" in text
    exp.write_text(
        text.replace("bootstrap = 200", "bootstrap = 20")
        .replace("n_iter = 8", "n_iter = 2")
        .replace("nested_repeats = 4", "nested_repeats = 1")
    )
    uri = store(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", "train", str(exp), "--tracking-uri", uri],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no oracle for a cohort file" in proc.stdout and "Karnofsky_score" in proc.stdout
    for horizon in ("30 days", "90 days", "180 days"):  # every horizon, in the cohort's own unit
        assert f"AUC({horizon})" in proc.stdout and f"KM - predicted S({horizon})" in proc.stdout
    assert "months" not in proc.stdout
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("veterans_lung_cancer").experiment_id])
    assert run.data.tags["cohort"] == "user"
    assert "test/survival/xgboost/td_auc_90d" in run.data.metrics
    # the nested CV beside the single test split: printed, in the description, as metrics, per-fold scores
    assert "nested CV (5 folds x 1): XGBoost" in proc.stdout and "optimism" in proc.stdout
    assert "Nested cross-validation" in run.data.tags["mlflow.note.content"]
    m = run.data.metrics
    assert {
        "nested/survival/xgboost/harrell_c",
        "nested/survival/baseline/harrell_c_sd",
        "nested/survival/xgboost/cv_optimism",
    } <= set(m)
    assert 0.5 < m["nested/survival/xgboost/harrell_c"] < 0.9
    paths = set()
    stack = [""]
    while stack:
        for f in client.list_artifacts(run.info.run_id, stack.pop()):
            (stack.append(f.path) if f.is_dir else paths.add(f.path))
    assert "shap/survival_importance.csv" in paths
    assert not [p for p in paths if p.endswith("_values.csv")]  # no per-patient SHAP rows
    folds = pd.read_csv(client.download_artifacts(run.info.run_id, "evaluation/nested_cv.csv", str(tmp_path)))
    assert list(folds.columns) == ["repeat", "fold", "task", "metric", "xgboost", "baseline", "inner_cv", "choice"]
    assert len(folds) == 5  # one score per outer fold: no patient rows
    report = Path(client.download_artifacts(run.info.run_id, "report/model_report.html", str(tmp_path))).read_text()
    assert "Nested cross-validation of the development cohort" in report
    model_dir = mlflow.artifacts.download_artifacts(
        client.get_model_version_by_alias("veterans_lung_cancer", "champion").source
    )
    assert not list(Path(model_dir).rglob("input_example*"))  # no patient rows as an input example
    import predictor

    model = predictor.load(model_dir)
    assert model.output_columns == ["risk_score", "median_os_days", "os_prob_30d", "os_prob_90d", "os_prob_180d"]
    assert model.horizons == (30.0, 90.0, 180.0)


def test_myeloma_experiment_logs_shap_within_each_arm(tmp_path):
    """The shipped myeloma experiment, shrunk (n 800, 2 search candidates on 2 folds, 20 bootstraps):
    the per-arm SHAP figure and table are logged, with one column per arm."""
    import mlflow
    import tomllib
    from mlflow import MlflowClient

    from predictor.config.experiment import experiments_dir

    raw = tomllib.loads((experiments_dir() / "myeloma_bmm.toml").read_text())
    assert raw["shap"]["by"] == "therapy_arm" and raw["cohort"]["scenario"] == "myeloma_bmm"
    text = (experiments_dir() / "myeloma_bmm.toml").read_text()
    for old, new in (
        ("n = 5000", "n = 800"),
        ("n = 10000", "n = 1000"),
        ("n_iter = 8", "n_iter = 2"),
        ("cv_folds = 3", "cv_folds = 2"),
        ("bootstrap = 200", "bootstrap = 20"),
        ("max_rows = 3000", "max_rows = 600"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "myeloma_small.toml"
    path.write_text(text)
    uri = store(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", "train", str(path), "--tracking-uri", uri, "--no-register"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for arm in ("dara_krd", "tal_tec", "car_t"):
        assert f"within therapy_arm = {arm}: " in proc.stdout
    assert "AUC(18 months)" in proc.stdout and "KM - predicted S(18 months)" in proc.stdout  # M4's horizon
    assert "\ncr_or_better  AUC" in proc.stdout  # the >= CR task, beside response and survival
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("myeloma_bmm").experiment_id])
    paths = {f.path for f in client.list_artifacts(run.info.run_id, "shap")}
    for task in ("response", "survival", "cr_or_better"):
        assert f"shap/{task}_importance_by_therapy_arm.png" in paths
        table = pd.read_csv(
            client.download_artifacts(run.info.run_id, f"shap/{task}_importance_by_therapy_arm.csv", str(tmp_path)),
            index_col="column",
        )
        assert list(table.columns) == ["dara_krd", "tal_tec", "car_t"]
        assert {"bcma_methylation_pct", "cd38_density_k"} <= set(table.index)
        assert (table.loc["therapy_arm"] == 0).all()
    m = run.data.metrics
    assert "validation/response/gap_to_oracle/auc" in m and "validation/survival/gap_to_oracle/harrell_c" in m
    assert "validation/survival/xgboost/td_auc_18m" in m
    assert (
        "validation/cr_or_better/gap_to_oracle/auc" in m and "validation/cr_or_better/xgboost_minus_baseline/auc" in m
    )


def test_run_page_link_and_description(trained):
    """The CLI prints the run's page in MLflow's classic view, and the run's description (what the
    page shows first) is the summary table in markdown."""
    import mlflow

    tmp, proc, uri = trained
    run_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("run "))
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)
    page = f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run_id}?workflowType=machine_learning"
    assert f"run page:  {page}  (serve the MLflow UI first: predictor ui --tracking-uri {uri})" in proc.stdout
    note = run.data.tags["mlflow.note.content"]
    assert note.startswith("### small")
    assert "| task | metric | XGBoost [95% CI] | baseline [95% CI] | oracle [95% CI] |" in note
    for line in (
        "| survival | Harrell's C |",
        "| response | AUC |",
        "search chose for **response**",
        "cohort: scenario `icb_bone_opn`",
    ):
        assert line in note, line
    assert note.index("**Validation cohort") < note.index("**Test cohort")


def test_sigterm_ends_the_run_killed_and_registers_nothing(tmp_path):
    """A batch scheduler's kill (SIGTERM) mid-training: exit 143, one line, the run KILLED (not left
    RUNNING), no model version."""
    import signal

    import mlflow

    path = tmp_path / "killed.toml"
    path.write_text(SMALL.format(name="killed", n=600))
    uri = store(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "predictor", "train", str(path), "--tracking-uri", uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    for line in proc.stderr:  # progress lines: wait until the run is open and training
        if "search 1/" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("killed").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert client.search_model_versions("name='killed'") == []


def test_evaluate_the_registered_model_on_its_validation_cohort_as_a_file(trained):
    """`predictor evaluate` on the synthetic validation cohort written to a file gives the numbers
    the training run logged for that cohort; its own run is tagged with the model and holds no
    patient rows."""
    import mlflow

    from synthetic import generate

    tmp, proc, uri = trained
    generate("icb_bone_opn", 3000, seed=4).observed.to_csv(tmp / "validation.csv", index=False)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "predictor",
            "evaluate",
            "--model",
            "models:/small/1",
            "--data",
            str(tmp / "validation.csv"),
            "--name",
            "validation",
            "--bootstrap",
            "10",
            "--tracking-uri",
            uri,
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (
        "run page:  http://127.0.0.1:5000/#/experiments/" in out.stdout
        and "workflowType=machine_learning" in out.stdout
    )
    client = mlflow.MlflowClient(tracking_uri=uri)
    train_run = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("run "))
    eval_run = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("run "))
    trained_metrics = client.get_run(train_run).data.metrics
    evaluated = client.get_run(eval_run)
    keys = [k for k in evaluated.data.metrics if k.startswith("validation/")]
    assert len(keys) > 40
    for k in keys:
        assert evaluated.data.metrics[k] == trained_metrics[k], k
    tags = evaluated.data.tags
    assert (tags["model_name"], tags["model_version"], tags["model_uri"]) == ("small", "1", "models:/small/1")
    assert len(tags["validation_data_sha256"]) == 16 and "Harrell's C" in tags["mlflow.note.content"]
    artifacts = {a.path for folder in ("evaluation",) for a in client.list_artifacts(eval_run, folder)}
    assert {
        "evaluation/metrics.csv",
        "evaluation/decision_curves.csv",
        "evaluation/response_calibration_validation.png",
        "evaluation/survival_decision_curve_validation.png",
    } <= artifacts
    assert not client.list_artifacts(eval_run, "shap")  # no per-patient values


def test_evaluate_with_a_missing_outcome_says_so_and_logs_nothing(trained):
    import mlflow

    from synthetic import generate

    tmp, _, uri = trained
    generate("icb_bone_opn", 100, seed=5).observed.drop(columns="objective_response").to_csv(
        tmp / "bad.csv", index=False
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "predictor",
            "evaluate",
            "--model",
            "models:/small/1",
            "--data",
            str(tmp / "bad.csv"),
            "--experiment",
            "bad-eval",
            "--tracking-uri",
            uri,
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "objective_response" in out.stderr and "is missing" in out.stderr
    assert mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name("bad-eval") is None

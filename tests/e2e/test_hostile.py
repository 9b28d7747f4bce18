"""Hostile input at the command line: what a user or a colleague hands over is data, never code,
and no request is allowed to exhaust memory or block.

Each case asserts the exit code (2), one line of error, and that nothing was run or written.
Kinds covered: a pickled model (a file, a folder, an MLflow model folder; with and without
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``; ``predict`` and ``evaluate``); sizes over the
limits (``generate --n``, a study's ``n``, ``replicates`` and ``validation_n``, with and without
``--plan``, an experiment's cohort); devices, pipes and oversized files as scenario, experiment
and study files; a repeated CSV column; a Parquet file over the row limit; a formula in a
predictions CSV (neutralised; the file 0644). The expression language has its own hostile cases
(``tests/synthetic/test_expressions.py``).
"""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import generate

from .test_cli import run


class _Payload:
    """Unpickling this writes a file: the proof that a model file ran code."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "this ran"))


def _crafted_model(tmp_path: Path, layout: str) -> tuple[Path, Path]:
    """A model as an attacker would hand it over, and where its payload would write."""
    payload = tmp_path / "payload_ran.txt"
    folder = tmp_path / "model"
    inner = folder / "artifacts" if layout == "mlflow_folder" else folder
    inner.mkdir(parents=True)
    (inner / "bundle.joblib").write_bytes(pickle.dumps(_Payload(payload)))
    if layout == "mlflow_folder":
        (folder / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    return (inner / "bundle.joblib" if layout == "file" else folder), payload


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("layout", ["file", "folder", "mlflow_folder"])
@pytest.mark.parametrize("allow_pickle", [None, "false"])
def test_a_pickled_model_exits_2_with_one_line_and_its_payload_never_runs(tmp_path, command, layout, allow_pickle):
    model, payload = _crafted_model(tmp_path, layout)
    generate("icb_bone_opn", 50, seed=1).observed.to_csv(tmp_path / "patients.csv", index=False)
    env = dict(os.environ)
    env.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
    if allow_pickle is not None:
        env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = allow_pickle
    out = ["--out", str(tmp_path / "predictions.csv")] if command == "predict" else []
    before = sorted(tmp_path.rglob("*"))
    proc = run(command, "--model", str(model), "--data", str(tmp_path / "patients.csv"), *out, cwd=tmp_path, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("predictor: error:"), proc.stderr
    assert "holds a pickled model" in lines[0]
    assert not payload.exists()
    assert sorted(tmp_path.rglob("*")) == before  # no predictions, no store, nothing half-written


# Sizes: every request over a limit is refused before memory is spent, with one line naming the
# key or option, the value, the limit, and how to raise it.


def _one_line_exit_2(proc, *fragments):
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("predictor: error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_a_trillion_patients_are_refused_before_any_is_drawn(tmp_path):
    proc = run("generate", "icb_bone_opn", "--n", "1000000000000", "--out", str(tmp_path / "c.parquet"), cwd=tmp_path)
    _one_line_exit_2(proc, "1,000,000,000,000 patients is over the limit of 50,000,000", "TB of memory")
    assert list(tmp_path.iterdir()) == []


def test_the_patient_limit_can_be_raised_and_lowered(tmp_path):
    env = {**os.environ, "IMMUNORESPONSE_MAX_PATIENTS": "1000"}  # the scenario's own 927 still fit
    proc = run("generate", "icb_bone_opn", "--n", "1001", "--out", str(tmp_path / "c.parquet"), cwd=tmp_path, env=env)
    _one_line_exit_2(proc, "1,001 patients is over the limit of 1,000", "IMMUNORESPONSE_MAX_PATIENTS")
    assert (
        run(
            "generate", "icb_bone_opn", "--n", "1000", "--out", str(tmp_path / "c.parquet"), cwd=tmp_path, env=env
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("replicates", "1000000000", "'replicates' must be within 1..IMMUNORESPONSE_MAX_REPLICATES"),
        ("n", "[120, 1000000000000]", "'n' must be a non-empty list of numbers of patients, each within"),
        ("validation_n", "1000000000000", "'validation_n' must be within 1,000"),
    ],
)
@pytest.mark.parametrize("plan", [False, True])
def test_a_study_too_large_is_refused_at_load_and_by_plan(tmp_path, key, value, fragment, plan):
    from tests.study_files import small_study

    text = small_study("huge", tmp_path / "out")
    line = next(line for line in text.splitlines() if line.startswith(f"{key} ="))
    (tmp_path / "huge.toml").write_text(text.replace(line, f"{key} = {value}", 1), encoding="utf-8")
    proc = run("study", str(tmp_path / "huge.toml"), *(["--plan"] if plan else []), cwd=tmp_path)
    _one_line_exit_2(proc, fragment)
    assert not (tmp_path / "out").exists()


def test_an_experiment_cohort_too_large_is_refused_before_training(tmp_path):
    (tmp_path / "huge.toml").write_text(
        '[experiment]\nname = "huge"\n[cohort]\nscenario = "icb_bone_opn"\nn = 1000000000000\n', encoding="utf-8"
    )
    proc = run("train", str(tmp_path / "huge.toml"), cwd=tmp_path)
    _one_line_exit_2(proc, "[cohort]: 'n' must be a number of patients within 1..IMMUNORESPONSE_MAX_PATIENTS")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A small trained model saved as a folder (data files, no pickle)."""
    from features.pipeline import CohortFeatures
    from predictor.models.boosters import XGBResponseClassifier
    from predictor.training.bundle import ModelBundle
    from predictor.training.tasks import BinaryOutcome, BinaryTask
    from synthetic import load_scenario
    from synthetic.generation import package_version

    scenario = load_scenario("icb_bone_opn")
    obs = generate(scenario, 600, seed=2).observed
    features = CohortFeatures(schema=scenario.schema).fit(obs)
    model = XGBResponseClassifier(n_estimators=10, early_stopping_rounds=None, n_jobs=1)
    bundle = ModelBundle(
        schema=scenario.schema.subset(features.columns_),
        features=features,
        tasks=(BinaryTask("response", BinaryOutcome("objective_response")),),
        models={"response": model.fit(features.transform(obs), obs["objective_response"])},
        package_version=package_version(),
    )
    return bundle.save(tmp_path_factory.mktemp("model") / "model")


def test_a_predictions_csv_neutralises_a_formula_in_the_index_and_is_0644(tmp_path, model_folder):
    patients = generate("icb_bone_opn", 5, seed=3).observed
    patients.index = ["=1+1", "+cmd", "-2", "@x", "plain"]
    patients.to_parquet(tmp_path / "patients.parquet")
    old = os.umask(0o022)
    try:
        proc = run(
            "predict",
            "--model",
            str(model_folder),
            "--data",
            str(tmp_path / "patients.parquet"),
            "--out",
            str(tmp_path / "pred.csv"),
            cwd=tmp_path,
        )
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "pred.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["'=1+1", "'+cmd", "'-2", "'@x", "plain"]
    assert oct((tmp_path / "pred.csv").stat().st_mode & 0o777) == "0o644"


# Reads: only regular files, sizes checked before reading.


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [("scenario", "check"), ("train",), ("study",), ("calibrate",)])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_device_or_a_pipe_is_refused_unread(tmp_path, fifo, command, special):
    """/dev/zero never ends and a FIFO blocks a reader forever: both are refused from stat alone
    (the test's timeout is the proof nothing was opened)."""
    path = str(fifo) if special == "fifo" else special
    what = {"scenario": "scenario file", "calibrate": "scenario file", "train": "experiment file"}.get(
        command[0], "study file"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", *command, path], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    _one_line_exit_2(proc, f"{what} {path} is not a regular file")


def test_an_oversized_scenario_file_is_refused_unread(tmp_path):
    (tmp_path / "big.toml").write_bytes(b"#" * (2 << 20))
    _one_line_exit_2(run("scenario", "check", str(tmp_path / "big.toml"), cwd=tmp_path), "is 2,097,152 bytes")


def test_a_csv_with_a_repeated_column_name_is_refused(tmp_path, model_folder):
    (tmp_path / "p.csv").write_text("age_years,age_years,ecog\n60,61,0\n", encoding="utf-8")
    proc = run(
        "predict", "--model", str(model_folder), "--data", str(tmp_path / "p.csv"), "--out", "o.csv", cwd=tmp_path
    )
    _one_line_exit_2(proc, "column name(s) ['age_years'] appear more than once")
    assert not (tmp_path / "o.csv").exists()


def test_a_parquet_file_over_the_row_limit_is_refused_from_its_metadata(tmp_path, model_folder):
    generate("icb_bone_opn", 2_000, seed=1).observed.to_parquet(tmp_path / "p.parquet")
    env = {**os.environ, "IMMUNORESPONSE_MAX_PATIENTS": "1000"}
    proc = run(
        "predict",
        "--model",
        str(model_folder),
        "--data",
        str(tmp_path / "p.parquet"),
        "--out",
        "o.csv",
        cwd=tmp_path,
        env=env,
    )
    _one_line_exit_2(proc, "2,000 patients is over the limit of 1,000")


def test_a_model_name_mlflow_refuses_is_named_before_training(tmp_path):
    """It failed at registration, after 43 s of training."""
    (tmp_path / "slash.toml").write_text(
        '[experiment]\nname = "team/icb"\n[cohort]\nscenario = "icb_bone_opn"\nn = 300\n', encoding="utf-8"
    )
    proc = run("train", str(tmp_path / "slash.toml"), cwd=tmp_path)
    _one_line_exit_2(proc, "the model name (the experiment's name) 'team/icb' cannot contain '/' or ':'")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("rows", ["one patient", "one class"])
def test_evaluate_on_a_cohort_without_two_classes_is_one_line(tmp_path, model_folder, rows):
    """It crashed with a ZeroDivisionError traceback in the decision curve."""
    cohort = generate("icb_bone_opn", 60, seed=4).observed
    cohort = cohort.head(1) if rows == "one patient" else cohort[cohort["objective_response"]]
    cohort.to_csv(tmp_path / "c.csv", index=False)
    proc = run("evaluate", "--model", str(model_folder), "--data", str(tmp_path / "c.csv"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "takes a single value in the cohort: a response model cannot be evaluated" in proc.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_predictor_ui_on_a_busy_port_is_one_line_and_exit_2(tmp_path):
    """It announced the UI as serving, then the server failed with a traceback."""
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run("ui", "--port", str(port), cwd=tmp_path)
    _one_line_exit_2(proc, f"port {port} on 127.0.0.1 is in use")
    assert "MLflow UI on" not in proc.stdout


def test_predictor_ui_refuses_a_port_out_of_range(tmp_path):
    proc = run("ui", "--port", "70000", cwd=tmp_path)
    assert proc.returncode == 2 and "must be a port within 1..65535, got 70000" in proc.stderr


def test_predictor_ui_points_at_a_tracking_server_instead_of_starting_one(tmp_path):
    proc = run("ui", "--tracking-uri", "http://127.0.0.1:5999", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "http://127.0.0.1:5999/#/experiments?workflowType=machine_learning" in proc.stdout

"""One model, four ways to predict, one answer: right after training, predictor.load, the CLI,
and `mlflow models serve` (local environment manager) on 127.0.0.1."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import pandas as pd
import pytest

import predictor
from predictor.config.experiment import load_experiment
from predictor.tracking import run_and_log
from predictor.tracking.model import plain_frame
from predictor.training.pipeline import train
from synthetic import generate

from .helpers import free_port, store, wait_until_up
from .test_train import SMALL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    path = tmp / "serve.toml"
    path.write_text(SMALL.format(name="serve", n=600))
    uri = store(tmp)
    cwd = os.getcwd()
    os.chdir(tmp)  # artifacts go next to the store
    try:
        logged = run_and_log(load_experiment(path), train, tracking_uri=uri)
        result = logged.result
    finally:
        os.chdir(cwd)
    patients = generate("icb_bone_opn", 40, seed=123).observed[result.bundle.input_columns]
    right_after = result.bundle.predict(patients)
    return tmp, uri, patients, right_after


def test_loaded_model_equals_the_one_just_trained(served, monkeypatch):
    tmp, uri, patients, right_after = served
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    pd.testing.assert_frame_equal(predictor.load("models:/serve@champion").predict(patients), right_after)


def test_cli_predict_writes_the_same_predictions(served):
    tmp, uri, patients, right_after = served
    patients.assign(favourite_colour="blue").to_csv(tmp / "patients.csv", index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "predictor",
            "predict",
            "--model",
            "models:/serve@champion",
            "--data",
            str(tmp / "patients.csv"),
            "--out",
            str(tmp / "pred.csv"),
            "--explain",
            "--tracking-uri",
            uri,
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = pd.read_csv(tmp / "pred.csv", index_col="row")
    np.testing.assert_allclose(out[right_after.columns].to_numpy(), right_after.to_numpy(), rtol=1e-6)
    assert "shap_opn_ng_ml" in out.columns and "shap_base_value" in out.columns
    # the extra column is named once, though predict and explain both notice it
    assert proc.stderr.count("ignoring column(s) the model does not use: favourite_colour") == 1, proc.stderr


def test_cli_predict_bad_data_is_a_clear_error(served):
    tmp, uri, patients, _ = served
    bad = patients.copy()
    bad.loc[3, "opn_ng_ml"] = -1
    bad.drop(columns="nlr").to_csv(tmp / "bad.csv", index=False)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "predictor",
            "predict",
            "--model",
            "models:/serve@champion",
            "--data",
            str(tmp / "bad.csv"),
            "--out",
            str(tmp / "bad_pred.csv"),
            "--tracking-uri",
            uri,
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'nlr'" in proc.stderr and "'opn_ng_ml'" in proc.stderr and "rows 3" in proc.stderr
    assert not (tmp / "bad_pred.csv").exists()


def test_mlflow_models_serve_answers_the_same(served):
    tmp, uri, patients, right_after = served
    port = free_port()
    # mlflow execs `uvicorn` by name: the interpreter's bin folder goes first, as in an activated venv.
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/serve@champion",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/ping", server, 90)
        plain = plain_frame(patients)  # categories as strings, integers as doubles: the model's signature
        body = json.dumps({"dataframe_split": json.loads(plain.to_json(orient="split", index=False))}).encode()
        req = urllib.request.Request(base + "/invocations", data=body, headers={"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(req, timeout=60).read())
        served_df = pd.DataFrame(answer["predictions"])
        assert list(served_df.columns) == list(right_after.columns)
        np.testing.assert_allclose(served_df.to_numpy(dtype=float), right_after.to_numpy(), rtol=1e-6)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

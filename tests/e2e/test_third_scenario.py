"""The third scenario, written only in the format (KEYNOTE-024): it calibrates, trains with an
oracle from an experiment that names the file, and runs a small study, all through the CLI."""

import os
import shutil
import subprocess
import sys

import pytest

from synthetic import load_scenario
from tests.e2e.helpers import store

pytestmark = pytest.mark.slow

PREDICTOR = [sys.executable, "-m", "predictor"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": ""}

EXPERIMENT = """
[experiment]
name = "keynote024"

[cohort]
scenario = "keynote024.toml"
n = 600
seed = 3

[validation]
n = 3000
seed = 4

[models]
response = true
survival = "survival:cox"

[search]
n_iter = 1
cv_folds = 2
boosters = ["gblinear"]

[evaluation]
bootstrap = 20
horizons = [6, 12]

[shap]
max_rows = 200
"""

STUDY = """
[study]
name = "keynote024_small"
experiment = "{experiment}"
n = [150, 300]
replicates = 1
models = ["baseline"]
validation_n = 1000
seed = 1
output = "{out}"
"""


def run(*args, cwd):
    env = {k: v for k, v in ENV.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([*PREDICTOR, *args], cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keynote")
    shutil.copy(load_scenario("keynote024_pdl1").path, folder / "keynote024.toml")
    (folder / "experiment.toml").write_text(EXPERIMENT, encoding="utf-8")
    store(folder)  # the commands' default store, ./mlflow.db, copied from an empty one
    return folder


def test_the_third_scenario_calibrates(folder):
    proc = run("calibrate", "keynote024.toml", "--population-n", "300000", "--replicates", "20", cwd=folder)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "all targets within tolerance" in proc.stdout


def test_the_third_scenario_trains_with_an_oracle(folder):
    proc = run("train", "experiment.toml", cwd=folder)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "oracle" in proc.stdout


def test_a_small_study_runs_on_the_third_scenario(folder):
    study = folder / "study.toml"
    study.write_text(
        STUDY.replace("{experiment}", str(folder / "experiment.toml")).replace("{out}", str(folder / "study_out")),
        encoding="utf-8",
    )
    proc = run("study", str(study), "--workers", "1", cwd=folder)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (folder / "study_out" / "results.csv").exists()

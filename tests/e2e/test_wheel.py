"""The package installs anywhere: a wheel built from the checkout, installed into a fresh
virtualenv, runs the main job in an empty folder (the default experiment and the study's help
come from the package data, not from the checkout)."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv with the wheel and its dependencies (from the package index; pip's cache
    makes this quick where the test extra was just installed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next((tmp / "dist").glob("immunoresponse-*.whl"))
    venv.create(tmp / "venv", with_pip=True)
    bin_ = tmp / "venv" / "bin"
    subprocess.run([bin_ / "python", "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=1200)
    return bin_, wheel


def test_the_wheel_carries_the_shipped_experiments_and_scenarios(installed):
    import zipfile

    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "predictor/experiments/icb_bone_opn.toml" in names
    assert "predictor/experiments/icb_bone_opn_sample_size.toml" in names
    assert "synthetic/scenarios/icb_bone_opn.toml" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_predictor_train_runs_from_the_wheel_in_an_empty_folder(installed, tmp_path):
    bin_, _ = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
    train = subprocess.run(
        [bin_ / "predictor", "--quiet", "train", "--no-register"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    assert "run " in train.stdout and (tmp_path / "mlflow.db").exists()
    where = subprocess.run(
        [bin_ / "python", "-c", "import predictor; print(predictor.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(ROOT) not in where.stdout  # the wheel's code ran, not the checkout's
    study = subprocess.run(
        [bin_ / "predictor", "study", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert study.returncode == 0 and "icb_bone_opn_sample_size" in study.stdout

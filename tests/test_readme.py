"""The README's Python examples run as written: in an empty folder, after the README's main job
(`predictor train`, which the prediction example says to run first)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """An empty folder where the README's main job has run (a local MLflow store with the model)."""
    folder = tmp_path_factory.mktemp("readme")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", "--quiet", "train"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_readme_python_example_runs(trained_folder, monkeypatch, number):
    monkeypatch.chdir(trained_folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exec(compile(BLOCKS[number], f"README.md python example {number + 1}", "exec"), {"__name__": "readme"})

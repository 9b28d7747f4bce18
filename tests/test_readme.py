"""The README's main job and its Python examples as a newcomer meets them: the package installed
from its wheel into a fresh virtualenv (:mod:`tests.wheel_env`), which carries the shipped
experiments and scenarios and holds the declared dependencies and no extra; ``predictor train``
run from there in an empty folder (the default experiment comes from the package data, not from
the checkout), then the Python examples of the README and of the user guide's pages, as written,
in that folder (the prediction example says to run ``predictor train`` first). One wheel and
one virtualenv for all of them: building them is a quarter of a minute. The gallery's examples
run when the documentation builds (tests/e2e/test_docs.py)."""

import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.wheel_env import install_wheel

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [
    (page.relative_to(ROOT), block)
    for page in PAGES
    for block in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
]


def test_the_readme_and_the_guide_have_python_examples():
    assert len(BLOCKS) >= 3
    assert any(str(page) == "README.md" for page, _ in BLOCKS)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The fresh virtualenv's ``bin`` folder and the wheel installed there."""
    return install_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_the_shipped_experiments_and_scenarios(installed):
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "predictor/experiments/icb_bone_opn.toml" in names
    assert "predictor/experiments/icb_bone_opn_sample_size.toml" in names
    assert "synthetic/scenarios/icb_bone_opn.toml" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_the_virtualenv_holds_the_declared_dependencies_and_no_extra(installed, tmp_path):
    bin_, _ = installed
    for module, there in (("mlflow", True), ("lifelines", True), ("hypothesis", False), ("pytest", False)):
        found = subprocess.run([bin_ / "python", "-c", f"import {module}"], cwd=tmp_path, capture_output=True)
        assert (found.returncode == 0) == there, (module, found.stderr[-500:])


@pytest.fixture(scope="module")
def trained_folder(installed, tmp_path_factory):
    """An empty folder where the README's main job, ``predictor train`` from the installed wheel,
    has run (a local MLflow store with the registered model); the wheel's virtualenv, the
    environment it ran in, and what it printed."""
    bin_, _ = installed
    folder = tmp_path_factory.mktemp("readme")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [bin_ / "predictor", "--quiet", "train"], cwd=folder, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder, bin_, env, proc


def test_the_main_job_runs_from_the_wheel_in_an_empty_folder(trained_folder):
    folder, bin_, env, proc = trained_folder
    assert "run " in proc.stdout and "registered model 'icb_bone_opn' version 1" in proc.stdout
    assert (folder / "mlflow.db").exists()
    where = subprocess.run(
        [bin_ / "python", "-c", "import predictor; print(predictor.__file__)"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(ROOT) not in where.stdout  # the wheel's code ran, not the checkout's
    study = subprocess.run(
        [bin_ / "predictor", "study", "--help"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert study.returncode == 0 and "icb_bone_opn_sample_size" in study.stdout


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_readme_python_example_runs(trained_folder, monkeypatch, number):
    monkeypatch.chdir(trained_folder[0])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    page, block = BLOCKS[number]
    exec(compile(block, f"{page} python example {number + 1}", "exec"), {"__name__": "readme"})

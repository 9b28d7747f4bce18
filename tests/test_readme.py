"""The Python examples of the README and of the user guide's pages run as written: in an empty
folder, after the README's main job (`predictor train`, which the prediction example says to run
first). The gallery's examples run when the documentation builds (tests/e2e/test_docs.py)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    page, block = BLOCKS[number]
    exec(compile(block, f"{page} python example {number + 1}", "exec"), {"__name__": "readme"})

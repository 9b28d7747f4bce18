"""Hostile input at the command line: what a user or a colleague hands over is data, never code.

Each case asserts the exit code (2), one line of error, and that nothing was run or written.
Kinds covered so far: a pickled model (as a file, a folder, an MLflow model folder; with and
without ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``), for ``predict`` and ``evaluate``.
"""

import os
import pickle
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

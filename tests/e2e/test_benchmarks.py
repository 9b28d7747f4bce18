"""The benchmark scripts still run, at toy sizes: the figures they print are not checked here
(speed is measured by running them, never asserted in a test), only that every line appears."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run_script(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_bench_generate_runs():
    out = run_script("bench_generate.py", "--n", "2000", "--repeats", "1")
    assert "patients/s" in out


def test_bench_families_runs():
    out = run_script("bench_families.py", "--n", "2000", "--repeats", "1")
    assert "log-logistic AFT" in out and "delayed effect" in out and "patients/s" in out


def test_bench_train_runs():
    out = run_script("bench_train.py", "--sizes", "500", "--shap-rows", "100", "--reference-rows", "50")
    assert "rows/s" in out and "linear booster (coord_descent, 300 rounds)" in out


def test_bench_predict_runs_for_both_boosters():
    out = run_script(
        "bench_predict.py",
        "--batch",
        "3000",
        "--explain-batch",
        "300",
        "--reference-rows",
        "100",
        "--repeats",
        "3",
        "--train-n",
        "2000",
    )
    for line in (
        "trained here (gbtree)",
        "trained here (gblinear)",
        "single patient, predict",
        "batch predict",
        "models alone, 1 thread",
        "models alone, every core",
        "shap.TreeExplainer",
        "shap.LinearExplainer",
    ):
        assert line in out, line


def test_bench_predict_says_clearly_when_the_model_is_not_there(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_predict.py"), "--model", "models:/nope/1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot load model models:/nope/1" in proc.stderr


def test_bench_metrics_prints_equal_values():
    out = run_script("bench_metrics.py", "--n", "1500", "--repeats", "1")
    for metric in ("Harrell's C", "Uno's C", "td-AUC", "integrated Brier"):
        line = next(line for line in out.splitlines() if line.startswith(metric))
        assert "(equal to 1e-12)" in line, line
    assert "one bootstrap replicate" in out


def test_bench_experiment_times_the_main_job(tmp_path):
    from tests.e2e.test_train import SMALL  # a toy experiment: the script's lines, not its figures

    small = tmp_path / "small.toml"
    small.write_text(SMALL.format(name="bench", n=400).replace("n = 3000", "n = 0"))  # no validation cohort
    out = run_script("bench_experiment.py", "--experiment", str(small))
    assert "imports alone (reference)" in out and "predictor train " in out
    for stage in ("data", "search", "fit", "evaluate", "explain", "figures"):
        assert f"{stage} " in out, stage


def test_bench_study_prints_both_worker_counts_and_the_stage_shares():
    out = run_script(
        "bench_study.py",
        "--n",
        "100",
        "--replicates",
        "2",
        "--models",
        "baseline",  # a fraction of a second a cell: the lines, not the figures
        "--validation-n",
        "2000",
    )
    for line in ("1 worker(s):", "2 worker(s):", "efficiency", "share of a cell's time: "):
        assert line in out, line


def test_suite_cpu_counts_each_tests_cpu_and_prints_the_tables(tmp_path):
    folder = tmp_path / "cpu"
    folder.mkdir()
    (tmp_path / "test_toy.py").write_text(
        "import subprocess, sys\n\ndef test_a_subprocess():\n    subprocess.run([sys.executable, '-c', 'sum(range(10**7))'], check=True)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "benchmarks.suite_cpu", "-p", "no:cacheprovider", str(tmp_path / "test_toy.py")],
        capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, "SUITE_CPU_DIR": str(folder)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:]
    [line] = "".join(p.read_text() for p in folder.glob("cpu-*.tsv")).splitlines()
    nodeid, own, reaped = line.split("\t")
    assert nodeid.endswith("test_toy.py::test_a_subprocess") and float(reaped) > 0
    out = run_script("suite_cpu.py", str(folder), "--repeats", "1")
    assert "1 tests" in out and "one start-up of the package's stack" in out and "test_toy.py" in out

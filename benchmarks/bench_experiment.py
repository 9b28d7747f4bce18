"""Benchmark: the main job, ``predictor train`` of the default experiment, as a new user runs it.

Runs the command in a fresh folder with its own MLflow store (a separate process, as from the
shell) and prints its wall time, its peak memory (the process's maximum resident set), and the
seconds of each training stage as the run logged them (``time/<stage>_s``). The reference in the
same run is a process that only imports what ``predictor train`` imports: the floor no training
code can go below. Goals (issue #14, 2-core machine): at most 30 s wall, at most 0.5 GB.

    python benchmarks/bench_experiment.py [--experiment icb_bone_opn] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: What ``predictor train`` imports (shap only with ``[shap] by``, which the default experiment lacks).
IMPORTS = (
    "import predictor.cli, predictor.tracking, predictor.training.pipeline, predictor.reporting.figures, mlflow, mlflow.pyfunc, "
    "sksurv.metrics, lifelines, xgboost, matplotlib.pyplot"
)


def measured(command: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """Wall seconds, peak resident memory (GB), exit status and output of ``command``."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource use
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss * 1024 / 1e9, proc.returncode, output


def stage_seconds(store: Path, experiment: str) -> dict[str, float]:
    """The ``time/<stage>_s`` metrics of the newest run in ``store``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    exp = client.get_experiment_by_name(experiment)
    run = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)[0]
    return {k[len("time/") : -len("_s")]: v for k, v in run.data.metrics.items() if k.startswith("time/")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default=None, help="experiment name or file (default: the default experiment)")
    parser.add_argument("--rounds", type=int, default=1, help="training runs; each is printed")
    args = parser.parse_args()
    predictor = shutil.which("predictor") or str(Path(sys.executable).with_name("predictor"))

    with tempfile.TemporaryDirectory() as tmp:
        wall, peak, code, _ = measured([sys.executable, "-c", IMPORTS], Path(tmp))
        if code:
            sys.exit(f"importing the stack failed (exit {code})")
        floor = (wall, peak)
        print(f"{'run':34s} {'wall s':>7s} {'peak GB':>8s}")
        print(f"{'imports alone (reference)':34s} {wall:7.1f} {peak:8.2f}")
        for i in range(args.rounds):
            folder = Path(tmp) / f"run{i}"
            folder.mkdir()
            # The store is named, so that an MLFLOW_TRACKING_URI in the environment does not move it.
            store = f"sqlite:///{folder / 'mlflow.db'}"
            command = [predictor, "train", "--tracking-uri", store] + ([args.experiment] if args.experiment else [])
            wall, peak, code, output = measured(command, folder)
            if code:
                sys.exit(f"predictor train failed (exit {code}):\n{output[-2000:]}")
            name = next(line.split("'")[1] for line in output.splitlines() if "in experiment '" in line)
            stages = stage_seconds(folder / "mlflow.db", name)
            print(
                f"{'predictor train ' + (args.experiment or '(default)'):34s} {wall:7.1f} {peak:8.2f}   "
                f"goals: <= 30 s {'met' if wall <= 30 else 'NOT met'}, <= 0.5 GB {'met' if peak <= 0.5 else 'NOT met'}"
            )
            rest = wall - floor[0] - sum(stages.values())
            print(
                "  "
                + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
                + f"; start-up (imports) {floor[0]:.1f} s; MLflow logging and the rest {rest:.1f} s"
            )


if __name__ == "__main__":
    main()

"""The MLflow store: where it is, opening it, a run that ends KILLED on an interruption, and the
helpers every kind of run shares (flat metric names, evaluation tables, pinned requirements).
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import hashlib
import logging
import os
import socket
import subprocess
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd

from features import write_csv
from predictor.errors import TrackingError
from synthetic.generation import package_version

__all__ = [
    "quiet_logs",
    "flat_metrics",
    "log_tables",
    "open_store",
    "mlflow_run",
    "requirements",
]


def quiet_logs() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _metric_key(row) -> str:
    return f"{row.dataset}/{row.task}/{row.model}/{row.metric}"


def flat_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``<dataset>/<task>/<model>/<metric>`` (and ``/ci_low``, ``/ci_high``) -> value, for a
    metrics table of :class:`predictor.training.Evaluation`; NaN left out."""
    metrics: dict[str, float] = {}
    for row in table.itertuples():
        key = _metric_key(row)
        for suffix, value in (("", row.estimate), ("/ci_low", row.ci_low), ("/ci_high", row.ci_high)):
            if pd.notna(value):
                metrics[key + suffix] = float(value)
    return metrics


def log_tables(evaluation, tmp: Path) -> None:
    """An evaluation's metric table and decision curves (net benefit per model and threshold: no
    patient rows) as ``evaluation/*.csv`` artifacts, written through ``tmp``."""

    write_csv(evaluation.metrics, tmp / "metrics.csv", index=False)
    mlflow.log_artifact(str(tmp / "metrics.csv"), "evaluation")
    if evaluation.decision is not None:
        write_csv(evaluation.decision, tmp / "decision_curves.csv", index=False)
        mlflow.log_artifact(str(tmp / "decision_curves.csv"), "evaluation")


def open_store(uri: str, experiment: str) -> None:
    """Point MLflow at ``uri`` and its ``experiment`` (created if new), or raise TrackingError."""

    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
    except Exception as exc:
        raise TrackingError(f"cannot open the MLflow store {uri}: {exc}") from None


def run_identity(name: str, seed: int, source: Path | None) -> tuple[str, dict[str, str]]:
    """A run's name, unique (``NAME-seedS-YYYYmmdd-HHMMSS``, UTC), and the tags that say where it
    came from on a shared server: the package version, the package's git commit when it runs from
    a checkout, the host and user, and the file as a path relative to the working directory (a
    machine-local absolute path says nothing to a colleague) with its SHA-256."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    tags = {"package_version": package_version(), "host": socket.gethostname(), "user": _user()}
    commit = _git_commit()
    if commit:
        tags["git_commit"] = commit
    if source is not None:
        tags["source_file"] = _relative(Path(source))
        if Path(source).is_file():
            tags["source_sha256"] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return f"{name}-seed{seed}-{stamp}", tags


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def _git_commit() -> str:
    """The commit of the checkout the package runs from ("" when installed from a wheel)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return ""
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@contextlib.contextmanager
def mlflow_run(run_name: str):
    """An MLflow run that ends FAILED on an error (MLflow's own handling) and KILLED on an
    interruption (Ctrl-C, or SIGTERM turned into one by the CLI)."""

    with mlflow.start_run(run_name=run_name) as run:
        try:
            yield run
        except BaseException as exc:
            if not isinstance(exc, Exception):  # interrupted: the run was killed, not broken
                mlflow.end_run("KILLED")
            raise


def requirements() -> list[str]:

    names = [
        "numpy",
        "pandas",
        "scipy",
        "scikit-learn",
        "scikit-survival",
        "lifelines",
        "xgboost-cpu",
        "skops",
        "pyarrow",
    ]
    out = []
    for n in names:
        try:
            out.append(f"{n}=={version(n)}")
        except Exception:  # not installed under that name (e.g. the full xgboost wheel)
            continue
    out.append(f"mlflow=={version('mlflow')}")
    return out

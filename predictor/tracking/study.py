"""A simulation study as one MLflow parent run with a child run per grid point."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from features import write_csv
from predictor.config.store import resolve_tracking_uri
from predictor.errors import TrackingError
from predictor.reporting.tables import study_markdown
from predictor.tracking.store import mlflow_run, open_store, quiet_logs, run_identity

__all__ = ["LoggedStudy", "run_study_and_log"]


@dataclass(frozen=True)
class LoggedStudy:
    """The MLflow runs of a study: the parent run, its children (one per grid point), the result."""

    run_id: str
    experiment_id: str
    result: Any
    children: int

    def page(self, ui: str) -> str:
        """The parent run's page in the MLflow UI (classic view)."""
        return f"{ui.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.run_id}?workflowType=machine_learning"


def run_study_and_log(study, run_fn: Callable[[Any], Any], *, tracking_uri: str | None = None) -> LoggedStudy:
    """Run a study inside one MLflow parent run and log its results.

    The parent run holds the study's settings, its tables (the tidy results of every cell, the
    learning curves, the sample sizes, the power), its figures and a description with the
    sample-size table; one child run per grid point (scenario x n x model x panel) holds the
    replicates' median of every metric. Only this process (the Dask driver) writes: the cohorts
    are synthetic, and no patient row is logged.

    Raises
    ------
    TrackingError
        The store cannot be opened or written. A study error propagates and the run ends FAILED;
        an interruption ends it KILLED.
    """

    quiet_logs()
    uri = resolve_tracking_uri(tracking_uri)
    open_store(uri, study.name)
    name, identity = run_identity(study.name, study.study.seed, study.path)
    with mlflow_run(name) as run:
        mlflow.set_tags(identity)
        mlflow.set_tags({"study_file": str(study.path), "kind": "simulation study", "base_experiment": study.base.name})
        result = run_fn(study)
        try:
            mlflow.log_params(
                {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in study.params().items()}
            )
            mlflow.log_metrics(_study_metrics(result))
            mlflow.set_tag("mlflow.note.content", study_markdown(result))
            _log_study_tables(result)

            _log_study_figures(result)
            children = _log_grid_points(result)
        except Exception as exc:
            raise TrackingError(f"logging to {uri} failed: {exc}") from exc
    return LoggedStudy(run_id=run.info.run_id, experiment_id=run.info.experiment_id, result=result, children=children)


def _study_metrics(result) -> dict[str, float]:

    out = {
        "cells/computed": result.computed,
        "cells/cached": result.cached,
        "cells/failed": int((result.table.status == "failed").sum()),
        "time/wall_s": result.wall_s,
    }
    for r in result.sample_size.itertuples():
        key = f"{r.scenario}/{r.task}/{r.model}/{r.panel}"
        if np.isfinite(r.study_n):
            out[f"min_n/{key}"] = float(r.study_n)
        if np.isfinite(r.riley_n):
            out[f"riley_n/{key}"] = float(r.riley_n)
    total = sum(result.timings.values()) or 1.0
    out |= {f"time_share/{stage}": s / total for stage, s in result.timings.items()}
    return out


def _log_study_tables(result) -> None:

    with tempfile.TemporaryDirectory() as tmp:
        for name, table in {
            "results": result.table,
            "learning_curves": result.curves,
            "sample_size": result.sample_size,
            "power": result.power,
            "power_summary": result.power_summary,
        }.items():
            path = Path(tmp) / f"{name}.csv"
            write_csv(table, path, index=False)
            mlflow.log_artifact(str(path), "tables")


def _log_study_figures(result) -> None:
    """The study's figures as ``figures/*.png``: the PNGs the result drew once (and saves to files)."""

    with tempfile.TemporaryDirectory() as tmp:
        for name, png in result.figures_png.items():
            path = Path(tmp) / Path(name).name
            path.write_bytes(png)
            mlflow.log_artifact(str(path), str(Path(name).parent))


def _log_grid_points(result) -> int:
    """One child run per grid point, with the replicates' median of each metric."""

    c = result.curves
    count = 0
    for (scenario, n, model, panel), g in c.groupby(["scenario", "n", "model", "panel"], sort=True):
        with mlflow.start_run(run_name=f"{scenario}-n{n}-{model}-{panel}", nested=True):
            mlflow.log_params(
                {
                    "scenario": scenario,
                    "n": int(n),
                    "model": model,
                    "panel": panel,
                    "replicates": int(g.replicates.max()),
                }
            )
            metrics = {f"{r.task}/{r.metric}": float(r.median) for r in g.itertuples() if pd.notna(r.median)}
            metrics |= {
                f"{r.task}/gap/{r.metric}": float(r.gap_median) for r in g.itertuples() if pd.notna(r.gap_median)
            }
            mlflow.log_metrics(metrics)
        count += 1
    return count

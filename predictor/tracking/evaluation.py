"""External validation as an MLflow run of its own, linked to the model version it scores."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from predictor.config.store import resolve_tracking_uri
from predictor.reporting.figures import evaluation_figures
from predictor.reporting.tables import summary_markdown
from predictor.tracking.registry import model_identity
from predictor.tracking.store import flat_metrics, log_tables, mlflow_run, open_store, quiet_logs
from predictor.tracking.training import LoggedRun
from predictor.training.data import Part

__all__ = ["LoggedEvaluation", "log_evaluation"]


@dataclass(frozen=True)
class LoggedEvaluation:
    """The MLflow run of an external validation (:func:`log_evaluation`)."""

    run_id: str
    experiment_id: str
    experiment_name: str
    metrics: Mapping[str, float]

    page = LoggedRun.page


def log_evaluation(
    model,
    evaluation,
    cohort: pd.DataFrame,
    *,
    name: str,
    model_uri: str,
    data: str,
    digest: str,
    tracking_uri: str | None = None,
    experiment: str | None = None,
) -> LoggedEvaluation:
    """Log an external validation (:meth:`predictor.api.Predictor.evaluate`) as its own MLflow run.

    Tags link it to the model (``model_uri``, ``model_name``, ``model_version``, and the training
    run's id) and name the cohort by its file and SHA-256 digest; metrics are
    ``<name>/<task>/<model>/<metric>`` with ``/ci_low`` and ``/ci_high``; artifacts are the
    metric and decision-curve tables and the figures drawn from ``cohort`` (the evaluated
    patients); the description is the summary. No patient rows. The run ends FAILED on an error
    and KILLED on an interruption.
    """

    quiet_logs()
    uri = resolve_tracking_uri(tracking_uri)
    n = len(cohort)
    model_name, version = model_identity(model_uri)
    experiment = experiment or f"{model_name or model.bundle.metadata.get('experiment', 'model')}-validation"
    open_store(uri, experiment)
    with mlflow_run(f"{name}-{Path(data).stem}") as run:
        tags = {
            "model_uri": model_uri,
            "validation_data": data,
            "validation_data_sha256": digest,
            "validation_n": str(n),
            "cohort": "user",
            "package_version": model.bundle.package_version,
        }
        if model_name:
            tags.update(model_name=model_name, model_version=str(version))
        mlflow.set_tags(tags)
        metrics = flat_metrics(evaluation.metrics)
        mlflow.log_metrics(metrics)
        notes = [
            f"model: `{model_uri}`" + (f" ({model_name} version {version})" if model_name else ""),
            f"cohort: `{data}` ({n} patients, sha256 {digest})",
            "a trained model carries no baseline; the survival metrics use the training data's censoring distribution",
        ]
        mlflow.set_tag(
            "mlflow.note.content",
            summary_markdown(evaluation.metrics, title=f"external validation: {name}", notes=notes),
        )
        with tempfile.TemporaryDirectory() as tmp:
            log_tables(evaluation, Path(tmp))

        for path, fig in evaluation_figures(evaluation, Part(name, cohort), model.bundle.tasks).items():
            mlflow.log_figure(fig, path)
    return LoggedEvaluation(
        run_id=run.info.run_id, experiment_id=run.info.experiment_id, experiment_name=experiment, metrics=metrics
    )

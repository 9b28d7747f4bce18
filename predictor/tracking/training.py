"""MLflow: the only module of :mod:`predictor` that talks to it.

One MLflow experiment per experiment file; one run per training. A run holds the experiment's
settings and the search's choices (parameters), every metric with its bootstrap CI, the
training dataset (digest and schema, never a user's rows), figures, SHAP tables, the cohort's
calibration against the published targets, and the model: a pyfunc that wraps the feature
pipeline and both XGBoost models and returns response probability, risk score, predicted median
PFS and PFS probabilities (not class labels). A successful run's model is registered under the
experiment's model name; the alias ``champion`` points at the version with the best headline
metric on the validation cohort. A run that fails is marked FAILED and registers nothing.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import mlflow
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from features import write_csv
from predictor.config.store import resolve_tracking_uri
from predictor.errors import TrackingError
from predictor.reporting.model_report import model_report_html
from predictor.reporting.tables import run_description
from predictor.tracking.model import plain_frame
from predictor.tracking.registry import register_model
from predictor.tracking.store import (
    flat_metrics,
    log_tables,
    mlflow_run,
    open_store,
    quiet_logs,
    requirements,
    run_identity,
)

__all__ = ["LoggedRun", "run_and_log"]


def _log_result(result: Any, client_log_rows: bool) -> tuple[dict[str, float], str]:
    """Everything of a training run, in the open MLflow run; returns the logged metrics and the
    logged model's URI.

    The order is MLflow's: the logged model copies the run's parameters when it is created, so
    they come first; the metrics come after it, logged once with the model's id (the run and
    the model both show them). Logged before the model, MLflow would copy each metric to the
    model with a query per metric (seconds for the few hundred metrics of a run)."""
    _log_params(result)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        _log_artifacts(result, tmp, client_log_rows)
        model = _log_model(result, tmp, client_log_rows)
    metrics = _log_metrics(result, model.model_id)
    return metrics, str(model.model_uri)


def _log_params(result: Any) -> None:
    """The resolved configuration and the search's choices."""
    exp = result.experiment
    mlflow.log_params(
        {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in exp.params().items()}
    )
    for task, params in result.best_params.items():
        mlflow.log_params({f"best.{task}.{k}": v for k, v in params.items()})


def _log_metrics(result: Any, model_id: str) -> dict[str, float]:
    """Every metric with its CI, each gap to the oracle, the stages' timings and the nested CV,
    linked to the logged model ``model_id``; and the run's description."""
    metrics = flat_metrics(result.metrics)
    heads = {name: f.task.headline for name, f in result.fitted.items()}
    for (dataset, task), m in result.metrics.groupby(["dataset", "task"], sort=False):
        est = m[m.metric == heads[task]].set_index("model")["estimate"]
        if {"xgboost", "oracle"} <= set(est.index):
            metrics[f"{dataset}/{task}/gap_to_oracle/{heads[task]}"] = float(est["oracle"] - est["xgboost"])
    metrics.update({f"time/{stage}_s": seconds for stage, seconds in result.timings.items()})
    if result.nested is not None:
        metrics.update(_nested_metrics(result.nested))
    mlflow.log_metrics(metrics, model_id=model_id)
    mlflow.set_tag("mlflow.note.content", run_description(result))
    return metrics


def _log_artifacts(result: Any, tmp: Path, client_log_rows: bool) -> None:
    """Tables (metrics, decision curves, nested CV, the cohort's calibration, SHAP importance;
    per-patient SHAP values only with ``client_log_rows``), the model report and the figures."""
    log_tables(result.evaluation, tmp)
    if result.nested is not None:  # one score per outer fold: no patient rows
        write_csv(result.nested.folds, tmp / "nested_cv.csv", index=False)
        mlflow.log_artifact(str(tmp / "nested_cv.csv"), "evaluation")
    if result.calibration is not None:
        write_csv(result.calibration, tmp / "cohort_calibration.csv", index=False)
        mlflow.log_artifact(str(tmp / "cohort_calibration.csv"), "cohort")
    for task, s in result.explanations.items():
        write_csv(s.importance.rename("mean_abs_shap").to_frame(), tmp / f"{task}_importance.csv")
        mlflow.log_artifact(str(tmp / f"{task}_importance.csv"), "shap")
        if s.importance_by is not None:  # aggregates per group: no patient rows
            by_name = f"{task}_importance_by_{s.by}.csv"
            write_csv(s.importance_by, tmp / by_name, index_label="column")
            mlflow.log_artifact(str(tmp / by_name), "shap")
        if client_log_rows:  # per-patient values: synthetic cohorts only, unless the user asks
            write_csv(s.values.assign(base_value=s.base_value), tmp / f"{task}_values.csv", index=False)
            mlflow.log_artifact(str(tmp / f"{task}_values.csv"), "shap")

    (tmp / "model_report.html").write_text(model_report_html(result), encoding="utf-8")
    mlflow.log_artifact(str(tmp / "model_report.html"), "report")

    for name, fig in result.figures.items():
        mlflow.log_figure(fig, name)


def _log_model(result: Any, tmp: Path, client_log_rows: bool) -> ModelInfo:
    """The training dataset (digest and schema) and the pyfunc model wrapping the bundle; returns
    what MLflow says of the logged model (its URI and id). An input example (patient rows) only
    with ``client_log_rows``."""
    exp = result.experiment
    train_df = result.data.train.frame
    inputs = result.bundle.input_columns
    info = result.data.info
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MLflow's hint about integer columns
        dataset = from_pandas(
            train_df, name=f"{info.get('scenario', exp.name)}-n{info.get('n')}-seed{info.get('seed')}-train"
        )
    mlflow.log_input(dataset, context="training")

    bundle_path = result.bundle.save(tmp / "bundle")
    sig_input = plain_frame(train_df[inputs].head(50))
    example = sig_input.head(5) if client_log_rows else None
    signature = infer_signature(sig_input, result.bundle.predict(sig_input))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
        model_info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("_pyfunc_code.py")),  # models from code: no pickle
            artifacts={"bundle": str(bundle_path)},
            signature=signature,
            input_example=example,
            code_paths=_package_folders(),
            pip_requirements=requirements(),
        )
    return model_info


def _nested_metrics(nested) -> dict[str, float]:
    """``nested/<task>/<model>/<metric>`` (mean over outer folds) and ``..._sd``, and
    ``nested/<task>/xgboost/cv_optimism``."""
    out = {}
    for r in nested.summary().itertuples():
        for model in ("xgboost", "baseline"):
            out[f"nested/{r.task}/{model}/{r.metric}"] = float(getattr(r, model))
            out[f"nested/{r.task}/{model}/{r.metric}_sd"] = float(getattr(r, f"{model}_sd"))
        out[f"nested/{r.task}/xgboost/cv_optimism"] = float(r.optimism)
    return out


@dataclass(frozen=True)
class LoggedRun:
    """What :func:`run_and_log` produced: the MLflow run, the training result, the logged metrics,
    and the registered model version (None when not registered)."""

    run_id: str
    experiment_id: str
    result: Any
    metrics: Mapping[str, float]
    version: str | None = None

    def page(self, ui: str) -> str:
        """The run's page in the MLflow UI served at ``ui``, in the classic (machine-learning) view:
        MLflow 3 opens an experiment on its GenAI page unless the address asks for this one."""
        return f"{ui.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{self.run_id}?workflowType=machine_learning"


def run_and_log(
    experiment,
    train_fn: Callable[[Any], Any],
    *,
    tracking_uri: str | None = None,
    register: bool | None = None,
    log_patient_rows: bool | None = None,
) -> LoggedRun:
    """Train inside an MLflow run and log everything; register the model if all went well.

    The run's description (``mlflow.note.content``, shown on its page) is the summary table in
    markdown (:func:`predictor.reporting.tables.summary_markdown`).

    Raises
    ------
    TrackingError
        The store cannot be opened or written. A training error propagates unchanged and the run
        is marked FAILED; an interruption (Ctrl-C, or SIGTERM turned into one by the CLI) marks it
        KILLED. In every such case nothing is registered.
    """

    quiet_logs()
    uri = resolve_tracking_uri(tracking_uri)
    open_store(uri, experiment.name)
    name, identity = run_identity(experiment.name, experiment.cohort.seed, experiment.path)
    with mlflow_run(name) as run:
        mlflow.set_tags({**identity, "description": experiment.experiment.description})
        result = train_fn(experiment)
        rows = result.synthetic if log_patient_rows is None else log_patient_rows
        mlflow.set_tags(
            {"cohort": "synthetic" if result.synthetic else "user", "package_version": result.bundle.package_version}
        )
        try:
            with warnings.catch_warnings():
                # Our signature declares integers as doubles already; MLflow's dataset profile still hints.
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                metrics, model_uri = _log_result(result, client_log_rows=rows)
        except Exception as exc:
            raise TrackingError(f"logging to {uri} failed: {exc}") from exc
    version = None
    if experiment.registry.register if register is None else register:
        version = register_model(model_uri, experiment.model_name, metrics)
    return LoggedRun(
        run_id=run.info.run_id, experiment_id=run.info.experiment_id, result=result, metrics=metrics, version=version
    )


def _package_folders() -> list[str]:
    """The folders of the three packages, wherever they are installed (a checkout or a wheel):
    the logged model carries its own code."""
    return [str(Path(str(files(pkg)))) for pkg in ("features", "predictor", "synthetic")]

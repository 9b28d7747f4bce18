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

import contextlib
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from predictor.errors import PredictorError, TrackingError
from predictor.reporting.figures import evaluation_figures
from predictor.reporting.model_report import model_report_html
from predictor.reporting.study_figures import study_figures
from predictor.reporting.tables import nested_markdown, study_markdown, summary_markdown
from predictor.training.data import Part

__all__ = [
    "DEFAULT_TRACKING_URI",
    "resolve_tracking_uri",
    "run_and_log",
    "LoggedRun",
    "run_study_and_log",
    "LoggedStudy",
    "log_evaluation",
    "LoggedEvaluation",
    "PredictorModel",
    "CHAMPION_ALIAS",
    "load_bundle",
    "load_bundle_from_uri",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CHAMPION_ALIAS = "champion"
#: Metrics that decide the champion, in order of preference (higher is better for each).
HEADLINE = (
    "validation/survival/xgboost/harrell_c",
    "validation/response/xgboost/auc",
    "test/survival/xgboost/harrell_c",
    "test/response/xgboost/auc",
)


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The flag, else ``MLFLOW_TRACKING_URI``, else the local store ``sqlite:///mlflow.db``."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _quiet() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
        logging.getLogger(name).setLevel(logging.WARNING)


try:
    import mlflow.pyfunc as _pyfunc

    _PythonModel = _pyfunc.PythonModel
except ImportError:  # pragma: no cover
    _PythonModel = object


class PredictorModel(_PythonModel):
    """The logged pyfunc: raw cohort columns in; response probability, risk score (higher =
    worse), predicted median PFS and PFS probabilities out."""

    def load_context(self, context) -> None:
        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.bundle.predict(model_input)


def load_bundle(path: str | Path):
    """Read a model bundle written at training time."""

    return joblib.load(path)


def load_bundle_from_uri(uri: str, tracking_uri: str | None = None):
    """Download an MLflow model (``models:/...``, ``runs:/...``) and read its bundle."""
    import mlflow

    _quiet()
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except Exception as exc:
        raise PredictorError(
            f"cannot load model {uri}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    found = sorted(Path(local).rglob("bundle.joblib"))
    if not found:
        raise PredictorError(f"{uri} is not a model logged by this package (no bundle.joblib)")
    if len(found) > 1:
        raise PredictorError(
            f"{uri} holds {len(found)} models, not one: point at one model "
            "(models:/NAME/VERSION, runs:/RUN_ID/model, or the folder that holds its MLmodel)"
        )
    return load_bundle(found[0])


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Model input as MLflow's schema types take it: categories as strings, integers as doubles
    (so that a missing value or a float from a CSV still passes schema enforcement)."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).astype(str)
        elif pd.api.types.is_integer_dtype(out[c].dtype):
            out[c] = out[c].astype("float64")
    return out


def _metric_key(row) -> str:
    return f"{row.dataset}/{row.task}/{row.model}/{row.metric}"


def _flat_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``<dataset>/<task>/<model>/<metric>`` (and ``/ci_low``, ``/ci_high``) -> value, for a
    metrics table of :class:`predictor.training.Evaluation`; NaN left out."""
    metrics: dict[str, float] = {}
    for row in table.itertuples():
        key = _metric_key(row)
        for suffix, value in (("", row.estimate), ("/ci_low", row.ci_low), ("/ci_high", row.ci_high)):
            if pd.notna(value):
                metrics[key + suffix] = float(value)
    return metrics


def _log_tables(evaluation, tmp: Path) -> None:
    """An evaluation's metric table and decision curves (net benefit per model and threshold: no
    patient rows) as ``evaluation/*.csv`` artifacts, written through ``tmp``."""
    import mlflow

    evaluation.metrics.to_csv(tmp / "metrics.csv", index=False)
    mlflow.log_artifact(str(tmp / "metrics.csv"), "evaluation")
    if evaluation.decision is not None:
        evaluation.decision.to_csv(tmp / "decision_curves.csv", index=False)
        mlflow.log_artifact(str(tmp / "decision_curves.csv"), "evaluation")


def _open_store(uri: str, experiment: str) -> None:
    """Point MLflow at ``uri`` and its ``experiment`` (created if new), or raise TrackingError."""
    import mlflow

    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
    except Exception as exc:
        raise TrackingError(f"cannot open the MLflow store {uri}: {exc}") from None


@contextlib.contextmanager
def _run(run_name: str):
    """An MLflow run that ends FAILED on an error (MLflow's own handling) and KILLED on an
    interruption (Ctrl-C, or SIGTERM turned into one by the CLI)."""
    import mlflow

    with mlflow.start_run(run_name=run_name) as run:
        try:
            yield run
        except BaseException as exc:
            if not isinstance(exc, Exception):  # interrupted: the run was killed, not broken
                mlflow.end_run("KILLED")
            raise


def _log_result(result, client_log_rows: bool) -> dict[str, float]:
    import mlflow
    from mlflow.models import infer_signature

    exp = result.experiment
    mlflow.log_params(
        {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in exp.params().items()}
    )
    for task, params in result.best_params.items():
        mlflow.log_params({f"best.{task}.{k}": v for k, v in params.items()})
    metrics = _flat_metrics(result.metrics)
    heads = {name: f.task.headline for name, f in result.fitted.items()}
    for (dataset, task), m in result.metrics.groupby(["dataset", "task"], sort=False):
        est = m[m.metric == heads[task]].set_index("model")["estimate"]
        if {"xgboost", "oracle"} <= set(est.index):
            metrics[f"{dataset}/{task}/gap_to_oracle/{heads[task]}"] = float(est["oracle"] - est["xgboost"])
    metrics.update({f"time/{stage}_s": seconds for stage, seconds in result.timings.items()})
    if result.nested is not None:
        metrics.update(_nested_metrics(result.nested))
    mlflow.log_metrics(metrics)
    mlflow.set_tag("mlflow.note.content", _description(result))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _log_tables(result.evaluation, tmp)
        if result.nested is not None:  # one score per outer fold: no patient rows
            result.nested.folds.to_csv(tmp / "nested_cv.csv", index=False)
            mlflow.log_artifact(str(tmp / "nested_cv.csv"), "evaluation")
        if result.calibration is not None:
            result.calibration.to_csv(tmp / "cohort_calibration.csv", index=False)
            mlflow.log_artifact(str(tmp / "cohort_calibration.csv"), "cohort")
        for task, s in result.explanations.items():
            s.importance.rename("mean_abs_shap").to_csv(tmp / f"{task}_importance.csv")
            mlflow.log_artifact(str(tmp / f"{task}_importance.csv"), "shap")
            if s.importance_by is not None:  # aggregates per group: no patient rows
                by_name = f"{task}_importance_by_{s.by}.csv"
                s.importance_by.to_csv(tmp / by_name, index_label="column")
                mlflow.log_artifact(str(tmp / by_name), "shap")
            if client_log_rows:  # per-patient values: synthetic cohorts only, unless the user asks
                s.values.assign(base_value=s.base_value).to_csv(tmp / f"{task}_values.csv", index=False)
                mlflow.log_artifact(str(tmp / f"{task}_values.csv"), "shap")

        (tmp / "model_report.html").write_text(model_report_html(result), encoding="utf-8")
        mlflow.log_artifact(str(tmp / "model_report.html"), "report")

        for name, fig in result.figures.items():
            mlflow.log_figure(fig, name)

        train_df = result.data.train.frame
        inputs = result.bundle.input_columns
        info = result.data.info
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # MLflow's hint about integer columns
            dataset = mlflow.data.from_pandas(
                train_df, name=f"{info.get('scenario', exp.name)}-n{info.get('n')}-seed{info.get('seed')}-train"
            )
        mlflow.log_input(dataset, context="training")

        bundle_path = tmp / "bundle.joblib"
        joblib.dump(result.bundle, bundle_path)
        sig_input = _plain(train_df[inputs].head(50))
        example = sig_input.head(5) if client_log_rows else None
        signature = infer_signature(sig_input, result.bundle.predict(sig_input))
        root = Path(__file__).resolve().parents[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)  # the CloudPickle notice
            model_info = mlflow.pyfunc.log_model(
                name="model",
                python_model=PredictorModel(),
                artifacts={"bundle": str(bundle_path)},
                signature=signature,
                input_example=example,
                code_paths=[str(root / pkg) for pkg in ("features", "predictor", "synthetic")],
                pip_requirements=_requirements(),
            )
    return metrics, model_info.model_uri


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


def _description(result) -> str:
    """The run's description: the summary tables, the search's choice, where to look next."""

    exp = result.experiment
    notes = []
    for task, params in result.best_params.items():
        cv = ", ".join(f"{k[3:]} {v:.3f}" for k, v in params.items() if k.startswith("cv_"))
        notes.append(f"search chose for **{task}**: `{params['booster']}` (CV {cv})")
    for task, s in result.explanations.items():
        top = ", ".join(f"{k} {v:.3f}" for k, v in s.importance.head(5).items())
        notes.append(f"SHAP, {task} (mean |SHAP|, {s.scale}): {top}")
    cohort = result.data.info
    source = (
        f"scenario `{cohort['scenario']}`, seed {cohort.get('seed')}"
        if "scenario" in cohort
        else f"file `{cohort.get('source')}`"
    )
    notes.append(
        f"cohort: {source}, {cohort.get('n')} patients "
        f"({cohort.get('n_train')} to train, {cohort.get('n_test')} to test)"
    )
    notes.append("figures: `shap/` and `evaluation/` under Artifacts; every metric with its CI under Model metrics")
    text = summary_markdown(result.metrics, title=f"{exp.name}: {exp.experiment.description}".rstrip(": "), notes=notes)
    if result.nested is not None:
        text += (
            "\n**Nested cross-validation beside the single test split**\n\n"
            + nested_markdown(result.nested, result.metrics)
            + "\n"
        )
    return text


def _requirements() -> list[str]:

    names = [
        "numpy",
        "pandas",
        "scipy",
        "scikit-learn",
        "scikit-survival",
        "lifelines",
        "xgboost-cpu",
        "joblib",
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
    import mlflow

    _quiet()
    uri = resolve_tracking_uri(tracking_uri)
    _open_store(uri, experiment.name)
    with _run(f"{experiment.name}-seed{experiment.cohort.seed}") as run:
        mlflow.set_tags({"experiment_file": str(experiment.path), "description": experiment.experiment.description})
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
        version = _register(model_uri, experiment.model_name, metrics)
    return LoggedRun(
        run_id=run.info.run_id, experiment_id=run.info.experiment_id, result=result, metrics=metrics, version=version
    )


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
    import mlflow

    _quiet()
    uri = resolve_tracking_uri(tracking_uri)
    n = len(cohort)
    model_name, version = _model_identity(model_uri)
    experiment = experiment or f"{model_name or model.bundle.metadata.get('experiment', 'model')}-validation"
    _open_store(uri, experiment)
    with _run(f"{name}-{Path(data).stem}") as run:
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
        metrics = _flat_metrics(evaluation.metrics)
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
            _log_tables(evaluation, Path(tmp))

        for path, fig in evaluation_figures(evaluation, Part(name, cohort), model.bundle.tasks).items():
            mlflow.log_figure(fig, path)
    return LoggedEvaluation(
        run_id=run.info.run_id, experiment_id=run.info.experiment_id, experiment_name=experiment, metrics=metrics
    )


def _model_identity(model_uri: str) -> tuple[str | None, str | None]:
    """(registered name, version) of a ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI."""
    if not model_uri.startswith("models:/"):
        return None, None
    rest = model_uri[len("models:/") :]
    if "@" in rest:
        from mlflow import MlflowClient

        name, alias = rest.split("@", 1)
        try:
            return name, MlflowClient().get_model_version_by_alias(name, alias).version
        except Exception:
            return name, alias
    name, _, version = rest.partition("/")
    return name, version or None


def _register(model_uri: str, name: str, metrics: dict[str, float]) -> str:
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        mv = mlflow.register_model(model_uri, name)  # prints "Successfully registered ..." itself
    key = next((k for k in HEADLINE if k in metrics), None)
    if key is None:
        return mv.version
    client.set_model_version_tag(name, mv.version, "headline_metric", key)
    client.set_model_version_tag(name, mv.version, "headline_value", str(metrics[key]))
    try:
        champ = client.get_model_version_by_alias(name, CHAMPION_ALIAS)
        champ_value = float(champ.tags.get("headline_value", "-inf"))
    except Exception:  # no champion yet
        champ_value = float("-inf")
    if metrics[key] >= champ_value:
        client.set_registered_model_alias(name, CHAMPION_ALIAS, mv.version)
    return mv.version


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
    import mlflow

    _quiet()
    uri = resolve_tracking_uri(tracking_uri)
    _open_store(uri, study.name)
    with _run(f"{study.name}-seed{study.study.seed}") as run:
        mlflow.set_tags({"study_file": str(study.path), "kind": "simulation study", "base_experiment": study.base.name})
        result = run_fn(study)
        try:
            mlflow.log_params(
                {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) else v) for k, v in study.params().items()}
            )
            mlflow.log_metrics(_study_metrics(result))
            mlflow.set_tag("mlflow.note.content", study_markdown(result))
            _log_study_tables(result)

            for name, fig in study_figures(result).items():
                mlflow.log_figure(fig, name)
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
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        for name, table in {
            "results": result.table,
            "learning_curves": result.curves,
            "sample_size": result.sample_size,
            "power": result.power,
            "power_summary": result.power_summary,
        }.items():
            path = Path(tmp) / f"{name}.csv"
            table.to_csv(path, index=False)
            mlflow.log_artifact(str(path), "tables")


def _log_grid_points(result) -> int:
    """One child run per grid point, with the replicates' median of each metric."""
    import mlflow

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

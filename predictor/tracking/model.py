"""The logged model: the pyfunc that wraps a trained bundle, and reading a bundle back from a
folder or an MLflow URI (``models:/...``, ``runs:/...``).

A model is a folder of data files (:meth:`predictor.training.bundle.ModelBundle.save`); reading
one never unpickles. A ``bundle.joblib`` that versions up to 0.3 logged is refused with a message
that says how to convert it where its origin is trusted.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from predictor.config.store import resolve_tracking_uri
from predictor.errors import PredictorError
from predictor.tracking.store import quiet_logs
from predictor.training._model_files import LEGACY_PICKLE, MANIFEST
from predictor.training.bundle import ModelBundle

__all__ = ["PredictorModel", "find_bundle", "load_bundle", "load_bundle_from_uri", "plain_frame", "refuse_pickle"]


class PredictorModel(PythonModel):
    """The logged pyfunc: raw cohort columns in; response probability, risk score (higher =
    worse), predicted median PFS and PFS probabilities out."""

    def load_context(self, context) -> None:
        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.bundle.predict(model_input)


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a model folder written at training time (:meth:`ModelBundle.save`)."""

    return ModelBundle.load(path)


def refuse_pickle(where: str, path: Path) -> PredictorError:
    """The error for a pickled model of an earlier version: loading it could run any code it holds."""
    return PredictorError(
        f"{where} holds a pickled model ({path.name}, saved by immunoresponse 0.3 or earlier), and loading a "
        "pickle can run any code inside it, so this version never does. Retrain it, or, only if you trust "
        f'where the file came from, convert it once to the data-only format: python -c "import joblib, '
        f"predictor; predictor.Predictor(joblib.load('{path}')).save('model')\""
    )


def _one_model(found: list[Path], where: str) -> Path:
    """The one model folder under ``where`` (MLflow's download, or a local folder)."""
    if len(found) > 1:
        raise PredictorError(
            f"{where} holds {len(found)} models, not one: point at one model "
            "(models:/NAME/VERSION, runs:/RUN_ID/model, or the folder that holds its MLmodel)"
        )
    return found[0]


def find_bundle(folder: Path, where: str) -> Path:
    """The model folder inside ``folder`` (itself, or below it, as MLflow lays out artifacts).

    Raises
    ------
    PredictorError
        No model there, several, or only a pickled one from an earlier version.
    """
    found = sorted(p.parent for p in folder.rglob(MANIFEST))
    if found:
        return _one_model(found, where)
    legacy = sorted(folder.rglob(LEGACY_PICKLE))
    if legacy:
        raise refuse_pickle(where, _one_model(legacy, where))
    raise PredictorError(f"{where} is not a model saved by this package (no {MANIFEST})")


def load_bundle_from_uri(uri: str, tracking_uri: str | None = None):
    """Download an MLflow model (``models:/...``, ``runs:/...``) and read its bundle."""

    quiet_logs()
    mlflow.set_tracking_uri(resolve_tracking_uri(tracking_uri))
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except Exception as exc:
        raise PredictorError(
            f"cannot load model {uri}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    return load_bundle(find_bundle(Path(local), uri))


def plain_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Model input as MLflow's schema types take it: categories as strings, integers as doubles
    (so that a missing value or a float from a CSV still passes schema enforcement)."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).astype(str)
        elif pd.api.types.is_integer_dtype(out[c].dtype):
            out[c] = out[c].astype("float64")
    return out

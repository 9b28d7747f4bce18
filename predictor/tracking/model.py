"""The logged model: the pyfunc that wraps a trained bundle, and reading a bundle back from a
folder or an MLflow URI (``models:/...``, ``runs:/...``).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from predictor.config.store import resolve_tracking_uri
from predictor.errors import PredictorError
from predictor.tracking.store import quiet_logs

__all__ = ["PredictorModel", "load_bundle", "load_bundle_from_uri", "plain_frame"]


class PredictorModel(PythonModel):
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

    quiet_logs()
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

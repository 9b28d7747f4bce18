"""The Python prediction API: ``predictor.load(uri)`` and the :class:`Predictor` it returns."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .bundle import ModelBundle
from .errors import PredictorError

__all__ = ["Predictor", "load", "ExtraColumnsWarning"]


class ExtraColumnsWarning(UserWarning):
    """Input columns the model does not use were ignored."""


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


class Predictor:
    """A trained model ready to predict: raw cohort columns in, named predictions out.

    Parameters
    ----------
    bundle : ModelBundle
        The feature pipeline and models saved at training time.
    source : str
        Where it was loaded from (for messages).
    """

    def __init__(self, bundle: ModelBundle, source: str = ""):
        self.bundle = bundle
        self.source = source

    @property
    def input_columns(self) -> list[str]:
        """The columns a prediction needs (extra columns are ignored with a warning)."""
        return self.bundle.input_columns

    @property
    def horizons(self) -> tuple[float, ...]:
        """The horizons of the ``pfs_prob_*`` columns."""
        return tuple(self.bundle.horizons)

    def _inputs(self, df: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise PredictorError(f"predict takes a pandas DataFrame of patients, got {type(df).__name__}")
        if len(df) == 0:
            raise PredictorError("the input has no rows")
        extra = [c for c in df.columns if c not in self.input_columns]
        if extra:
            warnings.warn(f"ignoring column(s) the model does not use: {', '.join(map(str, extra))}",
                          ExtraColumnsWarning, stacklevel=3)
        return df

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predictions indexed like ``df``.

        Columns: ``response_probability``; ``risk_score`` (higher = worse); ``median_pfs_months``
        (inf where the predicted curve stays above 0.5); ``pfs_prob_Xm`` at each horizon.

        Raises
        ------
        SchemaValidationError
            Missing columns, wrong types, out-of-range values, unknown categories or missing
            values where the schema forbids them; the message names the columns and rows.
        """
        return self.bundle.predict(self._inputs(df))

    def predict_survival_function(self, df: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
        """Probability of being progression-free at each of ``times``: rows like ``df``, one column per time."""
        if self.bundle.survival is None:
            raise PredictorError("this model has no survival part")
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
            raise PredictorError("times must be a 1-D sequence of finite, non-negative numbers")
        X = self.bundle.transform(self._inputs(df))
        return pd.DataFrame(self.bundle.survival.predict_survival_function(X, times), index=df.index, columns=times)

    def explain(self, df: pd.DataFrame, task: str | None = None) -> pd.DataFrame:
        """Per-patient SHAP contributions, one column per input column (the user's own names).

        One-hot levels and cutoff flags are summed into the column they come from. Values are on
        the model's margin scale (log-odds of response; log hazard ratio for PFS); with the
        ``base_value`` column they add up to the model output of each patient.

        Parameters
        ----------
        task : {"survival", "response"}, optional
            Default: survival when the model has it, else response.
        """
        task = task or ("survival" if self.bundle.survival is not None else "response")
        model = {"survival": self.bundle.survival, "response": self.bundle.response}.get(task)
        if model is None:
            raise PredictorError(f"this model has no {task} part")
        X = self.bundle.transform(self._inputs(df))
        values, base = model.shap_values(X)
        out = self.bundle.features.sum_by_source(pd.DataFrame(values, index=df.index, columns=X.columns))
        out["base_value"] = base
        return out


def load(uri: str | Path) -> Predictor:
    """Load a trained model.

    Parameters
    ----------
    uri : str or Path
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (the registry), ``runs:/RUN_ID/model``,
        a local MLflow model folder, or a ``bundle.joblib`` file. MLflow URIs use
        ``MLFLOW_TRACKING_URI`` (default ``sqlite:///mlflow.db``).

    Raises
    ------
    PredictorError
        Nothing at that URI, or a model trained by an incompatible version of this package.
    """
    from synthetic.generation import package_version

    from .tracking import load_bundle, load_bundle_from_uri

    text = str(uri)
    path = Path(text)
    if path.suffix == ".joblib" and path.is_file():
        bundle = load_bundle(path)
    elif path.is_dir() and (path / "MLmodel").is_file():
        bundle = load_bundle(next(path.rglob("bundle.joblib")))
    else:
        bundle = load_bundle_from_uri(text)
    if not isinstance(bundle, ModelBundle):
        raise PredictorError(f"{text} is not a model trained by this package")
    here = package_version()
    if bundle.package_version and here != "unknown" and _major_minor(bundle.package_version) != _major_minor(here):
        raise PredictorError(f"{text} was trained with immunoresponse {bundle.package_version}; this is {here}: "
                             "retrain it, or install the version it was trained with")
    return Predictor(bundle, source=text)

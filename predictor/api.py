"""The Python prediction API: ``predictor.load(uri)`` and the :class:`Predictor` it returns."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from predictor.config.experiment import EvaluationSection
from predictor.errors import PredictorError
from predictor.tracking import load_bundle, load_bundle_from_uri
from predictor.tracking.model import find_bundle, refuse_pickle
from predictor.training.bundle import ModelBundle
from predictor.training.data import Part
from predictor.training.evaluation import evaluate_model
from synthetic.generation import package_version

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

    def save(self, folder: str | Path) -> Path:
        """Write the model as a folder of data files that :func:`load` reads back.

        The folder is created and must not hold a model already. Nothing in it is a pickle:
        XGBoost's own UBJSON for the boosters, skops' format for the feature pipeline, tasks and
        references, and a manifest with the package version and every file's SHA-256.

        Parameters
        ----------
        folder : str or Path
            Where to write it.

        Returns
        -------
        Path
            The folder.

        Examples
        --------
        >>> model = predictor.load("models:/icb_bone_opn@champion")  # doctest: +SKIP
        >>> model.save("icb_model")                                   # doctest: +SKIP
        >>> predictor.load("icb_model").predict(patients)              # doctest: +SKIP
        """
        return self.bundle.save(folder)

    @property
    def input_columns(self) -> list[str]:
        """The columns a prediction needs (extra columns are ignored with a warning)."""
        return self.bundle.input_columns

    @property
    def tasks(self) -> list[str]:
        """The model's tasks (``response``, ``survival``, ...), in prediction-column order."""
        return [t.name for t in self.bundle.tasks]

    @property
    def output_columns(self) -> list[str]:
        """The columns :meth:`predict` returns."""
        return self.bundle.output_columns

    @property
    def horizons(self) -> tuple[float, ...]:
        """The horizons of the time outcome's probability columns (in its unit), or ()."""
        task = self.bundle.survival_task
        return task.horizons if task is not None else ()

    def _inputs(self, df: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise PredictorError(f"predict takes a pandas DataFrame of patients, got {type(df).__name__}")
        if len(df) == 0:
            raise PredictorError("the input has no rows")
        extra = [c for c in df.columns if c not in self.input_columns]
        if extra:
            warnings.warn(
                f"ignoring column(s) the model does not use: {', '.join(map(str, extra))}",
                ExtraColumnsWarning,
                stacklevel=3,
            )
        return df

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Predictions indexed like ``df``: :attr:`output_columns`.

        For the shipped scenarios: ``response_probability``; ``risk_score`` (higher = worse);
        ``median_pfs_months`` (inf where the predicted curve stays above 0.5); ``pfs_prob_12m`` at
        each horizon. A time outcome is named by its endpoint and unit (``median_os_days``,
        ``os_prob_90d``); another binary outcome by its column (``cr_or_better_probability``).

        Raises
        ------
        SchemaValidationError
            Missing columns, wrong types, out-of-range values, unknown categories or missing
            values where the schema forbids them; the message names the columns and rows.
        """
        return self.bundle.predict(self._inputs(df))

    @property
    def outcome_columns(self) -> list[str]:
        """The outcome columns :meth:`evaluate` needs beside :attr:`input_columns`."""
        return [c for task in self.bundle.tasks for c in task.outcome_columns()]

    def evaluate(self, df: pd.DataFrame, *, name: str = "external", bootstrap: int = 200, seed: int = 0, progress=None):
        """External validation: how this model does on another cohort (another centre, another
        year), as the training run reported its own.

        ``df`` holds the model's inputs and outcomes (:attr:`input_columns`,
        :attr:`outcome_columns`). For every task: the metrics of training (AUC, Brier, calibration
        slope and intercept, observed/expected, ICI/E50/E90; Harrell's and Uno's C, time-dependent
        AUC, calibration at each horizon, integrated Brier) with percentile bootstrap 95% CIs
        (``bootstrap`` replicates from ``seed``), and the decision curve. A trained model carries
        no baseline; the survival metrics use the training data's censoring distribution, kept
        in the model.

        Returns
        -------
        predictor.training.Evaluation
            ``metrics`` (dataset ``name``, model ``xgboost``), ``decision``, ``predictions``.

        Raises
        ------
        SchemaValidationError
            A missing input or outcome column, or values that break their declarations.
        """

        if not isinstance(df, pd.DataFrame) or len(df) == 0:
            raise PredictorError("evaluate takes a pandas DataFrame with at least one patient")
        config = EvaluationSection(bootstrap=bootstrap, seed=seed)
        return evaluate_model(self.bundle, Part(name, df), config, say=progress or (lambda message: None))

    def predict_survival_function(self, df: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
        """Probability of being event-free at each of ``times`` (in the time outcome's unit):
        rows like ``df``, one column per time."""
        task = self.bundle.survival_task
        if task is None:
            raise PredictorError("this model has no survival part")
        grid = np.asarray(times, dtype=float)
        if grid.ndim != 1 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise PredictorError("times must be a 1-D sequence of finite, non-negative numbers")
        X = self.bundle.transform(self._inputs(df))
        model = self.bundle.models[task.name]
        return pd.DataFrame(model.predict_survival_function(X, grid), index=df.index, columns=grid)

    def explain(self, df: pd.DataFrame, task: str | None = None) -> pd.DataFrame:
        """Per-patient SHAP contributions, one column per input column (the user's own names).

        One-hot levels and cutoff flags are summed into the column they come from. Values are on
        the model's margin scale (log-odds for a binary outcome; log hazard ratio for a Cox
        survival model); with the ``base_value`` column they add up to the model output of each
        patient.

        Parameters
        ----------
        task : str, optional
            One of :attr:`tasks`. Default: the survival task when the model has one, else the first.
        """
        survival = self.bundle.survival_task
        name = task or (survival.name if survival is not None else self.bundle.tasks[0].name)
        model = self.bundle.models[self.bundle.task(name).name]
        X = self.bundle.transform(self._inputs(df))
        values, base = model.shap_values(X)
        out = self.bundle.features.sum_by_source(pd.DataFrame(values, index=df.index, columns=X.columns))
        out["base_value"] = base
        return out


def load(uri: str | Path, *, tracking_uri: str | None = None) -> Predictor:
    """Load a trained model.

    Reading a model never unpickles and never runs code from the model's files: the folder
    holds XGBoost's own UBJSON boosters, a skops file whose types are checked against an
    explicit list before anything is built, and a manifest with each file's SHA-256.

    Parameters
    ----------
    uri : str or Path
        ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (the registry), ``runs:/RUN_ID/model``,
        a local MLflow model folder, or a folder written by :meth:`Predictor.save`.
    tracking_uri : str, optional
        The MLflow store of a ``models:/`` or ``runs:/`` URI; default ``MLFLOW_TRACKING_URI``,
        else ``sqlite:///mlflow.db``.

    Raises
    ------
    PredictorError
        Nothing at that URI, a pickled model of an earlier version (refused, with how to convert
        it), a file changed since it was saved, or a model trained by an incompatible version.
    """

    text = str(uri)
    path = Path(text)
    if path.is_file() and path.suffix in (".joblib", ".pkl", ".pickle"):
        raise refuse_pickle(text, path)
    if path.is_dir():
        bundle = load_bundle(find_bundle(path, text))
    else:
        bundle = load_bundle_from_uri(text, tracking_uri)
    here = package_version()
    if bundle.package_version and here != "unknown" and _major_minor(bundle.package_version) != _major_minor(here):
        raise PredictorError(
            f"{text} was trained with immunoresponse {bundle.package_version}; this is {here}: "
            "retrain it, or install the version it was trained with"
        )
    return Predictor(bundle, source=text)

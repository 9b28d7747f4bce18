"""The trained model bundle: the feature pipeline, one fitted model per task, and the schema.

This is what the MLflow pyfunc model wraps and what a user's prediction call uses. Predictions
are named columns, indexed like the input; each task names its own (see
:meth:`predictor.training.tasks.Task.output_columns`). For the shipped scenarios:

``response_probability``   probability of objective response (a binary task: ``<name>_probability``)
``risk_score``             risk score of the time outcome, higher = worse (log hazard ratio for Cox)
``median_pfs_months``      predicted median time, ``median_<endpoint>_<unit>`` (inf where the curve stays above 0.5)
``pfs_prob_12m``           probability of being event-free at each horizon, ``<endpoint>_prob_<horizon><unit letter>``

A cohort in days with overall survival gets ``median_os_days`` and ``os_prob_90d``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import Schema
from features.pipeline import CohortFeatures
from predictor.errors import PredictorError
from predictor.training._model_files import TRUSTED_TYPES, load_bundle_folder, save_bundle
from predictor.training.tasks import SurvivalTask, Task
from synthetic.generation import package_version

__all__ = ["ModelBundle"]


@dataclass
class ModelBundle:
    """Everything needed to predict from raw cohort columns.

    Attributes
    ----------
    schema : Schema
        The input columns' declarations (the subset the features use).
    features : CohortFeatures
        The fitted feature pipeline.
    tasks : tuple of Task
        In prediction-column order.
    models : dict
        Task name -> fitted XGBoost estimator.
    references : dict
        Task name -> what scoring needs from the training data (for a time to event, its
        censoring distribution and Kaplan-Meier curve: step functions, no patient rows), so that
        :meth:`predictor.api.Predictor.evaluate` scores another cohort as training scored its own.
    """

    schema: Schema
    features: CohortFeatures
    tasks: tuple[Task, ...]
    models: dict[str, Any]
    package_version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    references: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_fitted(
        cls, schema: Schema, features: CohortFeatures, fitted: Iterable, metadata: dict[str, Any]
    ) -> ModelBundle:
        """The bundle of a training run's fitted tasks (:class:`predictor.training.FittedTask`)."""

        fitted = list(fitted)
        return cls(
            schema=schema.subset(features.columns_),
            features=features,
            tasks=tuple(f.task for f in fitted),
            models={f.task.name: f.model for f in fitted},
            package_version=package_version(),
            metadata=metadata,
            references={f.task.name: f.reference for f in fitted if f.reference is not None},
        )

    @property
    def input_columns(self) -> list[str]:
        """The raw columns a prediction needs."""
        return list(self.features.columns_)

    @property
    def output_columns(self) -> list[str]:
        """The prediction columns, task after task."""
        return [c for task in self.tasks for c in task.output_columns()]

    @property
    def survival_task(self) -> SurvivalTask | None:
        """The time-to-event task, if the bundle has one."""
        return next((t for t in self.tasks if isinstance(t, SurvivalTask)), None)

    def save(self, folder: str | Path) -> Path:
        """Write the model as a folder of data files (no pickle) and return the folder.

        XGBoost's own UBJSON for each booster, skops' format for the rest, and a manifest with
        the package version and every file's SHA-256 (see :mod:`predictor.training._model_files`).
        """
        return save_bundle(self, Path(folder), package_version=self.package_version)

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        """Read a folder written by :meth:`save`; never unpickles, and builds only the types a
        model of this package holds.

        Raises
        ------
        PredictorError
            Not a model folder, a file changed since it was saved, or an unexpected type.
        """
        bundle = load_bundle_folder(Path(folder), trusted=(*TRUSTED_TYPES, f"{cls.__module__}.{cls.__qualname__}"))
        if not isinstance(bundle, cls):
            raise PredictorError(f"{folder} is not a model trained by this package")
        return bundle

    def task(self, name: str) -> Task:
        """The task called ``name``."""
        for t in self.tasks:
            if t.name == name:
                return t
        raise PredictorError(f"this model has no {name} part; it has: {', '.join(t.name for t in self.tasks)}")

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Validate ``df`` against the training schema and build the model input (one validation:
        the feature transformer checks its input against the same schema)."""
        return self.features.transform(df)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Every task's predictions (:attr:`output_columns`), indexed like ``df``."""
        X = self.transform(df)
        names = self.output_columns
        out = np.empty((len(X), len(names)), order="F")  # each task fills its own block; wrapped once
        j = 0
        for task in self.tasks:
            k = len(task.output_columns())
            task.outputs(self.models[task.name], X, out[:, j : j + k])
            j += k
        return pd.DataFrame(out, index=df.index, columns=names)

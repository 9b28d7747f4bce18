"""The trained model bundle: feature pipeline + response model + survival model + schema.

This is what the MLflow pyfunc model wraps and what a user's prediction call uses. Predictions
are named columns, indexed like the input:

``response_probability``  probability of objective response
``risk_score``            PFS risk score, higher = worse (log hazard ratio for Cox)
``median_pfs_months``     predicted median PFS (inf where the curve stays above 0.5)
``pfs_prob_Xm``           probability of being progression-free at X months
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from features import Schema
from features.pipeline import CohortFeatures

from .models import XGBResponseClassifier, XGBSurvival

__all__ = ["ModelBundle", "OUTPUT_COLUMNS"]


def OUTPUT_COLUMNS(horizons: Sequence[float]) -> list[str]:
    """Prediction columns for the given horizons."""
    return ["response_probability", "risk_score", "median_pfs_months", *[f"pfs_prob_{h:g}m" for h in horizons]]


@dataclass
class ModelBundle:
    """Everything needed to predict from raw cohort columns."""

    schema: Schema
    features: CohortFeatures
    response: XGBResponseClassifier | None
    survival: XGBSurvival | None
    horizons: tuple[float, ...]
    package_version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def input_columns(self) -> list[str]:
        """The raw columns a prediction needs."""
        return list(self.features.columns_)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Validate ``df`` against the training schema and build the model input (one validation:
        the feature transformer checks its input against the same schema)."""
        return self.features.transform(df)

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Response probability, risk score, median PFS and PFS probabilities, indexed like ``df``."""
        X = self.transform(df)
        names = OUTPUT_COLUMNS(self.horizons)
        out = np.full((len(X), len(names)), np.nan, order="F")  # wrapped once; NaN for a missing part
        if self.response is not None:
            out[:, 0] = 1.0 / (1.0 + np.exp(-self.response.margin(X)))
        if self.survival is not None:
            m = self.survival.margin(X)  # once, for every survival output
            out[:, 1] = self.survival.risk_from_margin(m)
            out[:, 2] = self.survival.median_from_margin(m)
            out[:, 3:] = self.survival.survival_from_margin(m, self.horizons)
        return pd.DataFrame(out, index=df.index, columns=names)

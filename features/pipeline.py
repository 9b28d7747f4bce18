"""Feature pipelines built from the schema: what a model sees.

:class:`CohortFeatures` turns the feature and treatment columns of a cohort into a numeric
frame with readable names: log transforms of skewed biomarkers, optional flags at clinical
cutoffs (the OPN 50 / 85 ng/mL of SEED_STATISTICS.md B8), one-hot categories, booleans as 0/1.
Missing values stay missing (NaN): XGBoost handles them natively, and the baselines put a
:class:`sklearn.impute.SimpleImputer` after this step (see :func:`baseline_preprocessor`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .errors import SchemaDefinitionError
from .schema import Schema, checked_values, float_values, validate

__all__ = ["CohortFeatures", "baseline_preprocessor", "SKEW_THRESHOLD"]

#: A non-negative numeric column whose training-set skewness exceeds this is log-transformed
#: (``log="auto"``).
SKEW_THRESHOLD = 1.0


class CohortFeatures(TransformerMixin, BaseEstimator):
    """Schema-driven feature transformer (pandas in, pandas out).

    Parameters
    ----------
    schema : features.Schema
        Declares the columns. Feature and treatment columns are used unless ``columns`` names
        others; id and outcome columns never are.
    columns : sequence of str, optional
        The model inputs, in order. Default: every ``feature`` and ``treatment`` column.
    log : "auto", sequence of str or None
        Columns to log-transform (``log1p``, so zeros are kept). ``"auto"``: every non-negative
        ``float`` column whose skewness on the training data exceeds :data:`SKEW_THRESHOLD`.
    cutoffs : mapping of str to sequence of float, optional
        Derived flags ``NAME > cutoff`` (``{"opn_ng_ml": [50, 85]}``), kept beside the
        continuous value; missing stays missing.

    Attributes
    ----------
    columns_ : list of str
        Input columns used.
    log_columns_ : list of str
        Columns that are log-transformed.
    feature_names_out_ : ndarray of str
        Output column names.
    """

    def __init__(
        self,
        *,
        schema: Schema,
        columns: Sequence[str] | None = None,
        log="auto",
        cutoffs: Mapping[str, Sequence[float]] | None = None,
    ):
        self.schema = schema
        self.columns = columns
        self.log = log
        self.cutoffs = cutoffs

    def _inputs(self) -> list[str]:
        if self.columns is not None:
            cols = list(self.columns)
            unknown = [c for c in cols if c not in self.schema]
            if unknown:
                raise SchemaDefinitionError(f"feature column(s) {unknown} are not declared in the schema")
            bad = [c for c in cols if self.schema[c].role in ("id", "outcome")]
            if bad:
                raise SchemaDefinitionError(f"column(s) {bad} are ids or outcomes and cannot be model inputs")
            return cols
        return [c.name for c in self.schema.by_role("feature", "treatment")]

    def fit(self, X: pd.DataFrame, y=None) -> CohortFeatures:
        """Check ``X`` against the schema and decide the log transforms."""
        cols = self._inputs()
        validate(X, self.schema, columns=cols, what="feature input")
        if self.log == "auto":
            log_cols = []
            for c in cols:
                col = self.schema[c]
                if col.dtype != "float":
                    continue
                x = float_values(X[c])
                x = x[np.isfinite(x)]
                if x.size > 2 and x.min() >= 0 and pd.Series(x).skew() > SKEW_THRESHOLD:
                    log_cols.append(c)
        else:
            log_cols = list(self.log or ())
            bad = [c for c in log_cols if c not in cols or self.schema[c].dtype not in ("float", "int")]
            if bad:
                raise SchemaDefinitionError(f"log transform asked for non-numeric or unused column(s) {bad}")
        for c in self.cutoffs or {}:
            if c not in cols or self.schema[c].dtype not in ("float", "int"):
                raise SchemaDefinitionError(f"cutoffs asked for non-numeric or unused column '{c}'")
        self.columns_ = cols
        self.log_columns_ = log_cols
        self.feature_names_out_ = np.asarray(self._names(), dtype=object)
        self.n_features_in_ = len(cols)
        return self

    def _names(self) -> list[str]:
        names = []
        for c in self.columns_:
            col = self.schema[c]
            if col.dtype == "category":
                names += [f"{c}={cat}" for cat in col.levels]
            else:
                names.append(f"log({c})" if c in self.log_columns_ else c)
                names += [f"{c}>{cut:g}" for cut in (self.cutoffs or {}).get(c, ())]
        return names

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """The numeric model input, indexed like ``X``, named by :meth:`get_feature_names_out`."""
        check_is_fitted(self, "columns_")
        values = checked_values(X, self.schema, columns=self.columns_, what="feature input")
        # One float array filled column by column (column-major, as pandas stores it) and wrapped
        # once, from the arrays the schema check already built: no column is converted twice.
        out = np.empty((len(X), len(self.feature_names_out_)), dtype=np.float64, order="F")
        j = 0
        for c in self.columns_:
            col = self.schema[c]
            if col.dtype == "category":
                # Integer codes in the schema's category order (-1: missing; labels outside the
                # schema were rejected by the check): one comparison of small integers per level.
                codes = _numeric(values, c)
                missing = codes < 0
                for k in range(len(col.levels)):
                    out[:, j] = codes == k
                    if missing.any():
                        out[missing, j] = np.nan
                    j += 1
                continue
            x = _numeric(values, c)
            if c in self.log_columns_:
                np.log1p(x, out=out[:, j])
            else:
                out[:, j] = x
            j += 1
            cuts = (self.cutoffs or {}).get(c, ())
            absent = np.isnan(x)
            for cut in cuts:
                out[:, j] = x > cut
                out[absent, j] = np.nan
                j += 1
        return pd.DataFrame(out, index=X.index, columns=list(self.feature_names_out_))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names (``log(opn_ng_ml)``, ``opn_ng_ml>85``, ``tumour_type=NSCLC``)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def source_of(self, feature: str) -> str:
        """The input column an output feature comes from (for grouping SHAP values)."""
        check_is_fitted(self, "columns_")
        for c in self.columns_:
            if feature == c or feature == f"log({c})" or feature.startswith(f"{c}=") or feature.startswith(f"{c}>"):
                return c
        raise KeyError(feature)

    def sum_by_source(self, values: pd.DataFrame) -> pd.DataFrame:
        """Per-feature values (SHAP contributions) summed into the input column each comes from.

        One-hot levels and cutoff flags add up to their column; the result has one column per
        input column present, in :attr:`columns_` order, indexed like ``values``.
        """
        sources = [self.source_of(f) for f in values.columns]
        names = [c for c in self.columns_ if c in sources]
        member = np.array([[s == c for c in names] for s in sources], dtype=np.float64)
        return pd.DataFrame(values.to_numpy(dtype=np.float64) @ member, index=values.index, columns=names)


def baseline_preprocessor(
    *,
    schema: Schema,
    columns: Sequence[str] | None = None,
    log="auto",
    cutoffs: Mapping[str, Sequence[float]] | None = None,
) -> Pipeline:
    """:class:`CohortFeatures`, then median imputation with missing-value indicators, then
    standardisation: the input of the logistic-regression and Cox baselines."""
    return Pipeline(
        [
            ("features", CohortFeatures(schema=schema, columns=columns, log=log, cutoffs=cutoffs)),
            ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]
    ).set_output(transform="pandas")


def _numeric(values: Mapping[str, np.ndarray | None], column: str) -> np.ndarray:
    """The checked array of a numeric, boolean or category column (only string columns have none)."""
    array = values[column]
    if array is None:  # a string column is never a model input: the schema check keeps it out
        raise SchemaDefinitionError(f"column '{column}' holds strings and cannot be a model input")
    return array

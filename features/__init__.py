"""What a model sees: the cohort schema and the feature pipelines built from it.

``features`` imports neither :mod:`synthetic` nor :mod:`predictor`: it is the contract both
sides speak.
"""

from .errors import FeaturesError, Problem, SchemaDefinitionError, SchemaValidationError, TableReadError
from .io import atomic_write, read_table, write_csv
from .schema import Column, Schema, validate

__all__ = [
    "Column",
    "FeaturesError",
    "Problem",
    "Schema",
    "SchemaDefinitionError",
    "SchemaValidationError",
    "TableReadError",
    "atomic_write",
    "write_csv",
    "read_table",
    "validate",
]

"""Where the MLflow store is: the ``--tracking-uri`` flag, else ``MLFLOW_TRACKING_URI``, else a
SQLite file in the working folder.

A setting, not MLflow: reading it imports nothing of MLflow, so ``predictor ui`` starts the
server without loading the tracking code it does not run (about 1.4 s of CPU at start-up).
"""

from __future__ import annotations

import os

__all__ = ["DEFAULT_TRACKING_URI", "resolve_tracking_uri"]

#: The store of a command run without ``--tracking-uri`` or ``MLFLOW_TRACKING_URI``.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The flag, else ``MLFLOW_TRACKING_URI``, else the local store ``sqlite:///mlflow.db``."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI

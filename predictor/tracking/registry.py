"""The model registry: register a run's model and move the ``champion`` alias to the version
with the best headline metric.
"""

from __future__ import annotations

import contextlib
import io

import mlflow
from mlflow import MlflowClient

__all__ = ["CHAMPION_ALIAS", "model_identity", "register_model"]

CHAMPION_ALIAS = "champion"


#: Metrics that decide the champion, in order of preference (higher is better for each).
HEADLINE = (
    "validation/survival/xgboost/harrell_c",
    "validation/response/xgboost/auc",
    "test/survival/xgboost/harrell_c",
    "test/response/xgboost/auc",
)


def model_identity(model_uri: str) -> tuple[str | None, str | None]:
    """(registered name, version) of a ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI."""
    if not model_uri.startswith("models:/"):
        return None, None
    rest = model_uri[len("models:/") :]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        try:
            return name, MlflowClient().get_model_version_by_alias(name, alias).version
        except Exception:
            return name, alias
    name, _, version = rest.partition("/")
    return name, version or None


def register_model(model_uri: str, name: str, metrics: dict[str, float]) -> str:

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

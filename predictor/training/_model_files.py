"""A trained model as a folder of data files, read back without running any code it holds.

The folder (what ``Predictor.save`` writes and MLflow logs as the model's ``bundle`` artifact)::

    predictor-model.json   the manifest: format and its version, package version, every file's SHA-256
    bundle.skops           the schema, feature pipeline, tasks, references and estimator settings
    booster-0.ubj ...      each task's XGBoost booster in XGBoost's own UBJSON format

Why these formats: XGBoost's UBJSON is the booster's own portable model format. For the rest
(frozen dataclasses and scikit-learn-style estimators of this package, numpy arrays, scikit-survival's
censoring estimator) skops' persistence does what a hand-written JSON schema per class would,
and its loader refuses any type not on the explicit list :data:`TRUSTED_TYPES` before it
builds an object: it never unpickles. Loading checks the manifest first (its size, format, file
names and digests), so a file changed after saving is named, not half-read.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import xgboost as xgb
from sksurv.nonparametric import CensoringDistributionEstimator

from features.pipeline import CohortFeatures
from features.schema import Column, Schema
from predictor.errors import PredictorError
from predictor.metrics.scores import TrainingReference
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.training.tasks import BinaryOutcome, BinaryTask, SurvivalTask, TimeToEvent

__all__ = ["MANIFEST", "LEGACY_PICKLE", "TRUSTED_TYPES", "save_bundle", "load_bundle_folder"]

#: The manifest's file name: a folder holding it is a model saved by this package.
MANIFEST = "predictor-model.json"
#: The pickled bundle that versions up to 0.3 saved (refused: unpickling runs code).
LEGACY_PICKLE = "bundle.joblib"
FORMAT = "immunoresponse-model"
FORMAT_VERSION = 1
_STATE = "bundle.skops"
_MAX_MANIFEST_BYTES = 1 << 20  # a manifest lists a few files; anything larger is not one
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # names inside the folder only: no path, no '..'


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


#: The only types a model file may hold besides skops' own defaults (numpy arrays, builtins).
#: ``ModelBundle`` is added where it is defined (:mod:`predictor.training.bundle`), which imports
#: this module.
TRUSTED_TYPES: tuple[str, ...] = tuple(
    _qualified(cls)
    for cls in (
        Schema,
        Column,
        CohortFeatures,
        BinaryTask,
        BinaryOutcome,
        SurvivalTask,
        TimeToEvent,
        XGBResponseClassifier,
        XGBSurvival,
        TrainingReference,
        CensoringDistributionEstimator,
    )
)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_bundle(bundle: Any, folder: Path, *, package_version: str) -> Path:
    """Write ``bundle`` into ``folder`` (created; it must not hold a model already).

    Returns the folder. The boosters go to XGBoost's UBJSON files; the rest, with each
    estimator's booster left out, to one skops file; the manifest last, with every file's digest.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / MANIFEST).exists():
        raise PredictorError(f"{folder} already holds a model ({MANIFEST}); choose an empty folder")
    boosters: dict[str, str] = {}
    stripped: dict[str, Any] = {}
    for i, (name, model) in enumerate(bundle.models.items()):
        file = f"booster-{i}.ubj"
        model.booster_.save_model(str(folder / file))
        boosters[name] = file
        stripped[name] = copy.copy(model)  # a shallow copy: the fitted model itself is untouched
        stripped[name].booster_ = None
    import skops.io as sio  # lazy: its import (0.35 s beside scikit-learn) only where a model is saved or loaded

    sio.dump(dataclasses.replace(bundle, models=stripped), folder / _STATE)
    files = [_STATE, *boosters.values()]
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version,
        "boosters": boosters,
        "sha256": {f: _digest(folder / f) for f in files},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise PredictorError(f"{folder} is not a model saved by this package (no {MANIFEST})")
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise PredictorError(f"{path}: {path.stat().st_size} bytes, over the {_MAX_MANIFEST_BYTES} a manifest may have")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PredictorError(f"{path}: not a model manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PredictorError(f"{path}: not a model manifest (format is not {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise PredictorError(
            f"{path}: model format version {manifest.get('format_version')!r}; this package reads version "
            f"{FORMAT_VERSION}: install the version that saved it"
        )
    return manifest


def _checked_files(folder: Path, manifest: dict[str, Any]) -> dict[str, Path]:
    """Every file the manifest lists, by name, after its name and digest are checked."""
    digests = manifest.get("sha256")
    boosters = manifest.get("boosters")
    if not isinstance(digests, dict) or not isinstance(boosters, dict) or _STATE not in digests:
        raise PredictorError(f"{folder / MANIFEST}: 'sha256' must list {_STATE} and 'boosters' name each booster file")
    out = {}
    for name, expected in digests.items():
        path = folder / str(name)
        if not _FILE_NAME.match(str(name)) or not path.is_file():
            raise PredictorError(f"{folder / MANIFEST}: lists {name!r}, which is not a file in {folder}")
        if _digest(path) != expected:
            raise PredictorError(f"{path}: its SHA-256 differs from the manifest's; the file changed after saving")
        out[str(name)] = path
    missing = [f for f in boosters.values() if f not in out]
    if missing:
        raise PredictorError(f"{folder / MANIFEST}: booster file(s) {missing} have no digest")
    return out


def load_bundle_folder(folder: Path, trusted: tuple[str, ...]) -> Any:
    """Read a model folder written by :func:`save_bundle`; only ``trusted`` types are built.

    Raises
    ------
    PredictorError
        Not such a folder, a file changed since it was saved, or a type outside ``trusted``.
    """
    folder = Path(folder)
    manifest = _read_manifest(folder)
    files = _checked_files(folder, manifest)
    import skops.io as sio  # lazy: as in save_bundle
    from skops.io.exceptions import UntrustedTypesFoundException  # lazy: as above

    try:
        bundle = sio.load(files[_STATE], trusted=list(trusted))
    except UntrustedTypesFoundException as exc:
        raise PredictorError(f"{files[_STATE]}: refused, it holds types no model of ours holds: {exc}") from None
    except Exception as exc:  # skops' own errors for a damaged file are plain exceptions
        raise PredictorError(f"{files[_STATE]}: cannot be read as a model ({type(exc).__name__}: {exc})") from None
    models = getattr(bundle, "models", None)
    if not isinstance(models, dict) or set(models) != set(manifest["boosters"]):
        raise PredictorError(f"{folder / MANIFEST}: its boosters do not match the tasks in {_STATE}")
    for name, file in manifest["boosters"].items():
        booster = xgb.Booster()
        try:
            booster.load_model(str(files[file]))
        except xgb.core.XGBoostError as exc:
            raise PredictorError(f"{files[file]}: not an XGBoost model ({str(exc).splitlines()[0]})") from None
        models[name].booster_ = booster
    return bundle

"""A saved model is a folder of data files: the same predictions and SHAP values after a round
trip, and nothing a crafted folder holds is run or built."""

import dataclasses
import fractions
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import predictor
from features.pipeline import CohortFeatures
from predictor import PredictorError
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv
from predictor.training.bundle import ModelBundle
from predictor.training.tasks import BinaryOutcome, BinaryTask, SurvivalTask, TimeToEvent
from synthetic import generate
from synthetic.generation import package_version


@pytest.fixture(scope="module", params=["gbtree", "gblinear"])
def bundle(request, icb_scenario):
    obs = generate(icb_scenario, 800, seed=31).observed
    features = CohortFeatures(schema=icb_scenario.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(obs)
    X = features.transform(obs)
    kw = dict(n_estimators=30, early_stopping_rounds=None, booster=request.param, n_jobs=1)
    return ModelBundle(
        schema=icb_scenario.schema.subset(features.columns_),
        features=features,
        tasks=(
            BinaryTask("response", BinaryOutcome("objective_response")),
            SurvivalTask(TimeToEvent("pfs_months", "pfs_event", "months"), "survival:cox", (6.0, 12.0)),
        ),
        models={
            "response": XGBResponseClassifier(**kw).fit(X, obs.objective_response),
            "survival": XGBSurvival(**kw).fit(X, make_surv(obs.pfs_event, obs.pfs_months)),
        },
        package_version=package_version(),
    )


@pytest.fixture(scope="module")
def patients(icb_scenario):
    return generate(icb_scenario, 300, seed=32).observed


def test_a_round_trip_gives_the_same_predictions_and_shap_values_bit_for_bit(bundle, patients, tmp_path):
    patients = patients[bundle.input_columns]
    again = predictor.load(bundle.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(again.predict(patients), bundle.predict(patients), check_exact=True)
    before = predictor.Predictor(bundle)
    for task in ("response", "survival"):
        pd.testing.assert_frame_equal(again.explain(patients, task), before.explain(patients, task), check_exact=True)


def test_the_folder_holds_xgboost_files_skops_and_a_manifest_no_pickle(bundle, tmp_path):
    folder = bundle.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == [
        "booster-0.ubj",
        "booster-1.ubj",
        "bundle.skops",
        "predictor-model.json",
    ]
    manifest = json.loads((folder / "predictor-model.json").read_text())
    assert manifest["package_version"] == package_version()
    assert manifest["boosters"] == {"response": "booster-0.ubj", "survival": "booster-1.ubj"}
    assert set(manifest["sha256"]) == {"bundle.skops", "booster-0.ubj", "booster-1.ubj"}


def test_saving_over_a_model_is_refused(bundle, tmp_path):
    bundle.save(tmp_path / "model")
    with pytest.raises(PredictorError, match="already holds a model"):
        bundle.save(tmp_path / "model")


class _Payload:
    """What an attacker pickles: unpickling it writes a file."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "this ran"))


@pytest.mark.parametrize("allow_pickle", [None, "false"])
@pytest.mark.parametrize("layout", ["file", "folder", "mlflow_folder"])
def test_a_pickled_model_is_refused_and_its_payload_never_runs(tmp_path, monkeypatch, layout, allow_pickle):
    if allow_pickle is not None:
        monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", allow_pickle)
    payload = tmp_path / "payload_ran.txt"
    inner = {"file": "", "folder": "model", "mlflow_folder": "model/artifacts"}[layout]
    (tmp_path / inner).mkdir(parents=True, exist_ok=True)
    crafted = tmp_path / inner / "bundle.joblib"
    crafted.write_bytes(pickle.dumps(_Payload(payload)))
    if layout == "mlflow_folder":
        (tmp_path / "model" / "MLmodel").write_text("flavors: {}\n")
    target = crafted if layout == "file" else tmp_path / "model"
    with pytest.raises(PredictorError, match="holds a pickled model .* never does"):
        predictor.load(target)
    assert not payload.exists()


def test_a_file_changed_after_saving_is_named(bundle, tmp_path):
    folder = bundle.save(tmp_path / "model")
    with (folder / "booster-1.ubj").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(PredictorError, match=r"booster-1\.ubj: its SHA-256 differs"):
        predictor.load(folder)


def _resign(folder: Path) -> None:
    """Recompute the manifest's digests, as an attacker who edits the files would."""
    from predictor.training._model_files import _digest

    path = folder / "predictor-model.json"
    manifest = json.loads(path.read_text())
    manifest["sha256"] = {name: _digest(folder / name) for name in manifest["sha256"]}
    path.write_text(json.dumps(manifest))


def test_a_type_outside_the_list_is_refused_before_it_is_built(bundle, tmp_path):
    odd = dataclasses.replace(bundle, metadata={"note": fractions.Fraction(1, 3)})
    folder = odd.save(tmp_path / "model")
    _resign(folder)
    with pytest.raises(PredictorError, match=r"refused, it holds types .*fractions\.Fraction"):
        predictor.load(folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["sha256"].update({"../../etc/passwd": "0"}), "which is not a file in"),
        (lambda m: m.update(format_version=99), "model format version 99"),
        (lambda m: m.update(format="something else"), "not a model manifest"),
        (lambda m: m["boosters"].update(response="missing.ubj"), r"booster file\(s\) \['missing.ubj'\] have no digest"),
    ],
)
def test_a_doctored_manifest_gets_one_clear_error(bundle, tmp_path, edit, message):
    folder = bundle.save(tmp_path / "model")
    path = folder / "predictor-model.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(PredictorError, match=message):
        predictor.load(folder)


def test_an_oversized_manifest_is_refused_unread(bundle, tmp_path):
    folder = bundle.save(tmp_path / "model")
    with (folder / "predictor-model.json").open("ab") as f:
        f.write(b" " * (1 << 20))
    with pytest.raises(PredictorError, match="over the 1048576 a manifest may have"):
        predictor.load(folder)


def test_a_booster_file_that_is_not_a_booster(bundle, tmp_path):
    folder = bundle.save(tmp_path / "model")
    (folder / "booster-0.ubj").write_bytes(np.arange(10, dtype=np.int64).tobytes())
    _resign(folder)
    with pytest.raises(PredictorError, match=r"booster-0\.ubj: not an XGBoost model"):
        predictor.load(folder)

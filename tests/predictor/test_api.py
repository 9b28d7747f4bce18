import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import predictor
from features import SchemaValidationError
from features.pipeline import CohortFeatures
from predictor import ExtraColumnsWarning, PredictorError
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv
from predictor.training.bundle import ModelBundle
from predictor.training.tasks import (
    BinaryOutcome,
    BinaryTask,
    SurvivalTask,
    TimeToEvent,
)
from synthetic import generate
from synthetic.generation import package_version


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory, icb_scenario):
    obs = generate(icb_scenario, 1500, seed=4).observed
    features = CohortFeatures(schema=icb_scenario.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(obs)
    X = features.transform(obs)
    tasks = (
        BinaryTask("response", BinaryOutcome("objective_response")),
        SurvivalTask(TimeToEvent("pfs_months", "pfs_event", "months"), "survival:cox", (6.0, 12.0, 24.0)),
    )
    bundle = ModelBundle(
        schema=icb_scenario.schema.subset(features.columns_),
        features=features,
        tasks=tasks,
        models={
            "response": XGBResponseClassifier(n_estimators=60, early_stopping_rounds=None).fit(
                X, obs.objective_response
            ),
            "survival": XGBSurvival(n_estimators=60, early_stopping_rounds=None).fit(
                X, make_surv(obs.pfs_event, obs.pfs_months)
            ),
        },
        package_version=package_version(),
    )
    return bundle.save(tmp_path_factory.mktemp("bundle") / "model")


@pytest.fixture(scope="module")
def model(bundle_path):
    return predictor.load(bundle_path)


@pytest.fixture(scope="module")
def patients(icb_scenario, model):
    return generate(icb_scenario, 50, seed=5).observed[model.input_columns]


def test_predict_is_indexed_like_the_input(model, patients):
    df = patients.set_index(pd.Index([f"pt{i}" for i in range(len(patients))]))
    out = model.predict(df)
    assert out.index.equals(df.index)
    assert list(out.columns) == [
        "response_probability",
        "risk_score",
        "median_pfs_months",
        "pfs_prob_6m",
        "pfs_prob_12m",
        "pfs_prob_24m",
    ]
    assert out["response_probability"].between(0, 1).all()
    pd.testing.assert_frame_equal(out, model.bundle.predict(df))


def test_survival_function_and_explain(model, patients):
    s = model.predict_survival_function(patients, [3, 6, 12])
    np.testing.assert_allclose(
        s[[6.0, 12.0]].to_numpy(), model.predict(patients)[["pfs_prob_6m", "pfs_prob_12m"]].to_numpy()
    )
    e = model.explain(patients)
    assert list(e.columns) == [*model.input_columns, "base_value"]
    np.testing.assert_allclose(e.sum(axis=1), model.predict(patients)["risk_score"], rtol=1e-4, atol=1e-4)
    r = model.explain(patients, task="response")
    p = model.predict(patients)["response_probability"]
    np.testing.assert_allclose(1 / (1 + np.exp(-r.sum(axis=1))), p, rtol=1e-4, atol=1e-4)


def test_missing_columns_are_listed(model, patients):
    with pytest.raises(SchemaValidationError) as info:
        model.predict(patients.drop(columns=["opn_ng_ml", "nlr"]))
    assert {p.column for p in info.value.problems} == {"opn_ng_ml", "nlr"}
    assert "is missing from the frame" in str(info.value)


def test_bad_values_are_named_with_their_rows(model, patients):
    bad = patients.copy()
    bad["tumour_type"] = bad["tumour_type"].astype(object)
    bad.loc[2, "opn_ng_ml"] = -3.0
    bad.loc[7, "age_years"] = 400
    bad.loc[9, "tumour_type"] = "glioma"
    with pytest.raises(SchemaValidationError) as info:
        model.predict(bad)
    rows = {p.column: p.rows for p in info.value.problems}
    assert rows == {"opn_ng_ml": (2,), "age_years": (7,), "tumour_type": (9,)}


def test_missing_values_only_where_allowed(model, patients):
    bad = patients.copy()
    bad.loc[4, "albumin_g_per_l"] = np.nan
    with pytest.raises(SchemaValidationError, match="albumin_g_per_l.*missing values are not allowed"):
        model.predict(bad)


def test_extra_columns_ignored_with_a_warning(model, patients):
    with pytest.warns(ExtraColumnsWarning, match="favourite_colour"):
        out = model.predict(patients.assign(favourite_colour="blue"))
    pd.testing.assert_frame_equal(out, model.predict(patients))


def test_incompatible_version_is_refused(tmp_path, bundle_path):
    bundle = ModelBundle.load(bundle_path)
    bundle.package_version = "0.0.1"
    path = bundle.save(tmp_path / "old")
    with pytest.raises(PredictorError, match="trained with immunoresponse 0.0.1"):
        predictor.load(path)


def test_nothing_at_the_uri(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(PredictorError, match="cannot load model models:/nope@champion"):
        predictor.load("models:/nope@champion")


def test_a_folder_of_several_models_is_refused_not_guessed(tmp_path, bundle_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    for run in ("a", "b"):
        shutil.copytree(bundle_path, tmp_path / "runs" / run / "model")
    with pytest.raises(PredictorError, match="holds 2 models, not one"):
        predictor.load(tmp_path / "runs")
    assert predictor.load(tmp_path / "runs" / "a").input_columns


def test_not_a_frame(model):
    with pytest.raises(PredictorError, match="DataFrame"):
        model.predict([[1, 2, 3]])
    with pytest.raises(PredictorError, match="no rows"):
        model.predict(pd.DataFrame(columns=model.input_columns))


_values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.text(max_size=5),
    st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_malformed_frames_get_clear_errors_never_crashes(model, patients, data):
    """Drop columns, overwrite cells with junk of any type: either a clear error, or valid predictions."""
    df = patients.head(5).copy()
    for c in data.draw(st.lists(st.sampled_from(model.input_columns), max_size=3, unique=True)):
        df = df.drop(columns=c)
    for _ in range(data.draw(st.integers(0, 4))):
        col = data.draw(st.sampled_from(list(df.columns))) if len(df.columns) else None
        if col is None:
            break
        df[col] = df[col].astype(object)
        df.loc[data.draw(st.integers(0, 4)), col] = data.draw(_values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtraColumnsWarning)
        try:
            out = model.predict(df)
        except (SchemaValidationError, PredictorError) as exc:
            assert str(exc)
            return
    assert out["response_probability"].between(0, 1).all()
    assert np.isfinite(out["risk_score"]).all()

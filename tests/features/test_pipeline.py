import numpy as np
import pandas as pd
import pytest

from features import SchemaDefinitionError, SchemaValidationError
from features.pipeline import CohortFeatures, baseline_preprocessor


@pytest.fixture(scope="module")
def fitted(icb_scenario, small_cohort):
    return CohortFeatures(schema=icb_scenario.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(small_cohort.observed)


def test_outputs_readable_names_and_keeps_the_index(fitted, small_cohort):
    obs = small_cohort.observed.set_index(small_cohort.observed["patient_id"] + 1000)
    X = fitted.transform(obs)
    assert list(X.columns) == list(fitted.get_feature_names_out())
    assert X.index.equals(obs.index)
    assert {"log(opn_ng_ml)", "opn_ng_ml>50", "opn_ng_ml>85", "tumour_type=NSCLC", "bone_agent=rankl_inhibitor"} <= set(
        X.columns
    )
    np.testing.assert_allclose(X["log(opn_ng_ml)"], np.log1p(obs["opn_ng_ml"]))
    assert ((X["opn_ng_ml>85"] == 1) == (obs["opn_ng_ml"] > 85)).all()


def test_ids_outcomes_and_truth_never_enter(fitted, small_cohort):
    names = " ".join(fitted.get_feature_names_out())
    for col in [
        "patient_id",
        "pfs_months",
        "pfs_event",
        "objective_response",
        "best_pct_change",
        *small_cohort.truth.columns,
    ]:
        assert col not in fitted.columns_
    assert "response_probability" not in names and "pfs_linear_predictor" not in names


def test_skewed_biomarkers_are_logged_symmetric_ones_are_not(fitted):
    assert {"opn_ng_ml", "tmb_mut_per_mb", "nlr", "ldh_u_per_l"} <= set(fitted.log_columns_)
    assert "albumin_g_per_l" not in fitted.log_columns_ and "null_biomarker_2" not in fitted.log_columns_


def test_missing_values_stay_missing_where_allowed(icb_scenario, small_cohort):
    from dataclasses import replace

    from features import Schema

    schema = Schema(
        tuple(replace(c, nullable=True) if c.name in ("opn_ng_ml", "tumour_type") else c for c in icb_scenario.schema)
    )
    obs = small_cohort.observed.copy()
    obs.loc[[3, 5], "opn_ng_ml"] = np.nan
    obs["tumour_type"] = obs["tumour_type"].astype(object)
    obs.loc[4, "tumour_type"] = None
    f = CohortFeatures(schema=schema, cutoffs={"opn_ng_ml": [85]}).fit(obs)
    X = f.transform(obs)
    assert X.loc[[3, 5], ["log(opn_ng_ml)", "opn_ng_ml>85"]].isna().all().all()
    assert X.loc[4, [c for c in X.columns if c.startswith("tumour_type=")]].isna().all()
    base = baseline_preprocessor(schema=schema).fit(obs)
    Z = base.transform(obs)
    assert not Z.isna().any().any()
    assert any(c.startswith("missingindicator") for c in Z.columns)


def test_unknown_category_at_transform_is_an_error(fitted, small_cohort):
    obs = small_cohort.observed.head(5).copy()
    obs["tumour_type"] = obs["tumour_type"].astype(object)
    obs.loc[2, "tumour_type"] = "glioma"
    with pytest.raises(SchemaValidationError, match="tumour_type.*glioma"):
        fitted.transform(obs)


def test_source_of_maps_features_back_to_columns(fitted):
    assert fitted.source_of("log(opn_ng_ml)") == "opn_ng_ml"
    assert fitted.source_of("opn_ng_ml>85") == "opn_ng_ml"
    assert fitted.source_of("tumour_type=NSCLC") == "tumour_type"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"columns": ["pfs_months"]}, "ids or outcomes"),
        ({"columns": ["nope"]}, "not declared"),
        ({"cutoffs": {"tumour_type": [1]}}, "non-numeric"),
        ({"log": ["sex"]}, "non-numeric"),
    ],
)
def test_bad_configuration(icb_scenario, small_cohort, kwargs, message):
    with pytest.raises(SchemaDefinitionError, match=message):
        CohortFeatures(schema=icb_scenario.schema, **kwargs).fit(small_cohort.observed)


def test_init_only_stores(icb_scenario):
    f = CohortFeatures(schema=icb_scenario.schema, log=None)
    assert f.get_params()["log"] is None and not hasattr(f, "columns_")


def test_categorical_and_string_inputs_give_the_same_features(fitted, small_cohort):
    """A pandas categorical (categories in another order, with unused extras) is read by label,
    exactly as plain strings are; nullable extension dtypes read as their values."""
    obs = small_cohort.observed.head(50).copy()
    as_strings = obs.assign(tumour_type=obs["tumour_type"].astype(object), sex=obs["sex"].astype(str))
    cats = ["unused", *reversed(fitted.schema["tumour_type"].categories)]
    as_categories = obs.assign(
        tumour_type=pd.Categorical(obs["tumour_type"].astype(str), categories=cats),
        age_years=obs["age_years"].astype("Int64"),
        albumin_g_per_l=obs["albumin_g_per_l"].astype("Float64"),
    )
    expected = fitted.transform(as_strings)
    pd.testing.assert_frame_equal(fitted.transform(as_categories), expected)
    assert (expected.filter(like="tumour_type=").sum(axis=1) == 1).all()


def test_unknown_label_in_a_categorical_is_named_with_its_rows(fitted, small_cohort):
    obs = small_cohort.observed.head(6).copy()
    labels = obs["tumour_type"].astype(str).tolist()
    labels[4] = "glioma"
    obs["tumour_type"] = pd.Categorical(labels, categories=sorted(set(labels)))
    with pytest.raises(SchemaValidationError, match=r"tumour_type.*glioma.*rows 4") as info:
        fitted.transform(obs)
    (problem,) = info.value.problems
    assert problem.rows == (4,)


def test_sum_by_source_adds_levels_and_flags_into_their_column(fitted, small_cohort):
    X = fitted.transform(small_cohort.observed.head(20))
    grouped = fitted.sum_by_source(X)
    assert list(grouped.columns) == fitted.columns_ and grouped.index.equals(X.index)
    np.testing.assert_allclose(grouped["tumour_type"], X.filter(like="tumour_type=").sum(axis=1))
    np.testing.assert_allclose(grouped["opn_ng_ml"], X[["log(opn_ng_ml)", "opn_ng_ml>50", "opn_ng_ml>85"]].sum(axis=1))
    np.testing.assert_allclose(grouped.sum(axis=1), X.sum(axis=1))

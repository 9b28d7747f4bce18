import numpy as np
import pandas as pd
import pytest

from features import (
    Column,
    Schema,
    SchemaDefinitionError,
    SchemaValidationError,
    validate,
)


@pytest.fixture
def schema():
    return Schema.from_dict(
        {
            "patient_id": {"dtype": "int", "role": "id", "min": 1},
            "opn_ng_ml": {"dtype": "float", "role": "feature", "unit": "ng/mL", "min": 0, "max": 5000},
            "age_years": {"dtype": "int", "role": "feature", "min": 18, "max": 110},
            "tumour_type": {"dtype": "category", "role": "feature", "categories": ["NSCLC", "melanoma"]},
            "bone_metastasis": {"dtype": "bool", "role": "feature"},
            "albumin_g_per_l": {"dtype": "float", "role": "feature", "nullable": True},
        }
    )


@pytest.fixture
def good():
    return pd.DataFrame(
        {
            "patient_id": [1, 2, 3, 4],
            "opn_ng_ml": [30.0, 85.5, 120.0, 12.0],
            "age_years": [50, 61, 70, 44],
            "tumour_type": ["NSCLC", "melanoma", "NSCLC", "NSCLC"],
            "bone_metastasis": [False, True, True, False],
            "albumin_g_per_l": [38.0, np.nan, 41.0, 36.5],
        }
    )


def test_valid_frame_is_returned_untouched(schema, good):
    before = good.copy()
    out = validate(good, schema)
    assert out is good
    pd.testing.assert_frame_equal(good, before)


def test_generated_cohort_matches_its_schema(icb_scenario, small_cohort):
    validate(small_cohort.observed, icb_scenario.schema)


def test_error_names_column_rule_and_rows(schema, good):
    good.loc[[1, 3], "opn_ng_ml"] = [-5.0, -1.0]
    with pytest.raises(SchemaValidationError) as info:
        validate(good, schema)
    (problem,) = info.value.problems
    assert problem.column == "opn_ng_ml"
    assert problem.rule == "must be >= 0"
    assert problem.rows == (1, 3) and problem.n_rows == 2
    assert "opn_ng_ml" in str(info.value) and "rows 1, 3" in str(info.value)


def test_every_problem_reported_at_once(schema, good):
    bad = good.drop(columns=["age_years"])
    bad.loc[0, "tumour_type"] = "glioma"
    bad.loc[2, "patient_id"] = 0
    bad.loc[1, "opn_ng_ml"] = np.nan
    with pytest.raises(SchemaValidationError) as info:
        validate(bad, schema)
    cols = sorted(p.column for p in info.value.problems)
    assert cols == ["age_years", "opn_ng_ml", "patient_id", "tumour_type"]
    text = str(info.value)
    assert "is missing from the frame" in text
    assert "glioma" in text
    assert "missing values are not allowed" in text


def test_missing_values_allowed_only_where_declared(schema, good):
    validate(good, schema)  # albumin is nullable
    good["bone_metastasis"] = good["bone_metastasis"].astype(object)
    good.loc[0, "bone_metastasis"] = None
    with pytest.raises(SchemaValidationError, match="bone_metastasis"):
        validate(good, schema)


def test_types_are_not_coerced(schema, good):
    good["opn_ng_ml"] = good["opn_ng_ml"].astype(str)
    good["age_years"] = [50.5, 61, 70, 44]
    with pytest.raises(SchemaValidationError) as info:
        validate(good, schema)
    rules = {p.column: p.rule for p in info.value.problems}
    assert "numeric" in rules["opn_ng_ml"]
    assert rules["age_years"] == "must be whole numbers"


def test_bool_accepts_zero_one_but_not_other_numbers(schema, good):
    good["bone_metastasis"] = [0, 1, 1, 0]
    validate(good, schema)
    good["bone_metastasis"] = [0, 1, 2, 0]
    with pytest.raises(SchemaValidationError, match="boolean"):
        validate(good, schema)


def test_infinite_values_rejected(schema, good):
    good.loc[2, "opn_ng_ml"] = np.inf
    with pytest.raises(SchemaValidationError, match="finite"):
        validate(good, schema)


def test_only_requested_columns_checked(schema, good):
    validate(good[["opn_ng_ml"]], schema, columns=["opn_ng_ml"])


def test_not_a_frame(schema):
    with pytest.raises(SchemaValidationError, match="DataFrame"):
        validate({"a": [1]}, schema)


def test_row_list_is_capped(schema):
    df = pd.DataFrame({"opn_ng_ml": -np.arange(1.0, 21.0)})
    with pytest.raises(SchemaValidationError) as info:
        validate(df, schema, columns=["opn_ng_ml"])
    (problem,) = info.value.problems
    assert problem.n_rows == 20 and len(problem.rows) == 5
    assert "first 5 shown" in str(problem)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"dtype": "float"}, "'role' is required"),
        ({"dtype": "decimal", "role": "feature"}, "dtype"),
        ({"dtype": "float", "role": "target"}, "role"),
        ({"dtype": "category", "role": "feature"}, "needs 'categories'"),
        ({"dtype": "float", "role": "feature", "min": 5, "max": 1}, "above max"),
        ({"dtype": "bool", "role": "feature", "min": 0}, "apply to float and int"),
        ({"dtype": "float", "role": "feature", "units": "mg"}, "unknown key"),
    ],
)
def test_malformed_declarations(spec, message):
    with pytest.raises(SchemaDefinitionError, match=message):
        Schema.from_dict({"x": spec})


def test_round_trip_and_lookup(schema):
    again = Schema.from_dict(schema.to_dict())
    assert again == schema
    assert schema["opn_ng_ml"].label == "opn_ng_ml [ng/mL]"
    assert [c.name for c in schema.by_role("id")] == ["patient_id"]
    assert "opn_ng_ml" in schema and "nope" not in schema
    with pytest.raises(SchemaDefinitionError):
        Schema((Column("a", "float", "feature"), Column("a", "int", "feature")))


def test_text_in_a_numeric_column_names_its_rows_and_values():
    schema = Schema.from_dict({"x": {"dtype": "float", "role": "feature"}})
    df = pd.DataFrame({"x": [1.0, "abc", None, 2.5, "n/a"]}, index=[10, 11, 12, 13, 14])
    with pytest.raises(SchemaValidationError) as err:
        validate(df, schema)
    (problem,) = err.value.problems
    assert problem.column == "x" and list(problem.rows) == [11, 14]
    assert "values that are not numbers: 'abc', 'n/a'" in str(err.value)

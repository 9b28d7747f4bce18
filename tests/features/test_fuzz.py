"""Input contracts, fuzzed (hypothesis): whatever frame or file a user hands over, the outcome is
a valid result or the package's own error naming the problem, never another exception.

Seeds are hypothesis' own (derandomised in CI by ``derandomize=True`` below, so a run is
reproducible); the example counts keep the quick tier quick.
"""

import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import predictor
from features import Schema, read_table, validate
from features.errors import FeaturesError
from predictor import ExtraColumnsWarning, PredictorError

FUZZ = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

SCHEMA = Schema.from_dict(
    {
        "patient_id": {"dtype": "int", "role": "id"},
        "opn_ng_ml": {"dtype": "float", "unit": "ng/mL", "min": 0, "role": "feature", "nullable": True},
        "bone_metastasis": {"dtype": "bool", "role": "feature"},
        "tumour_type": {"dtype": "category", "categories": ["NSCLC", "melanoma"], "role": "feature"},
        "pfs_months": {"dtype": "float", "unit": "months", "min": 0, "role": "outcome"},
    }
)

#: Any cell a user's file may hold: numbers of every kind, NaN and inf, text (unicode included),
#: booleans, None.
cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
)
#: Column names: the declared ones, unicode text, numbers.
names = st.one_of(st.sampled_from(list(SCHEMA.names)), st.text(max_size=6), st.integers(-3, 3))


@st.composite
def frames(draw):
    """A frame of 0-6 rows whose columns (possibly duplicated, possibly unnamed in the schema)
    hold cells of any type, or a whole column of one dtype."""
    n = draw(st.integers(0, 6))
    columns = draw(st.lists(names, max_size=7))
    data = {}
    out = pd.DataFrame(index=range(n))
    for i, name in enumerate(columns):
        if draw(st.booleans()):
            values = draw(st.lists(cells, min_size=n, max_size=n))
            col = pd.Series(values, dtype=object)
        else:
            dtype = draw(st.sampled_from(["float64", "int64", "bool", "category", "object"]))
            col = pd.Series(draw(st.lists(st.floats(allow_nan=True), min_size=n, max_size=n)), dtype="float64")
            try:
                col = col.astype(dtype)
            except (ValueError, TypeError):
                pass
        data[i] = col
        out.insert(len(out.columns), name, col.to_numpy(), allow_duplicates=True)
    return out


@FUZZ
@given(df=frames())
def test_validate_returns_the_frame_or_names_the_problem(df):
    try:
        out = validate(df, SCHEMA)
    except FeaturesError as exc:
        assert str(exc)
        return
    assert out is df
    assert set(SCHEMA.names) <= set(df.columns)


#: Bytes a user's file may hold: anything, or text (unicode included) as UTF-8.
contents = st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda s: s.encode("utf-8")))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@FUZZ
@given(content=contents)
def test_read_table_of_any_bytes_is_a_frame_or_a_table_read_error(tmp_path_factory, suffix, content):
    path = tmp_path_factory.mktemp("table") / f"cohort{suffix}"
    path.write_bytes(content)
    try:
        out = read_table(path)
    except FeaturesError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(out, pd.DataFrame)


@pytest.fixture(scope="module")
def model(tmp_path_factory, small_cohort, icb_scenario):
    """A small trained bundle saved as a folder, loaded as a user loads one."""
    from features.pipeline import CohortFeatures
    from predictor.models import XGBResponseClassifier
    from predictor.training import BinaryOutcome, BinaryTask, ModelBundle

    obs = small_cohort.observed
    features = CohortFeatures(schema=icb_scenario.schema).fit(obs)
    task = BinaryTask("response", BinaryOutcome("objective_response"))
    m = XGBResponseClassifier(n_estimators=20, n_jobs=1).fit(features.transform(obs), task.target(obs))
    bundle = ModelBundle(
        schema=icb_scenario.schema.subset(features.columns_), features=features, tasks=(task,), models={"response": m}
    )
    return predictor.load(bundle.save(tmp_path_factory.mktemp("bundle") / "model"))


@FUZZ
@given(df=frames(), keep=st.integers(0, 5))
def test_predict_on_any_frame_is_predictions_or_a_clear_error(model, small_cohort, df, keep):
    """Arbitrary frames, alone or mixed into real patients' rows: predictions in [0, 1], or the
    package's own error."""
    real = small_cohort.observed[model.input_columns].head(keep).reset_index(drop=True)
    mixed = pd.concat([real, df.reindex(range(len(real))) if len(df.columns) else real.iloc[:, :0]], axis=1)
    for candidate in (df, mixed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtraColumnsWarning)
            try:
                out = model.predict(candidate)
            except (FeaturesError, PredictorError) as exc:
                assert str(exc)
                continue
        assert len(out) == len(candidate)
        assert out["response_probability"].between(0, 1).all()

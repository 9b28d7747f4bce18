import numpy as np
import pandas as pd
import pytest

from features import validate
from synthetic import Cohort, CohortIOError, GenerationError, generate, truth_path_for
from synthetic.generation import CHUNK_SIZE


def test_same_seed_same_cohort(icb_scenario):
    a = generate(icb_scenario, 500, seed=11)
    b = generate(icb_scenario, 500, seed=11)
    pd.testing.assert_frame_equal(a.observed, b.observed)
    pd.testing.assert_frame_equal(a.truth, b.truth)


def test_different_seeds_different_cohorts(icb_scenario):
    a = generate(icb_scenario, 500, seed=11).observed
    b = generate(icb_scenario, 500, seed=12).observed
    assert not a["opn_ng_ml"].equals(b["opn_ng_ml"])
    assert not a["pfs_months"].equals(b["pfs_months"])


def test_default_n_is_the_published_cohort_size(icb_scenario):
    assert icb_scenario.default_n == 927  # B1
    assert generate(icb_scenario, seed=0).n == 927


def test_truth_never_in_observed(small_cohort):
    shared = set(small_cohort.observed.columns) & set(small_cohort.truth.columns)
    assert shared == {"patient_id"}
    assert (small_cohort.observed["patient_id"] == small_cohort.truth["patient_id"]).all()


def test_observed_columns_are_exactly_the_schema(icb_scenario, small_cohort):
    assert list(small_cohort.observed.columns) == icb_scenario.schema.names
    validate(small_cohort.observed, icb_scenario.schema)


def test_chunks_join_seamlessly(icb_scenario):
    n = CHUNK_SIZE + 7
    c = generate(icb_scenario, n, seed=5)
    assert c.observed["patient_id"].tolist() == list(range(1, n + 1))
    assert c.truth["patient_id"].is_monotonic_increasing
    ticks = []
    generate(icb_scenario, n, seed=5, progress=ticks.append)
    assert sum(ticks) == n and len(ticks) == 2


def test_response_is_derived_from_best_pct_change(small_cohort):
    obs = small_cohort.observed
    assert ((obs["best_pct_change"] <= -30) == obs["objective_response"]).all()
    assert obs["best_pct_change"].between(-100, 100).all()


def test_censoring_is_consistent(small_cohort):
    obs, truth = small_cohort.observed, small_cohort.truth
    ev = obs["pfs_event"].to_numpy()
    np.testing.assert_allclose(obs["pfs_months"][ev], truth["pfs_months_uncensored"][ev].clip(lower=0.01), atol=0.006)
    assert (obs["pfs_months"][~ev] <= truth["pfs_months_uncensored"][~ev] + 0.006).all()
    assert 0.4 < ev.mean() < 0.85  # realistic share of observed progressions


def test_rankl_inhibitor_lowers_osteopontin(icb_scenario):
    obs = generate(icb_scenario, 50_000, seed=2).observed
    bone = obs[obs["bone_metastasis"]]
    med = bone.groupby("bone_agent", observed=True)["opn_ng_ml"].median()
    assert med["rankl_inhibitor"] < med["none"] and med["rankl_inhibitor"] < med["bisphosphonate"]
    assert (
        obs.loc[obs["bone_metastasis"], "opn_ng_ml"].median() > obs.loc[~obs["bone_metastasis"], "opn_ng_ml"].median()
    )


@pytest.mark.parametrize("n", [0, -5, 2.5, True, "10"])
def test_bad_n(icb_scenario, n):
    with pytest.raises(GenerationError, match="n must be a positive whole number"):
        generate(icb_scenario, n)


def test_bad_seed(icb_scenario):
    with pytest.raises(GenerationError, match="seed"):
        generate(icb_scenario, 10, seed=-1)


def test_save_load_round_trip(tmp_path, small_cohort):
    obs_path, truth_path = small_cohort.save(tmp_path / "c.parquet")
    assert truth_path == truth_path_for(obs_path) == tmp_path / "c.truth.parquet"
    back = Cohort.load(obs_path)
    pd.testing.assert_frame_equal(back.observed, small_cohort.observed)
    pd.testing.assert_frame_equal(back.truth, small_cohort.truth)
    assert back.metadata() == small_cohort.metadata()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.parquet", "c.truth.parquet"]


def test_save_into_missing_folder_leaves_nothing(tmp_path, small_cohort):
    with pytest.raises(CohortIOError, match="does not exist"):
        small_cohort.save(tmp_path / "nope" / "c.parquet")
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_foreign_parquet(tmp_path):
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.truth.parquet")
    with pytest.raises(CohortIOError, match="not a cohort"):
        Cohort.load(tmp_path / "x.parquet")


def test_result_does_not_depend_on_the_number_of_threads(icb_scenario, monkeypatch):
    import synthetic.generation as gen

    n = 2 * CHUNK_SIZE + 11
    parallel = generate(icb_scenario, n, seed=8).observed
    monkeypatch.setattr(gen, "MAX_WORKERS", 1)
    serial = generate(icb_scenario, n, seed=8).observed
    pd.testing.assert_frame_equal(parallel, serial)


def test_patient_ids_run_on_across_chunks_in_both_frames():
    """Above one chunk (250,000 patients) the observed and truth frames keep the same ids 1..n
    (the generator hands both frames one id array; the chunk offset must not shift it twice)."""
    import numpy as np

    from synthetic.generation import CHUNK_SIZE

    cohort = generate("icb_bone_opn", CHUNK_SIZE + 10, seed=1)
    ids = np.arange(1, CHUNK_SIZE + 11)
    assert (cohort.observed["patient_id"].to_numpy() == ids).all()
    assert (cohort.truth["patient_id"].to_numpy() == ids).all()

"""An adaptive study on Dask: the same rounds and answers on 1 and 2 workers, after an
interruption and resume, and on a real scheduler with its own worker processes."""

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.test_study import ONE_THREAD, Cluster
from tests.study_files import small_study

# The small study, made adaptive: the baseline only (a cell takes a fraction of a second), three
# starting sizes and two rounds of two replicates at each curve's predicted crossing.
ADAPTIVE = (
    small_study("e2e_adaptive", Path("{out}"))
    .replace("n = [120, 240]", "n = [120, 240, 480]")
    .replace('models = ["gblinear", "baseline"]', 'models = ["baseline"]')
    .replace('[panels.no_opn]\ndrop = ["opn_ng_ml"]\n', "")
    + "\n[adaptive]\nbatch = 2\nrounds = 2\nmax_n = 2000\n"
)


def load(folder: Path):
    from predictor.study import load_study

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(ADAPTIVE.replace("{out}", str(folder / "out")))
    return load_study(path)


def answers(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    return result.table.reset_index(drop=True), result.sample_size.reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from predictor.study import run_study
    from predictor.study.scheduling import ClusterSpec

    os.environ.update(ONE_THREAD)
    return run_study(load(tmp_path_factory.mktemp("reference")), ClusterSpec(workers=2))


@pytest.mark.slow
def test_the_rounds_add_cells_where_the_curves_need_them(reference):
    grid = 3 * 2  # sizes x replicates (one model, one panel, one scenario variant)
    cells = reference.table.drop_duplicates(["scenario", "n", "replicate", "model", "panel"])
    assert reference.rounds >= 2 and len(cells) > grid
    assert set(reference.sample_size.status) <= {"ok", "budget", "below", "beyond", "unreachable"}
    assert (reference.table.status == "ok").all()
    # --plan replays the cache: every round is there, nothing left to compute
    from predictor.study import plan_study

    plan = plan_study(reference.study)
    assert plan.todo == () and plan.rounds_cached == reference.rounds


@pytest.mark.slow
def test_one_worker_gives_the_same_rounds_and_answers(reference, tmp_path):
    from predictor.study import run_study
    from predictor.study.scheduling import ClusterSpec

    one = run_study(load(tmp_path), ClusterSpec(workers=1))
    for mine, theirs in zip(answers(one), answers(reference), strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


@pytest.mark.slow
def test_an_interrupted_adaptive_study_resumes_to_the_same_answers(reference, tmp_path):
    from predictor.study import run_study
    from predictor.study.scheduling import ClusterSpec

    study = load(tmp_path)

    def stop_in_round_2(p):
        if p.round == 2 and p.last is not None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(study, ClusterSpec(workers=1), progress=stop_in_round_2)
    resumed = run_study(study, ClusterSpec(workers=1))
    assert resumed.cached > 0 and resumed.computed > 0  # the grid and round 2's first cell were kept
    for mine, theirs in zip(answers(resumed), answers(reference), strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)


@pytest.mark.slow
def test_a_real_scheduler_gives_the_same_rounds_and_answers(reference, tmp_path):
    from predictor.study import run_study
    from predictor.study.scheduling import ClusterSpec

    with Cluster(workers=2) as cluster:
        cluster.wait(2)
        remote = run_study(load(tmp_path), ClusterSpec(scheduler=cluster.address))
    for mine, theirs in zip(answers(remote), answers(reference), strict=True):
        pd.testing.assert_frame_equal(mine, theirs, check_exact=True)

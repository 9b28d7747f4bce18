"""Studies on Dask, end to end: the CLI on a LocalCluster, the same table on 1 and 2 workers and
after an interruption, a real scheduler and workers on 127.0.0.1, a worker killed mid-study, and
the errors a user sees before any cell runs. Tables are compared exactly (``check_exact``): a
cell's numbers must not depend on which worker, or how many, computed it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.helpers import free_port, store
from tests.study_files import small_study

# The small study with two folds in the linear booster's search (12 fits a task, not 18): what is
# tested is how the cells are run, not the models, and a study runs five times here.
STUDY = small_study("e2e_study", Path("{out}")).replace(
    "[search]\nn_iter = 1\n", "[search]\nn_iter = 1\ncv_folds = 2\n"
)
assert "cv_folds = 2" in STUDY
PREDICTOR = [sys.executable, "-m", "predictor"]
# What a Dask nanny gives its worker by default: one BLAS thread, so results do not depend on the machine's cores.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def study_file(folder: Path, out: str = "out") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(STUDY.replace("{out}", str(folder / out)))
    return path


def run_cli(*args, cwd, timeout=600, env=None):
    return subprocess.run(
        [*PREDICTOR, "study", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **ONE_THREAD, **(env or {})},
    )


def start_cli(*args, cwd) -> subprocess.Popen:
    """``predictor study ARGS`` started in the background (as :func:`run_cli` runs it)."""
    return subprocess.Popen(
        [*PREDICTOR, "study", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ONE_THREAD},
    )


def table(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "results.csv")


def wait_for_files(proc: subprocess.Popen, cells: Path, count: int, seconds: float = 300) -> None:
    """Wait until ``cells`` holds ``count`` cached JSON files (cells and the validation summary),
    the study process ``proc`` still running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(list(cells.glob("*.json"))) < count:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The small study on a LocalCluster of 2 workers, through the CLI, into its own MLflow store."""
    folder = tmp_path_factory.mktemp("reference")
    path = study_file(folder)
    done = run_cli(str(path), "--workers", "2", "--tracking-uri", store(folder), cwd=folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, done


@pytest.mark.slow
def test_the_cli_runs_a_study_and_logs_a_parent_run_with_a_child_per_grid_point(reference):
    import mlflow

    folder, done = reference
    t = table(folder / "out")
    assert (t.status == "ok").all() and len(t.drop_duplicates(["n", "replicate", "model", "panel"])) == 16
    assert "study min n [95% CI]" in done.stdout and "Riley n (1 / 2 / 3)" in done.stdout
    assert "cells 16/16 (0 from the cache, 0 failed)" in done.stderr
    assert "Dask: LocalCluster, 2 worker(s)" in done.stderr
    for name in (
        "learning_curves.csv",
        "sample_size.csv",
        "power.csv",
        "figures/learning_curves_published_response.png",
        "figures/power_published.png",
    ):
        assert (folder / "out" / name).stat().st_size > 0
    client = mlflow.MlflowClient(f"sqlite:///{folder}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("e2e_study").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(children) == 2 * 2 * 2  # n x models x panels (replicates are summarised in each)
    assert "response/auc" in children[0].data.metrics
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id, "tables")}
    assert "tables/results.csv" in artifacts
    assert "Riley n" in parents[0].data.tags["mlflow.note.content"]


@pytest.mark.slow
def test_one_worker_gives_the_same_table_and_a_second_run_reads_the_cache(reference, tmp_path):
    from predictor.study import load_study, run_study
    from predictor.study.scheduling import ClusterSpec

    folder, _ = reference
    study = load_study(study_file(tmp_path))
    os.environ.update(ONE_THREAD)
    first = run_study(study, ClusterSpec(workers=1))
    assert first.computed == 16 and first.cached == 0
    pd.testing.assert_frame_equal(
        table(folder / "out"), pd.read_csv(_csv(first.table, tmp_path / "t.csv")), check_exact=True
    )
    again = run_study(study, ClusterSpec(workers=1))
    assert again.computed == 0 and again.cached == 16
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)
    # The library call writes what the CLI writes: the same files, the same results table.
    written = again.save(tmp_path / "saved")
    cli_files = {
        p.relative_to(folder / "out") for p in (folder / "out").rglob("*") if p.is_file() and "cells" not in p.parts
    }
    assert {p.relative_to(tmp_path / "saved") for p in written} == cli_files
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "saved" / "results.csv"), table(folder / "out"), check_exact=True
    )


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_an_interrupted_study_resumes_with_only_what_is_missing(reference, tmp_path):
    import mlflow

    folder, _ = reference
    path = study_file(tmp_path)
    cells = tmp_path / "out" / "cells"
    proc = start_cli(str(path), "--workers", "1", "--tracking-uri", store(tmp_path), cwd=tmp_path)
    wait_for_files(proc, cells, 4)  # 3 cells and the validation summary
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert "Traceback" not in err
    kept = len(list(cells.glob("*.json"))) - 1
    assert 3 <= kept < 16
    assert not list(cells.glob(".*"))  # no half-written cache file
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    [killed] = client.search_runs([client.get_experiment_by_name("e2e_study").experiment_id])
    assert killed.info.status == "KILLED"

    done = run_cli(str(path), "--workers", "2", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{16 - kept} cells computed, {kept} from the cache" in done.stdout
    pd.testing.assert_frame_equal(table(tmp_path / "out"), table(folder / "out"), check_exact=True)


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, stopped on exit."""

    def __init__(self, workers: int):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        env = {**os.environ, **ONE_THREAD}
        dask = str(Path(sys.executable).parent / "dask")  # the `dask` command of this environment
        self.scheduler = subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        # --no-nanny: one process per worker, so that killing it kills the worker
        self.workers = [
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            for _ in range(workers)
        ]

    def wait(self, workers: int, seconds: float = 90) -> None:
        from distributed import Client

        with Client(self.address, timeout=seconds) as client:
            client.wait_for_workers(workers, timeout=seconds)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.mark.slow
def test_a_real_scheduler_and_workers_give_the_same_table_even_when_a_worker_dies(reference, tmp_path):
    """The CLI on a ``dask scheduler`` and 2 ``dask worker`` processes; one worker is killed once
    the first cell is in the cache, and the study ends on the other with the same table."""
    folder, _ = reference
    with Cluster(workers=2) as cluster:
        cluster.wait(2)
        path = study_file(tmp_path / "cli")
        cells = tmp_path / "cli" / "out" / "cells"
        proc = start_cli(str(path), "--scheduler", cluster.address, "--tracking-uri", store(tmp_path), cwd=tmp_path)
        wait_for_files(proc, cells, 2)  # a cell and the validation summary
        cluster.workers[0].send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        assert cluster.workers[0].wait(timeout=30) == -signal.SIGKILL
        assert f"Dask: scheduler {cluster.address}, 2 worker(s)" in err
        assert "16 cells computed, 0 from the cache" in out
        pd.testing.assert_frame_equal(table(tmp_path / "cli" / "out"), table(folder / "out"), check_exact=True)


@pytest.mark.slow
def test_a_scheduler_that_does_not_answer_is_one_line_before_anything_runs(tmp_path):
    port = free_port()
    done = run_cli(
        str(study_file(tmp_path)),
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        "--timeout",
        "2",
        "--tracking-uri",
        f"sqlite:///{tmp_path}/mlflow.db",
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"predictor: error: no answer from the Dask scheduler at tcp://127.0.0.1:{port}")
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()


def test_dask_scheduler_address_is_the_scheduler_when_no_option_names_one(tmp_path):
    """DASK_SCHEDULER_ADDRESS (Dask's own configuration) is used, and the study says so: here
    nothing answers there, which proves the study went to it rather than to a LocalCluster."""
    address = f"tcp://127.0.0.1:{free_port()}"
    done = run_cli(
        str(study_file(tmp_path)), "--timeout", "2", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
        cwd=tmp_path, timeout=120, env={"DASK_SCHEDULER_ADDRESS": address},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"Dask scheduler: {address} (from Dask's config (DASK_SCHEDULER_ADDRESS" in done.stderr + done.stdout
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"predictor: error: no answer from the Dask scheduler at {address}")
    )
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_a_bad_study_file_is_one_line_and_a_non_zero_exit(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(STUDY.replace("{out}", str(tmp_path / "out")).replace('drop = ["opn_ng_ml"]', 'drop = ["opn"]'))
    done = run_cli(str(path), cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"predictor: error: {path} [panels.no_opn]: 'opn' is not a feature of scenario 'icb_bone_opn'; its features: "
        "tumour_type, age_years, sex, ecog, driver_mutation, bone_metastasis, bone_agent, opn_ng_ml, tmb_mut_per_mb, "
        "pdl1_tps_pct, nlr, albumin_g_per_l, ldh_u_per_l, null_biomarker_1, null_biomarker_2, null_biomarker_3"
    ]
    assert not (tmp_path / "out").exists()

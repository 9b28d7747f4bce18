"""Small seeded fixtures shared by every test package."""

from __future__ import annotations

import os

import pytest

from synthetic import generate, load_scenario


def pytest_configure(config):
    """With pytest-xdist's workers (``-n``), share the cores between them: each worker, and the
    commands and Dask workers it starts, gets ``cores // workers`` BLAS threads, and OpenMP threads
    (XGBoost's) that sleep rather than spin when they wait (``OMP_WAIT_POLICY=PASSIVE``).

    The workers inherit this process's environment when they start, before they load OpenBLAS or
    OpenMP, which read these variables once. Without it, two workers on two cores spent up to
    twice the CPU on the same work, and took longer. Measured: the validation-size simulation test
    (scikit-learn's lbfgs on one feature, 1,200 times) took 16.8 s of CPU with OpenBLAS's two
    threads, 8.6 s with one, and was no sooner; three XGBoost fits on two threads beside a busy
    core took 4.2-4.7 s of CPU with OpenMP's default (spinning) wait, 1.3-1.8 s passive.
    scikit-learn's own suite limits its workers' threads in the same way. Thread counts that
    XGBoost is given (``nthread``) are left as they are, and a serial run is left alone.
    """
    workers = getattr(config.option, "numprocesses", None)
    if os.environ.get("PYTEST_XDIST_WORKER") or not isinstance(workers, int) or workers < 2:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = str(max(1, cores // workers))
    for variable, value in (
        ("OPENBLAS_NUM_THREADS", share),
        ("MKL_NUM_THREADS", share),
        ("OMP_WAIT_POLICY", "PASSIVE"),
    ):
        os.environ.setdefault(variable, value)


@pytest.fixture(scope="session")
def icb_scenario():
    """The shipped ICB / bone metastasis / osteopontin scenario."""
    return load_scenario("icb_bone_opn")


@pytest.fixture(scope="session")
def small_cohort(icb_scenario):
    """2,000 patients, seed 3: big enough for every subgroup to be present."""
    return generate(icb_scenario, 2000, seed=3)


@pytest.fixture
def scenario_text(icb_scenario):
    """The text of the shipped scenario file, to derive malformed variants from."""
    return icb_scenario.path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def myeloma_scenario():
    """The shipped multiple-myeloma bone-marrow microenvironment scenario."""
    return load_scenario("myeloma_bmm")


@pytest.fixture(autouse=True)
def _close_figures():
    """A training run draws its figures with pyplot; close them after each test, so that figures
    do not pile up across a session (matplotlib warns beyond 20)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")

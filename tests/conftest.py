"""Small seeded fixtures shared by every test package."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_limits

from synthetic import generate, load_scenario


def pytest_configure(config):
    """Under pytest-xdist, each worker gets its share of the cores for BLAS (cores // workers),
    as scikit-learn's own test suite limits its workers: two workers on two cores, each with
    OpenBLAS's default of one thread per core, spent up to twice the CPU on the same work
    (scikit-learn's lbfgs on one feature: 16.8 s against 8.6 s, and no sooner). The limit goes
    to this process and, through the environment, to the commands and Dask workers the tests
    start. XGBoost's own threads (OpenMP) are left as they are: tests check them. A serial run
    (no xdist) keeps the machine's default."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = str(max(1, cores // workers))
    for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, share)
    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")


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

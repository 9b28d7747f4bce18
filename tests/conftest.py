"""Small seeded fixtures shared by every test package."""

from __future__ import annotations

import pytest

from synthetic import generate, load_scenario


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files that hold slow tests first, each file's tests in their order.

    With ``--dist loadfile`` a file runs whole on one worker, and the files are handed out in
    this order (``--no-loadscope-reorder`` in pyproject.toml; xdist's default hands out the files
    with the most tests first, which put the few-but-minutes-long end-to-end files last, one worker
    running them while the other had finished). The quick files then fill the gaps: the
    longest-first rule of scheduling."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # a stable sort: each file keeps its order


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

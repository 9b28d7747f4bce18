"""Small seeded fixtures shared by every test package."""

from __future__ import annotations

import pytest

from synthetic import generate, load_scenario


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

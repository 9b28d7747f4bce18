"""The package installs anywhere: the wheel built from the checkout carries the shipped
experiments and scenarios, and a fresh virtualenv with it holds the declared dependencies and
no extra (:mod:`tests.wheel_env`). The main job run from that virtualenv in an empty folder is
tests/test_readme.py's, whose examples then run in the same folder."""

import subprocess
import zipfile

import pytest

from tests.wheel_env import install_wheel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_carries_the_shipped_experiments_and_scenarios(installed):
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "predictor/experiments/icb_bone_opn.toml" in names
    assert "predictor/experiments/icb_bone_opn_sample_size.toml" in names
    assert "synthetic/scenarios/icb_bone_opn.toml" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_the_virtualenv_holds_the_declared_dependencies_and_no_extra(installed, tmp_path):
    bin_, _ = installed
    for module, there in (("mlflow", True), ("lifelines", True), ("hypothesis", False), ("pytest", False)):
        found = subprocess.run([bin_ / "python", "-c", f"import {module}"], cwd=tmp_path, capture_output=True)
        assert (found.returncode == 0) == there, (module, found.stderr[-500:])

"""The package installs anywhere: a wheel built from the checkout, installed by pip into a fresh
virtualenv, runs the main job in an empty folder (the default experiment and the study's help
come from the package data, not from the checkout).

The fresh virtualenv gets the wheel's dependencies as links to this environment's copies, and
only those: the closure of the wheel's own ``Requires-Dist`` (no test or dev extra, so an import
the wheel does not declare fails here), checked by ``pip check``. Downloading and unpacking the
same 1 GB of wheels again would take this test from seconds to minutes and test pip rather
than the package; CI's own ``pip install`` of the project resolves the dependencies from the
index on every run.
"""

import os
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def requirement_closure(requirements: list[str]) -> set[str]:
    """The distributions (canonical names) that ``requirements`` need, their own requirements
    (with the extras asked for) included, as this environment resolves them."""
    todo = [(Requirement(r), "") for r in requirements]
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**default_environment(), "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        names.add(name)
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo += [(Requirement(r), wanted) for r in metadata.distribution(name).requires or []]
    return names


def link_distributions(names: set[str], site: Path) -> None:
    """Link into ``site`` every top-level file or folder (code and ``.dist-info``) of the named
    distributions of this environment."""
    tops = {
        Path(str(dist.locate_file(file.parts[0])))
        for dist in metadata.distributions()
        if canonicalize_name(dist.metadata["Name"]) in names
        for file in dist.files or []
        if file.parts[0] not in ("..", "__pycache__") and not file.parts[0].endswith(".data")
    }
    for top in tops:
        if top.exists() and not (site / top.name).exists():
            (site / top.name).symlink_to(top)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv holding the wheel (installed by pip) and the closure of its dependencies."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next((tmp / "dist").glob("immunoresponse-*.whl"))
    venv.create(tmp / "venv", with_pip=False)
    bin_ = tmp / "venv" / "bin"
    site = Path(
        subprocess.run(
            [bin_ / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    requires = metadata.PathDistribution(zipfile.Path(wheel, at=_dist_info(wheel))).requires or []
    link_distributions(requirement_closure(requires), site)
    pip = [sys.executable, "-m", "pip", "--python", str(bin_ / "python")]
    subprocess.run([*pip, "install", "--quiet", "--no-deps", str(wheel)], check=True, timeout=600)
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stdout + check.stderr
    return bin_, wheel


def _dist_info(wheel: Path) -> str:
    return next(n.split("/")[0] + "/" for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" in n)


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


def test_predictor_train_runs_from_the_wheel_in_an_empty_folder(installed, tmp_path):
    bin_, _ = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
    train = subprocess.run(
        [bin_ / "predictor", "--quiet", "train", "--no-register"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    assert "run " in train.stdout and (tmp_path / "mlflow.db").exists()
    where = subprocess.run(
        [bin_ / "python", "-c", "import predictor; print(predictor.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(ROOT) not in where.stdout  # the wheel's code ran, not the checkout's
    study = subprocess.run(
        [bin_ / "predictor", "study", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert study.returncode == 0 and "icb_bone_opn_sample_size" in study.stdout

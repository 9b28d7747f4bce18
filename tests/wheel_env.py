"""A fresh virtualenv holding the package's wheel, as a newcomer's ``pip install`` would give.

The wheel is built from the checkout and installed by pip into a fresh virtualenv. The
virtualenv gets the wheel's dependencies as links to this environment's copies, and only
those: the closure of the wheel's own ``Requires-Dist`` (no test or dev extra, so an import the
wheel does not declare fails there), checked by ``pip check``. Downloading and unpacking the
same 1 GB of wheels again would take minutes and test pip rather than the package; CI's own
``pip install`` of the project resolves the dependencies from the index on every run.
"""

import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def install_wheel(tmp: Path) -> tuple[Path, Path]:
    """Build the wheel into ``tmp/dist`` and install it into the virtualenv ``tmp/venv``; return
    the virtualenv's ``bin`` folder and the wheel."""
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


def _dist_info(wheel: Path) -> str:
    return next(n.split("/")[0] + "/" for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" in n)

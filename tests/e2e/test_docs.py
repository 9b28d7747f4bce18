"""The documentation site: it builds with zero warnings and runs every example (a stale example
or a broken reference fails), and a browser shows its navigation and a rendered figure.

CI builds the site once (``.ci/run`` sets ``DOCS_BUILD`` to the built folder); elsewhere this
module builds it into a temporary folder. The browser checks need Debian's chromium.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from predictor.config.reference import all_keys

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    built = os.environ.get("DOCS_BUILD")
    if built:
        return Path(built).resolve()
    pytest.importorskip("sphinx_gallery", reason="the docs extra is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(ROOT / "docs"), str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_every_page_and_every_example_is_built(site):
    for page in (
        "index",
        "getting_started",
        "explanation",
        "changelog",
        "development",
        "reference/keys",
        "reference/api",
    ):
        assert (site / f"{page}.html").is_file(), page
    for guide in ("synthetic", "scenario_format", "training", "myeloma", "own_cohort", "studies"):
        assert (site / "user_guide" / f"{guide}.html").is_file(), guide
    examples = [
        "plot_default_experiment",
        "plot_own_cohort",
        "plot_external_validation",
        "plot_study",
        "plot_declared_scenario",
    ]
    for example in examples:
        html = (site / "auto_examples" / f"{example}.html").read_text(encoding="utf-8")
        assert "sphx_glr_" in html and "<img" in html, example  # executed: its figures are on the page


def test_the_built_reference_lists_every_key(site):
    text = (site / "reference" / "keys.html").read_text(encoding="utf-8")
    for kind, keys in all_keys().items():
        for key in keys:
            assert f">{key}<" in text, (kind, key)


def _chromium(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--window-size=1300,900",
         "--virtual-time-budget=10000", *args, url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_a_browser_shows_the_navigation_and_a_rendered_figure(site, tmp_path):
    home = _chromium((site / "index.html").as_uri(), tmp_path, "--dump-dom").stdout
    assert "bd-header" in home and "User guide" in home  # the theme's navigation bar, with its links
    page = site / "auto_examples" / "plot_declared_scenario.html"
    dom = _chromium(page.as_uri(), tmp_path, "--dump-dom").stdout
    assert "bd-sidebar" in dom and 'class="sphx-glr-single-img' in dom
    shot = tmp_path / "home.png"
    _chromium((site / "index.html").as_uri(), tmp_path, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000  # a page was drawn, not a blank window


def test_the_command_reference_names_every_command_and_option(site):
    """docs/reference/cli.rst is generated from the parser: each subcommand and each of its
    options appears on the built page."""
    import argparse

    from predictor.cli.parser import build_parser

    page = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    missing = []
    stack = [("predictor", build_parser())]
    while stack:
        name, parser = stack.pop()
        for action in parser._actions:  # argparse keeps no public list of a parser's options
            if isinstance(action, argparse._SubParsersAction):
                stack += [(f"{name} {sub}", p) for sub, p in action.choices.items()]
                missing += [f"{name} {sub}" for sub in action.choices if sub not in page]
            missing += [f"{name} {opt}" for opt in action.option_strings if opt not in page]
    assert missing == []

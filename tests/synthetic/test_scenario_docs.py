"""The scenario-format reference names every distribution, outcome, function and key the code
accepts, so that the document cannot fall behind the code unnoticed."""

from pathlib import Path

import pytest

from synthetic.expressions import FUNCTIONS
from synthetic.graph import DISTRIBUTIONS, OUTCOMES
from synthetic.targets import TARGET_KEYS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "user_guide" / "scenario_format.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [*DISTRIBUTIONS, *OUTCOMES, *FUNCTIONS, *sorted(TARGET_KEYS)])
def test_the_reference_names_it(name):
    assert f"`{name}`" in DOC

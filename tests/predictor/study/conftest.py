"""Fixtures of the study tests: the small study, made adaptive."""

from pathlib import Path

import pytest

from predictor.study import load_study
from tests.study_files import small_study


@pytest.fixture
def small_adaptive(tmp_path: Path):
    """The small study with n = 120, 240, 480 and an ``[adaptive]`` section (batches of 4, max_n 5000)."""
    text = small_study("adaptive", tmp_path / "out").replace("n = [120, 240]", "n = [120, 240, 480]")
    path = tmp_path / "study.toml"
    path.write_text(text + "\n[adaptive]\nbatch = 4\nmax_n = 5000\n")
    return load_study(path)

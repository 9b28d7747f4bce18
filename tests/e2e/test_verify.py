"""Verification: a study's minimum n simulated again with fresh replicates (new cohorts), the
criterion checked on them, through the CLI."""

import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.e2e.helpers import store
from tests.study_files import small_study

pytestmark = pytest.mark.slow


def test_each_minimum_n_is_simulated_again_with_fresh_replicates(tmp_path):
    text = small_study("verify", tmp_path / "out").replace('models = ["gblinear", "baseline"]', 'models = ["baseline"]')
    # Loose criteria, so that the smallest size is a minimum n for every task and panel.
    text += "\n[criteria]\ngap = 0.5\nslope = 0.05\nbootstrap = 100\n"
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    store(tmp_path)  # the command's default store, ./mlflow.db, copied from an empty one
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "predictor", "study", "study.toml", "--workers", "1", "--verify"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    checked = pd.read_csv(tmp_path / "out" / "verification.csv")
    found = pd.read_csv(tmp_path / "out" / "sample_size.csv")
    assert len(checked) == len(found[found.study_n < float("inf")]) > 0
    assert (checked.study_n == 120).all() and (checked.replicates == 2).all()
    assert checked.holds.all()  # criteria this loose hold on any replicates
    assert "verification: each minimum n again, 2 fresh replicates" in proc.stdout
    # The fresh replicates are new cohorts: the cache holds the grid's 8 cells, the validation
    # summary and 4 new cells (replicates 2 and 3 at n = 120, both panels).
    assert len(list((tmp_path / "out" / "cells").glob("*.json"))) == 8 + 1 + 4

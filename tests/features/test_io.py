"""The one CSV writer: whole or not at all, readable by colleagues, and never a spreadsheet formula."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from features import atomic_write, write_csv
from features.io import csv_safe


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_text_cells_names_and_index_that_start_a_formula_are_neutralised(tmp_path):
    frame = pd.DataFrame(
        {"=cmd": ["=1+1", "+SUM(A1)", "-2+3", "@A1", "\tx", "plain", None, "\rx"], "x": np.arange(-4, 4)},
        index=pd.Index(["=HYPERLINK(1)", "a", "b", "c", "d", "e", "f", "g"], name="row"),
    )
    frame["level"] = pd.Categorical(["=x"] * 4 + ["ok"] * 4)
    path = write_csv(frame, tmp_path / "t.csv")
    assert b"'\rx" in path.read_bytes()  # (a carriage return inside a cell is not read back by pandas)
    back = pd.read_csv(path, index_col="row", keep_default_na=False, nrows=7)
    assert list(back.columns) == ["'=cmd", "x", "level"]
    assert back["'=cmd"].tolist()[:6] == ["'=1+1", "'+SUM(A1)", "'-2+3", "'@A1", "'\tx", "plain"]
    assert back["x"].tolist() == list(range(-4, 3))  # numbers, negative ones too, are not text
    assert back.index[0] == "'=HYPERLINK(1)" and back["level"].iloc[0] == "'=x"
    assert csv_safe(frame)["x"].dtype == frame["x"].dtype


def test_files_get_the_mode_of_any_new_file_not_0600(tmp_path, umask_022):
    write_csv(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    with atomic_write(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"x")
    for name in ("t.csv", "b.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644

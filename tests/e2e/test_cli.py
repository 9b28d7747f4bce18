"""The ``predictor`` command as a user runs it: a subprocess, its exit code, stdout and stderr."""

import subprocess
import sys

import pandas as pd
import pytest

from synthetic import Cohort


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "predictor", *args], capture_output=True, text=True, cwd=cwd, env=env)


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("predictor: error:"), proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr


def test_generate_writes_observed_and_truth(tmp_path):
    out = tmp_path / "cohort.parquet"
    proc = run("generate", "icb_bone_opn", "--n", "927", "--seed", "7", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "927 patients" in proc.stdout
    cohort = Cohort.load(out)
    assert cohort.n == 927 and cohort.seed == 7 and cohort.scenario == "icb_bone_opn"
    assert "response_probability" not in pd.read_parquet(out).columns
    assert "response_probability" in pd.read_parquet(tmp_path / "cohort.truth.parquet").columns


@pytest.mark.slow
def test_generate_is_deterministic_across_processes(tmp_path):
    for name in ("a", "b"):
        assert (
            run(
                "generate", "icb_bone_opn", "--n", "300", "--seed", "9", "--out", str(tmp_path / f"{name}.parquet")
            ).returncode
            == 0
        )
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet"))


@pytest.mark.parametrize("n", ["0", "-4", "ten"])
def test_bad_n(tmp_path, n):
    proc = run("generate", "icb_bone_opn", "--n", n, "--out", str(tmp_path / "c.parquet"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--n" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_scenario(tmp_path):
    proc = run("generate", "nope", "--out", str(tmp_path / "c.parquet"))
    assert_user_error(proc, "unknown scenario 'nope'", "icb_bone_opn")
    assert list(tmp_path.iterdir()) == []


def test_malformed_scenario_file(tmp_path, scenario_text):
    bad = tmp_path / "bad.toml"
    bad.write_text(scenario_text.replace("[[targets]]", "[[targets]", 1))
    proc = run("generate", str(bad), "--out", str(tmp_path / "c.parquet"))
    assert_user_error(proc, "bad.toml", "not valid TOML")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_unwritable_output(tmp_path):
    proc = run("generate", "icb_bone_opn", "--out", str(tmp_path / "missing" / "c.parquet"))
    assert_user_error(proc, "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_a_cohort_named_csv_is_refused_rather_than_written_as_parquet(tmp_path):
    proc = run("generate", "icb_bone_opn", "--out", str(tmp_path / "c.csv"))
    assert_user_error(proc, "c.csv", "written as Parquet", "c.parquet")
    assert list(tmp_path.iterdir()) == []


def test_read_only_folder_leaves_no_partial_file(tmp_path):
    import os

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write to read-only folders (root)")
        proc = run("generate", "icb_bone_opn", "--out", str(folder / "c.parquet"))
        assert_user_error(proc, "cannot write")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_scenarios_lists_the_shipped_scenarios():
    proc = run("scenarios")
    assert proc.returncode == 0 and "icb_bone_opn" in proc.stdout and "927" in proc.stdout


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """``predictor scenarios | head -c 0``: the reader has closed the pipe before anything is
    printed; the command stops with SIGPIPE's status as a shell reports it, and no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "predictor", "scenarios"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


@pytest.mark.slow
def test_calibrate_exits_non_zero_when_a_target_is_missed(tmp_path, scenario_text):
    shifted = tmp_path / "shifted.toml"
    shifted.write_text(scenario_text.replace("value = 8.2\n", "value = 9.9\n", 1))
    proc = run("calibrate", str(shifted), "--population-n", "200000", "--replicates", "3")
    assert proc.returncode == 1, proc.stderr
    assert "B2.bone" in proc.stderr and "targets missed" in proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("B2.bone"))
    assert "9.90" in row and "NO" in row


def test_calibrate_write_needs_solve(tmp_path):
    proc = run("calibrate", "icb_bone_opn", "--write", str(tmp_path / "x.toml"))
    assert_user_error(proc, "--write needs --solve")


def test_a_net_benefit_threshold_needs_validation_size_and_a_risk(tmp_path):
    assert_user_error(run("study", "--threshold", "0.2", cwd=tmp_path), "--threshold", "--validation-size")
    bad = run("study", "--validation-size", "--threshold", "2", cwd=tmp_path)
    assert bad.returncode == 2 and "must be within 0 and 1" in bad.stderr


KEYNOTE_HR = """[[targets]]
id = "K4"
label = "PFS hazard ratio, pembrolizumab vs chemotherapy (Cox)"
statistic = "hazard_ratio"
where = ["therapy_arm == 'pembrolizumab'", "therapy_arm == 'chemotherapy'"]"""
SHARE = """[[targets]]
id = "K4.share"
label = "significant"
statistic = "significant_hr_share"
value = 0.8
"""


@pytest.mark.parametrize(
    "old, new, message",
    [
        (KEYNOTE_HR, SHARE + 'covariate = "pdl1_tps_pct > 75"\n\n' + KEYNOTE_HR, "must be an observed column"),
        (
            KEYNOTE_HR,
            KEYNOTE_HR.replace("where = [\"therapy_arm == 'pembrolizumab'\", ", "where = [")
            .replace('"]', '"')
            .replace("where = [", "where = "),
            "needs two 'where' expressions",
        ),
        (
            '[parameters.resp_ecog]\nkind = "assumption"\nid = "K6"\nvalue = -0.2\n',
            '[parameters.resp_ecog]\nkind = "free"\nbounds = [-2.0, 2.0]\nid = "K6"\nvalue = -0.2\n',
            "the targets identify only",
        ),
        (
            "where = \"therapy_arm == 'pembrolizumab'\"\nvalue = 0.621",
            "where = \"therapy_arm == 'pembrolizumab' & ecog >= 1\"\nvalue = 0.621",
            "put each comparison in brackets",
        ),
        ('shape = "pfs_shape_by_arm[therapy_arm]"', 'shape = "pfs_shape_by_arm"', "is a table keyed by"),
        ('shape = "pfs_shape_by_arm[therapy_arm]"', 'shape = "therapy_arm"', "a categorical on its own is not a value"),
    ],
    ids=[
        "HR covariate expression",
        "HR where of one group",
        "under-determined",
        "brackets",
        "table as scalar",
        "shape over a categorical",
    ],
)
def test_a_planted_mistake_is_one_line_at_scenario_check(tmp_path, old, new, message):
    """Issue 33's six planted mistakes in the KEYNOTE-024 file, each alone: `scenario check`
    names it in one line, before any solve, with no traceback."""
    from synthetic import load_scenario

    text = load_scenario("keynote024_pdl1").path.read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "planted.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    proc = run("scenario", "check", str(tmp_path / "planted.toml"), "--n", "20000", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if message in line]
    assert len(lines) == 1, out[-3000:]
    problems = [line for line in out.splitlines() if line.startswith(("predictor: error", "  - "))]
    assert len(problems) == 1, out[-3000:]  # that mistake, and no follow-on


@pytest.mark.parametrize("kind", ["experiment", "study", "scenario"])
def test_keys_prints_every_key_of_a_file_kind(kind):
    """`predictor keys KIND` comes from the tables the files are checked against: every key the
    reference must list is in it."""
    from predictor.config.reference import all_keys

    proc = run("keys", kind)
    assert proc.returncode == 0, proc.stderr
    missing = [k for k in all_keys()[kind] if k not in proc.stdout]
    assert missing == []

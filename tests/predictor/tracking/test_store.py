"""A run says who made it and from what, on a shared server: a unique name and portable tags."""

import hashlib
import re

from predictor.tracking.store import run_identity
from synthetic.generation import package_version


def test_a_run_has_a_unique_name_and_portable_tags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp").mkdir()
    source = tmp_path / "exp" / "e.toml"
    source.write_text("[experiment]\nname = 'e'\n")
    name, tags = run_identity("icb", 7, source)
    assert re.fullmatch(r"icb-seed7-\d{8}-\d{6}", name)
    assert tags["source_file"] == "exp/e.toml"  # relative to the working directory, not /tmp/...
    assert tags["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert tags["package_version"] == package_version() and tags["host"] and tags["user"]


def test_a_file_outside_the_working_directory_is_named_by_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, tags = run_identity("icb", 7, tmp_path.parent / "elsewhere.toml")
    assert tags["source_file"] == "elsewhere.toml" and "source_sha256" not in tags

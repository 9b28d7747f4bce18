"""The walls of DESIGN.md: features imports neither synthetic nor predictor; synthetic never
imports predictor; only predictor/cli.py parses arguments or prints."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield path, node.module.split(".")[0]


@pytest.mark.parametrize("package, forbidden", [
    ("features", {"synthetic", "predictor"}),
    ("synthetic", {"predictor"}),
])
def test_import_walls(package, forbidden):
    bad = [(str(p.relative_to(ROOT)), m) for p, m in _imports(package) if m in forbidden]
    assert bad == []


def test_only_the_cli_parses_arguments_and_prints():
    offenders = []
    for package in ("features", "synthetic", "predictor"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name in ("cli.py", "__main__.py"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} print")
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                    if "argparse" in names:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} argparse")
    assert offenders == []

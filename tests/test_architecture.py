"""The walls of DESIGN.md: features imports neither synthetic nor predictor; synthetic never
imports predictor; only one module of predictor talks to MLflow; the stages, tasks and models are
plain code; only predictor/cli.py parses arguments or prints."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield from _imports_of(path)


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


def _imported_anywhere(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at module level or inside functions."""
    return {m for p, m in _imports_of(path)}


def _imports_of(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield path, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield path, node.module.split(".")[0]


def test_only_tracking_talks_to_mlflow():
    talking = sorted(p.name for p in (ROOT / "predictor").glob("*.py") if "mlflow" in _imported_anywhere(p))
    assert talking == ["tracking.py"]


@pytest.mark.parametrize("module", ["stages.py", "tasks.py", "models.py", "evaluation.py", "metrics.py", "decision.py", "report.py",
                                    "model_report.py", "training.py", "experiment.py"])
def test_stages_tasks_and_models_are_plain_code(module):
    """No MLflow, no Dask, no argument parsing in the pieces a study or a test calls one at a time."""
    assert not _imported_anywhere(ROOT / "predictor" / module) & {"mlflow", "dask", "distributed", "argparse"}


def test_one_table_reader_and_one_atomic_writer():
    """Cohort files are read by features.io.read_table and written through features.io.atomic_write only."""
    offenders = []
    for package in ("features", "synthetic", "predictor"):
        for path in (ROOT / package).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "features/io.py":
                continue
            text = path.read_text(encoding="utf-8")
            for needle in ("pd.read_csv(", "pd.read_parquet(", ".partial", "os.replace(", "tempfile.mkstemp("):
                if needle in text:
                    offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_only_scheduling_talks_to_dask():
    talking = sorted(p.name for p in (ROOT / "predictor").glob("*.py") if _imported_anywhere(p) & {"dask", "distributed"})
    assert talking == ["scheduling.py"]


def test_scheduling_knows_nothing_of_training():
    """The Dask module runs jobs it is handed; it imports none of the stages, tasks, models, evaluation,
    training or experiment code (nor the study that uses it)."""
    tree = ast.parse((ROOT / "predictor" / "scheduling.py").read_text(encoding="utf-8"))
    relative = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
    assert relative <= {"errors"}

"""Benchmark: where the test suite's CPU goes, per file and per test, in seconds of CPU.

The suite is CPU-bound on a 2-core machine (both pytest-xdist workers busy ~95% of its wall
time), so its wall time is about its CPU time over the cores, and a test's wall duration says
more about what ran beside it than about itself. This counts, for each test, the CPU of its
pytest process and of the subprocesses it reaped (CLI commands, Dask workers, servers, the
browser), setup and teardown included: a module fixture's cost lands on the test that set it up
or tore it down. Printed beside a reference measured in the same run: the CPU of one fresh
process importing the package's stack, which every subprocess test pays at least once.

    SUITE_CPU_DIR=/tmp/suite-cpu python -m pytest -n auto --dist loadfile -p benchmarks.suite_cpu
    python benchmarks/suite_cpu.py /tmp/suite-cpu [--top 25] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

#: What a subprocess test's `predictor` command imports before it works.
STACK = "import predictor.tracking, predictor.training, predictor.study"


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, reaped.ru_utime + reaped.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The plugin: one line per test, ``nodeid<TAB>own CPU<TAB>reaped subprocesses' CPU``, in a
    file per pytest process under ``$SUITE_CPU_DIR``."""
    before = _cpu()
    yield
    after = _cpu()
    folder = os.environ.get("SUITE_CPU_DIR")
    if folder:
        with open(Path(folder) / f"cpu-{os.getpid()}.tsv", "a", encoding="utf-8") as f:
            f.write(f"{item.nodeid}\t{after[0] - before[0]:.2f}\t{after[1] - before[1]:.2f}\n")


def _reference(repeats: int) -> float:
    """CPU seconds of a fresh process that imports the package's stack (the best of ``repeats``)."""
    best = float("inf")
    for _ in range(repeats):
        proc = subprocess.Popen([sys.executable, "-c", STACK])
        _, _, usage = os.wait4(proc.pid, 0)
        best = min(best, usage.ru_utime + usage.ru_stime)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the SUITE_CPU_DIR of the pytest run")
    parser.add_argument("--top", type=int, default=25, help="rows of each table")
    parser.add_argument("--repeats", type=int, default=3, help="start-ups measured for the reference (the best)")
    args = parser.parse_args()
    rows = [
        line.split("\t") for path in sorted(args.folder.glob("cpu-*.tsv")) for line in path.read_text().splitlines()
    ]
    if not rows:
        sys.exit(f"no test lines under {args.folder}: run pytest with -p benchmarks.suite_cpu and SUITE_CPU_DIR set")
    tests = {nodeid: float(own) + float(reaped) for nodeid, own, reaped in rows}
    files: dict[str, float] = defaultdict(float)
    for nodeid, cpu in tests.items():
        files[nodeid.split("::")[0]] += cpu
    start_up = _reference(args.repeats)
    total = sum(tests.values())
    print(f"{len(tests)} tests, {total:,.0f} s of CPU; reference: one start-up of the package's stack {start_up:.1f} s")
    for title, table in (("file", files), ("test", tests)):
        print(f"\n{'CPU s':>8s} {'share':>6s} {'start-ups':>9s}  {title}")
        for name, cpu in sorted(table.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"{cpu:8.1f} {cpu / total:6.1%} {cpu / start_up:9.1f}  {name}")


if __name__ == "__main__":
    main()

"""The ``study`` command: a simulation study on Dask, its tables and the MLflow runs."""

from __future__ import annotations

import argparse
import time

from predictor.cli.common import clock, print_page, progress_lines
from predictor.config.study import load_study
from predictor.reporting.tables import study_text
from predictor.study.driver import run_study
from predictor.study.grid import plan_cells
from predictor.study.scheduling import ClusterSpec, probe
from predictor.tracking import (
    resolve_tracking_uri,
    run_study_and_log,
)


def cmd_study(args: argparse.Namespace) -> int:

    study = load_study(args.study)
    uri = resolve_tracking_uri(args.tracking_uri)
    start = time.perf_counter()
    say = progress_lines(args, start)
    grid = study.grid()
    cells = len(plan_cells(study))
    say(f"study '{study.name}' ({study.path}) -> MLflow store {uri}, results in {study.output}/")
    say(
        f"grid: n = {', '.join(map(str, grid['n']))} x {grid['replicates']} replicates "
        f"x models {', '.join(grid['models'])} "
        f"x panels {', '.join(grid['panels'])} x scenarios {', '.join(grid['scenarios'])} = {cells} cells"
    )
    cluster = ClusterSpec(scheduler=args.scheduler, workers=args.workers, timeout=args.timeout)
    probe(cluster)  # a scheduler that does not answer: one line, before the MLflow run or any cell

    def connected(conn) -> None:
        where = "LocalCluster" if conn.local else f"scheduler {args.scheduler}"
        say(f"Dask: {where}, {conn.workers} worker(s)" + (f"; dashboard {conn.dashboard}" if conn.dashboard else ""))

    last = [0.0]

    def progress(p) -> None:
        if p.error is not None:
            say(f"cell {p.last.label()} failed: {p.error}")
        now = time.perf_counter()
        if p.done == p.total or now - last[0] >= args.every or p.last is None:
            last[0] = now
            left = "" if p.left != p.left else f", about {clock(p.left)} left"
            say(f"cells {p.done}/{p.total} ({p.cached} from the cache, {p.failed} failed){left}")

    logged = run_study_and_log(
        study, lambda s: run_study(s, cluster, progress=progress, connected=connected), tracking_uri=uri
    )
    result = logged.result
    written = result.save()
    print()
    print(study_text(result))
    failed = result.failed
    if len(failed):
        print(f"\n{len(failed)} cell(s) failed (marked 'failed' in the table; run the study again to retry them):")
        for r in failed.itertuples():
            print(f"  {r.scenario}/n={r.n}/replicate {r.replicate}/{r.model}/{r.panel}: {r.error}")
    total = sum(result.timings.values()) or 1.0
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(result.timings.items(), key=lambda kv: -kv[1]))
    print(
        f"\n{result.computed} cells computed, {result.cached} from the cache, in {time.perf_counter() - start:.0f} s"
        + (f" (a cell's time: {shares})" if result.computed else "")
    )
    print(f"results: {', '.join(str(p) for p in written)}")
    print(f"run {logged.run_id} in experiment '{study.name}' ({logged.children} child runs, one per grid point)")
    print_page(logged, uri, args.tracking_uri)
    return 0

"""The ``study`` command: a simulation study on Dask, its tables and the MLflow runs."""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from features import write_csv
from predictor.cli.common import clock, print_page, progress_lines
from predictor.config.study import Study, load_study
from predictor.errors import StudyError
from predictor.reporting.tables import study_text
from predictor.study.driver import run_study
from predictor.study.expected import SLOPE_RANGE, expected_performance
from predictor.study.grid import plan_cells
from predictor.study.plan import plan_study
from predictor.study.scheduling import ClusterSpec, probe, scheduler_address
from predictor.study.validation_size import validation_size_table
from predictor.study.verify import verify

if TYPE_CHECKING:
    import pandas as pd

from predictor.tracking import (
    resolve_tracking_uri,
    run_study_and_log,
)


def cmd_study(args: argparse.Namespace) -> int:
    if args.threshold is not None and not args.validation_size:
        raise StudyError("--threshold sizes the net benefit of an external validation: give it with --validation-size")
    study = load_study(args.study)
    uri = resolve_tracking_uri(args.tracking_uri)
    start = time.perf_counter()
    say = progress_lines(args, start)
    _announce(study, args, uri, say)
    if args.plan:
        return _plan(study, args.workers)
    if args.validation_size:
        return _validation_size(study, args.threshold)
    address, source = scheduler_address(args.scheduler)
    say(f"Dask scheduler: {address} (from {source})" if address else f"Dask: {source}")
    cluster = ClusterSpec(scheduler=address, workers=args.workers, timeout=args.timeout)
    probe(cluster)  # a scheduler that does not answer: one line, before the MLflow run or any cell
    if args.at is not None:
        return _expected_at(args.at, study, cluster, say)
    return _run(study, args, cluster, uri, say, start)


def _run(
    study: Study, args: argparse.Namespace, cluster: ClusterSpec, uri: str, say: Callable[[str], None], start: float
) -> int:
    """The study itself: its cells on Dask, the MLflow run, the tables and what they say."""

    def connected(conn) -> None:
        where = "LocalCluster" if conn.local else f"scheduler {cluster.scheduler}"
        say(f"Dask: {where}, {conn.workers} worker(s)" + (f"; dashboard {conn.dashboard}" if conn.dashboard else ""))

    progress = _progress_lines(study, args, say)
    logged = run_study_and_log(
        study, lambda s: run_study(s, cluster, progress=progress, connected=connected), tracking_uri=uri
    )
    result = logged.result
    written = result.save()
    print()
    print(study_text(result))
    _print_failed(result.failed)
    total = sum(result.timings.values()) or 1.0
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(result.timings.items(), key=lambda kv: -kv[1]))
    print(
        f"\n{result.computed} cells computed, {result.cached} from the cache, in {time.perf_counter() - start:.0f} s"
        + (f" (a cell's time: {shares})" if result.computed else "")
    )
    print(f"results: {', '.join(str(p) for p in written)}")
    print(f"run {logged.run_id} in experiment '{study.name}' ({logged.children} child runs, one per grid point)")
    print_page(logged, uri, args.tracking_uri)
    if args.verify:
        _verify(study, result, cluster)
    return 0


def _progress_lines(study: Study, args: argparse.Namespace, say: Callable[[str], None]) -> Callable[[Any], None]:
    """A cell-progress callback: a line per failed cell, and every ``--every`` seconds the count."""
    last = [0.0]

    def progress(p) -> None:
        if p.error is not None:
            say(f"cell {p.last.label()} failed: {p.error}")
        now = time.perf_counter()
        if p.done == p.total or now - last[0] >= args.every or p.last is None:
            last[0] = now
            left = "" if p.left != p.left else f", about {clock(p.left)} left"
            where = f"round {p.round}: " if study.adaptive is not None else ""
            say(f"{where}cells {p.done}/{p.total} ({p.cached} from the cache, {p.failed} failed){left}")

    return progress


def _print_failed(failed: pd.DataFrame) -> None:
    """The failed cells of a results table, one line each."""
    if len(failed):
        print(f"\n{len(failed)} cell(s) failed (marked 'failed' in the table; run the study again to retry them):")
        for r in failed.itertuples():
            print(f"  {r.scenario}/n={r.n}/replicate {r.replicate}/{r.model}/{r.panel}: {r.error}")


def _announce(study: Study, args: argparse.Namespace, uri: str, say) -> None:  # noqa: ANN001 - a progress printer
    """The study's first lines: where it writes, its grid and, for an adaptive study, its search."""
    grid = study.grid()
    cells = len(plan_cells(study))
    say(f"study '{study.name}' ({study.path}) -> MLflow store {uri}, results in {study.output}/")
    say(
        f"grid: n = {', '.join(map(str, grid['n']))} x {grid['replicates']} replicates "
        f"x models {', '.join(grid['models'])} "
        f"x panels {', '.join(grid['panels'])} x scenarios {', '.join(grid['scenarios'])} = {cells} cells"
    )
    a = study.adaptive
    if a is not None and args.at is None and not args.validation_size:
        say(
            f"adaptive: then up to {a.rounds} round(s) of {a.batch} replicates at each learning curve's predicted n*, "
            f"until its 95% interval is within +-{a.precision:.0%} (budget: {a.max_cells} cells"
            + (f", {clock(a.max_seconds)}" if a.max_seconds else "")
            + ")"
        )


def _expected_at(n: int, study: Study, cluster: ClusterSpec, say) -> int:  # noqa: ANN001 - a progress printer
    """``--at N``: the study's replicates at N patients only (cached cells reused), and the
    expected performance table; written to ``<output>/expected_at_<N>.csv``, no MLflow run."""
    at = replace(study, study=replace(study.study, n=(n,)), adaptive=None)
    say(f"expected performance at n = {n}: {len(plan_cells(at))} cells")

    def progress(p) -> None:
        if p.done == p.total or p.error is not None:
            say(f"cells {p.done}/{p.total} ({p.cached} from the cache, {p.failed} failed)")

    result = run_study(at, cluster, progress=progress)
    table = expected_performance(result.table, n, study.criteria.gap)
    path = study.output / f"expected_at_{n}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, path, index=False)
    lo, hi = SLOPE_RANGE
    print(
        f"\nexpected performance at n = {n} ({study.study.replicates} replicates; MC SE = Monte Carlo standard error)"
    )
    print(f"P(slope ok): {lo} < calibration slope < {hi}; P(both ok): that, and a gap <= {study.criteria.gap}")
    shown = table.assign(
        metric=table["metric"]
        + " "
        + table["mean"].map("{:.3f}".format)
        + " (SD "
        + table["sd"].map("{:.3f}".format)
        + ")",
        gap=table["gap_mean"].map("{:.3f}".format),
        slope=table["slope_mean"].map("{:.2f}".format) + " (SD " + table["slope_sd"].map("{:.2f}".format) + ")",
        p_slope=table["p_slope_ok"].map("{:.2f}".format) + " +- " + table["p_slope_ok_se"].map("{:.2f}".format),
        p_both=table["p_both_ok"].map("{:.2f}".format) + " +- " + table["p_both_ok_se"].map("{:.2f}".format),
    )[["scenario", "model", "panel", "task", "metric", "gap", "slope", "p_slope", "p_both"]]
    print(shown.to_string(index=False))
    print(f"\nwritten: {path}")
    return 0


def _plan(study: Study, workers: int | None) -> int:
    """``--plan``: the cells the cache lacks and an estimate of their time; nothing runs."""
    plan = plan_study(study)
    workers = workers or os.cpu_count() or 1
    print(f"{len(plan.todo)} cell(s) to compute, {plan.cached} in the cache ({study.output / 'cells'})")
    for model, seconds in sorted(plan.seconds_per_cell.items()):
        print(f"  {model}: {seconds:.1f} s per cell (the mean of its cached cells)")
    left = plan.estimate(workers)
    if study.adaptive is not None:
        _plan_rounds(study, plan, workers)
    if not plan.todo:
        print("nothing to compute: the study would only analyse its cache")
    elif left == left:  # not nan
        print(f"estimate: about {clock(left)} on {workers} worker(s), MLflow logging and the analysis aside")
    else:
        print("no estimate yet: a model family to compute has no cached cell to time it by (run a small grid first)")
    print("nothing was run")
    return 0


def _validation_size(study: Study, threshold: float | None) -> int:
    """``--validation-size``: Riley's external-validation sample size per variant and binary task,
    with the widths simulated at it; written to ``<output>/validation_size.csv``."""
    table = validation_size_table(study, threshold=threshold)
    if table.empty:
        print(
            "no binary outcome with an oracle: nothing to size (Riley's validation criteria here are for "
            "binary outcomes)"
        )
        return 0
    path = study.output / "validation_size.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(table, path, index=False)
    print("external validation of a model as good as the oracle: Riley et al. 2021's minimum n per criterion,")
    print("and the 95% interval width simulated at that n (200 validation cohorts) beside the width asked for")
    shown = table.assign(
        n=table.riley_n.map("{:,}".format),
        asked=table.target_width.map("{:.2f}".format),
        simulated=table.simulated_width.map("{:.3f}".format),
    )[["scenario", "task", "criterion", "n", "asked", "simulated"]]
    print(shown.to_string(index=False))
    for (scenario, task), g in table.groupby(["scenario", "task"], sort=False):
        n = int(g.riley_n.max())
        print(f"{scenario}/{task}: {n:,} patients ({int(np.ceil(n * g.prevalence.iloc[0])):,} events)")
    print(f"written: {path}")
    return 0


def _plan_rounds(study: Study, plan, workers: int) -> None:  # noqa: ANN001 - a StudyPlan
    """An adaptive study's rounds: in the cache, next, and expected after it."""
    a = study.adaptive
    assert a is not None
    print(
        f"adaptive: {plan.rounds_cached} round(s) in the cache (the grid is round 1); "
        f"the next computes {len(plan.todo)} cell(s)"
    )
    if plan.rounds_left is None or plan.cells_left is None:
        print(
            f"  then at most {a.rounds} adaptive round(s), {a.max_cells} cells in all; how many rounds each curve "
            "needs is estimated once the grid is in the cache"
        )
        return
    per = float(np.mean(list(plan.seconds_per_cell.values()))) if plan.seconds_per_cell else math.nan
    more = f", about {clock(plan.cells_left * per / workers)}" if per == per else ""
    print(
        f"  then about {plan.rounds_left} more round(s) and {plan.cells_left} more cell(s){more} (each curve's "
        "interval narrowing as 1/sqrt(replicates) to its precision)"
    )


def _verify(study: Study, result, cluster: ClusterSpec) -> None:  # noqa: ANN001 - a StudyResult
    """``--verify``: every finite minimum n simulated again with fresh replicates."""
    checked = verify(study, result, lambda s: run_study(s, cluster))
    if checked.empty:
        print("\nverification: no minimum n was reached within the grid, nothing to verify")
        return
    path = write_csv(checked, study.output / "verification.csv", index=False)
    what = study.criteria.statistic
    print(f"\nverification: each minimum n again, {study.study.replicates} fresh replicates ({what}; 95% CI)")
    for r in checked.itertuples():
        print(
            f"  {r.scenario}/{r.task}/{r.model}/{r.panel}: n = {r.study_n}: gap {r.gap:.3f} [{r.gap_low:.3f}, "
            f"{r.gap_high:.3f}], slope {r.slope:.2f} [{r.slope_low:.2f}, {r.slope_high:.2f}]: "
            f"{'holds' if r.holds else 'consistent with the target' if r.consistent else 'does NOT hold'}"
        )
    print(f"written: {path}")

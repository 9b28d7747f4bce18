"""Benchmark: a study's cells per second on a LocalCluster of 1 and of 2 workers, the scaling
efficiency (goal >= 0.8 from 1 to 2 workers), and the share of a cell's time in each stage.

Both runs compute the same grid from scratch (each in its own temporary output folder, so no
cache is read) in the same process, side by side. Cells per second are counted from the moment
the cluster answers to the last cell (the cluster's start-up is printed apart); each run also
builds its validation cohort once, which is part of the work.

    python benchmarks/bench_study.py [--n 200 400 800] [--replicates 4] [--models xgboost baseline]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200, 400, 800])
    parser.add_argument("--replicates", type=int, default=4)
    parser.add_argument("--models", nargs="+", default=["xgboost", "baseline"])
    parser.add_argument("--validation-n", type=int, default=20000)
    args = parser.parse_args()

    from predictor.study import load_study, plan_cells, run_study
    from predictor.study.scheduling import ClusterSpec

    rates, timings = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            path = Path(tmp) / f"bench_{workers}.toml"
            path.write_text(
                f"""
[study]
name = "bench_study"
experiment = "icb_bone_opn"
n = {args.n}
replicates = {args.replicates}
models = {args.models!r}
validation_n = {args.validation_n}
output = "{Path(tmp) / f"out_{workers}"}"
""".replace("'", '"')
            )
            study = load_study(path)
            cells = len(plan_cells(study))
            marks = {"start": time.perf_counter()}
            result = run_study(
                study,
                ClusterSpec(workers=workers),
                connected=lambda conn: marks.setdefault("connected", time.perf_counter()),
            )
            end = time.perf_counter()
            rates[workers] = cells / (end - marks["connected"])
            timings = result.timings
            print(
                f"{workers} worker(s): {cells} cells in {end - marks['connected']:6.1f} s = {rates[workers]:.3f} cells/s "
                f"(cluster start-up {marks['connected'] - marks['start']:.1f} s)"
            )
    efficiency = rates[2] / (2 * rates[1])
    print(f"scaling 1 -> 2 workers: {rates[2] / rates[1]:.2f}x, efficiency {efficiency:.2f} (goal >= 0.8)")
    total = sum(timings.values())
    print(
        "share of a cell's time: "
        + ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(timings.items(), key=lambda kv: -kv[1]))
    )


if __name__ == "__main__":  # Dask's worker processes start by spawn and import this file again
    main()

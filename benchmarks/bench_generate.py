"""Benchmark: patients per second for generating a cohort of 1,000,000 (goal: >= 1,000,000/s).

Printed side by side with a reference measured in the same run on the same machine: drawing the
same random numbers with NumPy and nothing else, the floor any generator of this cohort pays.

    python benchmarks/bench_generate.py [--n 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from synthetic import generate, load_scenario
from synthetic.generation import _chunks
from synthetic.models import get_model


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", default="icb_bone_opn")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    model = get_model(scenario.model)
    generate(scenario, 1000, seed=0)  # warm up imports and caches

    t_ref = best_of(args.repeats, lambda: [model.draw(rng, size) for size, rng in _chunks(args.n, 1)])
    t_gen = best_of(args.repeats, lambda: generate(scenario, args.n, seed=1))
    n_cols = len(model.draw(np.random.default_rng(0), 1))
    print(f"scenario {scenario.name}, n = {args.n:,}, best of {args.repeats}")
    print(f"{'what':52s} {'seconds':>9s} {'patients/s':>14s}")
    print(f"{'reference: NumPy draws only (' + str(n_cols) + ' arrays)':52s} {t_ref:9.3f} {args.n / t_ref:14,.0f}")
    print(f"{'generate(): observed + truth frames':52s} {t_gen:9.3f} {args.n / t_gen:14,.0f}")
    print(
        f"generate() costs {t_gen / t_ref:.1f}x the bare draws; goal 1,000,000 patients/s: "
        f"{'met' if args.n / t_gen >= 1_000_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

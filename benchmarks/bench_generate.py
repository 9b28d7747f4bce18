"""Benchmark: patients per second for generating a cohort of 1,000,000 from each scenario file.

Printed side by side with two references measured in the same run on the same machine:
drawing the same random numbers with NumPy and nothing else (the floor any generator of this
cohort pays), and the hand-written generator the scenario file replaced (a frozen copy in
``benchmarks/frozen_generators``; the goal is at least 0.9x its speed). A last table compares the
expression language with ``DataFrame.eval``, which it replaced.

    python benchmarks/bench_generate.py [--n 1000000] [--repeats 5] [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # frozen_generators

from frozen_generators import MODELS as FROZEN  # noqa: E402

from synthetic import generate, load_scenario  # noqa: E402
from synthetic.expressions import evaluate_on_frame  # noqa: E402
from synthetic.generation import _chunks, _draw  # noqa: E402

EXPRESSIONS = {
    "icb_bone_opn": ["bone_metastasis & (opn_ng_ml > 85)", "bone_metastasis & (bone_agent == 'rankl_inhibitor')"],
    "myeloma_bmm": ["therapy_arm != 'dara_krd'", "best_response in ['VGPR', 'CR', 'sCR']"],
}


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def frozen_generate(model, values, n: int) -> pd.DataFrame:
    """Today's generate() with the hand-written generator (same chunks and threads)."""
    observed, truth = _draw(model, values, _chunks(n, 1), None)
    return pd.concat(observed, ignore_index=True) if len(observed) > 1 else observed[0]


def bench_scenario(name: str, n: int, repeats: int) -> None:
    scenario = load_scenario(name)
    values = scenario.values()
    generate(scenario, 1000, seed=0)  # warm up imports and caches
    model = scenario.model
    t_ref = best_of(repeats, lambda: [model.draw(rng, size) for size, rng in _chunks(n, 1)])
    t_gen = best_of(repeats, lambda: generate(scenario, n, seed=1))
    t_old = best_of(repeats, lambda: frozen_generate(FROZEN[name], values, n)) if name in FROZEN else None
    n_cols = len(model.draw(np.random.default_rng(0), 1))
    print(f"\nscenario {name}, n = {n:,}, best of {repeats}")
    print(f"{'what':58s} {'seconds':>9s} {'patients/s':>14s}")
    print(f"{'reference: NumPy draws only (' + str(n_cols) + ' arrays)':58s} {t_ref:9.3f} {n / t_ref:14,.0f}")
    if t_old is not None:
        print(f"{'reference: the hand-written generator (frozen copy)':58s} {t_old:9.3f} {n / t_old:14,.0f}")
    print(f"{'generate() from the scenario file':58s} {t_gen:9.3f} {n / t_gen:14,.0f}")
    if t_old is not None:
        verdict = "met" if t_old / t_gen >= 0.9 else "NOT met"
        print(
            f"the file's generator runs at {t_old / t_gen:.2f}x the hand-written one's speed (goal >= 0.9x): {verdict}"
        )
    bench_expressions(generate(scenario, n, seed=1).observed, EXPRESSIONS.get(name, []), repeats)


def bench_expressions(observed: pd.DataFrame, expressions: list[str], repeats: int) -> None:
    for text in expressions:
        t_pandas = best_of(repeats, lambda: observed.eval(text, engine="python"))  # noqa: B023
        t_ours = best_of(repeats, lambda: evaluate_on_frame(text, observed, where="bench"))  # noqa: B023
        print(
            f"  expression {text!r}: DataFrame.eval {t_pandas * 1e3:.1f} ms, the scenario language "
            f"{t_ours * 1e3:.1f} ms ({t_pandas / t_ours:.1f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", nargs="*", default=["icb_bone_opn", "myeloma_bmm"])
    args = parser.parse_args()
    for name in args.scenario:
        bench_scenario(name, args.n, args.repeats)


if __name__ == "__main__":
    main()

"""Benchmark: generating 1,000,000 patients with each time-to-event family, beside the plain
Weibull (one shape, proportional hazards) measured in the same run on the same machine.

The scenario is the time-to-event part of KEYNOTE-024's structure, an arm and a covariate; each
variant changes only the PFS node: a shape per arm, a cure fraction, a change point (a delayed
effect), a log-logistic AFT curve. The goal (issue 33) is at least 0.5x the plain Weibull's speed.

    python benchmarks/bench_families.py [--n 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import tomllib

from synthetic import generate
from synthetic.scenario import parse_scenario

BASE = """
[scenario]
name = "families"
title = "Time-to-event families"
source = "benchmark"
default_n = 1000
calibration_seed = 1

[parameters.arm_share]
kind = "assumption"
id = "T"
value = { io = 0.5, chemo = 0.5 }
reason = "1:1"

[parameters.by_arm]
kind = "assumption"
id = "T"
value = { io = 0.6, chemo = 1.4 }
reason = "a value per arm"

[nodes.arm]
distribution = "categorical"
probabilities = "arm_share"
levels = ["io", "chemo"]

[nodes.x]
distribution = "normal"
mean = 0
sd = 1

[nodes.pfs]
outcome = "time_to_event"
time = "pfs_months"
event = "pfs_event"
median = 8.0
shape = 1.2
log_hazard = "0.4 * x - 0.3 * (arm == 'io')"
followup = [12, 36]
dropout_rate = 0.01

[[targets]]
id = "T"
label = "median"
statistic = "median_pfs"
value = 8
tolerance = 5

[columns.patient_id]
dtype = "int"
role = "id"

[columns.arm]
dtype = "category"
role = "treatment"
categories = ["io", "chemo"]

[columns.x]
dtype = "float"
role = "feature"

[columns.pfs_months]
dtype = "float"
role = "outcome"

[columns.pfs_event]
dtype = "bool"
role = "outcome"
"""

VARIANTS = {
    "reference: Weibull, one shape (proportional hazards)": {},
    "Weibull, a shape per arm": {"shape": "by_arm[arm]"},
    "mixture cure (30% on io)": {"cure": "0.3 * (arm == 'io')"},
    "delayed effect (change at 3 months)": {"change_at": 3.0, "log_hazard_after": "0.4 * x - 0.8 * (arm == 'io')"},
    "log-logistic AFT": {"family": "loglogistic", "shape": 1.8},
}


def scenario_for(changes: dict):
    raw = tomllib.loads(BASE)
    raw["nodes"]["pfs"].update(changes)
    if not any("by_arm" in str(v) for v in raw["nodes"]["pfs"].values()):
        del raw["parameters"]["by_arm"]
    return parse_scenario(raw, "families.toml")


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
    args = parser.parse_args()
    print(f"n = {args.n:,}, best of {args.repeats}")
    print(f"{'family':54s} {'seconds':>9s} {'patients/s':>14s} {'vs reference':>13s}")
    reference = None
    for label, changes in VARIANTS.items():
        scenario = scenario_for(changes)
        generate(scenario, 1000, seed=0)  # warm up
        seconds = best_of(args.repeats, lambda: generate(scenario, args.n, seed=1))  # noqa: B023
        reference = reference or seconds
        ratio = reference / seconds
        goal = "" if changes == {} else (" (goal >= 0.5x: met)" if ratio >= 0.5 else " (goal >= 0.5x: NOT met)")
        print(f"{label:54s} {seconds:9.3f} {args.n / seconds:14,.0f} {ratio:12.2f}x{goal}")


if __name__ == "__main__":
    main()

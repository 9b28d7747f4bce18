"""Benchmark: training time and SHAP rows per second at 927, 100,000 and 1,000,000 patients.

SHAP is XGBoost's native TreeSHAP (``pred_contribs``, what the package uses), printed beside
shap's ``TreeExplainer`` on the same booster in the same run (the reference). Then the linear
booster's coordinate descent (300 rounds) on one thread, what the package trains it on, beside
the same training on every core (the reference).

    python benchmarks/bench_train.py [--sizes 927 100000 1000000] [--shap-rows 100000]
"""

from __future__ import annotations

import argparse
import os
import time

import xgboost as xgb

from features.pipeline import CohortFeatures
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv
from synthetic import generate, load_scenario


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[927, 100_000, 1_000_000])
    parser.add_argument("--shap-rows", type=int, default=100_000, help="most rows explained natively")
    parser.add_argument("--reference-rows", type=int, default=5_000, help="most rows explained by shap.TreeExplainer")
    args = parser.parse_args()
    import shap

    sc = load_scenario("icb_bone_opn")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    linear: dict[int, tuple[float, float]] = {}  # n -> coordinate descent's seconds on 1 thread, on every core
    print(
        f"{'n':>9s} {'task':9s} {'fit s':>8s} {'rounds':>6s} {'native SHAP rows/s':>19s} {'shap.TreeExplainer rows/s':>26s} {'speed-up':>8s}"
    )
    for n in args.sizes:
        obs = generate(sc, n, seed=1).observed
        features = CohortFeatures(schema=sc.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(obs)
        X = features.transform(obs)
        tasks = {
            "survival": (
                lambda: XGBSurvival(random_state=0, max_depth=3).fit(X, make_surv(obs.pfs_event, obs.pfs_months))
            ),
            "response": (lambda: XGBResponseClassifier(random_state=0, max_depth=3).fit(X, obs.objective_response)),
        }
        for task, fit in tasks.items():
            model, t_fit = timed(fit)
            rows = X.iloc[: min(n, args.shap_rows)]
            _, t_native = timed(lambda: model.shap_values(rows))
            ref_rows = X.iloc[: min(n, args.reference_rows)]
            explainer = shap.TreeExplainer(model.booster_)
            _, t_ref = timed(lambda: explainer.shap_values(ref_rows))
            native, ref = len(rows) / t_native, len(ref_rows) / t_ref
            print(
                f"{n:9,d} {task:9s} {t_fit:8.2f} {model.best_iteration_ + 1:6d} {native:19,.0f} {ref:26,.0f} {native / ref:7.1f}x"
            )
        linear[n] = linear_seconds(X, obs.objective_response.to_numpy(), cores)
    print(f"\nlinear booster (coord_descent, 300 rounds): 1 thread (the package) against {cores} (reference)")
    print(f"{'n':>9s} {'1 thread s':>10s} {f'{cores} threads s':>12s} {'speed-up':>8s}")
    for n, (one, every) in linear.items():
        print(f"{n:9,d} {one:10.2f} {every:12.2f} {every / one:7.1f}x")


def linear_seconds(X, y, cores: int) -> tuple[float, float]:
    """Seconds of 300 rounds of XGBoost's coordinate descent (the linear booster's updater) on
    ``X`` and the binary ``y``, on 1 thread and on ``cores`` threads."""
    data = xgb.DMatrix(X.to_numpy(float), label=y)
    params = {"booster": "gblinear", "updater": "coord_descent", "feature_selector": "cyclic"}
    params |= {"objective": "binary:logistic", "eta": 0.5}
    one, every = (timed(lambda t=t: xgb.train({**params, "nthread": t}, data, 300))[1] for t in (1, cores))
    return one, every


if __name__ == "__main__":
    main()

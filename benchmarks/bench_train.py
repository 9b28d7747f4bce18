"""Benchmark: training time and SHAP rows per second at 927, 100,000 and 1,000,000 patients.

SHAP is XGBoost's native TreeSHAP (``pred_contribs``, what the package uses), printed beside
shap's ``TreeExplainer`` on the same booster in the same run (the reference).

    python benchmarks/bench_train.py [--sizes 927 100000 1000000] [--shap-rows 100000]
"""

from __future__ import annotations

import argparse
import time

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


if __name__ == "__main__":
    main()

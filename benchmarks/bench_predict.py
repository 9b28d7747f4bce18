"""Benchmark: prediction latency and throughput of a trained model, in process.

Single-patient latency (p50, p95 over repeated calls) and batch throughput for ``predict`` and
``explain``, for each booster the experiments' search can choose. References in the same run:
batch predict beside the two models' own margins on features built beforehand (the floor no
wrapper can beat), and explain beside shap's own explainer of the same survival model
(``TreeExplainer`` for trees, ``LinearExplainer`` for XGBoost's linear booster). Goals: single
patient p95 under 10 ms; batch predict >= 1,000,000 patients/s.

    python benchmarks/bench_predict.py [--batch 1000000] [--repeats 300] [--booster both]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from features.pipeline import CohortFeatures
from predictor.api import Predictor
from predictor.bundle import ModelBundle
from predictor.models import XGBResponseClassifier, XGBSurvival, make_surv
from synthetic import generate, load_scenario


def latency(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def reference_explainer(survival):
    """shap's own explainer of the survival model's margin: TreeExplainer for trees, LinearExplainer
    (on the standardised input) for the linear booster."""
    import shap

    if survival.booster == "gbtree":
        explainer = shap.TreeExplainer(survival.booster_)
        return lambda X: explainer.shap_values(X), "shap.TreeExplainer"
    standardise = lambda X: np.nan_to_num((X.to_numpy(dtype=float) - survival.feature_mean_) / survival.feature_scale_)
    explainer = shap.LinearExplainer((survival.coef_, survival.intercept_), np.zeros((1, len(survival.coef_))))
    return lambda X: explainer.shap_values(standardise(X)), "shap.LinearExplainer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--explain-batch", type=int, default=100_000)
    parser.add_argument("--reference-rows", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--booster", choices=["gbtree", "gblinear", "both"], default="both",
                        help="which model to time: trees (depth 3, early stopping), the linear booster, or both")
    args = parser.parse_args()

    sc = load_scenario("icb_bone_opn")
    obs = generate(sc, 20_000, seed=1).observed
    features = CohortFeatures(schema=sc.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(obs)
    X = features.transform(obs)
    cols = features.columns_
    one = generate(sc, 1, seed=2).observed[cols]
    batch = generate(sc, args.batch, seed=3).observed[cols]
    exp_batch = batch.iloc[: args.explain_batch]
    ref_rows = features.transform(batch.iloc[: args.reference_rows])
    r = features.transform(one)
    for booster in (["gbtree", "gblinear"] if args.booster == "both" else [args.booster]):
        kw = {"booster": booster, "random_state": 0} | ({"learning_rate": 0.5, "reg_lambda": 0.0} if booster == "gblinear" else {})
        bundle = ModelBundle(schema=sc.schema.subset(cols), features=features,
                             response=XGBResponseClassifier(**kw).fit(X, obs.objective_response),
                             survival=XGBSurvival(**kw).fit(X, make_surv(obs.pfs_event, obs.pfs_months)),
                             horizons=(6.0, 12.0, 24.0))
        model = Predictor(bundle)
        reference, ref_name = reference_explainer(bundle.survival)
        if booster == "gbtree":
            print(f"\nmodel: trees; response {bundle.response.best_iteration_ + 1} trees, "
                  f"survival {bundle.survival.best_iteration_ + 1} trees, depth 3")
        else:
            print(f"\nmodel: XGBoost linear booster, {X.shape[1]} weights per task")
        p50, p95 = latency(lambda: model.predict(one), args.repeats)
        print(f"{'single patient, predict':44s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   (goal p95 < 10 ms: {'met' if p95 < 10 else 'NOT met'})")
        p50, p95 = latency(lambda: model.explain(one), args.repeats)
        print(f"{'single patient, explain':44s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
        p50, p95 = latency(lambda: reference(r), args.repeats)
        print(f"{'single patient, ' + ref_name + ' (reference)':44s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
        start = time.perf_counter()
        model.predict(batch)
        t = time.perf_counter() - start
        print(f"{'batch predict':44s} {len(batch):>9,d} rows {len(batch) / t:12,.0f} rows/s   (goal 1,000,000/s: {'met' if len(batch) / t >= 1e6 else 'NOT met'})")
        # The floor set by the models themselves: both margins on features built beforehand
        # (XGBoost's tree traversal, or the linear booster's matrix-vector product).
        Xbatch = features.transform(batch)
        threads = ([("1 thread", 1)] if booster == "gbtree" else []) + [("every core", 0)]
        for label, nthread in threads:  # trees: how XGBoost's traversal scales; ends on every core
            for m in (bundle.response, bundle.survival):
                m.booster_.set_param({"nthread": nthread})
            start = time.perf_counter()
            bundle.response.margin(Xbatch)
            bundle.survival.margin(Xbatch)
            t = time.perf_counter() - start
            print(f"{'  models alone, ' + label + ' (reference)':44s} {len(batch):>9,d} rows {len(batch) / t:12,.0f} rows/s")
        del Xbatch
        start = time.perf_counter()
        model.explain(exp_batch)
        t = time.perf_counter() - start
        print(f"{'batch explain':44s} {len(exp_batch):>9,d} rows {len(exp_batch) / t:12,.0f} rows/s")
        start = time.perf_counter()
        reference(ref_rows)
        t = time.perf_counter() - start
        print(f"{'batch ' + ref_name + ' (reference)':44s} {len(ref_rows):>9,d} rows {len(ref_rows) / t:12,.0f} rows/s")


if __name__ == "__main__":
    main()

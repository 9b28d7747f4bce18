"""Benchmark: prediction latency and throughput of a trained model, in process.

Single-patient latency (p50, p95 over repeated calls) and batch throughput for ``predict`` and
``explain``, for each booster the experiments' search can choose. References in the same run:
batch predict beside the two models' own margins on features built beforehand (the floor no
wrapper can beat), and explain beside shap's own explainer of the same survival model
(``TreeExplainer`` for trees, ``LinearExplainer`` for XGBoost's linear booster). Goals: single
patient p95 under 10 ms; batch predict of trees >= 0.9x the models alone (the wrapper's schema
check, features and output columns cost at most a tenth), of the linear booster >= 3,000,000
patients/s.

    python benchmarks/bench_predict.py [--batch 1000000] [--repeats 300] [--booster both]
    python benchmarks/bench_predict.py --model models:/myeloma_bmm/1   # a model you trained
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from features.pipeline import CohortFeatures
from predictor.api import Predictor
from predictor.models.boosters import XGBResponseClassifier, XGBSurvival
from predictor.models.target import make_surv
from predictor.training.bundle import ModelBundle
from predictor.training.tasks import (
    BinaryOutcome,
    BinaryTask,
    SurvivalTask,
    TimeToEvent,
)
from synthetic import generate, load_scenario


def latency(fn, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def reference_explainer(model):
    """shap's own explainer of a model's margin: TreeExplainer for trees, LinearExplainer (on the
    standardised input) for the linear booster."""
    import shap

    if model.booster == "gbtree":
        explainer = shap.TreeExplainer(model.booster_)
        return lambda X: explainer.shap_values(X), "shap.TreeExplainer"
    explainer = shap.LinearExplainer((model.coef_, model.intercept_), np.zeros((1, len(model.coef_))))
    return lambda X: explainer.shap_values(model._standardised(X)), "shap.LinearExplainer"


def describe(model) -> str:
    if model.booster == "gblinear":
        return f"linear booster ({model.n_features_in_} weights)"
    return f"{model.best_iteration_ + 1} trees of depth {model.max_depth}"


def rate(n: int, start: float) -> float:
    return n / (time.perf_counter() - start)


def best_rate(fn, n: int, rounds: int) -> float:
    """Rows per second of the fastest of ``rounds`` calls."""
    best = np.inf
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def bench(name: str, model: Predictor, cohort: pd.DataFrame, args: argparse.Namespace) -> None:
    """Time one model on patients drawn from its scenario (``cohort``: batch size rows)."""
    bundle = model.bundle
    parts = [(task.name, bundle.models[task.name]) for task in bundle.tasks]
    survival = bundle.survival_task
    parts.sort(key=lambda p: survival is not None and p[0] == survival.name)  # survival last
    print(f"\nmodel: {name}; " + "; ".join(f"{task} {describe(m)}" for task, m in parts))
    batch = cohort[model.input_columns]
    one, exp_batch = batch.iloc[:1], batch.iloc[: args.explain_batch]
    explained = parts[-1][1]  # survival where the model has it, as explain's default
    reference, ref_name = reference_explainer(explained)
    r, ref_rows = bundle.transform(one), bundle.transform(batch.iloc[: args.reference_rows])

    p50, p95 = latency(lambda: model.predict(one), args.repeats)
    print(
        f"{'single patient, predict':44s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   (goal p95 < 10 ms: {'met' if p95 < 10 else 'NOT met'})"
    )
    p50, p95 = latency(lambda: model.explain(one), args.repeats)
    print(f"{'single patient, explain':44s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
    p50, p95 = latency(lambda: reference(r), args.repeats)
    print(f"{'single patient, ' + ref_name + ' (reference)':44s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
    # Batch rates are the best of --rounds calls, the wrapper's and the models' alike: the first
    # call on a fresh batch also pays the operating system for new memory pages.
    v = best_rate(lambda: model.predict(batch), len(batch), args.rounds)
    # The floor set by the models themselves: their margins on features built beforehand
    # (XGBoost's tree traversal, or the linear booster's matrix-vector product).
    X = bundle.transform(batch)
    trees = [m for _, m in parts if m.booster == "gbtree"]
    floor = {}
    for label, nthread in ([("1 thread", 1)] if trees else []) + [("every core", 0)]:  # ends on every core
        for m in trees:
            m.booster_.set_param({"nthread": nthread})
        floor[label] = best_rate(lambda: [m.margin(X) for _, m in parts], len(batch), args.rounds)
    X = None  # free the model input before the next measurement
    goal = "0.9x the models alone" if trees else "3,000,000/s"
    met = v >= 0.9 * floor["every core"] if trees else v >= 3e6
    print(
        f"{'batch predict':44s} {len(batch):>9,d} rows {v:12,.0f} rows/s   "
        f"({v / floor['every core']:.2f}x the models alone; goal {goal}: {'met' if met else 'NOT met'})"
    )
    for label, f in floor.items():
        print(f"{'  models alone, ' + label + ' (reference)':44s} {len(batch):>9,d} rows {f:12,.0f} rows/s")
    start = time.perf_counter()
    model.explain(exp_batch)
    print(f"{'batch explain':44s} {len(exp_batch):>9,d} rows {rate(len(exp_batch), start):12,.0f} rows/s")
    start = time.perf_counter()
    reference(ref_rows)
    print(
        f"{'batch ' + ref_name + ' (reference)':44s} {len(ref_rows):>9,d} rows {rate(len(ref_rows), start):12,.0f} rows/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1_000_000)
    parser.add_argument("--explain-batch", type=int, default=100_000)
    parser.add_argument("--reference-rows", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--train-n", type=int, default=20_000, help="patients the models trained here learn from")
    parser.add_argument("--rounds", type=int, default=3, help="batch calls timed; the fastest is reported")
    parser.add_argument(
        "--booster",
        choices=["gbtree", "gblinear", "both"],
        default="both",
        help="which model to train and time: trees (depth 3, early stopping), the linear booster, or both",
    )
    parser.add_argument(
        "--model",
        help="time this trained model instead (models:/NAME/VERSION, runs:/..., a folder), "
        "on patients of the scenario it was trained on",
    )
    parser.add_argument("--scenario", help="scenario to draw patients from (default: the model's own)")
    args = parser.parse_args()

    if args.model:
        import warnings

        from predictor import PredictorError, load

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLflow's start-up chatter
            try:
                model = load(args.model)
            except PredictorError as exc:
                parser.error(str(exc))
        scenario = args.scenario or model.bundle.metadata.get("scenario")
        if not scenario:
            parser.error(f"{args.model} was not trained on a scenario: give --scenario")
        bench(args.model, model, generate(load_scenario(scenario), args.batch, seed=3).observed, args)
        return

    sc = load_scenario("icb_bone_opn")
    obs = generate(sc, args.train_n, seed=1).observed
    features = CohortFeatures(schema=sc.schema, cutoffs={"opn_ng_ml": [50, 85]}).fit(obs)
    X = features.transform(obs)
    cohort = generate(sc, args.batch, seed=3).observed
    for booster in ["gbtree", "gblinear"] if args.booster == "both" else [args.booster]:
        kw = {"booster": booster, "random_state": 0} | (
            {"learning_rate": 0.5, "reg_lambda": 0.0} if booster == "gblinear" else {}
        )
        tasks = (
            BinaryTask("response", BinaryOutcome("objective_response")),
            SurvivalTask(TimeToEvent("pfs_months", "pfs_event", "months"), "survival:cox", (6.0, 12.0, 24.0)),
        )
        bundle = ModelBundle(
            schema=sc.schema.subset(features.columns_),
            features=features,
            tasks=tasks,
            models={
                "response": XGBResponseClassifier(**kw).fit(X, obs.objective_response),
                "survival": XGBSurvival(**kw).fit(X, make_surv(obs.pfs_event, obs.pfs_months)),
            },
        )
        bench(f"trained here ({booster})", Predictor(bundle), cohort, args)


if __name__ == "__main__":
    main()

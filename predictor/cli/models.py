"""Commands on models: ``train``, ``predict``, ``evaluate`` (external validation)."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from pathlib import Path

from features import atomic_write, read_table
from features.io import csv_safe
from predictor.api import ExtraColumnsWarning, load
from predictor.cli.common import UsageError, print_page, progress_lines
from predictor.config.experiment import load_experiment
from predictor.reporting.tables import nested_text, summary_table
from predictor.tracking import (
    log_evaluation,
    resolve_tracking_uri,
    run_and_log,
)
from predictor.training.pipeline import train


def cmd_train(args: argparse.Namespace) -> int:

    exp = load_experiment(args.experiment)
    uri = resolve_tracking_uri(args.tracking_uri)
    start = time.perf_counter()
    say = progress_lines(args, start)

    say(f"experiment '{exp.name}' ({exp.path}) -> MLflow store {uri}")
    logged = run_and_log(
        exp, lambda e: train(e, progress=say), tracking_uri=uri, register=False if args.no_register else None
    )
    result = logged.result
    print()
    print(summary_table(result.metrics))
    if (result.metrics["dataset"] == "external").any():
        print()
        print(summary_table(result.metrics, dataset="external"))
    print()
    for task, p in result.best_params.items():
        cv = {k[3:]: v for k, v in p.items() if k.startswith("cv_")}
        shown = ", ".join(
            f"{k} {v:g}"
            for k, v in p.items()
            if k != "booster"
            and not k.startswith("cv_")
            and (p["booster"] == "gbtree" or k in ("learning_rate", "reg_lambda"))
        )
        print(
            f"search chose for {task}: {p['booster']} ({shown}; CV "
            + ", ".join(f"{k} {v:.3f}" for k, v in cv.items())
            + ")"
        )
    if result.nested is not None:
        print()
        print(nested_text(result.nested, result.metrics))
    for task, s in result.explanations.items():
        top = ", ".join(f"{k} {v:.3f}" for k, v in s.importance.head(5).items())
        print(f"\nSHAP, {task} (mean |SHAP|, {s.scale}): {top}")
        for group, col in s.importance_by.items() if s.importance_by is not None else ():
            ranked = col.drop(s.by, errors="ignore").sort_values(ascending=False).head(4)
            print(f"  within {s.by} = {group}: " + ", ".join(f"{k} {v:.3f}" for k, v in ranked.items()))
    print(f"\nrun {logged.run_id} in experiment '{exp.name}' ({time.perf_counter() - start:.0f} s)")
    if logged.version is not None:
        print(f"registered model '{exp.model_name}' version {logged.version}")
    print_page(logged, uri, args.tracking_uri)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:

    out = Path(args.out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise UsageError(f"cannot write {out}: folder {out.parent} does not exist")
    data = read_table(args.data)
    model = load(args.model, tracking_uri=args.tracking_uri)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtraColumnsWarning)
        pred = model.predict(data)
        if args.explain:
            shap = model.explain(data)
            pred = pred.join(shap.add_prefix("shap_"))
    for message in dict.fromkeys(str(w.message) for w in caught):  # predict and explain warn alike: once each
        print(f"predictor: warning: {message}", file=sys.stderr)
    try:
        with atomic_write(out) as tmp:
            if out.suffix.lower() in (".parquet", ".pq"):
                pred.to_parquet(tmp)
            else:
                csv_safe(pred).to_csv(tmp, index_label="row")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote predictions for {len(pred):,} patients to {out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:

    uri = resolve_tracking_uri(args.tracking_uri)
    start = time.perf_counter()
    say = progress_lines(args, start)

    data = read_table(args.data)
    model = load(args.model, tracking_uri=uri)
    say(f"evaluating {args.model} on {args.data} ({len(data):,} patients)")
    name = args.name
    evaluation = model.evaluate(data, name=name, bootstrap=args.bootstrap, seed=args.seed, progress=say)
    digest = hashlib.sha256(Path(args.data).read_bytes()).hexdigest()[:16]
    logged = log_evaluation(
        model,
        evaluation,
        data,
        name=name,
        model_uri=args.model,
        data=str(args.data),
        digest=digest,
        tracking_uri=uri,
        experiment=args.experiment,
    )
    print()
    print(summary_table(evaluation.metrics, dataset=name))
    print(f"\nrun {logged.run_id} in experiment '{logged.experiment_name}' ({time.perf_counter() - start:.0f} s)")
    print_page(logged, uri, args.tracking_uri)
    return 0

"""The ``predictor`` command line. The only module that parses arguments and prints.

User errors (bad input, unknown scenario, unwritable path) print one line to stderr and exit
with status 2, without a traceback; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from features import atomic_write, read_table
from features.errors import FeaturesError
from predictor.api import ExtraColumnsWarning, load
from predictor.config.experiment import load_experiment
from predictor.config.study import load_study
from predictor.errors import PredictorError
from predictor.reporting.tables import nested_text, study_text, summary_table
from predictor.study.driver import run_study
from predictor.study.grid import plan_cells
from predictor.study.scheduling import ClusterSpec, probe
from predictor.tracking import (
    log_evaluation,
    resolve_tracking_uri,
    run_and_log,
    run_study_and_log,
)
from predictor.training.pipeline import train
from synthetic import available_scenarios, generate, load_scenario, report, solve
from synthetic.calibration import POPULATION_N
from synthetic.errors import CohortIOError, SyntheticError
from synthetic.scenario import write_values

__all__ = ["main", "build_parser"]

EXIT_USER_ERROR = 2
EXIT_TARGET_MISSED = 1
EXIT_TERMINATED = 128 + 15  # SIGTERM, as a shell reports it
#: Where ``predictor ui`` serves the MLflow UI by default.
UI_PORT = 5000


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _progress_bar(total: int | None, desc: str, unit: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    # delay: nothing is shown for work that finishes within a second.
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        delay=1.0,
        leave=False,
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def _cmd_scenarios(args: argparse.Namespace) -> int:

    for name in available_scenarios():
        sc = load_scenario(name)
        print(f"{name:16s} n={sc.default_n:<6d} {sc.title}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:

    scenario = load_scenario(args.scenario)
    n = args.n if args.n is not None else scenario.default_n
    out = Path(args.out)
    folder = out.parent if str(out.parent) else Path(".")

    # Fail before spending time generating.
    if out.suffix.lower() != ".parquet":  # a cohort is Parquet with its provenance: a .csv name would lie
        raise CohortIOError(
            f"cannot write {out}: a cohort is written as Parquet (with its provenance); "
            f"name it {out.with_suffix('.parquet').name}, and convert with pandas if you need a CSV"
        )
    if not folder.is_dir():
        raise CohortIOError(f"cannot write {out}: folder {folder} does not exist")
    start = time.perf_counter()
    with _progress_bar(n, f"generating {scenario.name}", "patients", not args.quiet) as bar:
        cohort = generate(scenario, n, args.seed, progress=bar.update)
    obs_path, truth_path = cohort.save(out)
    took = time.perf_counter() - start
    print(f"wrote {cohort.n:,} patients of scenario '{scenario.name}' (seed {args.seed}) in {took:.1f} s")
    print(f"  observed: {obs_path}")
    print(f"  truth:    {truth_path}  (never a model input)")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:

    scenario = load_scenario(args.scenario)
    if args.write and not args.solve:
        raise _UsageError("--write needs --solve")
    if args.solve:
        start = time.perf_counter()
        with _progress_bar(None, f"solving {len(scenario.free)} free parameters", "evals", not args.quiet) as bar:

            def tick(k: int, cost: float) -> None:
                bar.update(1)
                bar.set_postfix(cost=f"{cost:.3g}")

            result = solve(scenario, n=args.solve_n, progress=tick)
        print(
            f"solved in {time.perf_counter() - start:.0f} s ({result.nfev} evaluations, "
            f"{'converged' if result.success else 'NOT converged'}: {result.message})"
        )
        for name, value in result.values.items():
            print(f"  {name:32s} {scenario.parameters[name].value!s:>12} -> {value:.6g}")
        scenario = scenario.with_values(result.values)
        if args.write:
            dest = Path(args.write)
            src = scenario.path
            if src is None or not Path(src).is_file():
                raise _UsageError("cannot --write: the scenario has no source file")
            try:
                with atomic_write(dest) as tmp:
                    shutil.copyfile(src, tmp)
                    write_values(tmp, result.values)
            except OSError as exc:
                raise _UsageError(f"cannot write {dest}: {exc.strerror or exc}") from None
            print(f"wrote the solved scenario to {dest}")

    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = _progress_bar(total, stage, "", not args.quiet)
        bar = bars[stage]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    start = time.perf_counter()
    rep = report(
        scenario,
        population_n=args.population_n,
        replicates=args.replicates,
        replicate_n=args.replicate_n,
        progress=progress,
    )
    print(f"\nCalibration of '{scenario.name}' ({scenario.title})")
    print(
        f"population seed {rep.population_seed}, replicate seeds {rep.replicate_seed}.."
        f"{rep.replicate_seed + rep.replicates - 1}; {time.perf_counter() - start:.0f} s\n"
    )
    print(rep.to_text())
    if rep.passed:
        print("\nall targets within tolerance")
        return 0
    print(f"\ntargets missed: {', '.join(rep.failures)}", file=sys.stderr)
    return EXIT_TARGET_MISSED


class _UsageError(Exception):
    pass


def _progress(args: argparse.Namespace, start: float):
    """Progress lines on stderr, stamped with the seconds since ``start`` (silent with --quiet)."""

    def say(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:5.0f} s] {message}", file=sys.stderr, flush=True)

    return say


def _cmd_train(args: argparse.Namespace) -> int:

    exp = load_experiment(args.experiment)
    uri = resolve_tracking_uri(args.tracking_uri)
    start = time.perf_counter()
    say = _progress(args, start)

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
    _print_page(logged, uri, args.tracking_uri)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:

    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    out = Path(args.out)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise _UsageError(f"cannot write {out}: folder {out.parent} does not exist")
    data = read_table(args.data)
    model = load(args.model)
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
                pred.to_csv(tmp, index_label="row")
    except OSError as exc:
        raise _UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote predictions for {len(pred):,} patients to {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:

    uri = resolve_tracking_uri(args.tracking_uri)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    start = time.perf_counter()
    say = _progress(args, start)

    data = read_table(args.data)
    model = load(args.model)
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
    _print_page(logged, uri, args.tracking_uri)
    return 0


def _cmd_study(args: argparse.Namespace) -> int:

    study = load_study(args.study)
    uri = resolve_tracking_uri(args.tracking_uri)
    start = time.perf_counter()
    say = _progress(args, start)
    grid = study.grid()
    cells = len(plan_cells(study))
    say(f"study '{study.name}' ({study.path}) -> MLflow store {uri}, results in {study.output}/")
    say(
        f"grid: n = {', '.join(map(str, grid['n']))} x {grid['replicates']} replicates "
        f"x models {', '.join(grid['models'])} "
        f"x panels {', '.join(grid['panels'])} x scenarios {', '.join(grid['scenarios'])} = {cells} cells"
    )
    cluster = ClusterSpec(scheduler=args.scheduler, workers=args.workers, timeout=args.timeout)
    probe(cluster)  # a scheduler that does not answer: one line, before the MLflow run or any cell

    def connected(conn) -> None:
        where = "LocalCluster" if conn.local else f"scheduler {args.scheduler}"
        say(f"Dask: {where}, {conn.workers} worker(s)" + (f"; dashboard {conn.dashboard}" if conn.dashboard else ""))

    last = [0.0]

    def progress(p) -> None:
        if p.error is not None:
            say(f"cell {p.last.label()} failed: {p.error}")
        now = time.perf_counter()
        if p.done == p.total or now - last[0] >= args.every or p.last is None:
            last[0] = now
            left = "" if p.left != p.left else f", about {_clock(p.left)} left"
            say(f"cells {p.done}/{p.total} ({p.cached} from the cache, {p.failed} failed){left}")

    logged = run_study_and_log(
        study, lambda s: run_study(s, cluster, progress=progress, connected=connected), tracking_uri=uri
    )
    result = logged.result
    written = result.save()
    print()
    print(study_text(result))
    failed = result.failed
    if len(failed):
        print(f"\n{len(failed)} cell(s) failed (marked 'failed' in the table; run the study again to retry them):")
        for r in failed.itertuples():
            print(f"  {r.scenario}/n={r.n}/replicate {r.replicate}/{r.model}/{r.panel}: {r.error}")
    total = sum(result.timings.values()) or 1.0
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(result.timings.items(), key=lambda kv: -kv[1]))
    print(
        f"\n{result.computed} cells computed, {result.cached} from the cache, in {time.perf_counter() - start:.0f} s"
        + (f" (a cell's time: {shares})" if result.computed else "")
    )
    print(f"results: {', '.join(str(p) for p in written)}")
    print(f"run {logged.run_id} in experiment '{study.name}' ({logged.children} child runs, one per grid point)")
    _print_page(logged, uri, args.tracking_uri)
    return 0


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _print_page(logged, uri: str, given: str | None) -> None:
    if uri.startswith(("http://", "https://")):
        print(f"run page:  {logged.page(uri)}")
    else:  # a local store: the UI is served by `predictor ui`
        serve = "predictor ui" + ("" if given is None else f" --tracking-uri {uri}")
        print(f"run page:  {logged.page(f'http://127.0.0.1:{UI_PORT}')}  (serve the MLflow UI first: {serve})")


def _cmd_ui(args: argparse.Namespace) -> int:
    uri = resolve_tracking_uri(args.tracking_uri)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    print(f"MLflow UI on http://127.0.0.1:{args.port} (store {uri}); Ctrl-C to stop", flush=True)
    # The server runs in a process group of its own (mlflow server starts uvicorn as its child), so
    # that stopping `predictor ui` by Ctrl-C, SIGTERM or SIGHUP stops the whole group: a signal sent
    # to this process alone (a process manager, a closed session) would otherwise leave uvicorn
    # serving the port.
    server = subprocess.Popen(cmd, env=env, start_new_session=True)
    previous = (
        signal.signal(signal.SIGHUP, _raise_terminated)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C; SIGTERM and SIGHUP arrive as _Terminated
        _stop_group(server)
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)


def _stop_group(server: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the server's process group, SIGKILL to what is left of it after ``grace`` s;
    return once every process of the group is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            server.poll()  # reap the leader, or the group never empties
            try:
                os.killpg(server.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``predictor`` command."""

    parser = argparse.ArgumentParser(
        prog="predictor",
        description="Immunotherapy response and PFS prediction from biomarkers: synthetic cohorts, "
        "XGBoost models, SHAP, MLflow.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("scenarios", help="list the shipped scenarios")
    p.set_defaults(func=_cmd_scenarios)

    p = sub.add_parser("generate", help="generate a synthetic cohort (observed + truth Parquet files)")
    p.add_argument("scenario", help="scenario name (see 'predictor scenarios') or a scenario .toml file")
    p.add_argument("--n", type=_positive_int, default=None, help="number of patients (default: the scenario's)")
    p.add_argument("--seed", type=_seed, default=0, help="seed; the same seed gives the same cohort (default 0)")
    p.add_argument("--out", required=True, help="observed Parquet file; the truth goes beside it as NAME.truth.parquet")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("calibrate", help="check (and optionally solve) a scenario against its published targets")
    p.add_argument("scenario", help="scenario name or a scenario .toml file")
    p.add_argument(
        "--population-n",
        type=_positive_int,
        default=POPULATION_N,
        help=f"patients in the population-scale check (default {POPULATION_N:,})",
    )
    p.add_argument("--replicates", type=_positive_int, default=200, help="trial-sized replicates (default 200)")
    p.add_argument("--replicate-n", type=_positive_int, default=None, help="replicate size (default: the scenario's n)")
    p.add_argument("--solve", action="store_true", help="solve the free parameters first")
    p.add_argument(
        "--solve-n",
        type=_positive_int,
        default=POPULATION_N,
        help=f"population the solver uses (default {POPULATION_N:,})",
    )
    p.add_argument(
        "--write", metavar="FILE", help="with --solve: write the scenario file with the solved values to FILE"
    )
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("train", help="train, evaluate and explain the models of an experiment, tracked in MLflow")
    p.add_argument(
        "experiment",
        nargs="?",
        default="icb_bone_opn",
        help="experiment name (experiments/NAME.toml) or a .toml file (default: icb_bone_opn)",
    )
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    p.add_argument("--no-register", action="store_true", help="do not register the model")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("predict", help="predict response and PFS for the patients of a CSV/Parquet file")
    p.add_argument(
        "--model",
        required=True,
        help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model or a local model folder",
    )
    p.add_argument("--data", required=True, help="patients, CSV or Parquet, with the model's input columns")
    p.add_argument("--out", required=True, help="predictions file (.csv or .parquet)")
    p.add_argument(
        "--explain", action="store_true", help="add per-patient SHAP columns (shap_<column>, plus shap_base_value)"
    )
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "evaluate",
        help="external validation: a trained model's metrics, calibration and decision curves on another cohort, "
        "tracked in MLflow",
    )
    p.add_argument(
        "--model",
        required=True,
        help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model or a local model folder",
    )
    p.add_argument(
        "--data", required=True, help="the cohort, CSV or Parquet, with the model's input and outcome columns"
    )
    p.add_argument("--name", default="external", help="what the cohort is called in metric names (default: external)")
    p.add_argument("--bootstrap", type=_positive_int, default=200, help="bootstrap replicates of the CIs (default 200)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--experiment", default=None, help="MLflow experiment of the run (default: <model name>-validation)")
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "study", help="a simulation study on Dask: learning curves, minimum n beside Riley's, power, tracked in MLflow"
    )
    p.add_argument(
        "study",
        nargs="?",
        default="icb_bone_opn_sample_size",
        help="study name (experiments/NAME.toml) or a .toml file (default: icb_bone_opn_sample_size)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler (tcp://HOST:PORT) or its scheduler file (default: a LocalCluster here)",
    )
    p.add_argument(
        "--workers", type=_positive_int, default=None, help="LocalCluster worker processes (default: one per core)"
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the scheduler to answer (default 10)"
    )
    p.add_argument("--every", type=float, default=5.0, help="seconds between progress lines (default 5)")
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    p.set_defaults(func=_cmd_study)

    p = sub.add_parser("ui", help="start the MLflow UI on 127.0.0.1 against the same store (lean: one worker)")
    p.add_argument("--port", type=int, default=UI_PORT)
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )
    p.set_defaults(func=_cmd_ui)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:

    return (FeaturesError, SyntheticError, PredictorError, _UsageError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``predictor`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = _terminate_as_interrupt()
    try:
        return int(args.func(args) or 0)
    except _user_errors() as exc:
        print(f"predictor: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except _Terminated:
        print(
            "predictor: terminated (SIGTERM); the MLflow run, if one was open, is marked KILLED and nothing was "
            "registered",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("predictor: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's kill, a closed terminal), raised where the program is, so that
    it unwinds like Ctrl-C: the open MLflow run ends KILLED, temporary files go, nothing registers."""


def _terminate_as_interrupt():
    """Turn SIGTERM into :class:`_Terminated` (main thread only); return the handler it replaced."""

    if threading.current_thread() is not threading.main_thread():
        return None

    return signal.signal(signal.SIGTERM, _raise_terminated)


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

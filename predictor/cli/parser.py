"""The arguments of every command (argparse)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from predictor.cli.common import UI_PORT, port_arg, positive_int, risk_arg, seed_arg
from synthetic.calibration import POPULATION_N


def command(module: str, name: str) -> Callable[[argparse.Namespace], int | None]:
    """The command ``name`` of :mod:`predictor.cli.<module>`, imported only when it runs: so that
    ``--help``, a bad argument or a data command answers without first importing MLflow, Dask
    and matplotlib (seconds of start-up)."""

    def run(args: argparse.Namespace) -> int | None:
        return getattr(importlib.import_module(f"predictor.cli.{module}"), name)(args)

    run.__name__ = run.__qualname__ = name
    return run


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``predictor`` command."""

    parser = argparse.ArgumentParser(
        prog="predictor",
        description="Immunotherapy response and PFS prediction from biomarkers: synthetic cohorts, "
        "XGBoost models, SHAP, MLflow.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_data_commands(sub)
    _add_model_commands(sub)
    _add_study_commands(sub)
    return parser


def _add_data_commands(sub: Any) -> None:
    """``scenarios``, ``generate``, ``calibrate``."""
    p = sub.add_parser("scenarios", help="list the shipped scenarios")
    p.set_defaults(func=command("data", "cmd_scenarios"))

    p = sub.add_parser("scenario", help="work with a scenario file: 'check' it")
    checks = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = checks.add_parser("check", help="load a scenario file, print its graph, free parameters and every problem")
    p.add_argument("scenario", help="scenario name or a scenario .toml file")
    p.add_argument("--n", type=positive_int, default=100_000, help="patients for the sensitivity check (100,000)")
    p.set_defaults(func=command("data", "cmd_scenario_check"))

    p = sub.add_parser("generate", help="generate a synthetic cohort (observed + truth Parquet files)")
    p.add_argument("scenario", help="scenario name (see 'predictor scenarios') or a scenario .toml file")
    p.add_argument("--n", type=positive_int, default=None, help="number of patients (default: the scenario's)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed; the same seed gives the same cohort (default 0)")
    p.add_argument("--out", required=True, help="observed Parquet file; the truth goes beside it as NAME.truth.parquet")
    p.set_defaults(func=command("data", "cmd_generate"))

    p = sub.add_parser("calibrate", help="check (and optionally solve) a scenario against its published targets")
    p.add_argument("scenario", help="scenario name or a scenario .toml file")
    p.add_argument(
        "--population-n",
        type=positive_int,
        default=POPULATION_N,
        help=f"patients in the population-scale check (default {POPULATION_N:,})",
    )
    p.add_argument("--replicates", type=positive_int, default=200, help="trial-sized replicates (default 200)")
    p.add_argument("--replicate-n", type=positive_int, default=None, help="replicate size (default: the scenario's n)")
    p.add_argument("--solve", action="store_true", help="solve the free parameters first")
    p.add_argument(
        "--solve-n",
        type=positive_int,
        default=POPULATION_N,
        help=f"population the solver uses (default {POPULATION_N:,})",
    )
    p.add_argument(
        "--write", metavar="FILE", help="with --solve: write the scenario file with the solved values to FILE"
    )
    p.set_defaults(func=command("data", "cmd_calibrate"))


def _add_model_commands(sub: Any) -> None:
    """``train``, ``predict``, ``evaluate``."""
    p = sub.add_parser("train", help="train, evaluate and explain the models of an experiment, tracked in MLflow")
    p.add_argument(
        "experiment",
        nargs="?",
        default="icb_bone_opn",
        help="experiment name (experiments/NAME.toml) or a .toml file (default: icb_bone_opn)",
    )
    _tracking_uri(p)
    p.add_argument("--no-register", action="store_true", help="do not register the model")
    p.set_defaults(func=command("models", "cmd_train"))

    p = sub.add_parser("predict", help="predict response and PFS for the patients of a CSV/Parquet file")
    _model(p)
    p.add_argument("--data", required=True, help="patients, CSV or Parquet, with the model's input columns")
    p.add_argument("--out", required=True, help="predictions file (.csv or .parquet)")
    p.add_argument(
        "--explain", action="store_true", help="add per-patient SHAP columns (shap_<column>, plus shap_base_value)"
    )
    _tracking_uri(p)
    p.set_defaults(func=command("models", "cmd_predict"))

    p = sub.add_parser(
        "evaluate",
        help="external validation: a trained model's metrics, calibration and decision curves on another cohort, "
        "tracked in MLflow",
    )
    _model(p)
    p.add_argument(
        "--data", required=True, help="the cohort, CSV or Parquet, with the model's input and outcome columns"
    )
    p.add_argument("--name", default="external", help="what the cohort is called in metric names (default: external)")
    p.add_argument("--bootstrap", type=positive_int, default=200, help="bootstrap replicates of the CIs (default 200)")
    p.add_argument("--seed", type=seed_arg, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--experiment", default=None, help="MLflow experiment of the run (default: <model name>-validation)")
    _tracking_uri(p)
    p.set_defaults(func=command("models", "cmd_evaluate"))


def _add_study_commands(sub: Any) -> None:
    """``study`` and ``ui``."""
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
        "--workers", type=positive_int, default=None, help="LocalCluster worker processes (default: one per core)"
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the scheduler to answer (default 10)"
    )
    p.add_argument("--every", type=float, default=5.0, help="seconds between progress lines (default 5)")
    p.add_argument(
        "--plan", action="store_true", help="print the cells, what the cache holds and a time estimate; run nothing"
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="then simulate each minimum n again with fresh replicates and check the criterion on them",
    )
    p.add_argument(
        "--at",
        type=positive_int,
        default=None,
        metavar="N",
        help="only the expected performance at N patients (its replicates; cached cells reused; no MLflow run)",
    )
    p.add_argument(
        "--validation-size",
        action="store_true",
        help="only how many patients an external validation needs (Riley's closed form for a model as good as "
        "the oracle, and the interval widths simulated at that n); runs no cell",
    )
    p.add_argument(
        "--threshold",
        type=risk_arg,
        default=None,
        metavar="RISK",
        help="with --validation-size: also size the net benefit at this risk threshold (e.g. 0.2)",
    )
    _tracking_uri(p)
    p.set_defaults(func=command("study", "cmd_study"))

    p = sub.add_parser(
        "keys", help="every key of an experiment, study or scenario file, with its type, default and rule"
    )
    p.add_argument("kind", choices=("experiment", "study", "scenario"), help="the file kind")
    p.set_defaults(func=command("data", "cmd_keys"))

    p = sub.add_parser("ui", help="start the MLflow UI on 127.0.0.1 against the same store (lean: one worker)")
    p.add_argument("--port", type=port_arg, default=UI_PORT, help=f"port on 127.0.0.1 (default {UI_PORT})")
    _tracking_uri(p)
    p.set_defaults(func=command("ui", "cmd_ui"))


def _tracking_uri(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)",
    )


def _model(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        required=True,
        help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model or a local model folder",
    )

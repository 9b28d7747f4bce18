"""The stages of training, each a plain function with typed inputs and outputs.

:func:`predictor.training.pipeline` runs them in order::

    load_data -> make_tasks -> fit_features -> search -> fit -> evaluate -> explain -> (figures, bundle)

Each can be called alone (a simulation study runs load_data -> search -> fit -> evaluate many
times). Stages loop over :mod:`predictor.training.tasks`; nothing here depends on which outcome kind a
task is. Nothing here talks to MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from features import Schema, read_table, validate
from features.errors import FeaturesError
from features.pipeline import CohortFeatures
from predictor.config.experiment import MIN_PATIENTS, Experiment
from predictor.errors import TrainingError
from predictor.training.tasks import (
    BinaryOutcome,
    BinaryTask,
    SurvivalTask,
    Task,
    TimeToEvent,
)
from synthetic import evaluate_targets, generate, load_scenario
from synthetic.errors import SyntheticError
from synthetic.generation import generate_nested

__all__ = [
    "Progress",
    "no_progress",
    "Synthetic",
    "Part",
    "Data",
    "load_data",
    "development_data",
    "make_tasks",
    "fit_features",
    "check_calibration",
]

Progress = Callable[[str], None]


def no_progress(message: str) -> None:
    """A progress callback that says nothing."""
    pass


# --------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Synthetic:
    """Where a synthetic cohort came from: what its oracle needs besides the truth frame."""

    scenario: Any  # synthetic.Scenario
    seed: int
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Part:
    """Rows of a cohort: the observed ``frame`` and, for a synthetic cohort, its ``truth``."""

    name: str
    frame: pd.DataFrame
    truth: pd.DataFrame | None = None


@dataclass(frozen=True)
class Data:
    """The cohort split for training: what every later stage reads.

    ``tasks`` are the experiment's tasks (:func:`make_tasks`), checked on this cohort;
    ``validation`` is a fresh synthetic cohort (None for a user's file, or with ``[validation]
    n = 0``); ``external`` the cohort of ``[validation] path`` (None without one); ``source`` is
    None for a user's file; ``info`` describes the cohort for the run (scenario, seed, n; or the
    file).
    """

    schema: Schema
    tasks: tuple[Task, ...]
    observed: pd.DataFrame
    train: Part
    test: Part
    validation: Part | None
    source: Synthetic | None
    info: Mapping[str, Any]
    external: Part | None = None

    @property
    def evaluated_parts(self) -> list[Part]:
        """The cohorts a run is evaluated on: the test split, the validation cohort and the
        external cohort, where there are ones."""
        return [self.test] + [p for p in (self.validation, self.external) if p is not None]


def load_data(exp: Experiment, say: Progress = no_progress) -> Data:
    """The cohort (generated, or read from the user's file), checked against its schema and
    split into training and test rows; and the validation cohort.

    Raises
    ------
    TrainingError
        Too few patients, or a ``[shap] by`` column the cohort lacks.
    SchemaValidationError, TableReadError, ScenarioError
        The cohort breaks its schema, the file cannot be read, the scenario is unknown.
    """

    observed, truth, schema, source, info = _cohort(exp, say)
    observed = validate(observed, schema)
    if exp.shap.by and exp.shap.by not in schema:
        raise TrainingError(f"[shap] by = '{exp.shap.by}' is not a column of the cohort")
    tasks = _checked_tasks(exp, schema, observed, "to train and test")
    # Stratified by the first task's strata (the response class, else the event indicator).
    strata = tasks[0].strata(tasks[0].target(observed))
    tr, te = train_test_split(
        np.arange(len(observed)),
        test_size=exp.evaluation.test_fraction,
        random_state=exp.evaluation.seed,
        stratify=strata,
    )
    take = lambda name, rows: Part(name, observed.iloc[rows], truth.iloc[rows] if truth is not None else None)
    validation = None
    if exp.validation.n and source is not None:
        say(f"generating validation cohort (n={exp.validation.n}, seed {exp.validation.seed})")
        assert exp.validation.seed is not None  # resolved by load_experiment
        v = generate(source.scenario, exp.validation.n, exp.validation.seed)
        validation = Part("validation", v.observed, v.truth)
    external = None
    if exp.validation.path is not None:
        say(f"reading external cohort {exp.validation.path}")
        frame = validate(read_table(exp.validation.path), schema, what="external cohort")
        external = Part("external", frame)
        info = info | {"external": str(exp.validation.path), "n_external": len(frame)}
    return Data(
        schema=schema,
        tasks=tasks,
        observed=observed,
        train=take("train", tr),
        test=take("test", te),
        validation=validation,
        source=source,
        info=info | {"n_train": len(tr), "n_test": len(te)},
        external=external,
    )


def _cohort(
    exp: Experiment, say: Progress
) -> tuple[pd.DataFrame, pd.DataFrame | None, Schema, Synthetic | None, dict[str, Any]]:
    """The experiment's cohort, not yet checked: observed rows, the truth (synthetic only), the
    schema, where it came from and what describes it for the run."""
    if not exp.synthetic:
        observed, schema = _read_user_cohort(exp, say)
        return observed, None, schema, None, {"source": str(exp.cohort.path), "n": len(observed)}
    assert exp.cohort.scenario is not None  # exp.synthetic
    scenario = load_scenario(exp.cohort.scenario)
    say(f"generating cohort '{scenario.name}' (n={exp.cohort.n or scenario.default_n}, seed {exp.cohort.seed})")
    cohort = generate(scenario, exp.cohort.n, exp.cohort.seed)
    source = Synthetic(scenario=scenario, seed=exp.cohort.seed, parameters=cohort.parameters)
    info = {k: v for k, v in cohort.metadata().items() if k != "parameters"}
    return cohort.observed, cohort.truth, scenario.schema, source, info


def development_data(exp: Experiment, scenario: Any, say: Progress = no_progress, *, nested: bool = False) -> Data:
    """A synthetic development cohort of ``exp.cohort.n`` patients from ``scenario`` (a
    :class:`synthetic.Scenario`, possibly with parameters overridden) and seed
    ``exp.cohort.seed``, every patient a training row: what a simulation study fits, to be scored
    on a separate large validation cohort rather than on a test split (``test`` is empty).

    With ``nested``, the cohort comes from :func:`synthetic.generation.generate_nested`: the first
    ``exp.cohort.n`` patients of one endless cohort per seed, so that a study's sizes are nested
    within each replicate.

    Raises
    ------
    TrainingError
        Too few patients, or an outcome with a single class or no events.
    """

    say(f"generating development cohort (n={exp.cohort.n}, seed {exp.cohort.seed})")
    draw = generate_nested if nested else generate
    cohort = draw(scenario, exp.cohort.n or scenario.default_n, exp.cohort.seed)
    observed, schema = cohort.observed, scenario.schema
    tasks = _checked_tasks(exp, schema, observed, "to train")
    source = Synthetic(scenario=scenario, seed=exp.cohort.seed, parameters=cohort.parameters)
    info = {k: v for k, v in cohort.metadata().items() if k != "parameters"}
    return Data(
        schema=schema,
        tasks=tasks,
        observed=observed,
        train=Part("train", observed, cohort.truth),
        test=Part("test", observed.iloc[:0], cohort.truth.iloc[:0]),
        validation=None,
        source=source,
        info=info | {"n_train": len(observed), "n_test": 0},
    )


def _checked_tasks(exp: Experiment, schema: Schema, observed: pd.DataFrame, purpose: str) -> tuple[Task, ...]:
    """The experiment's tasks, once the cohort has enough patients (``purpose``: what for) and
    every task can be trained on it (TrainingError otherwise)."""
    if len(observed) < MIN_PATIENTS:
        raise TrainingError(f"the cohort has {len(observed)} patients; at least {MIN_PATIENTS} are needed {purpose}")
    by = exp.search.interactions
    if by is not None and (
        by not in schema
        or schema[by].dtype != "category"
        or (exp.features.columns is not None and by not in exp.features.columns)
    ):
        raise TrainingError(f"[search] interactions = '{by}' must be a categorical model input of the cohort")
    tasks = make_tasks(exp, schema)
    for task in tasks:
        task.check(observed)
    return tasks


def _read_user_cohort(exp: Experiment, say: Progress) -> tuple[pd.DataFrame, Schema]:
    """A user's CSV/Parquet cohort and its declared schema (nothing coerced, nothing dropped)."""
    try:
        schema = Schema.from_dict(exp.columns)
    except FeaturesError as exc:
        raise TrainingError(f"{exp.path} [columns]: {exc}") from None
    say(f"reading cohort file {exp.cohort.path}")
    assert exp.cohort.path is not None  # a user's cohort
    df = read_table(exp.cohort.path)
    extra = [c for c in df.columns if c not in schema]
    if extra:
        say(f"ignoring undeclared column(s) of the cohort file: {', '.join(map(str, extra))}")
    return df, schema


# -------------------------------------------------------------------------------------- tasks
def make_tasks(exp: Experiment, schema: Schema) -> tuple[Task, ...]:
    """The tasks the experiment asks for, in order: response, survival, then more binary outcomes.

    A time outcome's unit is its column's declared unit.

    Raises
    ------
    TrainingError
        An outcome column the schema lacks, or a time column without a known unit.
    """
    out: list[Task] = []
    o = exp.outcomes
    for column in (o.response, o.time, o.event, *o.binary):
        if column is not None and column not in schema:
            raise TrainingError(f"outcome column '{column}' is not a column of the cohort")
    if exp.models.response and o.response:
        out.append(BinaryTask("response", BinaryOutcome(o.response)))
    if exp.models.survival and o.time and o.event:  # time and event go together (load_experiment)
        outcome = TimeToEvent(time=o.time, event=o.event, unit=schema[o.time].unit or "", endpoint=o.endpoint)
        out.append(SurvivalTask(outcome, exp.models.survival, exp.evaluation.horizons))
    out += [BinaryTask(column, BinaryOutcome(column)) for column in o.binary]
    return tuple(out)


def fit_features(exp: Experiment, data: Data) -> CohortFeatures:
    """The feature pipeline, fitted on the training rows."""
    f = exp.features
    return CohortFeatures(schema=data.schema, columns=f.columns, log=f.log, cutoffs=f.cutoffs or None).fit(
        data.train.frame
    )


# -------------------------------------------------------------------------------- calibration
def check_calibration(data: Data) -> pd.DataFrame | None:
    """The scenario's published targets beside this cohort's values (None for a user's file, or
    where a target is undefined on a small cohort, such as an empty subgroup)."""

    if data.source is None:
        return None
    scenario = data.source.scenario
    try:
        got = evaluate_targets(scenario, data.observed)
    except (SyntheticError, ValueError, ArithmeticError):  # an empty subgroup, a Cox fit that cannot converge
        return None
    return pd.DataFrame(
        [{"id": t.id, "label": t.label, "target": t.value, "this_cohort": got.get(t.id)} for t in scenario.targets]
    )

"""Experiment files: cohort + outcomes + features + models + evaluation, in TOML (read with :mod:`tomllib`).

Each TOML section is one frozen dataclass below; each key's default is declared once, on its
field, and :data:`CONSTRAINTS` says what each key accepts (types and rule). :func:`load_experiment`
validates the file against that table, names the file, the key and the rule on any error, and
returns the **resolved** :class:`Experiment` (every default filled in, derived values such as
the validation seed computed): that is what a run logs.

A synthetic cohort comes from a scenario (``[cohort] scenario``); a user's own cohort from a CSV
or Parquet file (``[cohort] path``) whose columns are declared in ``[columns.NAME]`` tables, as a
scenario file declares them. ``[outcomes]`` names the outcome columns; a time outcome's unit is
its column's declared ``unit``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import tomllib

from features.errors import TableReadError
from features.io import read_text_file
from features.keytable import Key, KeyTable, Problems, parse_section, stored
from features.limits import max_patients
from predictor.errors import ExperimentError
from predictor.models.boosters import BOOSTERS
from synthetic import ScenarioError, load_scenario

__all__ = [
    "DEFAULT_EXPERIMENT",
    "SURVIVAL_OBJECTIVES",
    "ExperimentSection",
    "CohortSection",
    "OutcomesSection",
    "SCENARIO_OUTCOMES",
    "ValidationSection",
    "FeaturesSection",
    "ModelsSection",
    "SearchSection",
    "EvaluationSection",
    "ShapSection",
    "RegistrySection",
    "CONSTRAINTS",
    "Experiment",
    "experiments_dir",
    "load_experiment",
    "MIN_PATIENTS",
]

DEFAULT_EXPERIMENT = "icb_bone_opn"
SURVIVAL_OBJECTIVES = ("survival:cox", "survival:aft")


@dataclass(frozen=True)
class ExperimentSection:
    """``[experiment]``: ``name`` is the MLflow experiment."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class CohortSection:
    """``[cohort]``: a ``scenario`` (synthetic, ``n`` patients from ``seed``) or a ``path`` (CSV or
    Parquet, relative to the experiment file)."""

    scenario: str | None = None
    n: int | None = None  # None: the scenario's default n
    seed: int = 0
    path: Path | None = None


@dataclass(frozen=True)
class OutcomesSection:
    """``[outcomes]``: which columns hold the outcomes.

    ``response``: a binary outcome (the response task); ``time`` and ``event``: a time to event
    (the survival task), whose unit is the time column's declared unit; ``endpoint``: what the
    time measures (``"pfs"``, ``"os"``), which names the prediction columns (``median_os_days``);
    ``binary``: more binary outcome columns, each trained and evaluated as a task of its own (the
    myeloma experiment's ``cr_or_better``). A scenario's cohort has :data:`SCENARIO_OUTCOMES`
    unless this section says otherwise; a user's cohort has only the outcomes named here.
    """

    response: str | None = None
    time: str | None = None
    event: str | None = None
    endpoint: str = "pfs"
    binary: tuple[str, ...] = ()


#: The outcome columns every shipped scenario writes.
SCENARIO_OUTCOMES = OutcomesSection(response="objective_response", time="pfs_months", event="pfs_event", endpoint="pfs")


@dataclass(frozen=True)
class ValidationSection:
    """``[validation]``: a fresh synthetic cohort of ``n`` patients (0: none) from ``seed``
    (default: the cohort seed + 1; a user's cohort has none); and ``path``: an external cohort
    (CSV or Parquet, relative to the experiment file; another centre, another year) with the same
    columns, evaluated in the same run beside the test split (as dataset ``external``)."""

    n: int = 20000
    seed: int | None = None
    path: Path | None = None


@dataclass(frozen=True)
class FeaturesSection:
    """``[features]``: ``log`` ("auto", a list of columns, or false), ``cutoffs`` (derived flags,
    ``{opn_ng_ml = [50, 85]}``), ``columns`` (the model inputs; default every feature)."""

    log: str | tuple[str, ...] | None = "auto"
    cutoffs: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelsSection:
    """``[models]``: train the response task (``response``) and the survival task with this
    XGBoost objective (``survival``; false: none)."""

    response: bool = True
    survival: str | None = "survival:cox"


@dataclass(frozen=True)
class SearchSection:
    """``[search]``: ``n_iter`` seeded tree draws and/or the linear booster's grid (``boosters``),
    scored by ``cv_folds``-fold CV on the training split; ``n_jobs`` candidate fits at once (0:
    one per core this process may use). Each fit is single-threaded, so the choice does not
    depend on ``n_jobs``. ``interactions``: a categorical model input (a therapy arm) whose
    levels each get their own coefficients in the linear booster's candidates (its product with
    every other input; trees find interactions themselves)."""

    n_iter: int = 8
    cv_folds: int = 3
    seed: int = 0
    boosters: tuple[str, ...] = BOOSTERS
    n_jobs: int = 0
    interactions: str | None = None


@dataclass(frozen=True)
class EvaluationSection:
    """``[evaluation]``: the test split, the bootstrap, and the horizons (in the time unit).

    ``nested_folds`` (0: off) and ``nested_repeats``: a nested cross-validation of the whole
    development cohort (training and test rows) beside the single test split: each outer fold's
    model is searched and fitted on the other folds, as the run's own model is, and scored on
    the fold; ``nested_repeats`` reshuffles. It shows how far the search's CV score is from what
    the chosen model scores on patients it never saw, and how much one split's figure varies."""

    test_fraction: float = 0.25
    bootstrap: int = 200
    seed: int = 0
    horizons: tuple[float, ...] = (6.0, 12.0, 24.0)
    nested_folds: int = 0
    nested_repeats: int = 1


@dataclass(frozen=True)
class ShapSection:
    """``[shap]``: patients explained, dependence plots, and ``by``: a categorical column (a
    therapy arm) within whose groups importance is also shown."""

    max_rows: int = 2000
    dependence: tuple[str, ...] = ()
    by: str | None = None


@dataclass(frozen=True)
class RegistrySection:
    """``[registry]``: the registered model's name (default: the experiment's) and whether to register."""

    model_name: str | None = None
    register: bool = True


def _false_is_none(value: Any) -> Any:
    """``false`` where a key means 'none' (``log = false``, ``survival = false``)."""
    return None if value is False else stored(value)


_positive = Key(int, lambda v: v > 0, "must be > 0")
_patients = Key(
    int,
    lambda v: 0 < v <= max_patients(),
    "must be a number of patients within 1..IMMUNORESPONSE_MAX_PATIENTS (50,000,000 unless set)",
)
_seed = Key(int, lambda v: v >= 0, "must be >= 0")
_columns = Key(list, lambda v: all(isinstance(c, str) for c in v), "must be a list of column names")

#: Every section, its dataclass, and what each key accepts (scikit-survival's
#: ``_parameter_constraints``, for a file). Defaults are on the dataclass fields.
CONSTRAINTS: KeyTable = {
    "experiment": (ExperimentSection, {"name": Key(str, bool, "must not be empty"), "description": Key(str)}),
    "cohort": (CohortSection, {"scenario": Key(str), "n": _patients, "seed": _seed, "path": Key(str)}),
    "outcomes": (
        OutcomesSection,
        {
            "response": Key(str),
            "time": Key(str),
            "event": Key(str),
            "endpoint": Key(str, str.isidentifier, 'must be a short name such as "pfs" or "os"'),
            "binary": _columns,
        },
    ),
    "validation": (
        ValidationSection,
        {
            "n": Key(
                int,
                lambda v: 0 <= v <= max_patients(),
                "must be within 0..IMMUNORESPONSE_MAX_PATIENTS (50,000,000 unless set)",
            ),
            "seed": _seed,
            "path": Key(str),
        },
    ),
    "features": (
        FeaturesSection,
        {
            "log": Key(
                (str, list, bool),
                lambda v: v == "auto" or v is False or isinstance(v, list),
                'must be "auto", a list of columns or false',
                convert=_false_is_none,
            ),
            "cutoffs": Key(
                dict,
                lambda v: all(isinstance(c, list) and all(isinstance(x, (int, float)) for x in c) for c in v.values()),
                "must map columns to lists of numbers",
            ),
            "columns": _columns,
        },
    ),
    "models": (
        ModelsSection,
        {
            "response": Key(bool),
            "survival": Key(
                (str, bool),
                lambda v: v in (*SURVIVAL_OBJECTIVES, False),
                "must be 'survival:cox', 'survival:aft' or false",
                convert=_false_is_none,
            ),
        },
    ),
    "search": (
        SearchSection,
        {
            "n_iter": _positive,
            "cv_folds": Key(int, lambda v: v >= 2, "must be >= 2"),
            "seed": _seed,
            "boosters": Key(
                list,
                lambda v: len(v) > 0 and all(b in BOOSTERS for b in v),
                'must be a non-empty list of "gbtree" and/or "gblinear"',
            ),
            "n_jobs": Key(int, lambda v: v >= 0, "must be >= 0 (0: every core)"),
            "interactions": Key(str, bool, "must name a categorical column"),
        },
    ),
    "evaluation": (
        EvaluationSection,
        {
            "test_fraction": Key(float, lambda v: 0.05 <= v <= 0.5, "must be within 0.05-0.5"),
            "bootstrap": Key(int, lambda v: v >= 0, "must be >= 0"),
            "seed": _seed,
            "horizons": Key(
                list,
                lambda v: (
                    len(v) > 0 and all(isinstance(h, (int, float)) and not isinstance(h, bool) and h > 0 for h in v)
                ),
                "must be positive numbers",
                convert=lambda v: tuple(float(h) for h in v),
            ),
            "nested_folds": Key(int, lambda v: v == 0 or v >= 2, "must be 0 (off) or >= 2"),
            "nested_repeats": _positive,
        },
    ),
    "shap": (ShapSection, {"max_rows": _positive, "dependence": _columns, "by": Key(str)}),
    "registry": (RegistrySection, {"model_name": Key(str, bool, "must not be empty"), "register": Key(bool)}),
}

_HINTS = {"cohort.outcomes": " (outcomes now have their own [outcomes] section)"}


@dataclass(frozen=True)
class Experiment:
    """A validated, resolved experiment file: one attribute per section."""

    experiment: ExperimentSection
    cohort: CohortSection
    outcomes: OutcomesSection
    validation: ValidationSection
    features: FeaturesSection
    models: ModelsSection
    search: SearchSection
    evaluation: EvaluationSection
    shap: ShapSection
    registry: RegistrySection
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # a user's cohort: its declaration
    path: Path | None = None

    @property
    def name(self) -> str:
        """The MLflow experiment name."""
        return self.experiment.name

    @property
    def synthetic(self) -> bool:
        """Whether the cohort comes from a scenario (True) or a user's file (False)."""
        return self.cohort.path is None

    @property
    def model_name(self) -> str:
        """The registered model's name (the experiment's name unless ``[registry]`` gives one)."""
        return self.registry.model_name or self.name

    def params(self) -> dict[str, Any]:
        """The resolved configuration as flat ``section.key -> value`` (MLflow parameters)."""
        out = {}
        for f in fields(self):
            if f.name in ("columns", "path"):
                continue
            for key, value in asdict(getattr(self, f.name)).items():
                out[f"{f.name}.{key}"] = str(value) if isinstance(value, Path) else value
        return out


def experiments_dir() -> Path:
    """The shipped experiments: the package data ``predictor.experiments`` (``experiments/`` in the repository)."""
    return Path(str(files("predictor.experiments")))


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    for folder in (Path.cwd() / "experiments", experiments_dir()):
        candidate = folder / f"{name_or_path}.toml"
        if candidate.exists():
            return candidate
    raise ExperimentError(
        f"unknown experiment '{name_or_path}': no file {name_or_path} or experiments/{name_or_path}.toml"
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_text_file(path, "experiment file"))
    except TableReadError as exc:
        raise ExperimentError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{path}: not valid TOML: {exc}") from None


def load_experiment(name_or_path: str | Path = DEFAULT_EXPERIMENT) -> Experiment:
    """Load, validate and resolve an experiment by name (``experiments/NAME.toml``) or path.

    Raises
    ------
    ExperimentError
        Missing file, invalid TOML, unknown section or key, wrong type or value, inconsistent
        sections (the message names the file, the key and the rule).
    """
    path = _resolve(name_or_path)
    where = str(path)
    raw = _read(path)
    for section in raw:
        if section not in CONSTRAINTS and section != "columns":
            raise ExperimentError(
                f"{where}: unknown section [{section}]; known: {', '.join([*CONSTRAINTS, 'columns'])}"
            )
    if "experiment" not in raw:
        raise ExperimentError(f"{where} [experiment]: 'name' is required")
    problems = Problems(where, ExperimentError)
    sections = {
        name: parse_section(problems, name, raw.get(name, {}), CONSTRAINTS, hints=_HINTS) for name in CONSTRAINTS
    }
    problems.raise_any()
    columns = raw.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, dict) for v in columns.values()):
        raise ExperimentError(f"{where}: declare each column as a [columns.NAME] table")
    return _resolved(where, path, sections, "outcomes" in raw, raw.get("models", {}), columns)


def _scenario_path(path: Path, cohort: CohortSection) -> CohortSection:
    """A scenario file named by path is read relative to the experiment file."""
    name = str(cohort.scenario)
    if not (name.endswith(".toml") or "/" in name) or Path(name).is_absolute():
        return cohort
    return replace(cohort, scenario=str((path.parent / name).resolve()))


def scenario_outcomes(where: str, scenario: str) -> OutcomesSection:
    """The outcomes a scenario declares: its first observed binary outcome (or indicator) is the
    response, its time-to-event outcome the survival endpoint (:data:`SCENARIO_OUTCOMES` for the
    shipped scenarios)."""
    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise ExperimentError(f"{where} [cohort] scenario: {exc}") from None
    binary = [b for b in sc.model.binary_names() if b in sc.schema]
    survival = sc.model.survival
    return OutcomesSection(
        response=binary[0] if binary else None,
        time=survival[0] if survival else None,
        event=survival[1] if survival else None,
    )


def _resolved(
    where: str, path: Path, s: dict[str, Any], outcomes_given: bool, models_given: Mapping, columns: dict[str, Any]
) -> Experiment:
    """Check the sections against each other and fill in what depends on another section."""
    cohort, outcomes, models = s["cohort"], s["outcomes"], s["models"]
    if (cohort.scenario is None) == (cohort.path is None):
        raise ExperimentError(
            f"{where} [cohort]: give either 'scenario' (a synthetic cohort) or 'path' (your own file)"
        )
    validation = replace(
        s["validation"], seed=cohort.seed + 1 if s["validation"].seed is None else s["validation"].seed
    )
    if validation.path is not None:
        validation = replace(
            validation,
            path=(path.parent / validation.path).resolve()
            if not Path(validation.path).is_absolute()
            else Path(validation.path),
        )
    if cohort.scenario is not None:
        cohort = _scenario_path(path, cohort)
        given = {
            f.name: getattr(outcomes, f.name)
            for f in fields(outcomes)
            if getattr(outcomes, f.name) != getattr(OutcomesSection(), f.name)
        }
        declared = scenario_outcomes(where, str(cohort.scenario))
        outcomes = replace(declared, **given) if outcomes_given else declared
    else:
        cohort, validation, models = _user_cohort(
            where, path, cohort, validation, outcomes, models, models_given, columns
        )
    if (outcomes.time is None) != (outcomes.event is None):
        raise ExperimentError(f"{where} [outcomes]: 'time' and 'event' go together")
    if s["search"].interactions is not None and "gblinear" not in s["search"].boosters:
        raise ExperimentError(
            f"{where} [search]: 'interactions' shapes the linear booster: add \"gblinear\" to 'boosters'"
        )
    if not (models.response or models.survival or outcomes.binary):
        raise ExperimentError(f"{where}: [models] asks for no model")
    _check_model_name(where, s["registry"], s["experiment"].name)
    return Experiment(
        experiment=s["experiment"],
        cohort=cohort,
        outcomes=outcomes,
        validation=validation,
        features=s["features"],
        models=models,
        search=replace(s["search"], boosters=tuple(dict.fromkeys(s["search"].boosters))),
        evaluation=s["evaluation"],
        shap=s["shap"],
        registry=replace(s["registry"], model_name=s["registry"].model_name or s["experiment"].name),
        columns=columns,
        path=path,
    )


def _check_model_name(where: str, registry: RegistrySection, experiment_name: str) -> None:
    """A registered model's name is one MLflow accepts (no '/' or ':'), checked before training:
    it failed at registration, after the whole training."""
    name = registry.model_name or experiment_name
    if registry.register and any(c in name for c in "/:"):
        given = "[registry] model_name" if registry.model_name else "the model name (the experiment's name)"
        raise ExperimentError(
            f"{where}: {given} {name!r} cannot contain '/' or ':' (MLflow's rule for registered models); "
            "set [registry] model_name, or register = false"
        )


def _user_cohort(
    where: str,
    path: Path,
    cohort: CohortSection,
    validation: ValidationSection,
    outcomes: OutcomesSection,
    models: ModelsSection,
    models_given: Mapping,
    columns: dict[str, Any],
) -> tuple[CohortSection, ValidationSection, ModelsSection]:
    """A user's cohort file: its path resolved against the experiment file, no synthetic
    validation cohort, the outcomes among its declared columns, and only the models whose
    outcomes it names."""
    assert cohort.path is not None  # checked by the caller: a scenario or a path
    cohort = replace(
        cohort,
        path=(path.parent / cohort.path).resolve() if not Path(cohort.path).is_absolute() else Path(cohort.path),
    )
    validation = replace(validation, n=0)
    if not columns:
        raise ExperimentError(f"{where}: a cohort file needs its columns declared in [columns.NAME] tables")
    for key in ("response", "time", "event"):
        column = getattr(outcomes, key)
        if column is not None and column not in columns:
            raise ExperimentError(f"{where} [outcomes]: {key} = '{column}' is not a declared column")
    for column in outcomes.binary:
        if column not in columns:
            raise ExperimentError(f"{where} [outcomes]: binary '{column}' is not a declared column")
    # A model the file does not ask for and whose outcome it does not name is off.
    if outcomes.response is None:
        if models_given.get("response") is True:
            raise ExperimentError(f"{where} [models]: response = true needs [outcomes] response")
        models = replace(models, response=False)
    if outcomes.time is None:
        if models_given.get("survival"):
            raise ExperimentError(f"{where} [models]: a survival model needs [outcomes] time and event")
        models = replace(models, survival=None)
    return cohort, validation, models


#: The fewest patients a cohort may have to be split into training and test rows.
MIN_PATIENTS = 40

"""Study files: a base experiment and a grid (scenario variant x n x replicate x model family x
biomarker panel), validated against :data:`STUDY_CONSTRAINTS` when the file loads.

Every key is checked before any cell runs, and an error names the file, the key and the rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from features.errors import TableReadError
from features.io import read_text_file
from features.keytable import Key, KeyTable, Problems, parse_section
from features.limits import max_patients, max_replicates
from predictor.config.experiment import (
    MIN_PATIENTS,
    Experiment,
    experiments_dir,
    load_experiment,
)
from predictor.errors import ExperimentError, StudyError
from synthetic import load_scenario

__all__ = [
    "MODEL_FAMILIES",
    "SLOPE_RANGE",
    "MIN_SIZES",
    "StudySection",
    "SearchOverrides",
    "CriteriaSection",
    "PowerSection",
    "AdaptiveSection",
    "Panel",
    "Variant",
    "STUDY_CONSTRAINTS",
    "Study",
    "load_study",
]


#: Model families a study compares: XGBoost with the search choosing the booster, trees only,
#: the linear booster only, and the task's classical baseline (logistic regression, Cox PH).
MODEL_FAMILIES: dict[str, tuple[str, ...] | None] = {
    "xgboost": ("gbtree", "gblinear"),
    "gbtree": ("gbtree",),
    "gblinear": ("gblinear",),
    "baseline": None,
    # unpenalised logistic / Cox regression (maximum likelihood): the model closed-form sample
    # size criteria (Riley's) are derived for
    "unpenalised": None,
}


#: The fewest sizes a learning curve (three parameters) is fitted to: an adaptive study's start.
MIN_SIZES = 3

#: Acceptable calibration, two-sided (penalised and tree models can over-shrink): the default of
#: ``[criteria] slope_range`` and of ``predictor study --at``.
SLOPE_RANGE = (0.85, 1.15)


# ------------------------------------------------------------------------------------ the file
@dataclass(frozen=True)
class StudySection:
    """``[study]``: ``experiment`` (the base experiment, a synthetic one), ``seed``, the grid's
    ``n`` (development cohort sizes), ``replicates`` per cell and ``models``
    (:data:`MODEL_FAMILIES`); ``validation_n`` patients in each variant's validation cohort;
    ``output``: the folder of the cache and the results (default ``studies/<name>``, relative
    to the working directory)."""

    name: str
    experiment: str
    n: tuple[int, ...]
    description: str = ""
    seed: int = 0
    replicates: int = 5
    models: tuple[str, ...] = ("xgboost", "baseline")
    validation_n: int = 20000
    output: str | None = None
    first_replicate: int = 0  # not a file key: verification runs fresh replicates after the study's own


@dataclass(frozen=True)
class SearchOverrides:
    """``[search]``: the base experiment's search settings for every cell (None: the base's)."""

    n_iter: int | None = None
    cv_folds: int | None = None


@dataclass(frozen=True)
class CriteriaSection:
    """``[criteria]``: the smallest n is where the gap to the oracle of the task's headline metric
    is at most ``gap`` and the calibration slope at least ``slope`` (Riley's shrinkage criterion),
    over the replicates by their ``statistic``: ``median``, ``mean`` (E(S) >= slope, as
    samplesizedev targets it) or ``assurance`` (at least ``assurance`` of the replicates have a gap
    at most ``gap`` and a slope inside ``slope_range``); its interval comes from ``bootstrap``
    resamples of the replicates."""

    gap: float = 0.02
    slope: float = 0.9
    bootstrap: int = 1000
    statistic: str = "median"
    assurance: float = 0.8
    slope_range: tuple[float, float] = SLOPE_RANGE

    @property
    def slope_bounds(self) -> tuple[float, float]:
        """``slope_range`` as two floats (TOML may give whole numbers)."""
        return float(self.slope_range[0]), float(self.slope_range[1])


@dataclass(frozen=True)
class PowerSection:
    """``[power]``: the baseline model's ``covariate`` is tested (Wald, p < 0.05) in every
    replicate; ``direction`` "worse" expects it to lower the response odds and raise the hazard."""

    covariate: str | None = None
    direction: str = "worse"


@dataclass(frozen=True)
class AdaptiveSection:
    """``[adaptive]``: search for each minimum n instead of reading it off the grid.

    The grid's ``n`` and ``replicates`` are the start; then, round after round, a learning curve
    is fitted to every scenario x task x model x panel (:mod:`predictor.study.learning_curve`)
    and ``batch`` new replicates are placed at its predicted crossing of the criterion, until the
    95% interval of each n* lies within ``precision`` (relative, either side) of n*, or a budget
    runs out: ``rounds``, ``max_cells`` (cells in all, the start's included) or ``max_seconds``
    (checked between rounds: a time budget makes the answer depend on the machine's speed, a
    cell budget does not). No replicate is placed above ``max_n`` patients."""

    precision: float = 0.2
    batch: int = 10
    rounds: int = 6
    max_cells: int = 1000
    max_seconds: float | None = None
    max_n: int = 20000


@dataclass(frozen=True)
class Panel:
    """A biomarker panel: the model inputs (None: every feature and treatment column)."""

    name: str
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Variant:
    """A scenario variant: parameters of the base scenario set (``set``) or multiplied (``scale``)."""

    name: str
    set: Mapping[str, Any] = field(default_factory=dict)
    scale: Mapping[str, float] = field(default_factory=dict)

    def values(self, scenario) -> dict[str, Any]:
        """The parameter values this variant changes, on ``scenario``."""
        out = dict(self.set)
        for name, factor in self.scale.items():
            out[name] = scenario.parameters[name].value * factor
        return out


_number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)


STUDY_CONSTRAINTS: KeyTable = {
    "study": (
        StudySection,
        {
            "name": Key(str, bool, "must not be empty"),
            "description": Key(str),
            "experiment": Key(str, bool, "must name an experiment"),
            "seed": Key(int, lambda v: v >= 0, "must be >= 0"),
            "n": Key(
                list,
                lambda v: (
                    len(v) > 0
                    and all(isinstance(x, int) and not isinstance(x, bool) and 0 < x <= max_patients() for x in v)
                ),
                "must be a non-empty list of numbers of patients, each within 1..IMMUNORESPONSE_MAX_PATIENTS "
                "(50,000,000 unless set)",
            ),
            "replicates": Key(
                int,
                lambda v: 0 < v <= max_replicates(),
                "must be within 1..IMMUNORESPONSE_MAX_REPLICATES (100,000 unless set)",
            ),
            "models": Key(
                list,
                lambda v: len(v) > 0 and all(m in MODEL_FAMILIES for m in v),
                f"must be a non-empty list of {', '.join(MODEL_FAMILIES)}",
            ),
            "validation_n": Key(
                int,
                lambda v: 1000 <= v <= max_patients(),
                "must be within 1,000 (the oracle's yardstick) and IMMUNORESPONSE_MAX_PATIENTS (50,000,000 unless set)",
            ),
            "output": Key(str, bool, "must not be empty"),
        },
    ),
    "search": (
        SearchOverrides,
        {"n_iter": Key(int, lambda v: v > 0, "must be > 0"), "cv_folds": Key(int, lambda v: v >= 2, "must be >= 2")},
    ),
    "criteria": (
        CriteriaSection,
        {
            "gap": Key(float, lambda v: 0 < v < 1, "must be within 0-1"),
            "slope": Key(float, lambda v: 0 < v <= 1, "must be within 0-1"),
            "bootstrap": Key(int, lambda v: v >= 100, "must be >= 100"),
            "statistic": Key(
                str, lambda v: v in ("median", "mean", "assurance"), 'must be "median", "mean" or "assurance"'
            ),
            "assurance": Key(float, lambda v: 0 < v < 1, "must be within 0-1"),
            "slope_range": Key(
                list,
                lambda v: len(v) == 2 and all(_number(x) for x in v) and 0 < v[0] < 1 < v[1],
                "must be [low, high] around 1",
            ),
        },
    ),
    "power": (
        PowerSection,
        {
            "covariate": Key(str, bool, "must name a column"),
            "direction": Key(str, lambda v: v in ("worse", "better"), 'must be "worse" or "better"'),
        },
    ),
    "adaptive": (
        AdaptiveSection,
        {
            "precision": Key(float, lambda v: 0 < v < 1, "must be within 0-1 (0.2: n* +- 20%)"),
            "batch": Key(int, lambda v: v >= 2, "must be >= 2 (replicates per round at a crossing)"),
            "rounds": Key(int, lambda v: v >= 1, "must be >= 1"),
            "max_cells": Key(int, lambda v: v > 0, "must be > 0"),
            "max_seconds": Key(float, lambda v: v > 0, "must be > 0"),
            "max_n": Key(int, lambda v: v > 0, "must be > 0"),
        },
    ),
}


_TABLES = ("panels", "scenarios")


@dataclass(frozen=True)
class Study:
    """A validated study file: its sections, panels and scenario variants, and the resolved base
    experiment."""

    study: StudySection
    search: SearchOverrides
    criteria: CriteriaSection
    power: PowerSection
    panels: tuple[Panel, ...]
    variants: tuple[Variant, ...]
    base: Experiment
    scenario: Any  # synthetic.Scenario of the base experiment
    path: Path | None = None
    adaptive: AdaptiveSection | None = None  # None: the grid's minimum n (no [adaptive] section)

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def output(self) -> Path:
        """The folder of the cache and the results."""
        return Path(self.study.output or Path("studies") / self.name)

    def panel(self, name: str) -> Panel:
        return next(p for p in self.panels if p.name == name)

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def grid(self) -> dict[str, Any]:
        """The grid, as a reader states it."""
        return {
            "n": list(self.study.n),
            "replicates": self.study.replicates,
            "models": list(self.study.models),
            "panels": [p.name for p in self.panels],
            "scenarios": [v.name for v in self.variants],
        }

    def params(self) -> dict[str, Any]:
        """The study's settings as flat ``section.key -> value`` (MLflow parameters)."""
        out = {f"study.{k}": (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.study).items()}
        out |= {f"search.{k}": v for k, v in asdict(self.search).items()}
        out |= {f"criteria.{k}": v for k, v in asdict(self.criteria).items()}
        out |= {f"power.{k}": v for k, v in asdict(self.power).items()}
        if self.adaptive is not None:
            out |= {f"adaptive.{k}": v for k, v in asdict(self.adaptive).items()}
        out |= {f"panel.{p.name}": "all" if p.columns is None else ", ".join(p.columns) for p in self.panels}
        out |= {
            f"scenario.{v.name}": json.dumps({**v.set, **{f"{k} x": f for k, f in v.scale.items()}})
            for v in self.variants
        }
        return {k: "" if v is None else v for k, v in out.items()}


def load_study(path: str | Path) -> Study:
    """Load and validate a study file (``experiments/NAME.toml`` or a path).

    Everything a cell needs is checked here, before any cell runs: unknown sections and keys,
    empty grids, sizes below what a split and the cross-validation need, panel columns the
    scenario lacks, scenario parameters it lacks.

    Raises
    ------
    StudyError
        The message names the file, the key and the rule.
    """
    p = _resolve(path)
    where = str(p)
    try:
        raw = tomllib.loads(read_text_file(p, "study file"))
    except TableReadError as exc:
        raise StudyError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{where}: not valid TOML: {exc}") from None
    for name in raw:
        if name not in STUDY_CONSTRAINTS and name not in _TABLES:
            raise StudyError(f"{where}: unknown section [{name}]; known: {', '.join([*STUDY_CONSTRAINTS, *_TABLES])}")
    if "study" not in raw:
        raise StudyError(f"{where}: [study] is required (name, experiment, n)")
    problems = Problems(where, StudyError)
    sections = {name: parse_section(problems, name, raw.get(name, {}), STUDY_CONSTRAINTS) for name in STUDY_CONSTRAINTS}
    problems.raise_any()
    try:
        base = load_experiment(sections["study"].experiment)
    except ExperimentError as exc:
        raise StudyError(str(exc)) from None
    if not base.synthetic:
        raise StudyError(
            f"{where} [study]: experiment '{sections['study'].experiment}' reads a cohort file; "
            "a study needs a synthetic one (its truth is the yardstick)"
        )

    assert base.cohort.scenario is not None  # a synthetic experiment names its scenario (checked above)
    scenario = load_scenario(base.cohort.scenario)
    study = Study(
        study=sections["study"],
        search=sections["search"],
        criteria=sections["criteria"],
        power=sections["power"],
        panels=_panels(where, raw.get("panels", {"all": {}}), scenario),
        variants=_variants(where, raw.get("scenarios", {"published": {}}), scenario),
        base=base,
        scenario=scenario,
        path=p,
        adaptive=sections["adaptive"] if "adaptive" in raw else None,
    )
    _check_grid(where, study)
    return study


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise StudyError(f"no study file {p}")
        return p

    for folder in (Path.cwd() / "experiments", experiments_dir()):
        if (folder / f"{name_or_path}.toml").exists():
            return folder / f"{name_or_path}.toml"
    raise StudyError(f"unknown study '{name_or_path}': no file {name_or_path} or experiments/{name_or_path}.toml")


def _named_tables(where: str, name: str, body: Any) -> dict[str, dict]:
    if not isinstance(body, dict) or not body or not all(isinstance(v, dict) for v in body.values()):
        raise StudyError(f"{where}: [{name}] must hold at least one [{name}.NAME] table")
    return body


def _panels(where: str, body: Any, scenario) -> tuple[Panel, ...]:
    """``[panels.NAME]``: ``columns`` (the inputs) or ``drop`` (every feature but these), or neither (all)."""
    known = [c.name for c in scenario.schema.by_role("feature", "treatment")]
    out = []
    for name, spec in _named_tables(where, "panels", body).items():
        extra = set(spec) - {"columns", "drop"}
        if extra:
            raise StudyError(f"{where} [panels.{name}]: unknown key '{sorted(extra)[0]}'; known: columns, drop")
        if "columns" in spec and "drop" in spec:
            raise StudyError(f"{where} [panels.{name}]: give 'columns' or 'drop', not both")
        given = spec.get("columns", spec.get("drop"))
        if given is not None:
            if not isinstance(given, list) or not given or not all(isinstance(c, str) for c in given):
                raise StudyError(f"{where} [panels.{name}]: must be a non-empty list of column names")
            unknown = [c for c in given if c not in known]
            if unknown:
                raise StudyError(
                    f"{where} [panels.{name}]: '{unknown[0]}' is not a feature of scenario "
                    f"'{scenario.name}'; its features: {', '.join(known)}"
                )
        if given is None:
            columns = None
        elif "columns" in spec:
            columns = tuple(given)
        else:
            columns = tuple(c for c in known if c not in given)
        if columns is not None and not columns:
            raise StudyError(f"{where} [panels.{name}]: drops every feature")
        out.append(Panel(name=name, columns=columns))
    return tuple(out)


def _variants(where: str, body: Any, scenario) -> tuple[Variant, ...]:
    """``[scenarios.NAME]``: ``set = {parameter = value}`` and/or ``scale = {parameter = factor}``."""
    out = []
    for name, spec in _named_tables(where, "scenarios", body).items():
        extra = set(spec) - {"set", "scale"}
        if extra:
            raise StudyError(f"{where} [scenarios.{name}]: unknown key '{sorted(extra)[0]}'; known: set, scale")
        for key in ("set", "scale"):
            table = spec.get(key, {})
            if not isinstance(table, dict):
                raise StudyError(f"{where} [scenarios.{name}]: '{key}' must be a table of parameter = value")
            for param, value in table.items():
                if param not in scenario.parameters:
                    raise StudyError(
                        f"{where} [scenarios.{name}]: scenario '{scenario.name}' has no parameter '{param}'"
                    )
                current = scenario.parameters[param].value
                if key == "scale" and not (_number(value) and _number(current)):
                    raise StudyError(
                        f"{where} [scenarios.{name}]: scale '{param}' needs a number, on a numeric parameter"
                    )
                if key == "set" and _number(current) != _number(value):
                    raise StudyError(f"{where} [scenarios.{name}]: set '{param}' must be a number, as the parameter is")
        out.append(
            Variant(
                name=name, set=dict(spec.get("set", {})), scale={k: float(v) for k, v in spec.get("scale", {}).items()}
            )
        )
    return tuple(out)


def _check_grid(where: str, study: Study) -> None:
    folds = study.search.cv_folds or study.base.search.cv_folds
    smallest = max(MIN_PATIENTS, 10 * folds)
    small = [n for n in study.study.n if n < smallest]
    if small:
        raise StudyError(
            f"{where} [study]: n = {small[0]} is below what a cell needs ({smallest} patients: "
            f"at least {MIN_PATIENTS}, and 10 per cross-validation fold)"
        )
    if len(set(study.study.n)) != len(study.study.n):
        raise StudyError(f"{where} [study]: n lists a size twice")
    _check_adaptive(where, study)
    _check_power(where, study)


def _check_adaptive(where: str, study: Study) -> None:
    """An adaptive search starts from enough sizes and replicates to fit a learning curve."""
    if study.adaptive is not None:
        if len(study.study.n) < MIN_SIZES:
            raise StudyError(
                f"{where} [study]: an adaptive study starts from at least {MIN_SIZES} sizes in n (a learning curve "
                f"has 3 parameters); n = {list(study.study.n)}"
            )
        if study.study.replicates < 2:
            raise StudyError(f"{where} [study]: an adaptive study needs replicates >= 2 (the spread at each size)")
        if study.adaptive.max_n < max(study.study.n):
            raise StudyError(f"{where} [adaptive]: max_n = {study.adaptive.max_n} is below the grid's largest n")


def _check_power(where: str, study: Study) -> None:
    """The power analysis's covariate is a column of every panel, and the baseline model runs."""
    if study.power.covariate is not None:
        if study.power.covariate not in study.scenario.schema:
            raise StudyError(
                f"{where} [power]: '{study.power.covariate}' is not a column of scenario '{study.scenario.name}'"
            )
        lacking = [p.name for p in study.panels if p.columns is not None and study.power.covariate not in p.columns]
        if lacking:
            raise StudyError(f"{where} [power]: covariate '{study.power.covariate}' is not in panel '{lacking[0]}'")
        if "baseline" not in study.study.models:
            raise StudyError(
                f'{where} [power]: the power analysis tests the baseline model; add "baseline" to [study] models'
            )

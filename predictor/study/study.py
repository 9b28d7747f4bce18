"""Simulation studies: the same stages run over a grid of cohorts whose truth is known.

A study file (TOML, read with :mod:`tomllib`) names a base experiment and a grid::

    scenario variant x n x replicate x model family x biomarker panel

Each **cell** of the grid draws its own development cohort of ``n`` patients, runs the stages
``development_data -> fit_features -> search -> fit`` in a lean mode (no SHAP, no figures, no
bootstrap: the replicates give the spread) and scores the fitted model on one large validation
cohort per scenario variant, beside the oracle. Cells are independent: :mod:`predictor.study.scheduling`
runs them on Dask, and this module knows nothing of where they run.

Seeds
-----
Every seed comes from the study seed through :class:`numpy.random.SeedSequence`, keyed by what
it is for rather than by its position in the grid, so no result depends on the order in which
cells run, on the number of workers, or on which other cells the grid holds (a grid grown later
reuses the cells already computed):

* the validation cohort: ``SeedSequence(seed, spawn_key=(0,))`` (the same for every variant);
* replicate ``r`` at size ``n``: ``SeedSequence(seed, spawn_key=(1, r, n))``, the same cohort
  seed for every model family, panel and scenario variant (common random numbers: their
  differences are paired, and a variant changes parameters, not draws).

Spawning keyed children is what :meth:`SeedSequence.spawn` does by position; keying them by value
keeps a cell's seed fixed when the grid changes.

Cache
-----
A finished cell is written (atomically) under ``<output>/cells/`` with a key that hashes
everything that determines it: the resolved base experiment, the study's search settings, the
scenario variant's parameter values, the validation cohort, the cell's keys and seed, and the
package version. A study run again computes only the cells whose files are missing.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import tomllib
import traceback
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from predictor.errors import ExperimentError, StudyError
from predictor.config.experiment import Experiment, Key, _section, load_experiment
from predictor.training.stages import MIN_PATIENTS, Part, SearchResult, Synthetic, development_data, fit_baseline, fit_features, fit_xgboost, make_tasks, search

__all__ = [
    "Study", "StudySection", "SearchOverrides", "CriteriaSection", "PowerSection", "Panel", "Variant", "Cell",
    "CellResult", "ValidationSet", "MODEL_FAMILIES", "STUDY_CONSTRAINTS", "load_study", "plan_cells", "cell_seed",
    "validation_seed", "make_validation", "run_cell", "CellCache", "results_table", "power_table", "LOWER_IS_BETTER", "gap",
    "OutcomeFacts", "StudyProgress", "StudyResult", "run_study", "analyse", "sample_size_table", "panel_parameters",
    "cell_key", "validation_key", "cell_experiment", "WHY_THEY_DIFFER",
]

#: Model families a study compares: XGBoost with the search choosing the booster, trees only,
#: the linear booster only, and the task's classical baseline (logistic regression, Cox PH).
MODEL_FAMILIES: dict[str, tuple[str, ...] | None] = {
    "xgboost": ("gbtree", "gblinear"), "gbtree": ("gbtree",), "gblinear": ("gblinear",), "baseline": None}
#: Metrics where smaller is better: their gap to the oracle is model - oracle (else oracle - model).
LOWER_IS_BETTER = ("brier", "ibs", "ibs_km", "ici", "e50", "e90")
#: Metrics whose ideal is a value (1 or 0), not the oracle's: no gap.
_NO_GAP = ("cal_slope", "cal_intercept", "oe_ratio")
#: The power analysis's test level.
ALPHA = 0.05


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


@dataclass(frozen=True)
class SearchOverrides:
    """``[search]``: the base experiment's search settings for every cell (None: the base's)."""

    n_iter: int | None = None
    cv_folds: int | None = None


@dataclass(frozen=True)
class CriteriaSection:
    """``[criteria]``: the smallest n is where the median gap to the oracle of the task's headline
    metric is at most ``gap`` and the median calibration slope at least ``slope`` (Riley's
    shrinkage criterion); its interval comes from ``bootstrap`` resamples of the replicates."""

    gap: float = 0.02
    slope: float = 0.9
    bootstrap: int = 1000


@dataclass(frozen=True)
class PowerSection:
    """``[power]``: the baseline model's ``covariate`` is tested (Wald, p < 0.05) in every
    replicate; ``direction`` "worse" expects it to lower the response odds and raise the hazard."""

    covariate: str | None = None
    direction: str = "worse"


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
STUDY_CONSTRAINTS: dict[str, tuple[type, dict[str, Key]]] = {
    "study": (StudySection, {
        "name": Key(str, bool, "must not be empty"), "description": Key(str),
        "experiment": Key(str, bool, "must name an experiment"),
        "seed": Key(int, lambda v: v >= 0, "must be >= 0"),
        "n": Key(list, lambda v: len(v) > 0 and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
                 "must be a non-empty list of whole numbers of patients"),
        "replicates": Key(int, lambda v: v > 0, "must be > 0"),
        "models": Key(list, lambda v: len(v) > 0 and all(m in MODEL_FAMILIES for m in v),
                      f"must be a non-empty list of {', '.join(MODEL_FAMILIES)}"),
        "validation_n": Key(int, lambda v: v >= 1000, "must be >= 1000 (the oracle's yardstick)"),
        "output": Key(str, bool, "must not be empty")}),
    "search": (SearchOverrides, {"n_iter": Key(int, lambda v: v > 0, "must be > 0"),
                                 "cv_folds": Key(int, lambda v: v >= 2, "must be >= 2")}),
    "criteria": (CriteriaSection, {"gap": Key(float, lambda v: 0 < v < 1, "must be within 0-1"),
                                   "slope": Key(float, lambda v: 0 < v <= 1, "must be within 0-1"),
                                   "bootstrap": Key(int, lambda v: v >= 100, "must be >= 100")}),
    "power": (PowerSection, {"covariate": Key(str, bool, "must name a column"),
                             "direction": Key(str, lambda v: v in ("worse", "better"), "must be \"worse\" or \"better\"")}),
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
        return {"n": list(self.study.n), "replicates": self.study.replicates, "models": list(self.study.models),
                "panels": [p.name for p in self.panels], "scenarios": [v.name for v in self.variants]}

    def params(self) -> dict[str, Any]:
        """The study's settings as flat ``section.key -> value`` (MLflow parameters)."""
        out = {f"study.{k}": (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.study).items()}
        out |= {f"search.{k}": v for k, v in asdict(self.search).items()}
        out |= {f"criteria.{k}": v for k, v in asdict(self.criteria).items()}
        out |= {f"power.{k}": v for k, v in asdict(self.power).items()}
        out |= {f"panel.{p.name}": "all" if p.columns is None else ", ".join(p.columns) for p in self.panels}
        out |= {f"scenario.{v.name}": json.dumps({**v.set, **{f"{k} x": f for k, f in v.scale.items()}}) for v in self.variants}
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
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StudyError(f"cannot read study file {p}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{where}: not valid TOML: {exc}") from None
    for name in raw:
        if name not in STUDY_CONSTRAINTS and name not in _TABLES:
            raise StudyError(f"{where}: unknown section [{name}]; known: {', '.join([*STUDY_CONSTRAINTS, *_TABLES])}")
    if "study" not in raw:
        raise StudyError(f"{where}: [study] is required (name, experiment, n)")
    try:
        sections = {name: _section(where, name, raw.get(name, {}), STUDY_CONSTRAINTS) for name in STUDY_CONSTRAINTS}
        base = load_experiment(sections["study"].experiment)
    except ExperimentError as exc:
        raise StudyError(str(exc)) from None
    if not base.synthetic:
        raise StudyError(f"{where} [study]: experiment '{sections['study'].experiment}' reads a cohort file; "
                         "a study needs a synthetic one (its truth is the yardstick)")
    from synthetic import load_scenario

    scenario = load_scenario(base.cohort.scenario)
    study = Study(study=sections["study"], search=sections["search"], criteria=sections["criteria"],
                  power=sections["power"], panels=_panels(where, raw.get("panels", {"all": {}}), scenario),
                  variants=_variants(where, raw.get("scenarios", {"published": {}}), scenario),
                  base=base, scenario=scenario, path=p)
    _check_grid(where, study)
    return study


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise StudyError(f"no study file {p}")
        return p
    from predictor.config.experiment import experiments_dir

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
                raise StudyError(f"{where} [panels.{name}]: '{unknown[0]}' is not a feature of scenario "
                                 f"'{scenario.name}'; its features: {', '.join(known)}")
        columns = tuple(given) if "columns" in spec else tuple(c for c in known if c not in given) if given else None
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
                    raise StudyError(f"{where} [scenarios.{name}]: scenario '{scenario.name}' has no parameter '{param}'")
                current = scenario.parameters[param].value
                if key == "scale" and not (_number(value) and _number(current)):
                    raise StudyError(f"{where} [scenarios.{name}]: scale '{param}' needs a number, on a numeric parameter")
                if key == "set" and _number(current) != _number(value):
                    raise StudyError(f"{where} [scenarios.{name}]: set '{param}' must be a number, as the parameter is")
        out.append(Variant(name=name, set=dict(spec.get("set", {})), scale={k: float(v) for k, v in spec.get("scale", {}).items()}))
    return tuple(out)


def _check_grid(where: str, study: Study) -> None:
    folds = study.search.cv_folds or study.base.search.cv_folds
    smallest = max(MIN_PATIENTS, 10 * folds)
    small = [n for n in study.study.n if n < smallest]
    if small:
        raise StudyError(f"{where} [study]: n = {small[0]} is below what a cell needs ({smallest} patients: "
                         f"at least {MIN_PATIENTS}, and 10 per cross-validation fold)")
    if len(set(study.study.n)) != len(study.study.n):
        raise StudyError(f"{where} [study]: n lists a size twice")
    if study.power.covariate is not None:
        if study.power.covariate not in study.scenario.schema:
            raise StudyError(f"{where} [power]: '{study.power.covariate}' is not a column of scenario '{study.scenario.name}'")
        lacking = [p.name for p in study.panels if p.columns is not None and study.power.covariate not in p.columns]
        if lacking:
            raise StudyError(f"{where} [power]: covariate '{study.power.covariate}' is not in panel '{lacking[0]}'")
        if "baseline" not in study.study.models:
            raise StudyError(f"{where} [power]: the power analysis tests the baseline model; add \"baseline\" to [study] models")


# ------------------------------------------------------------------------------------ the grid
@dataclass(frozen=True)
class Cell:
    """One development cohort and one model: the unit of work (and of the cache)."""

    scenario: str
    n: int
    replicate: int
    model: str
    panel: str
    seed: int

    def keys(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "n": self.n, "replicate": self.replicate, "model": self.model, "panel": self.panel}

    def label(self) -> str:
        return f"{self.scenario}/n={self.n}/replicate {self.replicate}/{self.model}/{self.panel}"


def cell_seed(study_seed: int, replicate: int, n: int) -> int:
    """The development cohort's seed of replicate ``replicate`` at size ``n`` (see the module's docstring)."""
    return int(np.random.SeedSequence(study_seed, spawn_key=(1, replicate, n)).generate_state(1)[0])


def validation_seed(study_seed: int) -> int:
    """The validation cohort's seed (every variant: the same draws, the variant's parameters)."""
    return int(np.random.SeedSequence(study_seed, spawn_key=(0,)).generate_state(1)[0])


def plan_cells(study: Study) -> list[Cell]:
    """Every cell of the grid, smallest cohorts first within each variant."""
    s = study.study
    return [Cell(scenario=v.name, n=n, replicate=r, model=m, panel=p.name, seed=cell_seed(s.seed, r, n))
            for v in study.variants for n in sorted(s.n) for r in range(s.replicates)
            for m in s.models for p in study.panels]


def _fingerprint(study: Study, variant: Variant) -> dict[str, Any]:
    """What every cell of ``variant`` shares and its results depend on."""
    from synthetic.generation import package_version

    base = {k: v for k, v in study.base.params().items()
            if not k.startswith(("experiment.", "registry.", "shap.", "validation.", "cohort.n", "cohort.seed"))}
    return {"base": base, "search": asdict(study.search), "variant": variant.values(study.scenario),
            "scenario": study.scenario.name, "validation": [study.study.validation_n, validation_seed(study.study.seed)],
            "version": package_version()}


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def cell_key(study: Study, cell: Cell) -> str:
    """The cache key of ``cell``: a hash of everything that determines its result."""
    panel = study.panel(cell.panel)
    return _hash({**_fingerprint(study, study.variant(cell.scenario)), "cell": cell.keys(), "seed": cell.seed,
                  "columns": panel.columns, "power": asdict(study.power)})


def validation_key(study: Study, variant: Variant) -> str:
    return _hash({**_fingerprint(study, variant), "what": "validation"})


# ------------------------------------------------------------------------------ the validation
@dataclass(frozen=True)
class OutcomeFacts:
    """What Riley's closed-form sample size needs from a variant's validation cohort, per task:
    ``prevalence`` (binary); ``event_rate`` (events per unit of follow-up), ``mean_followup``,
    ``horizon`` and ``r2_cs`` (the oracle's Cox-Snell R-squared) for a time to event."""

    task: str
    kind: str
    prevalence: float = math.nan
    event_rate: float = math.nan
    mean_followup: float = math.nan
    horizon: float = math.nan
    r2_cs: float = math.nan


@dataclass(frozen=True)
class ValidationSet:
    """One scenario variant's validation cohort and what every cell scored on it shares: the
    targets, the scoring reference (this cohort's own censoring distribution, the same for every
    cell, so that gaps to the oracle are differences on one yardstick), and the oracle's metrics."""

    variant: str
    part: Part
    source: Synthetic
    tasks: tuple
    targets: Mapping[str, np.ndarray]
    references: Mapping[str, Any]
    oracle: Mapping[str, Mapping[str, float]]
    facts: Mapping[str, OutcomeFacts]

    def summary(self) -> "ValidationSet":
        """The same without the patients: what the driver keeps and caches."""
        return replace(self, part=Part(self.part.name, self.part.frame.iloc[:0]), targets={}, references={})


def make_validation(study: Study, variant_name: str) -> ValidationSet:
    """The validation cohort of a scenario variant, with its oracle scored."""
    from synthetic import generate

    variant = study.variant(variant_name)
    scenario = study.scenario.with_values(variant.values(study.scenario))
    seed = validation_seed(study.study.seed)
    cohort = generate(scenario, study.study.validation_n, seed)
    part = Part("validation", cohort.observed, cohort.truth)
    source = Synthetic(scenario=scenario, seed=seed, parameters=cohort.parameters)
    tasks = make_tasks(study.base, scenario.schema)
    targets = {t.name: t.target(part.frame) for t in tasks}
    references = {t.name: t.reference(targets[t.name]) for t in tasks}
    oracle, facts = {}, {}
    for t in tasks:
        truth = t.oracle(part.truth, source)
        oracle[t.name] = _point(t, references[t.name], targets[t.name], truth) if truth is not None else {}
        facts[t.name] = _facts(t, targets[t.name], truth)
    return ValidationSet(variant=variant_name, part=part, source=source, tasks=tasks, targets=targets,
                         references=references, oracle=oracle, facts=facts)


def _point(task, reference, y, prediction) -> dict[str, float]:
    s = task.scorer(reference, y, prediction)
    rows = np.arange(len(y))
    return {k: float(v) for k, v in (s.point or s.metric)(rows).items()}


def _facts(task, y, truth) -> OutcomeFacts:
    if y.dtype.names is None:  # a binary outcome
        return OutcomeFacts(task=task.name, kind="binary", prevalence=float(np.mean(y)))
    from lifelines import CoxPHFitter

    event, t = y["event"], y["time"]
    r2 = math.nan
    if truth is not None:  # the oracle's Cox-Snell R-squared: 1 - exp(-LR / n) of a Cox fit on its risk score
        df = pd.DataFrame({"risk": truth.risk, "time": t, "event": event})
        lr = CoxPHFitter().fit(df, "time", "event").log_likelihood_ratio_test().test_statistic
        r2 = 1.0 - math.exp(-lr / len(t))
    return OutcomeFacts(task=task.name, kind="survival", event_rate=float(event.sum() / t.sum()),
                        mean_followup=float(t.mean()), horizon=float(task.decision_horizon), r2_cs=r2)


# ------------------------------------------------------------------------------------ one cell
@dataclass(frozen=True)
class CellResult:
    """A cell's metrics on its validation cohort: one record per (task, metric); ``power`` holds
    the baseline's test of the power covariate per task (coefficient, p-value); ``timings`` the
    seconds spent in each stage; ``error`` says why a cell failed (its records are then empty)."""

    cell: Cell
    records: tuple[tuple[str, str, float], ...] = ()
    power: tuple[tuple[str, float, float], ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"cell": asdict(self.cell), "records": self.records, "power": self.power, "timings": dict(self.timings),
                "error": self.error}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "CellResult":
        return cls(cell=Cell(**d["cell"]), records=tuple(tuple(r) for r in d["records"]),
                   power=tuple(tuple(p) for p in d["power"]), timings=d["timings"], error=d["error"])


def cell_experiment(study: Study, cell: Cell) -> Experiment:
    """The base experiment as a cell runs it: its cohort size and seed, its panel, its booster(s),
    the study's search settings, one thread per fit (the cluster gives the parallelism)."""
    base, panel = study.base, study.panel(cell.panel)
    features = base.features
    if panel.columns is not None:
        keep = set(panel.columns)
        log = features.log if not isinstance(features.log, tuple) else tuple(c for c in features.log if c in keep)
        features = replace(features, columns=panel.columns, log=log,
                           cutoffs={c: v for c, v in features.cutoffs.items() if c in keep})
    boosters = MODEL_FAMILIES[cell.model] or base.search.boosters
    s = study.search
    search_ = replace(base.search, boosters=boosters, n_jobs=1, n_iter=s.n_iter or base.search.n_iter,
                      cv_folds=s.cv_folds or base.search.cv_folds)
    return replace(base, cohort=replace(base.cohort, n=cell.n, seed=cell.seed), features=features, search=search_,
                   validation=replace(base.validation, n=0, path=None))


def run_cell(study: Study, cell: Cell, validation: ValidationSet) -> CellResult:
    """Fit ``cell``'s model on its development cohort and score it on ``validation``.

    Never raises for a failing cell: the error comes back in :attr:`CellResult.error`, so the
    study goes on with the other cells and its table marks this one.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    try:
        exp = cell_experiment(study, cell)
        data = development_data(exp, validation.source.scenario)
        features = fit_features(exp, data)
        X = features.transform(data.train.frame)
        X_val = None if cell.model == "baseline" else features.transform(validation.part.frame)  # the baseline reads raw columns
        lap("data")
        records, power = [], []
        for task in data.tasks:
            y = task.target(data.train.frame)
            if cell.model == "baseline":
                baseline = fit_baseline(task, exp, data, features, y)
                lap("fit")
                prediction = task.predict_baseline(baseline, validation.part.frame)
                if study.power.covariate is not None:
                    power.append((task.name, *_wald(task, baseline, data.train.frame, y, study.power.covariate)))
            else:
                chosen: SearchResult = search(task, X, y, exp.search)
                lap("search")
                model = fit_xgboost(task, chosen, exp.search.seed, X, y, n_jobs=1)
                lap("fit")
                prediction = task.predict(model, X_val)
            metrics = _point(task, validation.references[task.name], validation.targets[task.name], prediction)
            records += [(task.name, k, v) for k, v in metrics.items()]
            lap("evaluate")
        return CellResult(cell=cell, records=tuple(records), power=tuple(power), timings=timings)
    except Exception as exc:  # noqa: BLE001 - a failing cell is reported, not fatal (see the docstring)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return CellResult(cell=cell, timings=timings,
                          error=f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})")


def _wald(task, baseline, df: pd.DataFrame, y, covariate: str) -> tuple[float, float]:
    """The coefficient of ``covariate`` in the task's baseline model and its Wald p-value.

    The Cox baseline is lifelines' fit, whose summary has them. The logistic baseline is
    scikit-learn's, which gives no standard errors: the same design (its preprocessor's output)
    is refitted without penalty by statsmodels, the maintained library that gives them.
    """
    if isinstance(baseline, tuple):  # Cox: (preprocessor, CoxPHBaseline)
        summary = baseline[1].model_.summary
        row = _design_column(summary.index, covariate)
        return float(summary.loc[row, "coef"]), float(summary.loc[row, "p"])
    import statsmodels.api as sm

    preprocessor = baseline[:-1]
    Z = pd.DataFrame(preprocessor.transform(df), columns=preprocessor.get_feature_names_out())
    # Full rank beside the intercept: constant columns out, and the first level of each one-hot group.
    first_levels = {c.split("=", 1)[0]: c for c in reversed(Z.columns) if "=" in c}.values()
    Z = Z.loc[:, (Z.std() > 0) & ~Z.columns.isin(list(first_levels))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fit that does not converge is reported as NaN below
        fit = sm.Logit(np.asarray(y, dtype=float), sm.add_constant(Z, has_constant="add")).fit(disp=0, maxiter=100)
    row = _design_column(Z.columns, covariate)
    if not fit.mle_retvals.get("converged", False):
        return math.nan, math.nan
    return float(fit.params[row]), float(fit.pvalues[row])


def _design_column(names: Iterable[str], covariate: str) -> str:
    """The design column of a (boolean or numeric) covariate: itself, or its log."""
    names = list(names)
    for candidate in (covariate, f"log({covariate})"):
        if candidate in names:
            return candidate
    raise StudyError(f"[power] covariate '{covariate}' is not one column of the baseline's design "
                     "(a boolean or numeric input of every panel)")


# ----------------------------------------------------------------------------------- the cache
class CellCache:
    """Finished cells on disk, one JSON file per cell key, written atomically (a study stopped
    mid-write leaves no half file). Only the driver writes: workers return results."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> Any | None:
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, payload: Any) -> None:
        from features import atomic_write

        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(self._path(key)) as tmp:
            tmp.write_text(json.dumps(payload, default=float))


# ----------------------------------------------------------------------------------- the table
def gap(metric: str, value: float, oracle: float) -> float:
    """How far a model is from the oracle on ``metric`` (positive = worse than the oracle); NaN
    for the calibration metrics, whose ideal is a value rather than the oracle's."""
    if metric in _NO_GAP or oracle is None or not np.isfinite(oracle):
        return math.nan
    return value - oracle if metric in LOWER_IS_BETTER else oracle - value


def results_table(results: Sequence[CellResult], validations: Mapping[str, ValidationSet]) -> pd.DataFrame:
    """One tidy table: cell keys, ``replicate``, ``task``, ``metric``, ``value``, ``oracle``,
    ``gap`` (:func:`gap`), ``status`` ("ok" or "failed") and ``error``; a failed cell has one row
    with its error. Sorted by its keys, so it does not depend on the order cells finished in."""
    rows = []
    for r in results:
        keys = r.cell.keys()
        if not r.ok:
            rows.append({**keys, "task": None, "metric": None, "value": math.nan, "oracle": math.nan, "gap": math.nan,
                         "status": "failed", "error": r.error})
            continue
        oracle = validations[r.cell.scenario].oracle
        for task, metric, value in r.records:
            o = oracle.get(task, {}).get(metric, math.nan)
            rows.append({**keys, "task": task, "metric": metric, "value": value, "oracle": o, "gap": gap(metric, value, o),
                         "status": "ok", "error": None})
    columns = ["scenario", "n", "replicate", "model", "panel", "task", "metric", "value", "oracle", "gap", "status", "error"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["scenario", "n", "model", "panel", "replicate", "task", "metric"],
                             na_position="first").reset_index(drop=True)


def power_table(results: Sequence[CellResult]) -> pd.DataFrame:
    """The baseline's test of the power covariate in each replicate: cell keys, task, coefficient, p."""
    rows = [{**r.cell.keys(), "task": task, "coef": coef, "p": p} for r in results if r.ok for task, coef, p in r.power]
    table = pd.DataFrame(rows, columns=["scenario", "n", "replicate", "model", "panel", "task", "coef", "p"])
    return table.sort_values(["scenario", "n", "panel", "replicate", "task"]).reset_index(drop=True)


# --------------------------------------------------------------------------------- the driver
@dataclass(frozen=True)
class StudyProgress:
    """Where a running study stands: cells ``done`` of ``total`` (``cached`` of them from an
    earlier run, ``failed`` with an error), seconds ``elapsed`` and an estimate of the seconds
    ``left`` (NaN until a cell has been computed); ``last``: the cell just finished, and its
    ``error`` if it failed."""

    done: int
    total: int
    cached: int
    failed: int
    elapsed: float
    left: float
    last: Cell | None = None
    error: str | None = None


@dataclass(frozen=True)
class StudyResult:
    """A finished study: the tidy ``table`` (:func:`results_table`), the learning ``curves``
    (:func:`predictor.study.sample_size.curve_summary`), the ``sample_size`` table (the study's minimum
    n beside Riley's), the ``power`` table (replicates) and its summary ``power_summary``, the
    validation cohorts' summaries, the cells' stage ``timings`` (seconds, summed) and how many
    cells were ``computed`` here and taken from the cache."""

    study: Study
    table: pd.DataFrame
    curves: pd.DataFrame
    sample_size: pd.DataFrame
    power: pd.DataFrame
    power_summary: pd.DataFrame
    validations: Mapping[str, ValidationSet]
    timings: Mapping[str, float]
    computed: int
    cached: int
    workers: int = 0
    dashboard: str | None = None
    wall_s: float = 0.0

    @property
    def failed(self) -> pd.DataFrame:
        """The failed cells: their keys and errors."""
        return self.table.loc[self.table.status == "failed", ["scenario", "n", "replicate", "model", "panel", "error"]]


def run_study(study: Study, cluster=None, progress: Callable[[StudyProgress], None] | None = None,
              connected: Callable[[Any], None] | None = None) -> StudyResult:
    """Run every cell of ``study`` that its cache lacks, on Dask (:mod:`predictor.study.scheduling`),
    and analyse the whole grid.

    Parameters
    ----------
    cluster : predictor.study.scheduling.ClusterSpec, optional
        Where cells run (default: a LocalCluster on this machine's cores).
    progress : callable, optional
        Called with a :class:`StudyProgress` after each cell (and once before the first).
    connected : callable, optional
        Called with the :class:`~predictor.study.scheduling.Connection` once the cluster answers (its
        worker count and dashboard address).

    Raises
    ------
    StudyError
        The cluster cannot be reached (before any cell runs).
    """
    from predictor.study import scheduling

    start = time.perf_counter()
    cluster = cluster or scheduling.ClusterSpec()
    say = progress or (lambda p: None)
    cells = plan_cells(study)
    keys = {cell: cell_key(study, cell) for cell in cells}
    cache = CellCache(study.output / "cells")
    results: dict[str, CellResult] = {}
    for cell, key in keys.items():
        hit = cache.get(key)
        if hit is not None:
            results[key] = CellResult.from_json(hit)
    shared_key = {v.name: validation_key(study, v) for v in study.variants}
    validations: dict[str, ValidationSet] = {}
    for v in study.variants:
        hit = cache.get(shared_key[v.name])
        if hit is not None:
            validations[v.name] = _validation_from_json(study, hit)
    cached = len(results)
    todo = [c for c in cells if keys[c] not in results]
    total, failed, computed, workers, dashboard = len(cells), 0, 0, 0, None
    say(StudyProgress(done=cached, total=total, cached=cached, failed=0, elapsed=0.0, left=math.nan))
    missing = [v for v in study.variants if v.name not in validations]
    if todo or missing:
        shared = {shared_key[v.name]: _ValidationMaker(study, v.name) for v in study.variants}
        jobs = [scheduling.Job(key=f"summary-{shared_key[v.name]}", shared=shared_key[v.name], fn=_summarise)
                for v in missing]
        jobs += [scheduling.Job(key=f"cell-{keys[c]}", shared=shared_key[c.scenario], fn=_CellRunner(study, c))
                 for c in todo]
        by_key = {f"cell-{keys[c]}": c for c in todo}
        with scheduling.connect(cluster) as conn:
            workers, dashboard = conn.workers, conn.dashboard
            if connected is not None:
                connected(conn)
            compute_start = time.perf_counter()
            for key, result in conn.run(shared, jobs):
                if key.startswith("summary-"):
                    if isinstance(result, BaseException):
                        raise StudyError(f"the validation cohort could not be built: {type(result).__name__}: {result}")
                    validations[result.variant] = result
                    cache.put(key.removeprefix("summary-"), _validation_to_json(result))
                    continue
                cell = by_key[key]
                if isinstance(result, BaseException):  # the cluster could not run it (a worker lost too often)
                    result = CellResult(cell=cell, error=f"{type(result).__name__}: {result}")
                if result.ok:
                    cache.put(key.removeprefix("cell-"), result.to_json())
                else:
                    failed += 1
                results[key.removeprefix("cell-")] = result
                computed += 1
                elapsed = time.perf_counter() - compute_start
                left = elapsed / computed * (len(todo) - computed)
                say(StudyProgress(done=cached + computed, total=total, cached=cached, failed=failed,
                                  elapsed=time.perf_counter() - start, left=left, last=cell, error=result.error))
    ordered = [results[keys[c]] for c in cells]
    return analyse(study, ordered, validations, computed=computed, cached=cached, workers=workers,
                   dashboard=dashboard, wall_s=time.perf_counter() - start)


@dataclass(frozen=True)
class _ValidationMaker:
    """``make_validation(study, variant)`` as a picklable callable (a Dask task)."""

    study: Study
    variant: str

    def __call__(self) -> ValidationSet:
        return make_validation(self.study, self.variant)


@dataclass(frozen=True)
class _CellRunner:
    study: Study
    cell: Cell

    def __call__(self, validation: ValidationSet) -> CellResult:
        return run_cell(self.study, self.cell, validation)


def _summarise(validation: ValidationSet) -> ValidationSet:
    return validation.summary()


def _validation_to_json(v: ValidationSet) -> dict[str, Any]:
    return {"variant": v.variant, "oracle": v.oracle, "facts": {k: asdict(f) for k, f in v.facts.items()}}


def _validation_from_json(study: Study, d: Mapping[str, Any]) -> ValidationSet:
    scenario = study.scenario.with_values(study.variant(d["variant"]).values(study.scenario))
    tasks = make_tasks(study.base, scenario.schema)
    return ValidationSet(variant=d["variant"], part=Part("validation", pd.DataFrame()),
                         source=Synthetic(scenario=scenario, seed=validation_seed(study.study.seed), parameters={}),
                         tasks=tasks, targets={}, references={}, oracle=d["oracle"],
                         facts={k: OutcomeFacts(**f) for k, f in d["facts"].items()})


# ------------------------------------------------------------------------------- the analysis
#: Why the study's minimum n and Riley's differ, printed under the sample-size table.
WHY_THEY_DIFFER = (
    "Riley's n bounds the overfitting of an unpenalised regression with p parameters whose R-squared is the "
    "oracle's, whatever the truth's shape; the study's n is where this model family, with its own tuning and "
    "penalty, gets within the gap of the oracle with a calibration slope at the target, so it is smaller where "
    "the learner shrinks itself and larger where it must find structure a regression is told.")


def panel_parameters(study: Study) -> dict[str, int]:
    """Predictor parameters (model input columns after encoding) of each panel: Riley's ``p``."""
    from features.pipeline import CohortFeatures
    from synthetic import generate

    sample = generate(study.scenario, 500, 0).observed
    f = study.base.features
    out = {}
    for p in study.panels:
        cutoffs = {c: v for c, v in f.cutoffs.items() if p.columns is None or c in p.columns}
        out[p.name] = len(CohortFeatures(schema=study.scenario.schema, columns=p.columns, log=None,
                                         cutoffs=cutoffs or None).fit(sample).feature_names_out_)
    return out


def analyse(study: Study, results: Sequence[CellResult], validations: Mapping[str, ValidationSet], **info: Any) -> StudyResult:
    """The tables of a study from its cells' results (see :class:`StudyResult`)."""
    from predictor.study.sample_size import curve_summary, power_summary

    table = results_table(results, validations)
    curves = curve_summary(table)
    power = power_table(results)
    timings: dict[str, float] = {}
    for r in results:
        for stage, s in r.timings.items():
            timings[stage] = timings.get(stage, 0.0) + s
    return StudyResult(study=study, table=table, curves=curves, sample_size=sample_size_table(study, table, validations),
                       power=power, power_summary=power_summary(power, direction=study.power.direction),
                       validations=validations, timings=timings, **info)


def sample_size_table(study: Study, table: pd.DataFrame, validations: Mapping[str, ValidationSet]) -> pd.DataFrame:
    """Per scenario, task, model and panel: the study's minimum n with its bootstrap interval,
    beside Riley's closed-form n (each criterion) for the same outcome and panel."""
    from predictor.study.sample_size import cox_snell_from_c, minimum_n, riley_binary, riley_survival

    c = study.criteria
    parameters = panel_parameters(study)
    ok = table[table.status == "ok"]
    rows = []
    for v in study.variants:
        val = validations.get(v.name)
        if val is None:
            continue
        for task in val.tasks:
            facts, oracle = val.facts[task.name], val.oracle.get(task.name, {})
            headline = ok[(ok.scenario == v.name) & (ok.task == task.name) & (ok.metric == task.headline)]
            slopes = ok[(ok.scenario == v.name) & (ok.task == task.name) & (ok.metric == "cal_slope")]
            keys = ["model", "panel", "n", "replicate"]
            both = headline[keys + ["gap"]].merge(slopes[keys + ["value"]].rename(columns={"value": "slope"}), on=keys)
            for (model, panel), curve in both.groupby(["model", "panel"], sort=True):
                found = minimum_n(curve, gap=c.gap, slope=c.slope, n_boot=c.bootstrap, random_state=study.study.seed)
                p = parameters[panel]
                try:
                    if facts.kind == "binary":
                        riley = riley_binary(r2_cs=cox_snell_from_c(oracle[task.headline], facts.prevalence),
                                             parameters=p, prevalence=facts.prevalence, shrinkage=c.slope)
                    else:
                        riley = riley_survival(r2_cs=facts.r2_cs, parameters=p, rate=facts.event_rate,
                                               mean_followup=facts.mean_followup, horizon=facts.horizon, shrinkage=c.slope)
                except (ValueError, KeyError):
                    riley = None
                rows.append({"scenario": v.name, "task": task.name, "metric": task.headline, "model": model, "panel": panel,
                             "study_n": found.n, "study_low": found.low, "study_high": found.high,
                             "riley_n": riley.n if riley else math.nan,
                             "riley_1": riley.criterion_1 if riley else math.nan,
                             "riley_2": riley.criterion_2 if riley else math.nan,
                             "riley_3": riley.criterion_3 if riley else math.nan,
                             "parameters": p, "r2_cs": riley.r2_cs if riley else math.nan,
                             "oracle": oracle.get(task.headline, math.nan)})
    return pd.DataFrame(rows, columns=["scenario", "task", "metric", "model", "panel", "study_n", "study_low", "study_high",
                                       "riley_n", "riley_1", "riley_2", "riley_3", "parameters", "r2_cs", "oracle"])

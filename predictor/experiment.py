"""Experiment files: cohort + features + models + evaluation, in TOML (read with :mod:`tomllib`).

Sections and keys (defaults in brackets):

``[experiment]``  ``name`` (the MLflow experiment), ``description``
``[cohort]``      ``scenario``, ``n`` [the scenario's], ``seed`` [0]; or, for a user's own cohort,
                  ``path`` (CSV or Parquet, relative to the experiment file) with
                  ``[cohort.outcomes]``: ``time``, ``event``, ``response`` (column names; any may be omitted)
                  and ``time_unit`` ("months", "days", "weeks" or "years"; horizons are in it)
``[columns.NAME]``  a user's cohort only: each column declared as in a scenario file (dtype, role, unit, ...)
``[validation]``  ``n`` [20000], ``seed`` [cohort seed + 1]: a fresh synthetic cohort (0 = none)
``[features]``    ``log`` ["auto", a list, or false], ``cutoffs`` [{}], ``columns`` [all features]
``[models]``      ``response`` [true], ``survival`` ["survival:cox" | "survival:aft" | false]
``[search]``      ``n_iter`` [8], ``cv_folds`` [3], ``seed`` [0], ``boosters`` [["gbtree", "gblinear"]]: trees
                  (``n_iter`` seeded draws) and/or XGBoost's linear booster (a small grid), chosen by CV
``[evaluation]``  ``test_fraction`` [0.25], ``bootstrap`` [200], ``seed`` [0], ``horizons`` [[6, 12, 24]]
``[shap]``        ``max_rows`` [2000], ``dependence`` [[]], ``by`` [none]: a categorical column (a therapy
                  arm) within whose groups global SHAP importance is also shown
``[registry]``    ``model_name`` [the experiment name]; ``register`` [true]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExperimentError

__all__ = ["Experiment", "load_experiment", "DEFAULT_EXPERIMENT", "experiments_dir"]

DEFAULT_EXPERIMENT = "icb_bone_opn"
#: Outcome columns of the synthetic scenarios.
SYNTHETIC_OUTCOMES = {"response": "objective_response", "time": "pfs_months", "event": "pfs_event"}
#: Time units and the suffix their horizons get in metric names.
TIME_UNITS = {"months": "m", "days": "d", "weeks": "w", "years": "y"}

_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "experiment": {"name": str, "description": str},
    "cohort": {"scenario": str, "n": int, "seed": int, "path": str, "outcomes": dict},
    "columns": {},
    "validation": {"n": int, "seed": int},
    "features": {"log": (str, list, bool), "cutoffs": dict, "columns": list},
    "models": {"response": bool, "survival": (str, bool)},
    "search": {"n_iter": int, "cv_folds": int, "seed": int, "boosters": list},
    "evaluation": {"test_fraction": float, "bootstrap": int, "seed": int, "horizons": list},
    "shap": {"max_rows": int, "dependence": list, "by": str},
    "registry": {"model_name": str, "register": bool},
}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file."""

    name: str
    description: str
    scenario: str
    n: int | None
    seed: int
    validation_n: int
    validation_seed: int
    log: Any
    cutoffs: dict[str, list[float]]
    columns: list[str] | None
    response: bool
    survival: str | None
    search_n_iter: int
    search_cv_folds: int
    search_seed: int
    search_boosters: tuple[str, ...]
    test_fraction: float
    n_bootstrap: int
    eval_seed: int
    horizons: tuple[float, ...]
    shap_max_rows: int
    shap_dependence: list[str]
    shap_by: str | None
    model_name: str
    register: bool
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    data_path: Path | None = None
    outcomes: dict[str, str] = field(default_factory=lambda: dict(SYNTHETIC_OUTCOMES))
    columns_spec: dict[str, Any] = field(default_factory=dict)
    time_unit: str = "months"

    @property
    def synthetic(self) -> bool:
        """Whether the cohort comes from a scenario (True) or a user's file (False)."""
        return self.data_path is None

    def params(self) -> dict[str, Any]:
        """Flat ``section.key -> value`` of the file, for MLflow parameters."""
        out = {}
        for section, keys in self.raw.items():
            if section == "columns":
                continue
            for k, v in keys.items():
                out[f"{section}.{k}"] = v
        return out


def experiments_dir() -> Path:
    """The ``experiments/`` folder of the source tree (next to the packages)."""
    return Path(__file__).resolve().parents[1] / "experiments"


def _resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    for folder in (Path.cwd() / "experiments", experiments_dir()):
        candidate = folder / f"{name_or_path}.toml"
        if candidate.exists():
            return candidate
    raise ExperimentError(f"unknown experiment '{name_or_path}': no file {name_or_path} or experiments/{name_or_path}.toml")


def load_experiment(name_or_path: str | Path = DEFAULT_EXPERIMENT) -> Experiment:
    """Load and validate an experiment by name (``experiments/NAME.toml``) or path.

    Raises
    ------
    ExperimentError
        Missing file, invalid TOML, unknown section or key, wrong type or value (the message
        names the file and the key).
    """
    path = _resolve(name_or_path)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExperimentError(f"cannot read experiment file {where}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{where}: not valid TOML: {exc}") from None
    for section, body in raw.items():
        if section not in _SECTIONS:
            raise ExperimentError(f"{where}: unknown section [{section}]; known: {', '.join(_SECTIONS)}")
        if not isinstance(body, dict):
            raise ExperimentError(f"{where}: [{section}] must be a table")
        if section == "columns":
            continue  # checked by features.Schema
        for key, value in body.items():
            if key not in _SECTIONS[section]:
                raise ExperimentError(f"{where} [{section}]: unknown key '{key}'; known: {', '.join(_SECTIONS[section])}")
            want = _SECTIONS[section][key]
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                body[key] = value
            if isinstance(value, bool) and want is int or not isinstance(value, want):
                raise ExperimentError(f"{where} [{section}]: '{key}' has the wrong type ({type(value).__name__})")
    get = lambda s, k, d=None: raw.get(s, {}).get(k, d)
    if get("experiment", "name") is None:
        raise ExperimentError(f"{where} [experiment]: 'name' is required")
    data_path = get("cohort", "path")
    if (get("cohort", "scenario") is None) == (data_path is None):
        raise ExperimentError(f"{where} [cohort]: give either 'scenario' (a synthetic cohort) or 'path' (your own file)")
    outcomes = dict(SYNTHETIC_OUTCOMES)
    time_unit = "months"
    if data_path is not None:
        data_path = (path.parent / data_path).resolve() if not Path(data_path).is_absolute() else Path(data_path)
        if not raw.get("columns"):
            raise ExperimentError(f"{where}: a cohort file needs its columns declared in [columns.NAME] tables")
        given = get("cohort", "outcomes", {})
        unknown = set(given) - {"time", "event", "response", "time_unit"}
        if unknown:
            raise ExperimentError(f"{where} [cohort.outcomes]: unknown key(s) {sorted(unknown)}; known: time, event, response")
        time_unit = given.get("time_unit", "months")
        if time_unit not in TIME_UNITS:
            raise ExperimentError(f"{where} [cohort.outcomes]: time_unit must be one of {', '.join(TIME_UNITS)}")
        outcomes = {k: v for k, v in given.items() if k != "time_unit"}
        for k, v in outcomes.items():
            if v not in raw["columns"]:
                raise ExperimentError(f"{where} [cohort.outcomes]: {k} = '{v}' is not a declared column")
        if ("time" in outcomes) != ("event" in outcomes):
            raise ExperimentError(f"{where} [cohort.outcomes]: 'time' and 'event' go together")
        models = raw.setdefault("models", {})
        if "response" not in outcomes:
            if models.get("response") is True:
                raise ExperimentError(f"{where} [models]: response = true needs [cohort.outcomes] response")
            models["response"] = False
        if "time" not in outcomes:
            if models.get("survival"):
                raise ExperimentError(f"{where} [models]: a survival model needs [cohort.outcomes] time and event")
            models["survival"] = False
    checks = [
        (get("cohort", "n", 1) > 0, "[cohort] 'n' must be > 0"),
        (get("validation", "n", 20000) >= 0, "[validation] 'n' must be >= 0"),
        (0.05 <= get("evaluation", "test_fraction", 0.25) <= 0.5, "[evaluation] 'test_fraction' must be within 0.05-0.5"),
        (get("search", "n_iter", 8) >= 1 and get("search", "cv_folds", 3) >= 2, "[search] needs n_iter >= 1 and cv_folds >= 2"),
        (len(get("search", "boosters", ["gbtree"])) > 0
         and all(b in ("gbtree", "gblinear") for b in get("search", "boosters", [])),
         "[search] 'boosters' must be a non-empty list of \"gbtree\" and/or \"gblinear\""),
        (get("evaluation", "bootstrap", 200) >= 0, "[evaluation] 'bootstrap' must be >= 0"),
        (get("models", "survival", "survival:cox") in ("survival:cox", "survival:aft", False),
         "[models] 'survival' must be 'survival:cox', 'survival:aft' or false"),
        (get("models", "response", True) or get("models", "survival", "survival:cox"), "[models] asks for no model"),
        (all(isinstance(h, (int, float)) and h > 0 for h in get("evaluation", "horizons", [6, 12, 24])),
         "[evaluation] 'horizons' must be positive numbers"),
    ]
    for ok, message in checks:
        if not ok:
            raise ExperimentError(f"{where}: {message}")
    log = get("features", "log", "auto")
    if isinstance(log, str) and log != "auto":
        raise ExperimentError(f"{where} [features]: 'log' must be \"auto\", a list of columns or false")
    seed = get("cohort", "seed", 0)
    return Experiment(
        name=get("experiment", "name"), description=get("experiment", "description", ""),
        scenario=get("cohort", "scenario", ""), n=get("cohort", "n"), seed=seed,
        validation_n=get("validation", "n", 20000) if data_path is None else 0,
        validation_seed=get("validation", "seed", seed + 1),
        log=None if log is False else log, cutoffs=dict(get("features", "cutoffs", {})),
        columns=get("features", "columns"), response=get("models", "response", True),
        survival=get("models", "survival", "survival:cox") or None,
        search_n_iter=get("search", "n_iter", 8), search_cv_folds=get("search", "cv_folds", 3),
        search_seed=get("search", "seed", 0),
        search_boosters=tuple(dict.fromkeys(get("search", "boosters", ["gbtree", "gblinear"]))),
        test_fraction=get("evaluation", "test_fraction", 0.25),
        n_bootstrap=get("evaluation", "bootstrap", 200), eval_seed=get("evaluation", "seed", 0),
        horizons=tuple(float(h) for h in get("evaluation", "horizons", [6, 12, 24])),
        shap_max_rows=get("shap", "max_rows", 2000), shap_dependence=list(get("shap", "dependence", [])),
        shap_by=get("shap", "by"),
        model_name=get("registry", "model_name", get("experiment", "name")),
        register=get("registry", "register", True), path=path, raw=raw,
        data_path=data_path, outcomes=outcomes, columns_spec=dict(raw.get("columns", {})), time_unit=time_unit,
    )

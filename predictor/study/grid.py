"""The grid of a study and its seeds.

Every seed comes from the study seed through :class:`numpy.random.SeedSequence`, keyed by what
it is for rather than by its position in the grid, so no result depends on the order in which
cells run, on the number of workers, or on which other cells the grid holds:

* the validation cohort: ``SeedSequence(seed, spawn_key=(0,))`` (the same for every variant);
* replicate ``r``: ``SeedSequence(seed, spawn_key=(1, r))``, the same cohort seed for every size,
  model family, panel and scenario variant (common random numbers). A replicate's cohorts are
  nested: its cohort of ``n`` is the first ``n`` patients of one endless cohort
  (:func:`synthetic.generation.generate_nested`), so that the difference between two sizes is
  paired (the same first patients), a learning curve's steps are not blurred by unrelated
  cohorts, and a grid grown later still reuses every cell computed.

A cell's cache key hashes everything that determines its result.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from predictor.config.study import Study, Variant
from synthetic.generation import package_version

__all__ = ["Cell", "cell_seed", "validation_seed", "plan_cells", "cell_key", "validation_key"]


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
        return {
            "scenario": self.scenario,
            "n": self.n,
            "replicate": self.replicate,
            "model": self.model,
            "panel": self.panel,
        }

    def label(self) -> str:
        return f"{self.scenario}/n={self.n}/replicate {self.replicate}/{self.model}/{self.panel}"


def cell_seed(study_seed: int, replicate: int) -> int:
    """The seed of replicate ``replicate``'s cohort, which every size takes its first patients from
    (see the module's docstring)."""
    return int(np.random.SeedSequence(study_seed, spawn_key=(1, replicate)).generate_state(1)[0])


def validation_seed(study_seed: int) -> int:
    """The validation cohort's seed (every variant: the same draws, the variant's parameters)."""
    return int(np.random.SeedSequence(study_seed, spawn_key=(0,)).generate_state(1)[0])


def plan_cells(study: Study) -> list[Cell]:
    """Every cell of the grid, smallest cohorts first within each variant."""
    s = study.study
    return [
        Cell(scenario=v.name, n=n, replicate=r, model=m, panel=p.name, seed=cell_seed(s.seed, r))
        for v in study.variants
        for n in sorted(s.n)
        for r in range(s.first_replicate, s.first_replicate + s.replicates)
        for m in s.models
        for p in study.panels
    ]


def _fingerprint(study: Study, variant: Variant) -> dict[str, Any]:
    """What every cell of ``variant`` shares and its results depend on."""

    base = {
        k: v
        for k, v in study.base.params().items()
        if not k.startswith(("experiment.", "registry.", "shap.", "validation.", "cohort.n", "cohort.seed"))
    }
    return {
        "base": base,
        "search": asdict(study.search),
        "variant": variant.values(study.scenario),
        "scenario": study.scenario.name,
        "validation": [study.study.validation_n, validation_seed(study.study.seed)],
        "version": package_version(),
    }


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def cell_key(study: Study, cell: Cell) -> str:
    """The cache key of ``cell``: a hash of everything that determines its result."""
    panel = study.panel(cell.panel)
    return _hash(
        {
            **_fingerprint(study, study.variant(cell.scenario)),
            "cell": cell.keys(),
            "seed": cell.seed,
            "columns": panel.columns,
            "power": asdict(study.power),
        }
    )


def validation_key(study: Study, variant: Variant) -> str:
    return _hash({**_fingerprint(study, variant), "what": "validation"})

"""The :class:`Cohort`: an observed table, a separate truth table, and where they came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.io import atomic_write

from .errors import CohortIOError

__all__ = ["Cohort", "truth_path_for"]

_META_KEY = b"immunoresponse.cohort"


def truth_path_for(path: str | Path) -> Path:
    """Where the truth table of the cohort saved at ``path`` goes: ``NAME.truth.parquet``."""
    p = Path(path)
    stem = p.name[: -len(".parquet")] if p.name.endswith(".parquet") else p.name
    return p.with_name(stem + ".truth.parquet")


@dataclass
class Cohort:
    """A synthetic cohort.

    Attributes
    ----------
    observed : pandas.DataFrame
        What a study would record: id, biomarkers, covariates, treatment, outcomes.
    truth : pandas.DataFrame
        What only the generator knows (true linear predictors, response probability, true
        median PFS, latent variables), row-aligned with ``observed`` by ``patient_id``.
        Truth never enters a feature matrix.
    scenario : str
        Scenario name.
    seed : int
        Seed the cohort was generated with.
    parameters : dict
        Every parameter value used.
    package_version : str
        Version of the package that generated it.
    """

    observed: pd.DataFrame
    truth: pd.DataFrame
    scenario: str
    seed: int
    parameters: dict[str, Any] = field(default_factory=dict)
    package_version: str = ""

    @property
    def n(self) -> int:
        """Number of patients."""
        return len(self.observed)

    def metadata(self) -> dict[str, Any]:
        """Provenance as a JSON-serialisable mapping."""
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "n": self.n,
            "parameters": self.parameters,
            "package_version": self.package_version,
        }

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the observed table to ``path`` and the truth beside it (``*.truth.parquet``).

        Both files are written to temporary names in the target folder and renamed at the
        end, so that a failure leaves neither a partial file nor a stale half of a pair.

        Returns
        -------
        (Path, Path)
            The observed and the truth file.

        Raises
        ------
        CohortIOError
            The folder does not exist or is not writable, or writing failed.
        """
        out = Path(path)
        truth_out = truth_path_for(out)
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir():
            raise CohortIOError(f"cannot write {out}: folder {folder} does not exist")
        if out.is_dir():
            raise CohortIOError(f"cannot write {out}: it is a folder")
        meta = json.dumps(self.metadata()).encode()
        try:
            with atomic_write(out) as obs_tmp, atomic_write(truth_out) as truth_tmp:
                for frame, role, tmp in ((self.observed, "observed", obs_tmp), (self.truth, "truth", truth_tmp)):
                    table = pa.Table.from_pandas(frame, preserve_index=False)
                    table = table.replace_schema_metadata(
                        {**(table.schema.metadata or {}), _META_KEY: meta, b"immunoresponse.role": role.encode()}
                    )
                    pq.write_table(table, tmp)
        except OSError as exc:
            raise CohortIOError(f"cannot write {out}: {exc.strerror or exc}") from None
        return out, truth_out

    @classmethod
    def load(cls, path: str | Path) -> Cohort:
        """Read a cohort written by :meth:`save` (observed file path; the truth is found beside it)."""
        out = Path(path)
        truth_out = truth_path_for(out)
        try:
            obs = pq.read_table(out)
            truth = pq.read_table(truth_out)
        except (OSError, pa.ArrowInvalid) as exc:
            raise CohortIOError(f"cannot read cohort {out}: {exc}") from None
        raw = (obs.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise CohortIOError(f"{out} is not a cohort written by this package (no provenance metadata)")
        meta = json.loads(raw)
        return cls(
            observed=obs.to_pandas(),
            truth=truth.to_pandas(),
            scenario=meta["scenario"],
            seed=meta["seed"],
            parameters=meta["parameters"],
            package_version=meta["package_version"],
        )

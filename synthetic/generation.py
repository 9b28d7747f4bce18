"""Generate a cohort from a scenario."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from features.limits import patients_problem

from .cohort import Cohort
from .errors import GenerationError
from .scenario import Scenario, load_scenario

__all__ = ["generate", "generate_nested", "draw_noise", "simulate", "CHUNK_SIZE", "NESTED_BLOCK", "package_version"]

#: Patients per chunk. Each chunk draws from its own child of ``SeedSequence(seed)``, so a cohort
#: depends on (seed, n) alone, and the progress display can advance chunk by chunk.
CHUNK_SIZE = 250_000
#: Patients per block of :func:`generate_nested`.
NESTED_BLOCK = 200
#: Most threads used to generate chunks.
MAX_WORKERS = 8


def package_version() -> str:
    """The installed version of this package (``"unknown"`` when run from a source tree)."""
    try:
        return version("immunoresponse")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled checkout
        return "unknown"


def _check(n: Any, seed: Any) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
        raise GenerationError(f"n must be a positive whole number of patients, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise GenerationError(f"seed must be a non-negative whole number, got {seed!r}")
    return int(n), int(seed)


def _within_limit(scenario: Scenario, n: int) -> None:
    """Refuse a cohort too large for memory before drawing it (:mod:`features.limits`)."""
    columns = len(scenario.schema.names) + sum(len(nd.noise) + len(nd.truth) for nd in scenario.model.graph.nodes)
    problem = patients_problem(n, columns)
    if problem:
        raise GenerationError(f"n: {problem}")


def _chunks(n: int, seed: int) -> list[tuple[int, np.random.Generator]]:
    sizes = [CHUNK_SIZE] * (n // CHUNK_SIZE) + ([n % CHUNK_SIZE] if n % CHUNK_SIZE else [])
    children = np.random.SeedSequence(seed).spawn(len(sizes))
    return [(size, np.random.Generator(np.random.PCG64(ss))) for size, ss in zip(sizes, children, strict=True)]


def draw_noise(scenario: Scenario, n: int, seed: int) -> dict[str, np.ndarray]:
    """All random draws of a cohort of ``n`` (parameter-free: reused by calibration)."""
    n, seed = _check(n, seed)
    _within_limit(scenario, n)
    parts = [scenario.model.draw(rng, size) for size, rng in _chunks(n, seed)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def simulate(
    scenario: Scenario, noise: Mapping[str, np.ndarray], values: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observed and truth frames from draws and (optionally overridden) parameter values."""
    return scenario.model.transform(noise, values if values is not None else scenario.values())


def _draw(
    model: Any, values: dict[str, Any], chunks: list[tuple[int, np.random.Generator]], progress: Any
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Each chunk's observed and truth tables, patient ids running on across chunks."""
    observed, truth = [], []

    def one(chunk: tuple[int, np.random.Generator]) -> tuple[pd.DataFrame, pd.DataFrame]:
        size, rng = chunk
        return model.transform(model.draw(rng, size), values)

    # NumPy's generators and ufuncs release the GIL, so chunks run in parallel on threads; each
    # chunk has its own seed, so the result does not depend on the number of workers.
    workers = min(len(chunks), os.cpu_count() or 1, MAX_WORKERS)
    offset = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (size, _), (obs, tru) in zip(chunks, pool.map(one, chunks), strict=True):
            if offset:
                # New arrays, not "+=": a generator may hand both frames the same id array, which
                # an in-place add would then shift twice.
                obs["patient_id"] = obs["patient_id"].to_numpy() + offset
                tru["patient_id"] = tru["patient_id"].to_numpy() + offset
            observed.append(obs)
            truth.append(tru)
            offset += size
            if progress is not None:
                progress(size)
    return observed, truth


def generate(
    scenario: str | Scenario,
    n: int | None = None,
    seed: int = 0,
    *,
    progress: Callable[[int], None] | None = None,
) -> Cohort:
    """Generate a synthetic cohort.

    Parameters
    ----------
    scenario : str or Scenario
        A shipped scenario name, a scenario file path, or a loaded :class:`Scenario`.
    n : int, optional
        Number of patients; default the scenario's ``default_n`` (927 for ``icb_bone_opn``, B1).
    seed : int
        Seed. The same (scenario, n, seed) gives the same cohort, bit for bit.
    progress : callable, optional
        Called with the number of patients finished after each chunk.

    Returns
    -------
    Cohort
        Observed and truth tables, with provenance.

    Raises
    ------
    GenerationError
        ``n`` or ``seed`` is not a valid number.
    ScenarioError
        Unknown scenario or malformed scenario file.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    n, seed = _check(sc.default_n if n is None else n, seed)
    _within_limit(sc, n)
    values = sc.values()
    observed, truth = _draw(sc.model, values, _chunks(n, seed), progress)
    if len(observed) == 1:
        obs_df, truth_df = observed[0], truth[0]
    else:
        obs_df = pd.concat(observed, ignore_index=True)
        truth_df = pd.concat(truth, ignore_index=True)
    return Cohort(
        observed=obs_df,
        truth=truth_df,
        scenario=sc.name,
        seed=seed,
        parameters=values,
        package_version=package_version(),
    )


def generate_nested(scenario: str | Scenario, n: int, seed: int = 0) -> Cohort:
    """The first ``n`` patients of an endless cohort drawn in blocks of :data:`NESTED_BLOCK`,
    block ``b`` from ``SeedSequence(seed, spawn_key=(b,))``: a smaller cohort is always the start
    of a larger one with the same seed, whatever the larger size (a study's paired sizes).

    Returns
    -------
    Cohort
        ``patient_id`` runs 1..n.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    n, seed = _check(n, seed)
    _within_limit(sc, n)
    blocks = -(-n // NESTED_BLOCK)
    # Block b is the single chunk that generate(sc, NESTED_BLOCK, state_b) would draw, all drawn
    # in one pass (one thread pool, patient ids running on).
    states = [int(np.random.SeedSequence(seed, spawn_key=(b,)).generate_state(1)[0]) for b in range(blocks)]
    chunks = [(NESTED_BLOCK, _chunks(NESTED_BLOCK, state)[0][1]) for state in states]
    observed_parts, truth_parts = _draw(sc.model, sc.values(), chunks, None)
    observed = pd.concat(observed_parts, ignore_index=True).iloc[:n].copy()
    truth = pd.concat(truth_parts, ignore_index=True).iloc[:n].copy()
    return Cohort(
        observed=observed,
        truth=truth,
        scenario=sc.name,
        seed=seed,
        parameters=sc.values(),
        package_version=package_version(),
    )

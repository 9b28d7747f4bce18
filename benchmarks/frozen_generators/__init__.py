# Frozen copy (2026-12-02) of the hand-written generators the scenario files replaced; kept only so that
# bench_generate.py and tests/synthetic/test_declared.py can compare the declared generators with them.
"""Generators behind the scenarios. Each module exposes the same small interface:

``PARAMETERS``
    Names of the parameters the scenario file must declare.
``check_parameters(values)``
    Raise ``ValueError`` for values that make no sense (probabilities that do not sum to 1).
``draw(rng, n)``
    Every random number the cohort needs, as a dict of arrays, drawn independently of the
    parameters, so that calibration can reuse them (common random numbers).
``transform(noise, values)``
    The observed and the truth frames, a deterministic function of the draws and parameters.
``EXPECTATIONS`` / ``SURVIVAL``
    Which truth columns hold the noise-free expectation of an observed outcome, used by the
    calibration solver for smooth objectives.
"""

from __future__ import annotations

from types import ModuleType

from . import icb_bone_opn, myeloma_bmm

__all__ = ["MODELS", "get_model"]

MODELS: dict[str, ModuleType] = {"icb_bone_opn": icb_bone_opn, "myeloma_bmm": myeloma_bmm}


def get_model(name: str) -> ModuleType:
    """The generator module called ``name``."""
    if name not in MODELS:
        raise KeyError(f"unknown model '{name}'; available: {', '.join(sorted(MODELS))}")
    return MODELS[name]

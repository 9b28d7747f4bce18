"""The myeloma scenario's arms and biomarkers, the term each arm-specific coefficient multiplies,
and the true effect of each biomarker within each arm (what SHAP is judged against)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

ARMS = ("dara_krd", "tal_tec", "car_t")


#: Microenvironment markers driven by the latent suppression score, and how each is scaled.
TME_MARKERS = {
    "treg_pct": "log",
    "mdsc_pct": "log",
    "tgfb_pg_ml": "log",
    "il6_pg_ml": "log",
    "lactate_mmol_l": "log",
    "hypoxia_score": "logit",
    "pd1_cd8_pct": "logit_pct",
}


#: The biomarker each arm-specific coefficient multiplies (through :func:`effect_terms`).
EFFECT_BIOMARKERS = {
    "resp_per_log2_cd38": "cd38_density_k",
    "resp_per_log2_cd55_cd59": "cd55_cd59_fold",
    "resp_per_log2_treg": "treg_pct",
    "resp_per_log2_mdsc": "mdsc_pct",
    "resp_per_log2_tgfb": "tgfb_pg_ml",
    "resp_per_log2_il6": "il6_pg_ml",
    "resp_per_log2_lactate": "lactate_mmol_l",
    "resp_per_hypoxia": "hypoxia_score",
    "resp_per_10pct_pd1_cd8": "pd1_cd8_pct",
    "resp_bcma_silencing": "bcma_methylation_pct",
    "resp_per_10pct_gprc5d": "gprc5d_positive_pct",
}


#: Biomarkers that affect nothing.
NULL_BIOMARKERS = ("null_biomarker_1", "null_biomarker_2", "null_biomarker_3")


def effect_terms(columns: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The term each arm-specific coefficient multiplies (the module docstring's :math:`m(x)`),
    from the observed biomarker columns."""
    med = values["tme_median"]
    out = {}
    for coefficient, column in EFFECT_BIOMARKERS.items():
        x = np.asarray(columns[column], dtype=np.float64)
        scale = TME_MARKERS.get(column)
        if column == "cd38_density_k":
            out[coefficient] = np.log2(x / 50.0)
        elif column == "cd55_cd59_fold":
            out[coefficient] = np.log2(x)
        elif column == "bcma_methylation_pct":
            out[coefficient] = expit((x - 70.0) / 5.0)  # BCMA silencing
        elif column == "gprc5d_positive_pct":
            out[coefficient] = (x - 80.0) / 10.0
        elif scale == "log":
            out[coefficient] = np.log2(x / med[column])
        elif scale == "logit":
            out[coefficient] = x
        else:  # logit_pct
            out[coefficient] = (x - 30.0) / 10.0
    return out


def biomarker_effects(observed: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """How much each biomarker moves the response linear predictor :math:`m(x)` (probit units)
    within each arm: :math:`|\\beta_j[a]|` times the interquartile range of its term among that
    arm's patients of ``observed`` (0 where the biomarker does not act on the arm, and for the
    null biomarkers). PFS follows :math:`m(x)` times ``pfs_log_hr_per_depth``.

    Returns
    -------
    DataFrame
        Biomarkers (the observed column names) x arms.
    """
    out = {}
    for arm in ARMS:
        rows = observed[observed["therapy_arm"] == arm]
        terms = effect_terms({c: rows[c].to_numpy() for c in EFFECT_BIOMARKERS.values()}, values)
        effect = {}
        for coefficient, column in EFFECT_BIOMARKERS.items():
            beta = abs(float(values[coefficient][arm]))
            effect[column] = (
                beta * float(np.subtract(*np.percentile(terms[coefficient], [75, 25]))) if beta and len(rows) else 0.0
            )
        out[arm] = {**effect, **{c: 0.0 for c in NULL_BIOMARKERS}}
    return pd.DataFrame(out)

"""Does SHAP recover the truth? A model's within-group importance judged against a scenario's
true biomarker effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

__all__ = ["shap_recovery"]


def shap_recovery(importance_by: pd.DataFrame, effects: pd.DataFrame, min_effect: float = 0.1) -> pd.DataFrame:
    """Whether an explanation separates the biomarkers that act from those that do not, within
    each group (therapy arm), against the truth of a synthetic cohort.

    Parameters
    ----------
    importance_by : DataFrame
        Mean absolute SHAP within each group: input columns x groups
        (:attr:`predictor.training.Explanation.importance_by`).
    effects : DataFrame
        The true effect of each biomarker within each group (the linear predictor's change
        across the biomarker's interquartile range; ``tests/myeloma_truth.py`` computes it for the myeloma scenario):
        biomarkers x groups. Only these rows are judged.
    min_effect : float
        A biomarker "acts" in a group when its true effect there is at least this; one with an
        effect of exactly 0 does not. Those in between are not judged.

    Returns
    -------
    DataFrame
        One row per group: the acting biomarker with the smallest importance (``weakest_acting``,
        ``weakest_importance``), the non-acting one with the largest (``strongest_null``,
        ``null_importance``), ``separated``: every acting biomarker above every non-acting one,
        and ``ranked_pairs``: the share of (acting, non-acting) pairs the importance orders
        correctly, ties counting half (the AUC of importance for telling acting from non-acting
        biomarkers; 1 when ``separated``, 0.5 for a random order). Where ``separated`` is all or
        nothing, ``ranked_pairs`` says how near a miss is.
    """
    rows = []
    for group in effects.columns:
        if group not in importance_by.columns:
            continue
        imp = importance_by[group].reindex(effects.index).fillna(0.0)
        acting = effects.index[effects[group] >= min_effect]
        null = effects.index[effects[group] == 0]
        weak, strong = imp[acting].idxmin(), imp[null].idxmax()
        judged = imp[acting.append(null)]
        acts = np.r_[np.ones(len(acting)), np.zeros(len(null))]
        rows.append(
            {
                "group": group,
                "weakest_acting": weak,
                "weakest_importance": float(imp[weak]),
                "strongest_null": strong,
                "null_importance": float(imp[strong]),
                "separated": bool(imp[weak] > imp[strong]),
                "ranked_pairs": float(roc_auc_score(acts, judged.to_numpy())),
            }
        )
    return pd.DataFrame(rows)

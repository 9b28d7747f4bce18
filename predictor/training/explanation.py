"""SHAP explanations of the fitted models: exact per-patient contributions, global importance,
and importance within each group (a therapy arm) by interventional SHAP against that group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import Schema
from features.pipeline import CohortFeatures
from predictor.config.experiment import ShapSection
from predictor.training.data import Part, Progress, no_progress
from predictor.training.fitting import FittedTask

__all__ = ["Explanation", "shap_importance", "shap_importance_by", "explain"]


# ------------------------------------------------------------------------------------ explain
@dataclass(frozen=True)
class Explanation:
    """SHAP values of one task's model on the explained patients.

    ``values``: patients x model features, with a leading ``patient_id`` column; ``data``: those
    patients' model input; ``importance``: mean absolute SHAP per input column; ``importance_by``: the
    same within each group of ``by`` (input columns x groups), or None.
    """

    task: str
    values: pd.DataFrame
    base_value: float
    data: pd.DataFrame
    importance: pd.Series
    scale: str
    importance_by: pd.DataFrame | None = None
    by: str | None = None


def shap_importance(values: pd.DataFrame, features: CohortFeatures) -> pd.Series:
    """Mean absolute SHAP per input column (one-hot levels and cutoff flags summed per patient first)."""
    return features.sum_by_source(values).abs().mean().sort_values(ascending=False)


def shap_importance_by(
    model,
    X: pd.DataFrame,
    groups: pd.Series,
    background: pd.DataFrame,
    background_groups: pd.Series,
    features: CohortFeatures,
    *,
    n_background: int = 200,
    random_state: int = 0,
) -> pd.DataFrame:
    """Mean absolute SHAP per input column *within* each group (a therapy arm): input columns x groups.

    Plain SHAP values split an arm-by-biomarker interaction between the arm and the biomarker, so
    a biomarker that acts in one arm only still gets credit in the others. Here each group's
    patients are explained by interventional SHAP (TreeSHAP for trees; exact for the linear
    booster, arm terms included) against a background from the same group
    (at most ``n_background`` rows of ``background``, drawn with ``random_state``): the grouping
    column is constant within the group and gets 0, and every other column gets its effect on
    the model within that group.
    """
    rng = np.random.default_rng(random_state)
    order = (
        list(groups.cat.categories)
        if isinstance(groups.dtype, pd.CategoricalDtype)
        else sorted(groups.dropna().unique())
    )
    table = {}
    for g in order:
        rows, pool = (groups == g).to_numpy(), np.flatnonzero((background_groups == g).to_numpy())
        if not rows.any() or len(pool) == 0:
            continue
        bg = background.iloc[np.sort(rng.permutation(pool)[:n_background])]
        values, _ = model.shap_values(X.loc[rows], background=bg)
        table[g] = shap_importance(pd.DataFrame(values, columns=X.columns), features)
    out = pd.DataFrame(table)
    return out.loc[out.mean(axis=1).sort_values(ascending=False).index]


def explain(
    fitted: Sequence[FittedTask],
    part: Part,
    features: CohortFeatures,
    train: Part,
    schema: Schema,
    config: ShapSection,
    seed: int,
    say: Progress = no_progress,
) -> dict[str, Explanation]:
    """SHAP values (TreeSHAP, or exact linear SHAP; additivity checked) of each task's model on at
    most ``config.max_rows`` patients of ``part`` drawn with ``seed``; with ``config.by``, also
    importance within each group against a background of training rows of the same group."""
    rows = np.sort(np.random.default_rng(seed).permutation(len(part.frame))[: config.max_rows])
    df = part.frame.iloc[rows]
    X = features.transform(df)
    ids = [c.name for c in schema.by_role("id") if c.name in df.columns]
    patient_id = (df[ids[0]] if ids else pd.Series(df.index, index=df.index)).to_numpy()
    background = features.transform(train.frame) if config.by else None  # the same for every task: built once
    out = {}
    for f in fitted:
        say(f"{f.task.name}: SHAP values for {len(rows)} patients")
        values, base = f.model.shap_values(X)
        vdf = pd.DataFrame(values, index=df.index, columns=X.columns)
        importance = shap_importance(vdf, features)
        vdf.insert(0, "patient_id", patient_id)
        by = None
        if config.by:
            say(f"{f.task.name}: SHAP within each {config.by}")
            by = shap_importance_by(
                f.model, X, df[config.by], background, train.frame[config.by], features, random_state=seed
            )
        out[f.task.name] = Explanation(
            task=f.task.name,
            values=vdf,
            base_value=base,
            data=X,
            importance=importance,
            scale=f.task.shap_scale(f.model),
            importance_by=by,
            by=config.by,
        )
    return out

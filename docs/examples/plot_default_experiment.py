"""
The default experiment, against the baseline and the oracle
===========================================================

``predictor train`` runs ``experiments/icb_bone_opn.toml``: a synthetic cohort of 927 patients
with bone metastases and serum osteopontin, XGBoost for objective response and PFS, a logistic /
Cox baseline, and the oracle (the truth's own predictions). Here the same stages run in Python,
without MLflow, with a smaller search and bootstrap so that the page builds in seconds.
"""

from dataclasses import replace

from _show import show

from predictor.config.experiment import load_experiment
from predictor.training import train

exp = load_experiment("icb_bone_opn")
exp = replace(
    exp,
    search=replace(exp.search, n_iter=2, boosters=("gblinear",)),
    evaluation=replace(exp.evaluation, bootstrap=30),
    validation=replace(exp.validation, n=3000),
)
result = train(exp)

# %%
# The headline: the model, the baseline and the oracle on the fresh validation cohort. The gap
# to the oracle is how much better the best possible model does on the same patients.
metrics = result.evaluation.metrics
validation = metrics[
    (metrics.dataset == "validation") & metrics.metric.isin(["auc", "brier", "harrell_c", "cal_slope"])
]
print(validation.pivot_table(index=["task", "metric"], columns="model", values="estimate").round(3).to_string())

# %%
# Calibration of the response model on the validation cohort, and what drives it (mean absolute SHAP).
show(result.figures["evaluation/response_calibration_validation.png"])
show(result.figures["shap/response_importance.png"])

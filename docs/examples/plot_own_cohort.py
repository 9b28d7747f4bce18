"""
Your own cohort: the VA lung cancer trial
=========================================

A user's cohort is a CSV or Parquet file and an experiment file that declares its columns
(dtype, unit, valid range, role). ``experiments/veterans_lung_cancer.toml`` trains an overall
survival model on the 137 patients of the Veterans' Administration lung cancer trial, with a
nested cross-validation beside the single test split (a small cohort's honest estimate). Real
data has no oracle: the model is scored against the Cox baseline.
"""

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from _show import show
from sksurv.datasets import load_veterans_lung_cancer

from predictor.config.experiment import experiments_dir, load_experiment
from predictor.training import train

# The trial's data ships with scikit-survival; write it as the CSV the experiment file names.
folder = Path(tempfile.mkdtemp())
X, y = load_veterans_lung_cancer()
X.assign(Status=y["Status"], Survival_in_days=y["Survival_in_days"]).to_csv(
    folder / "veterans_lung_cancer.csv", index=False
)
shutil.copy(experiments_dir() / "veterans_lung_cancer.toml", folder)

exp = load_experiment(folder / "veterans_lung_cancer.toml")
exp = replace(
    exp,
    search=replace(exp.search, n_iter=2),
    evaluation=replace(exp.evaluation, bootstrap=30, nested_folds=3, nested_repeats=1),
)
result = train(exp)

# %%
# The declared columns, as the schema checks them (a file that breaks them is refused, naming
# the column, the rows and the rule).
print(result.data.schema.names)

# %%
# Harrell's C on the test split, XGBoost beside the Cox baseline, and the nested CV's estimate.
metrics = result.evaluation.metrics
print(
    metrics[metrics.metric == "harrell_c"][["dataset", "model", "estimate", "ci_low", "ci_high"]].round(3).to_string()
)
assert result.nested is not None  # the experiment asks for a nested CV
print(result.nested.summary().round(3).to_string())

# %%
# Kaplan-Meier curves of the test patients by predicted risk tertile.
show(next(fig for name, fig in result.figures.items() if name.startswith("evaluation/km_by_risk_group")))

"""
External validation: a later cohort (flchain)
=============================================

``experiments/flchain_temporal.toml`` develops an all-cause mortality model on serum free light
chain samples of 1995-1996 and validates it on the samples of 1997-2003, scored exactly as the
development run scored its own test split (``predictor evaluate`` does the same for a registered
model and any cohort file).
"""

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from _show import show
from sksurv.datasets import load_flchain

from predictor.config.experiment import experiments_dir, load_experiment
from predictor.training import train

# The Mayo Clinic flchain study ships with scikit-survival: split it by the year of the sample.
folder = Path(tempfile.mkdtemp())
X, y = load_flchain()
columns = ["age", "sex", "kappa", "lambda", "creatinine", "mgus"]
d = X[columns].assign(death=y["death"], futime=y["futime"], year=X["sample.yr"].astype(int))[y["futime"] > 0]
d[d.year <= 1996].drop(columns="year").to_csv(folder / "flchain_1995_1996.csv", index=False)
d[d.year >= 1997].drop(columns="year").to_csv(folder / "flchain_1997_2003.csv", index=False)
shutil.copy(experiments_dir() / "flchain_temporal.toml", folder)

exp = load_experiment(folder / "flchain_temporal.toml")
exp = replace(exp, search=replace(exp.search, n_iter=2), evaluation=replace(exp.evaluation, bootstrap=30))
result = train(exp)

# %%
# Discrimination and calibration on the development test split and on the later cohort.
metrics = result.evaluation.metrics
keep = metrics.metric.isin(["harrell_c", "uno_c", "ibs", "integrated_brier"]) & (metrics.model == "xgboost")
print(metrics[keep].pivot_table(index="metric", columns="dataset", values="estimate").round(3).to_string())

# %%
# Calibration of the predicted survival on the later cohort.
show(next(fig for name, fig in result.figures.items() if name.startswith("evaluation/survival_calibration")))

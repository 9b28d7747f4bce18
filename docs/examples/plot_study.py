"""
A study: how many patients does the response model need?
========================================================

Because a synthetic cohort's truth is known, a study trains the experiment's models at several
cohort sizes, with fresh replicates, and scores each against the oracle on one large validation
cohort. ``predictor study experiments/icb_bone_opn_sample_size.toml`` runs the full grid on Dask;
here a small grid (three sizes, two replicates, the baseline and XGBoost's linear booster) runs on
one local worker, so that the page builds in a minute.
"""

import tempfile
from pathlib import Path

from _show import show

from predictor.config.study import load_study
from predictor.reporting.study_figures import study_figures
from predictor.study import ClusterSpec, run_study

folder = Path(tempfile.mkdtemp())
(folder / "study.toml").write_text(
    f"""
[study]
name = "gallery_study"
experiment = "icb_bone_opn"
n = [150, 300, 600]
replicates = 2
models = ["gblinear", "baseline"]
validation_n = 2000
seed = 3
output = "{folder / "out"}"

[search]
n_iter = 1
cv_folds = 2

[criteria]
bootstrap = 100
""",
    encoding="utf-8",
)
study = load_study(folder / "study.toml")
result = run_study(study, ClusterSpec(workers=1))

# %%
# The study's answer: the smallest n whose model comes within the stated gap of the oracle,
# beside Riley's closed-form minimum n for developing the model.
print(result.sample_size.round(3).to_string())

# %%
# The learning curve of the response model: AUC by cohort size, the oracle's as the ceiling.
show(next(fig for name, fig in study_figures(result).items() if name.endswith("_response.png")))

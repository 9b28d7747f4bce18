"""The small study the study tests share: 2 sizes x 2 replicates x 2 model families x 2 panels
(16 cells of 120-240 patients, a validation cohort of 3,000: seconds per cell)."""

from pathlib import Path

SMALL_STUDY = """
[study]
name = "{name}"
experiment = "icb_bone_opn"
n = [120, 240]
replicates = 2
models = ["gblinear", "baseline"]
validation_n = 3000
seed = 5
output = "{out}"

[search]
n_iter = 1

[power]
covariate = "bone_metastasis"

[panels.all]
[panels.no_opn]
drop = ["opn_ng_ml"]
"""


def small_study(name: str, out: Path) -> str:
    """The small study's text, named ``name``, writing its results under ``out``."""
    return SMALL_STUDY.replace("{name}", name).replace("{out}", str(out))

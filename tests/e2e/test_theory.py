"""What theory says, checked by a study on the generic scenario (six equal standard-normal
predictors, prevalence 0.2, true C-statistic 0.75) with unpenalised logistic regression, the model
Riley's closed forms are derived for:

* the minimum n for a mean calibration slope of 0.9 (samplesizedev's E(S) = 0.9) lies at or above
  Riley's criterion 1 (expected shrinkage 0.9, from an approximation that is known to be
  optimistic for small samples);
* the probability criterion (80% of replicates with 0.85 < S < 1.15) needs more patients than the
  mean criterion.

Fixed seeds (study seed 11, 30 replicates per size); both statements are inequalities between
grid points, so they fail only if the simulated slopes or Riley's formula are wrong, not by noise
of the size of a grid step (the mean slope's Monte Carlo SE at these sizes is about 0.01-0.02).
"""

import pytest

from predictor.config.study import load_study
from predictor.study import ClusterSpec, run_study
from predictor.study.sample_size import minimum_n

pytestmark = pytest.mark.slow

STUDY = """
[study]
name = "theory"
experiment = "generic_logistic"
n = [150, 250, 400, 600, 900]
replicates = 30
models = ["unpenalised"]
validation_n = 20000
seed = 11
output = "{out}"

[criteria]
gap = 0.5          # the gap to the oracle is not what is tested here: only the calibration slope
slope = 0.9
statistic = "mean"
bootstrap = 200
"""


def test_the_mean_slope_criterion_meets_riley_and_assurance_needs_more(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(STUDY.replace("{out}", str(tmp_path / "out")), encoding="utf-8")
    study = load_study(path)
    result = run_study(study, ClusterSpec(workers=2))
    row = result.sample_size.iloc[0]
    assert row.model == "unpenalised" and row.task == "response"
    mean_n = row.study_n
    table = result.table[(result.table.task == "response") & (result.table.status == "ok")]
    gap = table[table.metric == "auc"][["n", "replicate", "gap"]]
    slope = table[table.metric == "cal_slope"][["n", "replicate", "value"]].rename(columns={"value": "slope"})
    curve = gap.merge(slope, on=["n", "replicate"])
    c = study.criteria
    assurance_n = minimum_n(curve, gap=c.gap, slope=c.slope, n_boot=10, criterion="assurance", assurance=0.8).n
    assert row.riley_1 <= mean_n < float("inf")
    assert assurance_n > mean_n

"""External-validation sample size: Riley et al. 2021's worked examples, reproduced, and the
closed form checked against simulated validation cohorts."""

import numpy as np
import pytest
from scipy.special import expit, logit
from scipy.stats import beta
from sklearn.metrics import roc_auc_score

from predictor.study.validation_size import riley_validation_binary, simulated_widths


def test_the_heart_valve_example_of_riley_et_al():
    # Riley et al. 2021 (Stat Med 40:4230), the worked example pmvalsampsize's documentation repeats:
    # prevalence 0.018, C 0.8, LP ~ N(-5, 2.5), O/E interval width 1, the other widths by default.
    # Published: O/E 905, C-statistic 4,252 (closed forms: reproduced exactly), calibration slope
    # 4,544, which pmvalsampsize estimates from 1e6 simulated LP values (seed 123456; 4,501 with 1,000);
    # quadrature gives the expectation itself, 4,554: 0.2% away, within the simulation's error.
    found = riley_validation_binary(prevalence=0.018, c_statistic=0.8, lp_normal=(-5.0, 2.5), oe_ci_width=1.0)
    assert found.oe == 905
    assert found.c_statistic == 4252
    assert found.slope == pytest.approx(4544, rel=0.005)
    assert found.n == found.slope and found.events == int(np.ceil(found.n * 0.018))


def test_the_beta_example_of_riley_et_al():
    # The same with predicted risks ~ Beta(0.5, 0.5): published slope criterion 1,644; the LP
    # distribution here is a million quantiles of that Beta (its expectation to 1e-6).
    risks = beta.ppf((np.arange(1_000_000) + 0.5) / 1_000_000, 0.5, 0.5)
    found = riley_validation_binary(prevalence=0.018, c_statistic=0.8, lp=logit(risks), oe_ci_width=1.0)
    assert (found.oe, found.slope, found.c_statistic) == (905, 1644, 4252)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="lp_normal"):
        riley_validation_binary(prevalence=0.1, c_statistic=0.7)
    with pytest.raises(ValueError, match="C-statistic"):
        riley_validation_binary(prevalence=0.1, c_statistic=0.4, lp_normal=(0, 1))


@pytest.mark.slow
def test_the_closed_form_widths_are_what_simulated_validation_cohorts_show():
    # At each criterion's n, 300 simulated validation cohorts of the true model: the SD of an SD
    # over 300 replicates is ~4%, so 12% is 3 of them. The O/E formula treats every patient's
    # risk as the prevalence; heterogeneous risks make the observed count less variable, so it
    # is conservative: the simulated width is at most the target (and not far below it).
    rng = np.random.default_rng(0)
    lp = rng.normal(-1.5, 1.0, 200_000)
    y = rng.random(len(lp)) < expit(lp)
    found = riley_validation_binary(
        prevalence=float(y.mean()), c_statistic=roc_auc_score(y, lp), lp=lp, threshold=0.2, se_step=0
    )
    targets = {"slope": 0.2, "c_statistic": 0.1, "net_benefit": 0.2}
    for criterion, target in targets.items():
        width = simulated_widths(lp, int(getattr(found, criterion)), replicates=300, threshold=0.2, random_state=1)
        assert width[criterion] == pytest.approx(target, rel=0.12), criterion
    oe = simulated_widths(lp, found.oe, replicates=300, random_state=2)["oe"]
    assert 0.8 * 0.2 <= oe <= 0.2 * 1.04


def test_a_study_sizes_the_validation_of_its_oracle(small_adaptive):
    from predictor.study import validation_size_table

    table = validation_size_table(small_adaptive, replicates=40)
    assert set(table.criterion) == {"oe", "slope", "c_statistic"}  # no threshold: no net benefit
    assert (table.task == "response").all()  # Riley's validation criteria here: binary outcomes only
    assert (table.riley_n > 0).all() and table.simulated_width.between(0, 1).all()

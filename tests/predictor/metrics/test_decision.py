"""Decision curves: dcurves' numbers, and the definition of net benefit they follow."""

import numpy as np
import pandas as pd
import pytest

from predictor.metrics.decision import THRESHOLDS, decision_curve


def test_binary_net_benefit_is_the_definition_and_dcurves():
    """NB(pt) = TP/n - FP/n * pt / (1 - pt), treating everyone at risk >= pt; treat all uses the
    prevalence; treat none is 0. Exact up to float rounding (1e-12)."""
    import dcurves

    rng = np.random.default_rng(0)
    p = rng.uniform(size=400)
    y = rng.uniform(size=400) < p
    table = decision_curve(y, {"model": p})
    for pt in THRESHOLDS:
        treat = p >= pt
        expected = (treat & y).mean() - (treat & ~y).mean() * pt / (1 - pt)
        got = table[(table.model == "model") & (table.threshold == pt)].net_benefit.item()
        assert got == pytest.approx(expected, abs=1e-12)
        assert table[(table.model == "all") & (table.threshold == pt)].net_benefit.item() == pytest.approx(
            y.mean() - (1 - y.mean()) * pt / (1 - pt), abs=1e-12
        )
    assert (table[table.model == "none"].net_benefit == 0).all()
    direct = dcurves.dca(
        data=pd.DataFrame({"outcome": y.astype(int), "model": p}),
        outcome="outcome",
        modelnames=["model"],
        thresholds=list(THRESHOLDS),
    )
    np.testing.assert_array_equal(table.net_benefit.to_numpy(), direct.net_benefit.to_numpy())


@pytest.mark.parametrize(
    "case",
    ["plain", "tied times and risks of exactly 0 and 1", "the riskiest patients' follow-up ends before the horizon"],
)
def test_survival_decision_curve_equals_dcurves_at_the_horizon(case):
    """Every column of every row equals ``dcurves.dca``'s (which fits lifelines' Kaplan-Meier;
    this module uses scikit-survival's) to 1e-12, undefined rows (NaN) included."""
    import dcurves

    rng = np.random.default_rng(1)
    n = 300
    t = rng.exponential(12, n)
    e = rng.uniform(size=n) < 0.7
    risks = {"m": rng.uniform(size=n), "other": rng.beta(2, 5, size=n)}
    if case.startswith("tied"):
        t = np.round(t)
        risks["m"][:20], risks["m"][20:40] = 0.0, 1.0
    elif case.startswith("the riskiest"):
        t[risks["m"] >= 0.8] = np.minimum(t[risks["m"] >= 0.8], 11.0)
    table = decision_curve(e, risks, time=t, horizon=12.0)
    direct = dcurves.dca(
        data=pd.DataFrame({"outcome": e.astype(int), **risks, "time": t}),
        outcome="outcome",
        modelnames=list(risks),
        thresholds=list(THRESHOLDS),
        time=12.0,
        time_to_outcome_col="time",
    )
    assert list(table.model) == list(direct.model) and set(table.model) == {"m", "other", "all", "none"}
    for column in table.columns.drop("model"):
        np.testing.assert_allclose(
            table[column].to_numpy(float), direct[column].to_numpy(float), rtol=1e-12, atol=1e-12, err_msg=column
        )
    assert table.net_benefit.isna().any() == case.startswith("the riskiest")


def test_the_truth_has_the_most_net_benefit():
    """On 20,000 patients, the generator's true probabilities are worth at least as much as a
    blurred version at every threshold (within 0.005: sampling noise of a rate at this n)."""
    from synthetic import generate, load_scenario, true_probability

    sc = load_scenario("icb_bone_opn")
    c = generate(sc, 20_000, seed=33)
    y = c.observed["objective_response"].to_numpy()
    p = true_probability(sc, c.truth, "objective_response")
    blurred = np.clip(p + np.random.default_rng(2).normal(0, 0.15, len(p)), 0, 1)
    t = decision_curve(y, {"truth": p, "blurred": blurred}).pivot(
        index="threshold", columns="model", values="net_benefit"
    )
    assert (t["truth"] >= t["blurred"] - 0.005).all() and (t["truth"] >= t[["all", "none"]].max(axis=1) - 0.005).all()

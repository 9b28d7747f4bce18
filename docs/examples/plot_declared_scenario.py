"""
A declared scenario: a trial's figures as a file
================================================

A scenario is a TOML file: the generative model (``[nodes]``), its parameters with their
sources, and the published figures it must reproduce (``[[targets]]``). The shipped
``keynote024_pdl1`` was written only in this format from KEYNOTE-024's figures. Here it is
checked, its targets evaluated on a large population, and its truth compared with what a trial
of the published size would see.
"""

import matplotlib.pyplot as plt
import numpy as np
from lifelines import KaplanMeierFitter

from synthetic import evaluate_targets, generate, load_scenario, oracle
from synthetic.identifiability import identifiability

scenario = load_scenario("keynote024_pdl1")  # every problem of the file would be reported here, at once
print(scenario.title)
for node in scenario.model.graph.nodes:
    print(f"  {node.name:22s} {node.kind:14s} <- {', '.join(sorted(node.deps)) or '-'}")

# %%
# Which published figure identifies which free parameter (tolerances moved across the bounds).
print(identifiability(scenario, n=50_000).sensitivity.round(0).to_string())

# %%
# The targets on a population of 200,000, as a study would compute them (Kaplan-Meier medians,
# observed rates).
population = generate(scenario, 200_000, seed=1)
achieved = evaluate_targets(scenario, population.observed, population.truth)
for target in scenario.targets:
    print(
        f"{target.id:18s} target {target.value:6.3f}  achieved {achieved[target.id]:6.3f}  ok: {target.within(achieved[target.id])}"
    )

# %%
# One trial of the published size (305 patients): its Kaplan-Meier curves by arm, beside the true
# survival of the same patients (the oracle's, averaged over each arm).
trial = generate(scenario, seed=7)
times = np.linspace(0.1, 20, 80)
truth = oracle(trial, times, scenario)["survival"]
fig, ax = plt.subplots(figsize=(7, 4))
for arm, colour in (("pembrolizumab", "tab:blue"), ("chemotherapy", "tab:orange")):
    rows = (trial.observed.therapy_arm == arm).to_numpy()
    km = KaplanMeierFitter().fit(
        trial.observed.pfs_months[rows], trial.observed.pfs_event[rows], label=f"{arm}: trial KM"
    )
    km.plot_survival_function(ax=ax, ci_show=False, color=colour)
    ax.plot(times, truth[rows].mean(axis=0), ls="--", color=colour, label=f"{arm}: truth")
ax.set_xlabel("months")
ax.set_ylabel("progression-free")
ax.legend(fontsize="small")

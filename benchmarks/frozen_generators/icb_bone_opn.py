r"""Immune-checkpoint blockade in a pan-cancer cohort, with bone metastases and osteopontin.

Scenario 1 of SEED_STATISTICS.md (Cheng et al., Cancer Cell 2025, as a news summary reports it).
Every number named below is a parameter of the scenario file, with its id and reason.

Causal structure (B10, B11)
---------------------------
``bone metastasis -> osteoclast activity (latent burden) -> serum OPN -> response and PFS``;
a RANKL inhibitor lowers OPN (strongly), a bisphosphonate a little; patients with a heavier
latent bone burden are more often given a bone-modifying agent. Bone metastasis also has a
small direct effect (``*_bone_direct``) so that OPN mediates most, not all, of its effect.

Covariates
----------
Tumour type ~ Categorical(``tumour_type_share``); bone metastasis ~ Bernoulli(
``bone_met_prob[type]``); driver mutation ~ Bernoulli(``driver_mutation_prob[type]``);
age ~ round(N(``age_mean``, ``age_sd``)) clipped to [18, 95]; ECOG ~ Categorical(``ecog_share``);
log TMB ~ N(log ``tmb_median[type]``, ``tmb_log_sd``) (TMB clipped to [0.1, 1000]); PD-L1 TPS = 0 with probability
``pdl1_zero_share``, else 100 expit(N(``pdl1_logit_mean``, ``pdl1_logit_sd``)) (whole %);
log NLR ~ N(log ``nlr_median`` + ``nlr_log_fold_bone`` B, ``nlr_log_sd``);
albumin ~ N(``albumin_mean``, ``albumin_sd``) clipped to [15, 55] g/L;
log LDH ~ N(log ``ldh_median`` + ``ldh_log_fold_bone`` B, ``ldh_log_sd``).
Three null biomarkers have no effect on anything, by construction.

Osteopontin (ng/mL)
-------------------
With B the bone-metastasis indicator and :math:`b \sim N(0, 1)` the latent bone burden,

.. math::

    P(\text{agent} \mid B=1) = \operatorname{expit}(\alpha_0 + \alpha_1 b), \quad
    P(\text{RANKL} \mid \text{agent}) = \rho

.. math::

    \log \mathrm{OPN} = \log m_{OPN} + B(\delta_{bone} + \sigma_b b)
        + \delta_{RANKL} R + \delta_{BP} P + \sigma_{OPN} \varepsilon

Response (extraosseous target lesions, RECIST)
----------------------------------------------
The best % change of the sum of extraosseous target lesions is a normal on the percent scale,
clipped at -100 (complete response, a point mass) and at the growth cap :math:`c`
(``best_pct_change_cap``): :math:`y = \min(\max(m(x) + \sigma_s z, -100), c)`,
:math:`z \sim N(0,1)`, with the linear predictor (in percentage points)

.. math::

    m(x) = \mu_0 + \mu_{type} + \beta_{TMB}\log_2(\mathrm{TMB}/10) + \beta_{PDL1}\,\mathrm{TPS}/100
        + \beta_{NLR}\log_2(\mathrm{NLR}/3) + \beta_{alb}(\mathrm{alb} - 38)
        + \beta_{ECOG}\mathrm{ECOG} + \beta_{LDH}\log_2(\mathrm{LDH}/220) + \beta_{drv} D
        + \beta_{OPN}\log_2(\mathrm{OPN}/50) + \beta_{bone} B

(lower = more shrinkage). Objective response is ``best % change <= -30``, so that
:math:`P(\text{OR} \mid x) = \Phi((-30 - m(x)) / \sigma_s)` (truth ``response_probability``),
and the expected best % change is the mean of the clipped normal (truth
``expected_best_pct_change``). A normal on the percent scale rather than on the log size
ratio keeps the mean near the median, as B4 (rates) and B7 (a mean) need together.

Progression-free survival (Bender, Augustin & Blettner 2005)
------------------------------------------------------------
Weibull proportional hazards, :math:`h(t \mid x) = \lambda k t^{k-1} e^{\eta(x)}`, with
:math:`\lambda = \log 2 / M_0^k` (``pfs_baseline_median`` :math:`M_0`, shape ``pfs_weibull_shape``
:math:`k`) and :math:`\eta(x)` linear in the same transforms as :math:`m(x)` (coefficients
``pfs_*``). Event times are drawn by inversion, :math:`T = (-\log U / (\lambda e^{\eta}))^{1/k}`,
:math:`U \sim U(0,1)`; the true median is :math:`M_0 e^{-\eta / k}`. Response and PFS are
independent given the baseline covariates, so that the truth linear predictors are the
Bayes-optimal scores given what is observed.

Censoring: administrative (uniform accrual, follow-up between ``followup_min`` and
``followup_max`` months) and loss to follow-up (exponential, ``dropout_rate`` per month).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from ._common import (
    categorical,
    check_shares,
    check_weibull_pfs,
    draw_uniforms_normals,
    table,
    weibull_oracle,
    weibull_pfs,
)

__all__ = [
    "PARAMETERS",
    "TUMOUR_TYPES",
    "BONE_AGENTS",
    "EXPECTATIONS",
    "SURVIVAL",
    "check_parameters",
    "draw",
    "transform",
    "oracle",
]

TUMOUR_TYPES = ("NSCLC", "melanoma", "RCC", "urothelial", "HNSCC", "other")
BONE_AGENTS = ("none", "bisphosphonate", "rankl_inhibitor")
SEXES = ("F", "M")

_TABLES = (
    "tumour_type_share",
    "bone_met_prob",
    "driver_mutation_prob",
    "tmb_median",
    "resp_tumour_offset",
    "pfs_tumour_log_hr",
)
PARAMETERS = (
    *_TABLES,
    "age_mean",
    "age_sd",
    "male_share",
    "ecog_share",
    "tmb_log_sd",
    "pdl1_zero_share",
    "pdl1_logit_mean",
    "pdl1_logit_sd",
    "nlr_median",
    "nlr_log_sd",
    "nlr_log_fold_bone",
    "albumin_mean",
    "albumin_sd",
    "ldh_median",
    "ldh_log_sd",
    "ldh_log_fold_bone",
    "bone_agent_logit",
    "bone_agent_burden_slope",
    "rankl_share_of_agents",
    "opn_median_no_bone",
    "opn_log_sd",
    "opn_burden_log_sd",
    "opn_log_fold_bone",
    "opn_log_change_rankl",
    "opn_log_change_bisphosphonate",
    "resp_intercept",
    "resp_sd",
    "resp_per_log2_tmb",
    "resp_per_pdl1",
    "resp_per_log2_nlr",
    "resp_per_albumin",
    "resp_per_ecog",
    "resp_per_log2_ldh",
    "resp_driver_mutation",
    "resp_per_log2_opn",
    "resp_bone_direct",
    "best_pct_change_cap",
    "pfs_baseline_median",
    "pfs_weibull_shape",
    "pfs_log_hr_nsclc",
    "pfs_per_log2_tmb",
    "pfs_per_pdl1",
    "pfs_per_log2_nlr",
    "pfs_per_albumin",
    "pfs_per_ecog",
    "pfs_per_log2_ldh",
    "pfs_driver_mutation",
    "pfs_per_log2_opn",
    "pfs_bone_direct",
    "followup_min",
    "followup_max",
    "dropout_rate",
)

#: Truth columns holding the noise-free expectation of an observed outcome column.
EXPECTATIONS = {"objective_response": "response_probability", "best_pct_change": "expected_best_pct_change"}
#: (observed time, observed event, uncensored time in the truth frame).
SURVIVAL = ("pfs_months", "pfs_event", "pfs_months_uncensored")

#: The random draws, in the order they are taken (the order is part of the seed contract).
_UNIFORMS = (
    "type",
    "bone",
    "sex",
    "ecog",
    "driver",
    "pdl1_zero",
    "agent",
    "agent_kind",
    "pfs",
    "accrual",
    "dropout",
    "null3",
)
_NORMALS = ("age", "tmb", "pdl1", "nlr", "albumin", "ldh", "burden", "opn", "resp", "null1", "null2")


def _table(values: Mapping[str, Any], name: str, keys=TUMOUR_TYPES) -> np.ndarray:
    return table(values, name, keys)


def check_parameters(values: Mapping[str, Any]) -> None:
    """Raise ``ValueError``/``TypeError`` for parameter values the generator cannot use."""
    share = _table(values, "tumour_type_share")
    if np.any(share < 0) or abs(share.sum() - 1) > 1e-6:
        raise ValueError(f"'tumour_type_share' must be non-negative and sum to 1 (sums to {share.sum():.4f})")
    for name in ("bone_met_prob", "driver_mutation_prob"):
        p = _table(values, name)
        if np.any((p < 0) | (p > 1)):
            raise ValueError(f"'{name}' must hold probabilities in [0, 1]")
    if np.any(_table(values, "tmb_median") <= 0):
        raise ValueError("'tmb_median' must be positive")
    _table(values, "resp_tumour_offset")
    _table(values, "pfs_tumour_log_hr", keys=[t for t in TUMOUR_TYPES if t != "NSCLC"])
    check_shares(values, "ecog_share", ("ECOG 0", "1", "2"))
    for name in ("male_share", "pdl1_zero_share", "rankl_share_of_agents"):
        if not 0 <= float(values[name]) <= 1:
            raise ValueError(f"'{name}' must be in [0, 1]")
    for name in (
        "age_sd",
        "tmb_log_sd",
        "pdl1_logit_sd",
        "nlr_median",
        "nlr_log_sd",
        "albumin_sd",
        "ldh_median",
        "ldh_log_sd",
        "opn_median_no_bone",
        "opn_log_sd",
        "resp_sd",
        "pfs_baseline_median",
        "best_pct_change_cap",
    ):
        if not float(values[name]) > 0:
            raise ValueError(f"'{name}' must be positive")
    if float(values["opn_burden_log_sd"]) < 0:
        raise ValueError("'opn_burden_log_sd' must be >= 0")
    check_weibull_pfs(values)


def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Every random number a cohort of ``n`` needs, independent of the parameters."""
    return draw_uniforms_normals(rng, n, _UNIFORMS, _NORMALS)


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def transform(noise: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn draws into the observed and truth frames (see the module docstring for formulas).

    Parameters
    ----------
    noise : mapping
        The output of :func:`draw`.
    values : mapping
        Parameter values, ``{name: value}``.

    Returns
    -------
    observed, truth : pandas.DataFrame
        Row-aligned frames with a default RangeIndex; ``patient_id`` is 1..n.
    """
    x = _covariates(noise, values)
    x |= _outcomes(noise, values, x)
    return _frames(noise, x)


def _covariates(noise: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> dict[str, Any]:
    """Tumour type, clinical covariates, biomarkers and OPN (with its bone-agent effects)."""
    v = values
    n = noise["u_type"].shape[0]
    ttype = categorical(noise["u_type"], _table(v, "tumour_type_share"))
    bone = noise["u_bone"] < _table(v, "bone_met_prob")[ttype]
    bone_f = bone.astype(np.float64)
    driver = noise["u_driver"] < _table(v, "driver_mutation_prob")[ttype]
    age = np.clip(np.rint(v["age_mean"] + v["age_sd"] * noise["z_age"]), 18, 95).astype(np.int16)
    sex = (noise["u_sex"] < v["male_share"]).astype(np.int8)
    ecog = categorical(noise["u_ecog"], np.asarray(v["ecog_share"], dtype=float))

    tmb = np.clip(
        np.round(np.exp(np.log(_table(v, "tmb_median"))[ttype] + v["tmb_log_sd"] * noise["z_tmb"]), 1), 0.1, 1000.0
    )
    pdl1 = np.where(
        noise["u_pdl1_zero"] < v["pdl1_zero_share"],
        0.0,
        np.maximum(np.rint(100.0 * expit(v["pdl1_logit_mean"] + v["pdl1_logit_sd"] * noise["z_pdl1"])), 1.0),
    )
    nlr = np.round(
        np.exp(np.log(v["nlr_median"]) + v["nlr_log_fold_bone"] * bone_f + v["nlr_log_sd"] * noise["z_nlr"]), 2
    )
    nlr = np.maximum(nlr, 0.05)
    albumin = np.round(np.clip(v["albumin_mean"] + v["albumin_sd"] * noise["z_albumin"], 15.0, 55.0), 1)
    ldh = np.rint(np.exp(np.log(v["ldh_median"]) + v["ldh_log_fold_bone"] * bone_f + v["ldh_log_sd"] * noise["z_ldh"]))

    burden = noise["z_burden"]
    agent = bone & (noise["u_agent"] < expit(v["bone_agent_logit"] + v["bone_agent_burden_slope"] * burden))
    rankl = agent & (noise["u_agent_kind"] < v["rankl_share_of_agents"])
    bisph = agent & ~rankl
    opn_log_mean = (
        np.log(v["opn_median_no_bone"])
        + bone_f * (v["opn_log_fold_bone"] + v["opn_burden_log_sd"] * burden)
        + v["opn_log_change_rankl"] * rankl
        + v["opn_log_change_bisphosphonate"] * bisph
    )
    opn = np.maximum(np.round(np.exp(opn_log_mean + v["opn_log_sd"] * noise["z_opn"]), 1), 0.1)

    out = dict(n=n, ttype=ttype, bone=bone, bone_f=bone_f, driver=driver, age=age, sex=sex, ecog=ecog, tmb=tmb)
    out.update(
        pdl1=pdl1, nlr=nlr, albumin=albumin, ldh=ldh, burden=burden, rankl=rankl, bisph=bisph, opn_log_mean=opn_log_mean
    )
    out.update(opn=opn)
    return out


def _outcomes(noise: Mapping[str, np.ndarray], values: Mapping[str, Any], x: Mapping[str, Any]) -> dict[str, Any]:
    """Best % change and response (a clipped normal latent) and PFS (Weibull PH), from the
    observed (rounded) covariates: the truth is a function of what is observed."""
    v = values
    # Shared transforms of the observed (rounded) values: the truth is a function of what is observed.
    x_tmb = np.log2(x["tmb"] / 10.0)
    x_pdl1 = x["pdl1"] / 100.0
    x_nlr = np.log2(x["nlr"] / 3.0)
    x_alb = x["albumin"] - 38.0
    x_ldh = np.log2(x["ldh"] / 220.0)
    x_opn = np.log2(x["opn"] / 50.0)
    ecog_f = x["ecog"].astype(np.float64)
    driver_f = x["driver"].astype(np.float64)

    def linear(prefix: str, offset: np.ndarray) -> np.ndarray:
        """The covariate part shared by the response (``resp_``) and PFS (``pfs_``) predictors."""
        return (
            offset
            + v[f"{prefix}per_log2_tmb"] * x_tmb
            + v[f"{prefix}per_pdl1"] * x_pdl1
            + v[f"{prefix}per_log2_nlr"] * x_nlr
            + v[f"{prefix}per_albumin"] * x_alb
            + v[f"{prefix}per_ecog"] * ecog_f
            + v[f"{prefix}per_log2_ldh"] * x_ldh
            + v[f"{prefix}driver_mutation"] * driver_f
            + v[f"{prefix}per_log2_opn"] * x_opn
            + v[f"{prefix}bone_direct"] * x["bone_f"]
        )

    m = linear("resp_", v["resp_intercept"] + _table(v, "resp_tumour_offset")[x["ttype"]])
    sd = float(v["resp_sd"])
    cap = float(v["best_pct_change_cap"])
    z = noise["z_resp"]
    best = np.round(np.clip(m + sd * z, -100.0, cap), 1)
    response = best <= -30.0
    response_probability = ndtr((-30.0 - m) / sd)
    # Mean of N(m, sd^2) clipped to [-100, cap].
    a, b = (-100.0 - m) / sd, (cap - m) / sd
    pa, pb = ndtr(a), ndtr(b)
    expected_best = -100.0 * pa + cap * (1.0 - pb) + m * (pb - pa) + sd * (_phi(a) - _phi(b))

    pfs_type = np.array(
        [v["pfs_log_hr_nsclc"] if t == "NSCLC" else v["pfs_tumour_log_hr"][t] for t in TUMOUR_TYPES], dtype=float
    )
    eta = linear("pfs_", pfs_type[x["ttype"]])
    k = float(v["pfs_weibull_shape"])
    m0 = float(v["pfs_baseline_median"])
    t_event, t_censor, event, pfs = weibull_pfs(noise, v, eta, m0)

    out = dict(
        m=m,
        sd=sd,
        z=z,
        best=best,
        response=response,
        response_probability=response_probability,
        expected_best=expected_best,
    )
    out.update(eta=eta, k=k, m0=m0, t_event=t_event, t_censor=t_censor, event=event, pfs=pfs)
    return out


def _frames(noise: Mapping[str, np.ndarray], x: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The observed and truth frames."""
    ids = np.arange(1, x["n"] + 1, dtype=np.int64)
    agent_code = np.where(x["rankl"], 2, np.where(x["bisph"], 1, 0)).astype(np.int8)
    # copy=False: keep one block per column instead of stacking same-typed columns (a copy).
    observed = pd.DataFrame(
        {
            "patient_id": ids,
            "tumour_type": pd.Categorical.from_codes(x["ttype"], TUMOUR_TYPES),
            "age_years": x["age"],
            "sex": pd.Categorical.from_codes(x["sex"], SEXES),
            "ecog": x["ecog"],
            "driver_mutation": x["driver"],
            "bone_metastasis": x["bone"],
            "bone_agent": pd.Categorical.from_codes(agent_code, BONE_AGENTS),
            "opn_ng_ml": x["opn"],
            "tmb_mut_per_mb": x["tmb"],
            "pdl1_tps_pct": x["pdl1"],
            "nlr": x["nlr"],
            "albumin_g_per_l": x["albumin"],
            "ldh_u_per_l": x["ldh"],
            "null_biomarker_1": np.round(np.exp(np.log(20.0) + 0.5 * noise["z_null1"]), 2),
            "null_biomarker_2": np.round(100.0 + 15.0 * noise["z_null2"], 1),
            "null_biomarker_3": noise["u_null3"] < 0.3,
            "best_pct_change": x["best"],
            "objective_response": x["response"],
            "pfs_months": x["pfs"],
            "pfs_event": x["event"],
        },
        copy=False,
    )
    truth = pd.DataFrame(
        {
            "patient_id": ids,
            "bone_burden": np.where(x["bone"], x["burden"], 0.0),
            "opn_expected_ng_ml": np.exp(x["opn_log_mean"]),
            "resp_linear_predictor": x["m"],
            "response_probability": x["response_probability"],
            "expected_best_pct_change": x["expected_best"],
            "best_pct_change_unclipped": x["m"] + x["sd"] * x["z"],
            "pfs_linear_predictor": x["eta"],
            "pfs_median_true_months": x["m0"] * np.exp(-x["eta"] / x["k"]),
            "pfs_months_uncensored": x["t_event"],
            "censor_months": x["t_censor"],
        },
        copy=False,
    )
    return observed, truth


oracle = weibull_oracle

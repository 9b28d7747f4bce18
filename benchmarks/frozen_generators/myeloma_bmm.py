r"""Multiple-myeloma immunotherapy blunted by the bone-marrow microenvironment (BMM).

Scenario 2 of SEED_STATISTICS.md (Zhang & Saiyinqimuge 2025, a review). Three therapy arms, as
in the trials the review cites: anti-CD38 induction in newly diagnosed MM (``dara_krd``, M1),
talquetamab + teclistamab (GPRC5D x CD3 and BCMA x CD3 bispecific antibodies) in
triple-class-exposed MM (``tal_tec``, M2-M4), and a BCMA/GPRC5D dual-target CAR-T in
relapsed/refractory MM (``car_t``, M5). Every number named below is a parameter of the scenario
file, with its id and reason.

Arms
----
Each chunk of patients is split between the arms in the proportions ``arm_share`` exactly (largest
remainder), patients being ranked by a uniform draw; the default 154 patients are therefore the
trials' 39 / 94 / 21. ``relapsed`` (R) is 1 in the two relapsed/refractory arms.

Covariates
----------
age ~ round(N(``age_mean[arm]``, ``age_sd``)) clipped to [30, 90]; ISS stage ~ Categorical(
``iss_share``); high-risk cytogenetics ~ Bernoulli(``high_risk_prob[arm]``); extramedullary
disease ~ Bernoulli(``emd_prob[arm]``); prior lines = ``prior_lines_min[arm]`` +
Poisson(``prior_lines_extra_mean[arm]``) (inverse CDF of a uniform).

Microenvironment (M8-M11)
-------------------------
A latent suppression score :math:`s = z_s + \delta_{R} R` (``tme_shift_relapsed``) drives the
immunosuppressive markers together, each with its own noise :math:`z_j`:

.. math::

    \log X_j = \log \mathrm{median}_j + a_j s + \sigma_j z_j \quad
    (X_j \in \{\text{Treg \%, MDSC \%, TGF-}\beta, \text{IL-6}, \text{lactate}\}),

.. math::

    X_j = 100\,\operatorname{expit}(\operatorname{logit}(\mathrm{median}_j/100) + a_j s + \sigma_j z_j)
    \quad (X_j \in \{\text{PD-1}^+\text{CD8 \%}\}),

and the hypoxia score (0-1) is :math:`\operatorname{expit}(\operatorname{logit}(\mathrm{median}) + a s + \sigma z)`
(``tme_median``, ``tme_loading``, ``tme_sd``, tables keyed by marker).
Tumour antigens: :math:`\log \mathrm{CD38} = \log m_{38} + \delta_{38} R + \sigma_{38} z`
(thousand molecules per cell; prior anti-CD38 therapy lowers it, M8); BCMA promoter methylation
:math:`= 100\,\operatorname{expit}(\mu_{BCMA}[R] + \sigma_{BCMA} z)` %, with
:math:`\mu_{BCMA}` for relapsed disease solved to M7; BCMA silencing
:math:`q = \operatorname{expit}((\mathrm{meth} - 70) / 5)` (hypermethylation > 70% silences
transcription, M7); GPRC5D-positive tumour cells :math:`= 100\,\operatorname{expit}(\mu_G + \sigma_G z)` %;
CD55/CD59 (fold over normal plasma cells) log-normal. Three null biomarkers affect nothing.

Depth of response (IMWG), an ordered probit
-------------------------------------------
A latent depth :math:`D = m(x) + \varepsilon`, :math:`\varepsilon \sim N(0, 1)`, with arm-specific
coefficients :math:`\beta_j[a]` (tables keyed by arm; zero where a mechanism does not act on an arm):

.. math::

    m(x) = \mu_a + \beta_{CD38}[a] \log_2(\mathrm{CD38}/50) + \beta_{CD55}[a] \log_2(\mathrm{CD55/59})
        + \sum_{j \in \text{TME}} \beta_j[a]\, \tilde x_j + \beta_{BCMA}[a]\, q
        + \beta_{G}[a] (\mathrm{GPRC5D} - 80)/10
        + \beta_{EMD} E + \beta_{ISS}(\mathrm{ISS} - 1) + \beta_{HR} H + \beta_{age}(\mathrm{age} - 65)/10
        + \beta_{lines} L

where :math:`\tilde x_j = \log_2(X_j / \mathrm{median}_j)` for the log-normal markers, the hypoxia
score itself, and :math:`(\mathrm{PD1} - 30)/10`. The categories follow from the cut points
:math:`0 < c_{VGPR} < c_{CR} < c_{sCR}`: SD/PD if :math:`D < 0`, PR, VGPR, CR, and sCR if
:math:`D \ge c_{sCR}`; objective response is :math:`D \ge 0`, so :math:`P(\mathrm{OR} \mid x) = \Phi(m(x))`
(truth ``response_probability``). MRD negativity is :math:`D \ge c_{MRD}`.

Progression-free survival (Bender, Augustin & Blettner 2005)
------------------------------------------------------------
Weibull proportional hazards with shape :math:`k` and an arm-specific baseline median
:math:`M_a` (the median of a patient with :math:`m(x) = \mu_a` and reference clinical covariates):

.. math::

    \eta(x) = k \log(12 / M_a) - \gamma\,(m(x) - \mu_a) + \beta^{PFS}_{HR} H + \beta^{PFS}_{ISS}(\mathrm{ISS} - 1),

:math:`h(t \mid x) = \lambda k t^{k-1} e^{\eta}` with :math:`\lambda = \log 2 / 12^k`, so the true
median is :math:`12\, e^{-\eta/k}` months; :math:`T = (-\log U / (\lambda e^{\eta}))^{1/k}`. The
microenvironment acts on PFS through the same arm-specific biology as on response
(``pfs_log_hr_per_depth`` :math:`\gamma`). Response and PFS are independent given the baseline
covariates, so the truth columns are the Bayes-optimal predictions. Censoring: administrative
(uniform follow-up between ``followup_min`` and ``followup_max``) and exponential dropout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr
from scipy.stats import poisson

from ._common import (
    categorical,
    check_shares,
    check_weibull_pfs,
    draw_uniforms_normals,
    table,
    weibull_oracle,
    weibull_pfs,
)
from .myeloma_effects import ARMS, EFFECT_BIOMARKERS, NULL_BIOMARKERS, TME_MARKERS, biomarker_effects, effect_terms

__all__ = [
    "PARAMETERS",
    "ARMS",
    "RESPONSES",
    "TME_MARKERS",
    "EXPECTATIONS",
    "SURVIVAL",
    "EFFECT_BIOMARKERS",
    "NULL_BIOMARKERS",
    "check_parameters",
    "draw",
    "transform",
    "oracle",
    "biomarker_effects",
    "effect_terms",
]

#: IMWG best response, worst to best.
RESPONSES = ("SD/PD", "PR", "VGPR", "CR", "sCR")
#: Arm-specific response coefficients (tables keyed by arm) and the feature each multiplies.
_ARM_EFFECTS = (
    "resp_per_log2_cd38",
    "resp_per_log2_cd55_cd59",
    "resp_per_log2_treg",
    "resp_per_log2_mdsc",
    "resp_per_log2_tgfb",
    "resp_per_log2_il6",
    "resp_per_log2_lactate",
    "resp_per_hypoxia",
    "resp_per_10pct_pd1_cd8",
    "resp_bcma_silencing",
    "resp_per_10pct_gprc5d",
)
_ARM_TABLES = (
    "arm_share",
    "age_mean",
    "high_risk_prob",
    "emd_prob",
    "prior_lines_min",
    "prior_lines_extra_mean",
    *_ARM_EFFECTS,
)
_TME_TABLES = ("tme_median", "tme_loading", "tme_sd")
PARAMETERS = (
    *_ARM_TABLES,
    *_TME_TABLES,
    "age_sd",
    "iss_share",
    "tme_shift_relapsed",
    "cd38_median_k",
    "cd38_log_fold_relapsed",
    "cd38_log_sd",
    "bcma_meth_logit_mean_new",
    "bcma_meth_logit_mean_relapsed",
    "bcma_meth_logit_sd",
    "gprc5d_logit_mean",
    "gprc5d_logit_sd",
    "cd55_cd59_log_sd",
    "resp_intercept_dara_krd",
    "resp_intercept_tal_tec",
    "resp_intercept_car_t",
    "resp_emd",
    "resp_per_iss",
    "resp_high_risk",
    "resp_per_10y_age",
    "resp_per_prior_line",
    "cut_vgpr",
    "cut_cr",
    "cut_scr",
    "cut_mrd",
    "pfs_median_dara_krd",
    "pfs_median_tal_tec",
    "pfs_median_car_t",
    "pfs_weibull_shape",
    "pfs_log_hr_per_depth",
    "pfs_high_risk",
    "pfs_per_iss",
    "followup_min",
    "followup_max",
    "dropout_rate",
)

#: Truth columns holding the noise-free expectation of an observed outcome (or of a target's
#: column expression, as the scenario file spells it).
EXPECTATIONS = {
    "objective_response": "response_probability",
    "cr_or_better": "cr_or_better_probability",
    "mrd_negative": "mrd_negative_probability",
    "best_response == 'sCR'": "scr_probability",
    "bcma_methylation_pct > 70": "bcma_hypermethylation_probability",
}
#: (observed time, observed event, uncensored time in the truth frame).
SURVIVAL = ("pfs_months", "pfs_event", "pfs_months_uncensored")

#: The random draws, in the order they are taken (the order is part of the seed contract).
_UNIFORMS = ("arm", "iss", "high_risk", "emd", "lines", "pfs", "accrual", "dropout", "null3")
_NORMALS = ("age", "tme", *(f"m_{k}" for k in TME_MARKERS), "cd38", "bcma", "gprc5d", "cd55", "depth", "null1", "null2")


def _table(values: Mapping[str, Any], name: str, keys=ARMS) -> np.ndarray:
    return table(values, name, keys)


def check_parameters(values: Mapping[str, Any]) -> None:
    """Raise ``ValueError``/``TypeError`` for parameter values the generator cannot use."""
    share = _table(values, "arm_share")
    if np.any(share < 0) or abs(share.sum() - 1) > 1e-6:
        raise ValueError(f"'arm_share' must be non-negative and sum to 1 (sums to {share.sum():.4f})")
    for name in ("high_risk_prob", "emd_prob"):
        p = _table(values, name)
        if np.any((p < 0) | (p > 1)):
            raise ValueError(f"'{name}' must hold probabilities in [0, 1]")
    if np.any(_table(values, "prior_lines_min") < 0) or np.any(_table(values, "prior_lines_extra_mean") < 0):
        raise ValueError("'prior_lines_min' and 'prior_lines_extra_mean' must be >= 0")
    for name in _ARM_EFFECTS:
        _table(values, name)
    for name in _TME_TABLES:
        _table(values, name, keys=tuple(TME_MARKERS))
    med = _table(values, "tme_median", keys=tuple(TME_MARKERS))
    if np.any(med <= 0):
        raise ValueError("'tme_median' must be positive")
    if not 0 < values["tme_median"]["hypoxia_score"] < 1 or not 0 < values["tme_median"]["pd1_cd8_pct"] < 100:
        raise ValueError("'tme_median': hypoxia_score must be in (0, 1) and pd1_cd8_pct in (0, 100)")
    check_shares(values, "iss_share", ("ISS I", "II", "III"))
    for name in (
        "age_sd",
        "cd38_median_k",
        "cd38_log_sd",
        "bcma_meth_logit_sd",
        "gprc5d_logit_sd",
        "cd55_cd59_log_sd",
        "pfs_median_dara_krd",
        "pfs_median_tal_tec",
        "pfs_median_car_t",
    ):
        if not float(values[name]) > 0:
            raise ValueError(f"'{name}' must be positive")
    cuts = [0.0, float(values["cut_vgpr"]), float(values["cut_cr"]), float(values["cut_scr"])]
    if not all(a < b for a, b in zip(cuts, cuts[1:], strict=False)):
        raise ValueError("the cut points must increase: 0 < cut_vgpr < cut_cr < cut_scr")
    if not float(values["cut_mrd"]) >= float(values["cut_cr"]):
        raise ValueError("'cut_mrd' must be >= 'cut_cr' (MRD negativity is assessed in complete response)")
    check_weibull_pfs(values)


def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Every random number a cohort of ``n`` needs, independent of the parameters."""
    return draw_uniforms_normals(rng, n, _UNIFORMS, _NORMALS)


def _arms(u: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Exact arm sizes (largest remainder of n * share), patients ranked by ``u``."""
    n = u.shape[0]
    raw = n * share
    counts = np.floor(raw).astype(np.int64)
    short = n - counts.sum()
    if short:
        counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    arm = np.empty(n, dtype=np.int8)
    arm[np.argsort(u, kind="stable")] = np.repeat(np.arange(len(share), dtype=np.int8), counts)
    return arm


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
    cov = _covariates(noise, values)
    cov |= _outcomes(noise, values, cov)
    return _frames(noise, values, cov)


def _covariates(noise: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> dict[str, Any]:
    """Therapy arm, disease stage, the microenvironment's latent suppression and the biomarkers."""
    v = values
    n = noise["u_arm"].shape[0]
    arm = _arms(noise["u_arm"], _table(v, "arm_share"))
    relapsed = (arm != 0).astype(np.float64)
    age = np.clip(np.rint(_table(v, "age_mean")[arm] + v["age_sd"] * noise["z_age"]), 30, 90).astype(np.int16)
    iss = categorical(noise["u_iss"], v["iss_share"]) + np.int8(1)
    high_risk = noise["u_high_risk"] < _table(v, "high_risk_prob")[arm]
    emd = noise["u_emd"] < _table(v, "emd_prob")[arm]
    extra = _table(v, "prior_lines_extra_mean")[arm]
    lines = _table(v, "prior_lines_min")[arm] + np.where(
        extra > 0, poisson.ppf(noise["u_lines"], np.maximum(extra, 1e-9)), 0.0
    )
    lines = lines.astype(np.int16)

    # Microenvironment: one latent suppression score, higher in relapsed/refractory marrow.
    s = noise["z_tme"] + v["tme_shift_relapsed"] * relapsed
    med, load, sd = v["tme_median"], v["tme_loading"], v["tme_sd"]
    tme: dict[str, np.ndarray] = {}
    for name, scale in TME_MARKERS.items():
        latent = load[name] * s + sd[name] * noise[f"z_m_{name}"]
        if scale == "log":
            x = np.exp(np.log(med[name]) + latent)
            decimals = 2 if name == "lactate_mmol_l" else 1
            x = np.maximum(np.round(x, decimals), 10.0**-decimals)
        elif scale == "logit":
            x = np.round(expit(logit(med[name]) + latent), 3)
        else:  # logit_pct
            x = np.round(100.0 * expit(logit(med[name] / 100.0) + latent), 1)
        tme[name] = x

    cd38 = np.maximum(
        np.round(
            np.exp(
                np.log(v["cd38_median_k"]) + v["cd38_log_fold_relapsed"] * relapsed + v["cd38_log_sd"] * noise["z_cd38"]
            ),
            1,
        ),
        0.1,
    )
    bcma_mu = np.where(relapsed > 0, v["bcma_meth_logit_mean_relapsed"], v["bcma_meth_logit_mean_new"])
    bcma_meth = np.round(100.0 * expit(bcma_mu + v["bcma_meth_logit_sd"] * noise["z_bcma"]), 1)
    silencing = expit((bcma_meth - 70.0) / 5.0)
    # P(methylation > 70%), before rounding: the smooth twin of the M7 rate, for the solver.
    hypermeth_p = ndtr((bcma_mu - logit(0.7)) / v["bcma_meth_logit_sd"])
    gprc5d = np.round(100.0 * expit(v["gprc5d_logit_mean"] + v["gprc5d_logit_sd"] * noise["z_gprc5d"]), 1)
    cd55 = np.maximum(np.round(np.exp(v["cd55_cd59_log_sd"] * noise["z_cd55"]), 2), 0.01)

    out = dict(n=n, arm=arm, age=age, iss=iss, high_risk=high_risk, emd=emd, lines=lines, s=s, cd38=cd38)
    out.update(bcma_meth=bcma_meth, silencing=silencing, hypermeth_p=hypermeth_p, gprc5d=gprc5d, cd55=cd55)
    out.update(tme=tme)
    return out


def _outcomes(noise: Mapping[str, np.ndarray], values: Mapping[str, Any], cov: Mapping[str, Any]) -> dict[str, Any]:
    """The depth of response (an ordinal latent with cut points) and PFS (Weibull PH by arm and
    depth), from the observed covariates."""
    v = values
    features = effect_terms(
        {
            "cd38_density_k": cov["cd38"],
            "cd55_cd59_fold": cov["cd55"],
            "bcma_methylation_pct": cov["bcma_meth"],
            "gprc5d_positive_pct": cov["gprc5d"],
            **cov["tme"],
        },
        v,
    )
    intercept = np.array([v["resp_intercept_dara_krd"], v["resp_intercept_tal_tec"], v["resp_intercept_car_t"]])[
        cov["arm"]
    ]
    m = intercept.copy()
    for name, x in features.items():
        m += _table(v, name)[cov["arm"]] * x
    m += (
        v["resp_emd"] * cov["emd"]
        + v["resp_per_iss"] * (cov["iss"] - 1)
        + v["resp_high_risk"] * cov["high_risk"]
        + v["resp_per_10y_age"] * (cov["age"] - 65.0) / 10.0
        + v["resp_per_prior_line"] * cov["lines"]
    )
    depth = m + noise["z_depth"]
    cuts = np.array([0.0, v["cut_vgpr"], v["cut_cr"], v["cut_scr"]], dtype=float)
    best = np.searchsorted(cuts, depth, side="right").astype(np.int8)  # 0 = SD/PD ... 4 = sCR
    response = depth >= 0.0
    cr_or_better = depth >= v["cut_cr"]
    mrd_negative = depth >= v["cut_mrd"]

    k = float(v["pfs_weibull_shape"])
    m0 = np.array([v["pfs_median_dara_krd"], v["pfs_median_tal_tec"], v["pfs_median_car_t"]])[cov["arm"]]
    eta = (
        k * np.log(12.0 / m0)
        - v["pfs_log_hr_per_depth"] * (m - intercept)
        + v["pfs_high_risk"] * cov["high_risk"]
        + v["pfs_per_iss"] * (cov["iss"] - 1)
    )
    t_event, t_censor, event, pfs = weibull_pfs(noise, v, eta, 12.0)

    out = dict(m=m, depth=depth, best=best, response=response, cr_or_better=cr_or_better, mrd_negative=mrd_negative)
    out.update(k=k, eta=eta, t_event=t_event, t_censor=t_censor, event=event, pfs=pfs)
    return out


def _frames(
    noise: Mapping[str, np.ndarray], values: Mapping[str, Any], cov: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The observed and truth frames."""
    v = values
    ids = np.arange(1, cov["n"] + 1, dtype=np.int64)
    observed = pd.DataFrame(
        {
            "patient_id": ids,
            "therapy_arm": pd.Categorical.from_codes(cov["arm"], ARMS),
            "age_years": cov["age"],
            "iss_stage": cov["iss"],
            "high_risk_cytogenetics": cov["high_risk"],
            "extramedullary_disease": cov["emd"],
            "prior_lines": cov["lines"],
            "cd38_density_k": cov["cd38"],
            "cd55_cd59_fold": cov["cd55"],
            "bcma_methylation_pct": cov["bcma_meth"],
            "gprc5d_positive_pct": cov["gprc5d"],
            **cov["tme"],
            "null_biomarker_1": np.round(np.exp(np.log(20.0) + 0.5 * noise["z_null1"]), 2),
            "null_biomarker_2": np.round(100.0 + 15.0 * noise["z_null2"], 1),
            "null_biomarker_3": noise["u_null3"] < 0.3,
            "best_response": pd.Categorical.from_codes(cov["best"], RESPONSES),
            "objective_response": cov["response"],
            "cr_or_better": cov["cr_or_better"],
            "mrd_negative": cov["mrd_negative"],
            "pfs_months": cov["pfs"],
            "pfs_event": cov["event"],
        },
        copy=False,
    )
    truth = pd.DataFrame(
        {
            "patient_id": ids,
            "tme_suppression": cov["s"],
            "bcma_silencing": cov["silencing"],
            "bcma_hypermethylation_probability": cov["hypermeth_p"],
            "resp_linear_predictor": cov["m"],
            "response_probability": ndtr(cov["m"]),
            "vgpr_or_better_probability": ndtr(cov["m"] - v["cut_vgpr"]),
            "cr_or_better_probability": ndtr(cov["m"] - v["cut_cr"]),
            "scr_probability": ndtr(cov["m"] - v["cut_scr"]),
            "mrd_negative_probability": ndtr(cov["m"] - v["cut_mrd"]),
            "depth_latent": cov["depth"],
            "pfs_linear_predictor": cov["eta"],
            "pfs_median_true_months": 12.0 * np.exp(-cov["eta"] / cov["k"]),
            "pfs_months_uncensored": cov["t_event"],
            "censor_months": cov["t_censor"],
        },
        copy=False,
    )
    return observed, truth


oracle = weibull_oracle

"""Targets: the published figures a scenario must reproduce, in the paper's own terms.

A ``[[targets]]`` table names a statistic of the cohort (a Kaplan-Meier median, survival at a
time, a rate, a mean, a Cox hazard ratio significant in a share of trial-sized replicates, the
C-statistic the truth reaches, or a whole digitised Kaplan-Meier curve), the subgroup(s) it is
taken in, the published value and the tolerance. A reported count (``events``, ``n``) or a
reported 95% CI (``ci``) gives the value and the tolerance when they are not written out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from features.keytable import Key, Problems, check_keys, number

__all__ = [
    "Target",
    "parse_target",
    "CHECKED_ONLY",
    "TWO_GROUPS",
    "TARGET_KEYS",
    "COMMON_KEYS",
    "STATISTIC_KEYS",
    "STATISTICS",
    "TOLERANCE_TYPES",
    "CONTRASTS",
    "TARGET_KINDS",
]

STATISTICS = (
    "median_pfs",
    "survival_at",
    "rmst",
    "rate",
    "mean",
    "odds_ratio",
    "hazard_ratio",
    "significant_hr_share",
    "truth_auc",
    "km_curve",
)
#: Statistics the solver does not use (a share of significant trial-sized replicates is neither
#: smooth nor quick): they are checked on the population and over trial-sized replicates.
CHECKED_ONLY = ("significant_hr_share",)
#: Statistics of two groups (the two ``where`` expressions: first against second), with no ``contrast``.
TWO_GROUPS = ("hazard_ratio", "odds_ratio")
#: What an old name of a statistic is called now.
RENAMED = {
    "cox_hr": "significant_hr_share (the share of trial-sized replicates with HR > 1 and p < 0.05); "
    "for the hazard ratio itself, with its CI, use 'hazard_ratio'"
}
TOLERANCE_TYPES = ("absolute", "relative", "at_least")
CONTRASTS = ("difference", "ratio", "relative_reduction")
TARGET_KINDS = ("target", "check")


@dataclass(frozen=True)
class Target:
    """One published figure the generator must reproduce (or a derived figure it checks).

    Attributes
    ----------
    id : str
        Stable id, the SEED_STATISTICS.md id with a suffix (``"B2.bone"``).
    statistic : str
        ``median_pfs`` (Kaplan-Meier median), ``survival_at`` (Kaplan-Meier probability of
        being event-free at ``time``), ``rate`` (share of True in ``column``),
        ``rmst`` (restricted mean survival time to ``time``: the area under the Kaplan-Meier
        curve from 0 to ``time``), ``odds_ratio`` (odds of the binary ``column`` in the first
        ``where`` group over the second), ``hazard_ratio`` (Cox hazard ratio of the first
        ``where`` group against the second, adjusted for ``adjust``),
        ``mean`` (mean of ``column``), ``significant_hr_share`` (multivariable Cox hazard ratio of
        ``covariate`` adjusted for ``adjust``; ``value`` is then the least share of
        n-sized replicates in which HR > 1 with p < 0.05), ``truth_auc`` (the C-statistic
        that the true probability of the binary outcome ``column`` reaches: the best any model
        can do) or ``km_curve`` (a digitised Kaplan-Meier curve: ``survival`` at ``times``,
        optionally weighted by the numbers ``at_risk``; the statistic is the weighted
        root-mean-square distance of the cohort's curve from it, ``value`` 0).
    where : tuple of str
        One subgroup expression, or two combined by ``contrast`` (or compared by a ratio
        statistic, first against second).
    """

    id: str
    label: str
    statistic: str
    value: float
    tolerance: float
    tolerance_type: str = "absolute"
    where: tuple[str, ...] = ("",)
    contrast: str | None = None
    column: str | None = None
    covariate: str | None = None
    adjust: tuple[str, ...] = ()
    kind: str = "target"
    note: str = ""
    time: float | None = None
    unit: str | None = None
    times: tuple[float, ...] = ()
    survival: tuple[float, ...] = ()
    at_risk: tuple[float, ...] = ()

    def within(self, achieved: float) -> bool:
        """Whether ``achieved`` is within this target's tolerance."""
        if self.statistic == "significant_hr_share":
            return achieved >= self.value
        if self.tolerance_type == "at_least":
            return achieved >= self.value - self.tolerance - 1e-12
        allowed = self.tolerance * (abs(self.value) if self.tolerance_type == "relative" else 1.0)
        return abs(achieved - self.value) <= allowed + 1e-12

    @property
    def tolerance_text(self) -> str:
        """The tolerance in words, for tables."""
        if self.statistic == "significant_hr_share":
            return f">= {self.value:.0%} of replicates"
        if self.statistic == "km_curve":
            return f"RMS <= {self.tolerance:g}"
        if self.tolerance_type == "at_least":
            return "at least" if self.tolerance == 0 else f"at least, -{self.tolerance:g}"
        if self.tolerance_type == "relative":
            return f"±{self.tolerance:.1%}"
        return f"±{self.tolerance:.3g}"


def _where_ok(x: Any) -> bool:
    items = [x] if isinstance(x, str) else x
    return isinstance(items, list) and len(items) in (1, 2) and all(isinstance(i, str) for i in items)


def _numbers(x: list) -> bool:
    return all(number(v) for v in x)


def _increasing(x: list) -> bool:
    return _numbers(x) and all(t > 0 for t in x) and all(b > a for a, b in zip(x, x[1:], strict=False))


def _survival_curve(x: list) -> bool:
    return _numbers(x) and all(0 <= v <= 1 for v in x) and all(b <= a for a, b in zip(x, x[1:], strict=False))


def _floats(x: list) -> tuple[float, ...]:
    return tuple(float(v) for v in x)


#: Every key a ``[[targets]]`` table may hold: its type, its rule and what it is for.
TARGET_KEYS: dict[str, Key] = {
    "id": Key(str, doc="stable id: the published figure's id with a suffix (``B2.bone``)"),
    "label": Key(str, doc="the figure in words, for tables"),
    "statistic": Key(str, lambda s: s in STATISTIC_KEYS, f"must be one of {STATISTICS}", doc="what is computed"),
    "value": Key(float, doc="the published value"),
    "tolerance": Key(float, lambda x: x >= 0, "must be >= 0", doc="how far the cohort may be from ``value``"),
    "tolerance_type": Key(
        str, lambda s: s in TOLERANCE_TYPES, f"must be one of {TOLERANCE_TYPES}", doc="how ``tolerance`` is read"
    ),
    "where": Key(
        (str, list),
        _where_ok,
        "must be one expression or a list of two",
        convert=lambda x: (x,) if isinstance(x, str) else tuple(x),
        doc="the subgroup (an expression over observed columns); two, with ``contrast``",
    ),
    "contrast": Key(str, lambda s: s in CONTRASTS, f"must be one of {CONTRASTS}", doc="how two groups combine"),
    "column": Key(str, doc="an observed column or an expression over them"),
    "covariate": Key(str, doc="the observed column whose hazard ratio is tested"),
    "adjust": Key(
        list,
        lambda x: all(isinstance(i, str) for i in x),
        "must be a list of column names",
        doc="observed columns the Cox model adjusts for",
    ),
    "kind": Key(str, lambda s: s in TARGET_KINDS, f"must be one of {TARGET_KINDS}", doc="solved for, or checked"),
    "note": Key(str, doc="where the figure comes from, or why it is treated so"),
    "time": Key(float, lambda x: x > 0, "must be a number > 0", doc="the landmark time"),
    "unit": Key(str, doc="the figure's unit, for tables"),
    "events": Key(int, lambda x: x >= 0, "must be >= 0", doc="a reported count: events of ``n``"),
    "n": Key(int, lambda x: x > 0, "must be > 0", doc="a reported count's denominator"),
    "ci": Key(
        list,
        lambda x: len(x) == 2 and _numbers(x) and x[0] <= x[1],
        "must be [low, high], the reported 95% confidence interval",
        convert=_floats,
        doc="the reported 95% CI around ``value``",
    ),
    "times": Key(
        list, lambda x: bool(x) and _increasing(x), "must be > 0 and increasing", _floats, "a digitised curve's times"
    ),
    "survival": Key(
        list, _survival_curve, "must be probabilities that do not increase", _floats, "its survival at ``times``"
    ),
    "at_risk": Key(
        list,
        lambda x: _numbers(x) and all(v >= 0 for v in x),
        "must be numbers >= 0",
        _floats,
        "the numbers at risk, as weights",
    ),
}

#: The keys every target takes.
COMMON_KEYS = ("id", "label", "statistic", "value", "kind", "note", "unit")
_GROUPS = ("where", "contrast", "tolerance", "tolerance_type")  # what a statistic of one or two groups takes

#: Each statistic: the keys it takes beyond :data:`COMMON_KEYS`, and those it needs. A key it
#: does not take is an error, never silently dropped.
STATISTIC_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "median_pfs": ((*_GROUPS, "ci"), ()),
    "survival_at": ((*_GROUPS, "time", "ci"), ("time",)),
    "rmst": ((*_GROUPS, "time", "ci"), ("time",)),
    "rate": ((*_GROUPS, "column", "events", "n", "ci"), ("column",)),
    "mean": ((*_GROUPS, "column", "ci"), ("column",)),
    "odds_ratio": (("where", "column", "tolerance", "tolerance_type", "ci"), ("where", "column")),
    "hazard_ratio": (("where", "adjust", "tolerance", "tolerance_type", "ci"), ("where",)),
    "significant_hr_share": (("covariate", "adjust"), ("covariate",)),
    "truth_auc": ((*_GROUPS, "column", "ci"), ("column",)),
    "km_curve": ((*_GROUPS, "times", "survival", "at_risk"), ("times", "survival", "tolerance")),
}
assert tuple(STATISTIC_KEYS) == STATISTICS


def parse_target(where: str, i: int, spec: Any, problems: Problems) -> Target | None:
    """The :class:`Target` of the ``i``-th ``[[targets]]`` table; ``None`` when it has a problem
    (each recorded in ``problems``, naming the file, the target and the rule)."""
    key = f"target '{spec['id']}'" if isinstance(spec, dict) and isinstance(spec.get("id"), str) else ""
    key = key or f"[[targets]] #{i + 1}"
    if not isinstance(spec, dict):
        problems.add(key, "must be a table")
        return None
    stat = _statistic(key, spec.get("statistic"), problems)
    if stat is None:
        return None
    before = len(problems.messages)
    values = _keys_of(key, stat, spec, problems)
    if len(problems.messages) > before:
        return None
    values.update(_reported(key, stat, values, problems))
    _check_groups(key, values, problems)
    _check_curve(key, values, problems)
    for k in ("value", "tolerance") if stat != "significant_hr_share" else ("value",):
        if k not in values:
            problems.add(key, f"'{k}' is required (or 'events' and 'n', or 'ci')")
    if len(problems.messages) > before:
        return None
    for k in ("events", "n", "ci"):
        values.pop(k, None)
    return Target(**{"tolerance": 0.0, **values})


def _statistic(key: str, stat: Any, problems: Problems) -> str | None:
    """The target's statistic, or None with the problem recorded (a renamed one says its new name)."""
    if stat in STATISTIC_KEYS:
        return str(stat)
    if stat in RENAMED:
        problems.add(key, f"statistic {stat!r} is now called {RENAMED[stat]}")
    else:
        problems.add(
            key, "'statistic' is required" if stat is None else f"statistic {stat!r} is not one of {STATISTICS}"
        )
    return None


def _keys_of(key: str, stat: str, spec: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """The keys the statistic takes, checked against :data:`TARGET_KEYS`, and those it needs."""
    extra, needed = STATISTIC_KEYS[stat]
    values = check_keys(key, spec, TARGET_KEYS, problems, takes=(*COMMON_KEYS, *extra), taker=f"statistic '{stat}'")
    for k in ("id", "label", *needed):
        if k not in spec:
            problems.add(key, f"statistic '{stat}' needs '{k}'" if k in needed else f"'{k}' is required")
    return values


def _reported(key: str, stat: str, values: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """``value`` and ``tolerance`` from a reported count or a reported 95% CI.

    A count ``events`` of ``n`` is the rate ``events / n``, and any rate that rounds to that
    count fits it: tolerance ``0.5 / n`` (half a patient). A 95% CI ``[low, high]`` around the
    reported ``value`` gives tolerance one tenth of its half-width: the population must sit well
    inside what the trial could tell apart from its estimate.
    """
    out: dict[str, Any] = {}
    if "events" in values or "n" in values:
        events, n = values.get("events"), values.get("n")
        if events is None or n is None:
            problems.add(key, "a reported count is 'events' and 'n' together")
        elif events > n:
            problems.add(key, f"'events' must be within 0..n (got {events} of {n})")
        elif "value" in values and abs(values["value"] - events / n) > 0.5 / n:
            problems.add(key, f"'value' {values['value']} is not the reported count {events}/{n}")
        else:
            out["value"] = events / n
            out["tolerance"] = values.get("tolerance", 0.5 / n)
    if "ci" in values:
        low, high = values["ci"]
        if "value" not in values or not low <= values["value"] <= high:
            problems.add(key, f"'value' must be the reported estimate, inside the 95% CI {list(values['ci'])}")
        else:
            out["tolerance"] = values.get("tolerance", (high - low) / 2 / 10)
    if stat == "km_curve":
        out["value"] = values.get("value", 0.0)
    return out


def _check_groups(key: str, values: dict[str, Any], problems: Problems) -> None:
    """Two ``where`` expressions go with a ``contrast``, and one without; a ratio of two groups
    has its two ``where`` and no ``contrast``."""
    groups = values.get("where", ("",))
    if values["statistic"] in TWO_GROUPS:
        if len(groups) != 2:
            problems.add(key, f"statistic '{values['statistic']}' needs two 'where' expressions (first vs second)")
        return
    if "where" not in values and "contrast" not in values:
        return
    if len(groups) == 2 and "contrast" not in values:
        problems.add(key, f"two 'where' expressions need 'contrast', one of {CONTRASTS}")
    if len(groups) == 1 and "contrast" in values:
        problems.add(key, "'contrast' needs two 'where' expressions")


def _check_curve(key: str, values: dict[str, Any], problems: Problems) -> None:
    """A digitised curve's ``times``, ``survival`` and ``at_risk`` have one length."""
    if "times" not in values:
        return
    n = len(values["times"])
    if len(values["survival"]) != n or ("at_risk" in values and len(values["at_risk"]) != n):
        problems.add(key, "statistic 'km_curve' needs 'times' and 'survival' of one length (and 'at_risk', if given)")

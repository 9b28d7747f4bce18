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

from .errors import ScenarioError

__all__ = ["Target", "parse_target", "TARGET_KEYS", "STATISTICS", "TOLERANCE_TYPES", "CONTRASTS", "TARGET_KINDS"]

STATISTICS = ("median_pfs", "survival_at", "rate", "mean", "cox_hr", "truth_auc", "km_curve")
TOLERANCE_TYPES = ("absolute", "relative", "at_least")
CONTRASTS = ("difference", "ratio", "relative_reduction")
TARGET_KINDS = ("target", "check")


def _fail(where: str, msg: str) -> ScenarioError:
    return ScenarioError(f"{where}: {msg}")


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
        ``mean`` (mean of ``column``), ``cox_hr`` (multivariable Cox hazard ratio of
        ``covariate`` adjusted for ``adjust``; ``value`` is then the least share of
        n-sized replicates in which HR > 1 with p < 0.05), ``truth_auc`` (the C-statistic
        that the true probability of the binary outcome ``column`` reaches: the best any model
        can do) or ``km_curve`` (a digitised Kaplan-Meier curve: ``survival`` at ``times``,
        optionally weighted by the numbers ``at_risk``; the statistic is the weighted
        root-mean-square distance of the cohort's curve from it, ``value`` 0).
    where : tuple of str
        One subgroup expression, or two combined by ``contrast``.
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
        if self.statistic == "cox_hr":
            return achieved >= self.value
        if self.tolerance_type == "at_least":
            return achieved >= self.value - self.tolerance - 1e-12
        allowed = self.tolerance * (abs(self.value) if self.tolerance_type == "relative" else 1.0)
        return abs(achieved - self.value) <= allowed + 1e-12

    @property
    def tolerance_text(self) -> str:
        """The tolerance in words, for tables."""
        if self.statistic == "cox_hr":
            return f">= {self.value:.0%} of replicates"
        if self.statistic == "km_curve":
            return f"RMS <= {self.tolerance:g}"
        if self.tolerance_type == "at_least":
            return "at least" if self.tolerance == 0 else f"at least, -{self.tolerance:g}"
        if self.tolerance_type == "relative":
            return f"±{self.tolerance:.1%}"
        return f"±{self.tolerance:.3g}"


#: The keys a ``[[targets]]`` table may hold.
TARGET_KEYS = {
    *("id", "label", "statistic", "value", "tolerance", "tolerance_type", "where", "contrast", "column"),
    *("covariate", "adjust", "kind", "note", "time", "unit", "events", "n", "ci", "times", "survival", "at_risk"),
}


def _target_groups(w: str, stat: str, spec: dict[str, Any]) -> tuple[tuple[str, ...], str | None]:
    """A target's subgroup(s) (``where``: one, or two with a ``contrast``), checked with the
    keys its statistic needs."""
    where_ = spec.get("where", "")
    where_t = (where_,) if isinstance(where_, str) else tuple(where_)
    if not all(isinstance(x, str) for x in where_t) or len(where_t) not in (1, 2):
        raise _fail(w, "'where' must be one expression or a list of two")
    contrast = spec.get("contrast")
    if len(where_t) == 2 and contrast not in CONTRASTS:
        raise _fail(w, f"two 'where' expressions need 'contrast', one of {CONTRASTS}")
    if len(where_t) == 1 and contrast is not None:
        raise _fail(w, "'contrast' needs two 'where' expressions")
    if stat in ("rate", "mean", "truth_auc") and not spec.get("column"):
        raise _fail(w, f"statistic '{stat}' needs 'column'")
    if stat == "cox_hr" and not spec.get("covariate"):
        raise _fail(w, "statistic 'cox_hr' needs 'covariate'")
    return where_t, contrast


def parse_target(where: str, i: int, spec: Any) -> Target:
    w = f"{where} [[targets]] #{i + 1}"
    if not isinstance(spec, dict):
        raise _fail(w, "must be a table")
    if "id" in spec:
        w = f"{where} target '{spec['id']}'"
    for key in ("id", "label", "statistic"):
        if key not in spec:
            raise _fail(w, f"'{key}' is required")
    unknown = set(spec) - TARGET_KEYS
    if unknown:
        raise _fail(w, f"unknown key(s) {sorted(unknown)}")
    stat = spec["statistic"]
    if stat not in STATISTICS:
        raise _fail(w, f"statistic {stat!r} is not one of {STATISTICS}")
    spec = {**spec, **_reported(w, stat, spec)}
    for key in ("value", "tolerance"):
        if key not in spec:
            raise _fail(w, f"'{key}' is required (or 'events' and 'n', or 'ci')")
    if not _number(spec["value"]) or not _number(spec["tolerance"]):
        raise _fail(w, "'value' and 'tolerance' must be numbers")
    curve = _curve(w, stat, spec)
    where_t, contrast = _target_groups(w, stat, spec)
    time = spec.get("time")
    if stat == "survival_at" and (isinstance(time, bool) or not isinstance(time, (int, float)) or not time > 0):
        raise _fail(w, "statistic 'survival_at' needs 'time', a number > 0")
    if stat != "survival_at" and time is not None:
        raise _fail(w, "'time' belongs to statistic 'survival_at' only")
    ttype = spec.get("tolerance_type", "absolute")
    if ttype not in TOLERANCE_TYPES:
        raise _fail(w, f"tolerance_type must be one of {TOLERANCE_TYPES}")
    kind = spec.get("kind", "target")
    if kind not in TARGET_KINDS:
        raise _fail(w, f"kind {kind!r} is not one of {TARGET_KINDS}")
    return Target(
        id=str(spec["id"]),
        label=str(spec["label"]),
        statistic=stat,
        value=float(spec["value"]),
        tolerance=float(spec["tolerance"]),
        tolerance_type=ttype,
        where=where_t,
        contrast=contrast,
        column=spec.get("column"),
        covariate=spec.get("covariate"),
        adjust=tuple(spec.get("adjust", ())),
        kind=kind,
        note=str(spec.get("note", "")),
        time=float(time) if time is not None else None,
        unit=str(spec["unit"]) if "unit" in spec else None,
        **curve,
    )


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _reported(w: str, stat: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``value`` and ``tolerance`` from a reported count or a reported 95% CI.

    A count ``events`` of ``n`` is the rate ``events / n``, and any rate that rounds to that
    count fits it: tolerance ``0.5 / n`` (half a patient). A 95% CI ``[low, high]`` around the
    reported ``value`` gives tolerance one tenth of its half-width: the population must sit well
    inside what the trial could tell apart from its estimate.
    """
    out: dict[str, Any] = {}
    if "events" in spec or "n" in spec:
        events, n = spec.get("events"), spec.get("n")
        if stat != "rate" or not all(isinstance(x, int) and not isinstance(x, bool) for x in (events, n)):
            raise _fail(w, "a reported count is 'events' and 'n', whole numbers, with statistic 'rate'")
        assert isinstance(events, int) and isinstance(n, int)
        if not 0 <= events <= n or n == 0:
            raise _fail(w, f"'events' must be within 0..n (got {events} of {n})")
        out["value"] = events / n
        out["tolerance"] = spec.get("tolerance", 0.5 / n)
        if "value" in spec and abs(float(spec["value"]) - events / n) > 0.5 / n:
            raise _fail(w, f"'value' {spec['value']} is not the reported count {events}/{n}")
    if "ci" in spec:
        ci = spec["ci"]
        if not (isinstance(ci, list) and len(ci) == 2 and all(_number(x) for x in ci) and ci[0] <= ci[1]):
            raise _fail(w, "'ci' must be [low, high], the reported 95% confidence interval")
        if not _number(spec.get("value")) or not ci[0] <= spec["value"] <= ci[1]:
            raise _fail(w, f"'value' must be the reported estimate, inside the 95% CI {ci}")
        out["tolerance"] = spec.get("tolerance", (ci[1] - ci[0]) / 2 / 10)
    if stat == "km_curve":
        out["value"] = spec.get("value", 0.0)
    return out


def _curve(w: str, stat: str, spec: dict[str, Any]) -> dict[str, tuple[float, ...]]:
    """A digitised Kaplan-Meier curve: ``times`` (increasing, > 0), ``survival`` (in [0, 1],
    not increasing) and optionally ``at_risk``, all of one length."""
    keys = [k for k in ("times", "survival", "at_risk") if k in spec]
    if stat != "km_curve":
        if keys:
            raise _fail(w, f"{keys} belong to statistic 'km_curve' only")
        return {}
    lists = {k: spec.get(k, []) for k in ("times", "survival", "at_risk")}
    if not all(isinstance(v, list) and all(_number(x) for x in v) for v in lists.values()):
        raise _fail(w, "'times', 'survival' and 'at_risk' must be lists of numbers")
    times, surv, risk = lists["times"], lists["survival"], lists["at_risk"]
    if not times or len(times) != len(surv) or (risk and len(risk) != len(times)):
        raise _fail(w, "statistic 'km_curve' needs 'times' and 'survival' of one length (and 'at_risk', if given)")
    if not all(t > 0 for t in times) or any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise _fail(w, "'times' must be > 0 and increasing")
    if not all(0 <= s <= 1 for s in surv) or any(b > a for a, b in zip(surv, surv[1:], strict=False)):
        raise _fail(w, "'survival' must be probabilities that do not increase")
    if any(r < 0 for r in risk):
        raise _fail(w, "'at_risk' must be >= 0")
    return {"times": tuple(map(float, times)), "survival": tuple(map(float, surv)), "at_risk": tuple(map(float, risk))}

"""Comparisons of two evaluation runs, and of a version against the previous approved version.

``compare_checks`` is the arithmetic, on stored results only (no database): every figure either
run recorded, both values and their intervals, the difference, which way is better
(``direction``) and whether the change is a **regression** (docs/evaluation.md, "Comparing runs"):

- worse by more than the noise: both sides have a bootstrap interval and the intervals do not
  overlap, or — without intervals — worse by more than ``max(ABS_TOLERANCE, REL_TOLERANCE *
  |baseline|)``;
- or the figure crosses a policy threshold: the baseline meets it and the candidate misses it.

A figure only one run has is shown as such (``only_left``/``only_right``), never dropped; a figure
whose direction is not known (a row count, a sample size) is compared but never a regression.

``compare_runs`` wraps it for two runs the user may see; ``version_comparison`` compares each
check of a version's latest succeeded runs with the previous approved version's, on the same
evaluation data set when the baseline has a run on it, else says that the data sets differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import NotVisible, ValidationFailed
from evaluation.models import Run, RunStatus
from evaluation.services import run_url
from governance.gates import case_for
from governance.models import VersionGovernance
from governance.policy import COMPARATORS, EVIDENCE_BY_REVISION, EvidenceRequirement
from registry.models import ModelVersion, VersionState

HIGHER, LOWER, NEUTRAL = "higher", "lower", "neutral"
# Without bootstrap intervals a figure regresses when it is worse by more than this much: an
# absolute floor for figures near zero, and a share of the baseline's size for the rest.
ABS_TOLERANCE = 0.01
REL_TOLERANCE = 0.02
# The order checks are shown in (stored results sort their keys); any other check comes after.
CHECK_ORDER = ("performance", "bias", "calibration", "robustness", "explainability", "drift",
               "mitigation")
# Two figures closer than this are the same (the results hold 10 significant digits).
SAME = 1e-9


def _policy_directions() -> dict[str, str]:
    """Directions the shipped policy templates imply: ``>=`` a floor (higher is better), ``<=`` a
    ceiling (lower is better). Where a template sets a threshold, it decides."""
    out: dict[str, str] = {}
    for tiers in EVIDENCE_BY_REVISION.values():
        for items in tiers.values():
            for item in items:
                if item.get("metric") and item.get("comparator") in COMPARATORS:
                    out[item["metric"]] = HIGHER if item["comparator"].startswith(">") else LOWER
    return out


# Which way is better, per figure (before any ``[group]`` suffix). The figures are those of
# docs/evaluation-metrics.md and docs/evaluation-part2.md; the policy templates' comparators
# override this table where they name a figure.
_TABLE: dict[str, str] = {
    # performance
    "accuracy": HIGHER, "precision": HIGHER, "recall": HIGHER, "f1": HIGHER, "roc_auc": HIGHER,
    "pr_auc": HIGHER, "log_loss": LOWER, "rmse": LOWER, "mae": LOWER, "r2": HIGHER,
    "n": NEUTRAL, "roc_auc_max_error": LOWER,
    # bias: ratios toward 1 and differences toward 0 are fairer
    "dp_ratio": HIGHER, "tpr_ratio": HIGHER, "fpr_ratio": HIGHER, "eo_ratio": HIGHER,
    "four_fifths_min_ratio": HIGHER, "four_fifths_pass": HIGHER, "dp_difference": LOWER,
    "tpr_difference": LOWER, "fpr_difference": LOWER, "eo_difference": LOWER,
    "precision_difference": LOWER, "accuracy_difference": LOWER, "mae_difference": LOWER,
    "rmse_difference": LOWER, "mean_prediction_difference": LOWER, "small_groups": NEUTRAL,
    # calibration
    "ece": LOWER, "ece_quantile": LOWER, "mce": LOWER, "brier": LOWER,
    "brier_reliability": LOWER, "brier_resolution": HIGHER, "brier_uncertainty": NEUTRAL,
    "brier_within_bin": NEUTRAL, "group_ece_max": LOWER,
    # robustness
    "max_flip_rate": LOWER, "max_metric_drop": LOWER, "max_score_shift": LOWER,
    "max_nan_score_rate": LOWER, "monotonicity_violations": LOWER,
    "monotonicity_violation_rate": LOWER, "max_monotonicity_violation": LOWER,
    # explainability
    "shap_top_feature_share": LOWER, "shap_sensitive_feature_share": LOWER,
    "shap_max_group_divergence": LOWER, "shap_additivity_error": LOWER,
    "shap_sample_rows": NEUTRAL,
    # drift
    "max_psi": LOWER, "features_drifted": LOWER, "features_moderate_drift": LOWER,
    "max_ks_statistic": LOWER, "prediction_psi": LOWER, "prediction_ks_statistic": LOWER,
    # mitigation what-if
    "mitigation_disparity_before": LOWER, "mitigation_disparity_after": LOWER,
    "mitigation_accuracy_before": HIGHER, "mitigation_accuracy_after": HIGHER,
    "mitigation_accuracy_cost": LOWER, "mitigation_rows": NEUTRAL,
}
# Per-perturbation robustness figures: ``flip_rate_noise_low`` and so on.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("flip_rate_", LOWER), ("metric_drop_", LOWER), ("max_score_shift_", LOWER),
    ("mean_score_shift_", LOWER), ("nan_score_rate_", LOWER),
)
DIRECTIONS: dict[str, str] = {**_TABLE, **_policy_directions()}


def direction(figure: str) -> str:
    """Which way is better for ``figure`` (``higher``, ``lower`` or ``neutral`` when not known)."""
    base = figure.split("[", 1)[0]
    if base in DIRECTIONS:
        return DIRECTIONS[base]
    return next((d for prefix, d in _PREFIXES if base.startswith(prefix)), NEUTRAL)


@dataclass(frozen=True)
class Side:
    """One run's value of a figure, with its bootstrap interval if it has one."""

    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def as_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high}


@dataclass(frozen=True)
class Threshold:
    """A policy threshold on a figure and whether each side meets it (None: no such side)."""

    text: str
    level: str
    left_passes: bool | None
    right_passes: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"requirement": self.text, "level": self.level, "left_passes": self.left_passes,
                "right_passes": self.right_passes}


# How a figure changed from the left (baseline) run to the right (candidate) run.
BETTER, WORSE, SAME_VALUE, CHANGED = "better", "worse", "same", "changed"
ONLY_LEFT, ONLY_RIGHT, UNDEFINED = "only_left", "only_right", "undefined"


@dataclass(frozen=True)
class FigureChange:
    """One figure in both runs: values, difference (right - left), and what it means."""

    check: str
    name: str
    left: Side | None
    right: Side | None
    direction: str
    change: str
    regression: bool = False
    reason: str = ""
    thresholds: tuple[Threshold, ...] = ()

    @property
    def difference(self) -> float | None:
        if self.left is None or self.right is None:
            return None
        if self.left.value is None or self.right.value is None:
            return None
        return self.right.value - self.left.value

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "figure": self.name,
                "left": self.left.as_dict() if self.left else None,
                "right": self.right.as_dict() if self.right else None,
                "difference": self.difference, "better": self.direction, "change": self.change,
                "regression": self.regression, "reason": self.reason,
                "thresholds": [t.as_dict() for t in self.thresholds]}


@dataclass(frozen=True)
class CheckChange:
    """One check in both runs: its status under the policy on each side and its figures."""

    name: str
    left_status: str | None
    right_status: str | None
    figures: tuple[FigureChange, ...]

    @property
    def only_in(self) -> str:
        """"left" or "right" when only one run computed the check, else ""."""
        if self.left_status is None:
            return "right"
        if self.right_status is None:
            return "left"
        return ""

    @property
    def regressions(self) -> list[FigureChange]:
        return [f for f in self.figures if f.regression]

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "left_status": self.left_status,
                "right_status": self.right_status, "only_in": self.only_in or None,
                "figures": [f.as_dict() for f in self.figures]}


def _sides(figures: Mapping[str, Any]) -> dict[str, Side]:
    """A check's flat figures as one Side per figure (``x_ci_low``/``x_ci_high`` fold into x)."""
    out = {}
    for name, value in figures.items():
        if name.endswith(("_ci_low", "_ci_high")) and name.rsplit("_ci_", 1)[0] in figures:
            continue
        out[name] = Side(_number(value), _number(figures.get(f"{name}_ci_low")),
                         _number(figures.get(f"{name}_ci_high")))
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _meets(requirement: EvidenceRequirement, side: Side | None) -> bool | None:
    if side is None:
        return None
    return not requirement.figure_problem({requirement.metric: side.value})


def figure_change(check: str, name: str, left: Side | None, right: Side | None,
                  requirements: Sequence[EvidenceRequirement] = ()) -> FigureChange:
    """How ``name`` changed from ``left`` to ``right``, and whether that is a regression."""
    better = direction(name)
    thresholds = tuple(
        Threshold(r.describe(), r.level, _meets(r, left), _meets(r, right))
        for r in requirements if r.check == check and r.metric == name)
    crossed = next((t for t in thresholds if t.left_passes and t.right_passes is False), None)
    if left is None or right is None:
        return FigureChange(check, name, left, right, better,
                            ONLY_RIGHT if left is None else ONLY_LEFT, thresholds=thresholds)
    if left.value is None or right.value is None:
        change = SAME_VALUE if left.value is None and right.value is None else UNDEFINED
        reason = f"now misses {crossed.text}" if crossed else ""
        return FigureChange(check, name, left, right, better, change, bool(crossed), reason,
                            thresholds)
    delta = right.value - left.value
    if abs(delta) <= SAME:
        change = SAME_VALUE
    elif better == NEUTRAL:
        change = CHANGED
    else:
        change = BETTER if (delta > 0) == (better == HIGHER) else WORSE
    reason = ""
    if crossed:
        reason = f"now misses {crossed.text}"
    elif change == WORSE:
        reason = _beyond_noise(left, right, delta)
    return FigureChange(check, name, left, right, better, change, bool(reason), reason,
                        thresholds)


def _beyond_noise(left: Side, right: Side, delta: float) -> str:
    """Why a worse figure is a regression ("" when the change is within the noise)."""
    if left.has_interval and right.has_interval:
        assert left.low is not None and left.high is not None  # noqa: S101  # has_interval
        assert right.low is not None and right.high is not None  # noqa: S101
        if right.high < left.low or right.low > left.high:
            return "the confidence intervals do not overlap"
        return ""
    assert left.value is not None  # noqa: S101  # the caller compared two values
    tolerance = max(ABS_TOLERANCE, REL_TOLERANCE * abs(left.value))
    if abs(delta) > tolerance:
        return f"worse by {abs(delta):.4g}, more than the tolerance {tolerance:.4g}"
    return ""


def compare_checks(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None, *,
                   left_verdicts: Mapping[str, Any] | None = None,
                   right_verdicts: Mapping[str, Any] | None = None,
                   requirements: Sequence[EvidenceRequirement] = (),
                   checks: Iterable[str] | None = None) -> list[CheckChange]:
    """Every check either results hold (or only ``checks``), figure by figure: checks in
    ``CHECK_ORDER``, figures by name. ``left``/``right`` are runs' stored results."""
    left_checks = (left or {}).get("checks", {})
    right_checks = (right or {}).get("checks", {})
    names = sorted(set(left_checks) | set(right_checks),
                   key=lambda n: (CHECK_ORDER.index(n) if n in CHECK_ORDER else len(CHECK_ORDER),
                                  n))
    if checks is not None:
        wanted = set(checks)
        names = [n for n in names if n in wanted]
    out = []
    for name in names:
        ls = _sides(left_checks[name].get("figures", {})) if name in left_checks else {}
        rs = _sides(right_checks[name].get("figures", {})) if name in right_checks else {}
        figures = tuple(figure_change(name, f, ls.get(f), rs.get(f), requirements)
                        for f in sorted(set(ls) | set(rs)))
        out.append(CheckChange(
            name, _status(left_verdicts, name) if name in left_checks else None,
            _status(right_verdicts, name) if name in right_checks else None, figures))
    return out


def _status(verdicts: Mapping[str, Any] | None, check: str) -> str:
    return str((verdicts or {}).get(check, {}).get("status") or "recorded")


# ---------------------------------------------------------------------------------------------
# Runs from the database


@dataclass(frozen=True)
class RunComparison:
    """Two runs side by side: ``left`` is the baseline, ``right`` the run judged against it."""

    left: Run
    right: Run
    checks: tuple[CheckChange, ...]
    notes: tuple[str, ...] = ()

    @property
    def same_model(self) -> bool:
        return self.left.version.model_id == self.right.version.model_id

    @property
    def same_data(self) -> bool:
        return _data_digest(self.left) == _data_digest(self.right)

    @property
    def regressions(self) -> list[FigureChange]:
        return [f for c in self.checks for f in c.regressions]

    def as_dict(self) -> dict[str, Any]:
        return {"left": _run_summary(self.left), "right": _run_summary(self.right),
                "same_model": self.same_model, "same_data": self.same_data,
                "notes": list(self.notes),
                "regressions": [f.as_dict() for f in self.regressions],
                "checks": [c.as_dict() for c in self.checks],
                "tolerances": {"absolute": ABS_TOLERANCE, "relative": REL_TOLERANCE}}


def _data_digest(run: Run) -> str:
    return run.dataset_digests[0] if run.dataset_digests else ""


def _run_summary(run: Run) -> dict[str, Any]:
    return {"id": run.pk, "model": run.version.model.slug, "version": run.version.number,
            "version_state": run.version.state, "dataset": run.dataset.name,
            "dataset_sha256": _data_digest(run), "threshold": run.threshold,
            "checks": list(run.checks), "finished_at": run.finished_at,
            "page": run_url(run)}


def requirements_for(version: ModelVersion) -> tuple[EvidenceRequirement, ...]:
    """The thresholds of the policy tier ``version`` is judged at, for its model's task."""
    case = case_for(version)
    if case.rules is None:
        return ()
    return tuple(r for r in case.rules.required_evidence if r.metric and r.applies_to(case.task))


def _notes(left: Run, right: Run) -> list[str]:
    notes = []
    if left.version.model_id != right.version.model_id:
        notes.append(f"The runs evaluate two different models ({left.version.model.name} and "
                     f"{right.version.model.name}); you may see both.")
    if _data_digest(left) != _data_digest(right):
        notes.append(f"The runs were computed on different data ({left.dataset.name}, SHA-256 "
                     f"{_data_digest(left)[:12]}…, and {right.dataset.name}, "
                     f"{_data_digest(right)[:12]}…): differences may come from the data, not "
                     "the model.")
    if left.threshold != right.threshold:
        notes.append(f"The decision thresholds differ ({left.threshold} and {right.threshold}).")
    if left.pk == right.pk:
        notes.append("Both sides are the same run.")
    return notes


def compare_runs(left: Run, right: Run) -> RunComparison:
    """``right`` judged against ``left``, both succeeded runs (``runs_to_compare`` checks)."""
    requirements = requirements_for(right.version)
    checks = compare_checks(left.results, right.results, left_verdicts=left.verdicts,
                            right_verdicts=right.verdicts, requirements=requirements)
    return RunComparison(left, right, tuple(checks), tuple(_notes(left, right)))


def _run_id(raw: Any, side: str) -> int:
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise ValidationFailed(f"Name the {side} run: ?left=<run id>&right=<run id>.", field=side)
    if not text.isdigit():
        raise ValidationFailed(f"{side} must be a run's id (a whole number), not {text[:40]!r}.",
                               field=side)
    return int(text)


def runs_to_compare(user: Any, left: Any, right: Any) -> tuple[Run, Run]:
    """The two runs the user asked to compare (raw ids from a query string), both visible to
    ``user`` and succeeded. An id that is not a number, or a run that has no results, is a 400;
    a run the user may not see answers exactly like one that does not exist (404)."""
    ids = {"left": _run_id(left, "left"), "right": _run_id(right, "right")}
    runs = {r.pk: r for r in Run.objects.visible_to(user).filter(pk__in=ids.values())
            .select_related("version__model", "dataset")}
    for side, pk in ids.items():
        if pk not in runs:
            raise NotVisible(f"There is no run {pk} ({side}) that you may see.", field=side)
        if runs[pk].status != RunStatus.SUCCEEDED or runs[pk].results is None:
            raise ValidationFailed(
                f"Run {pk} ({side}) has no results to compare: it is "
                f"{runs[pk].get_status_display().lower()}. Choose a run that succeeded.",
                field=side)
    return runs[ids["left"]], runs[ids["right"]]


# ---------------------------------------------------------------------------------------------
# A version against the previous approved version


def previous_approved(version: ModelVersion) -> ModelVersion | None:
    """The approved version in use before ``version``: of the model's earlier versions that are
    approved now (not suspended or retired), the one approved last — not merely the newest."""
    earlier = (ModelVersion.objects.filter(model_id=version.model_id, state=VersionState.APPROVED,
                                           number__lt=version.number))
    decided = dict(VersionGovernance.objects.filter(version__in=earlier)
                   .values_list("version_id", "decided_at"))
    candidates = list(earlier)
    if not candidates:
        return None
    return max(candidates, key=lambda v: (decided.get(v.pk) is not None,
                                          decided.get(v.pk) or v.created_at, v.number))


@dataclass(frozen=True)
class Pairing:
    """The runs compared for some checks: the version's latest (``right``) and the baseline's
    (``left``), on the same data when the baseline has a run on it."""

    comparison: RunComparison
    checks: tuple[str, ...]

    @property
    def datasets_differ(self) -> bool:
        return not self.comparison.same_data


@dataclass(frozen=True)
class VersionComparison:
    """A version's latest runs against the previous approved version's, check by check."""

    version: ModelVersion
    baseline: ModelVersion | None
    pairings: tuple[Pairing, ...] = ()
    unmatched: tuple[str, ...] = ()  # checks the version ran that the baseline never did
    missing: tuple[str, ...] = ()  # checks the baseline ran that the version has not

    @property
    def regressions(self) -> list[FigureChange]:
        return [f for p in self.pairings for f in p.comparison.regressions]

    @property
    def datasets_differ(self) -> bool:
        return any(p.datasets_differ for p in self.pairings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": {"id": self.version.pk, "model": self.version.model.slug,
                        "number": self.version.number, "state": self.version.state},
            "baseline": None if self.baseline is None else {
                "id": self.baseline.pk, "number": self.baseline.number,
                "state": self.baseline.state},
            "datasets_differ": self.datasets_differ,
            "regressions": [f.as_dict() for f in self.regressions],
            "pairings": [{"checks": list(p.checks), "datasets_differ": p.datasets_differ,
                          "comparison": p.comparison.as_dict()}
                         for p in self.pairings],
            "only_in_version": list(self.unmatched), "only_in_baseline": list(self.missing),
        }


def _latest_per_check(version: ModelVersion) -> dict[str, Run]:
    out: dict[str, Run] = {}
    runs = (Run.objects.filter(version=version, status=RunStatus.SUCCEEDED)
            .select_related("version__model", "dataset").order_by("-finished_at", "-pk"))
    for run in runs:
        for check in run.checks:
            out.setdefault(check, run)
    return out


def version_comparison(version: ModelVersion) -> VersionComparison:
    """Per check, the version's latest succeeded run against the previous approved version's
    latest on the same evaluation data (by digest), else its latest on any data (flagged)."""
    baseline = previous_approved(version)
    if baseline is None:
        return VersionComparison(version, None)
    mine = _latest_per_check(version)
    baseline_runs = list(Run.objects.filter(version=baseline, status=RunStatus.SUCCEEDED)
                         .select_related("version__model", "dataset")
                         .order_by("-finished_at", "-pk"))
    pairs: dict[tuple[int, int], list[str]] = {}
    runs: dict[int, Run] = {}
    unmatched = []
    for check, right in mine.items():
        having = [r for r in baseline_runs if check in r.checks]
        same = [r for r in having if _data_digest(r) == _data_digest(right)]
        left = (same or having or [None])[0]
        if left is None:
            unmatched.append(check)
            continue
        runs[left.pk], runs[right.pk] = left, right
        pairs.setdefault((left.pk, right.pk), []).append(check)
    baseline_checks = {c for r in baseline_runs for c in r.checks}
    pairings = []
    requirements = requirements_for(version)
    for (left_pk, right_pk), checks in pairs.items():
        left, right = runs[left_pk], runs[right_pk]
        changes = compare_checks(left.results, right.results, left_verdicts=left.verdicts,
                                 right_verdicts=right.verdicts, requirements=requirements,
                                 checks=checks)
        pairings.append(Pairing(RunComparison(left, right, tuple(changes),
                                              tuple(_notes(left, right))), tuple(checks)))
    return VersionComparison(version, baseline, tuple(pairings), tuple(unmatched),
                             tuple(sorted(baseline_checks - set(mine))))


@dataclass
class Counts:
    """How many figures changed which way (for a comparison's summary line)."""

    better: int = 0
    worse: int = 0
    regressions: int = 0
    only_one_side: int = 0
    other: int = 0
    names: list[str] = field(default_factory=list)


def counts(checks: Iterable[CheckChange]) -> Counts:
    out = Counts()
    for check in checks:
        for f in check.figures:
            if f.regression:
                out.regressions += 1
                out.names.append(f"{check.name}: {f.name}")
            if f.change == BETTER:
                out.better += 1
            elif f.change == WORSE:
                out.worse += 1
            elif f.change in (ONLY_LEFT, ONLY_RIGHT):
                out.only_one_side += 1
            else:
                out.other += 1
    return out

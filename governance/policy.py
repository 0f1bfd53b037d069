"""Governance policies as data: the definition's shape, its validation, and tier scoring.

No Django here: a policy definition is a plain JSON object, checked by ``definition_errors`` before
a policy version is stored or made current, and read through ``Definition``. The shipped
templates ("SR 11-7", "SR 26-2") are at the bottom.

Shape of a definition::

    {"questionnaire": {"questions": [{"key", "label", "weight", "options": [{"value", "label",
                                      "score"}]}],
                       "cutoffs": {"tier1": <min points for tier 1>, "tier2": <min for tier 2>}},
     "tiers": {"1": {"revalidation_months": 12, "conditional_approval": false,
                     "expired_waiver_suspends": true,
                     "signoffs": {"review_board": 1, "risk_officer": 1},
                     "exclude_model_team": true,
                     "required_evidence": [{"check": "performance", "metric": "roc_auc",
                                            "comparator": ">=", "threshold": 0.7,
                                            "level": "block", "external_allowed": false,
                                            "tasks": ["binary_classification"]}]},
               "2": {...}, "3": {...}}}

A required-evidence item names a ``check``; with a ``metric`` it also needs a ``comparator`` and a
``threshold``. ``level`` is "block" (default: missed, it stops the approval) or "warn" (missed, it
is shown as a warning and stops nothing). ``external_allowed`` (default false) lets evidence
recorded by a tool outside Assay satisfy it. ``tasks`` (default: every task) limits it to models
of those tasks. The approval gate's rules are in docs/evidence-gate.md.

``exclude_model_team`` (optional) keeps the model's team out of validating and signing off; a
definition without it excludes the team at tiers 1 and 2 (``default_excludes_model_team``).

``monitoring`` (optional) is the tier's ongoing-monitoring policy: the plan every approved version
of the tier gets at approval (docs/monitoring.md)::

    {"frequency_minutes": 60, "window_hours": 24, "sustained_checks": 3, "suspend": true,
     "alert": ["owner", "validator"],
     "thresholds": {"max_psi": {"limit": 0.25, "severe": 0.5}, ...}}

Every statistic is "higher is worse": a value above ``limit`` is a breach, above ``severe`` a
severe one. A definition without it gets ``default_monitoring(tier)``.

``vendor_due_diligence`` (optional, top level) lists the due-diligence items a vendor model's
owner answers and its validator reviews before approval: ``[{"key", "label"}]``; a definition
without it gets ``DEFAULT_DUE_DILIGENCE``. ``without_artifact`` (optional, top level) says how a
required check that needs the model's graph (``GRAPH_CHECKS``: robustness, explainability, drift,
the mitigation what-if) is treated for a model with no ONNX form, validated on uploaded
predictions: ``{"graph_checks": "not_applicable"}`` (the default: shown as not applicable without
an artifact, never as passed, and stopping nothing) or ``"block"`` (missing: it stops the approval
unless waived). docs/no-artifact-models.md.

``change_materiality`` (optional, top level) defines the two classes a new version declares
(docs/dependencies-and-materiality.md)::

    {"minor": "<what a minor change is>", "major": "<what a major change is>"}

and per tier, ``minor_change_evidence`` (optional) names the required-evidence checks a minor
change still needs (the reduced revalidation scope; the others are not required of it), and
``upstream_change`` (optional) what a suspended, retired or materially changed upstream model
does to every model downstream of it::

    {"minor_change_evidence": ["performance"],
     "upstream_change": {"flag": "finding", "severity": "high", "due_days": 30}}

``flag`` is "finding" (Assay raises a finding of that severity, due in ``due_days``) or "review"
(the periodic review becomes due within ``due_days``). Without them: ``DEFAULT_MATERIALITY``,
``default_minor_change_evidence(tier)`` and ``default_upstream_change(tier)``.

``developers_may_deploy`` (optional, default false, tier 3 only) relaxes segregation of duties for
deployments: a version's developers may then deploy it to production endpoints
(docs/deployments.md). Tiers 1 and 2 may not relax it.

``tools`` (optional) is the lighter workflow of the register of tools that are not models
(spreadsheets, end-user computing tools, rules engines), per tool criticality::

    {"high": {"review_months": 12, "reviewer": "risk_officer",
              "controls": ["Access is restricted to named users", ...]},
     "medium": {...}, "low": {...}}

``reviewer`` is who concludes the periodic review: the tool's "owner", a "validator" or a
"risk_officer". A definition without it gets ``DEFAULT_TOOL_RULES``.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from governance import attestation_policy

# The six dimensions the issue names; a policy may weigh them differently but must ask them all.
REQUIRED_QUESTIONS = ("exposure", "impact", "regulatory_use", "automation", "complexity",
                      "data_sensitivity")
SIGNOFF_ROLES = ("review_board", "risk_officer", "validator")
COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}
# How a missed requirement counts: "block" stops the approval, "warn" is shown and stops nothing.
BLOCK, WARN = "block", "warn"
LEVELS = (BLOCK, WARN)
# The model tasks a requirement may be limited to (registry.models.Task's values; a test pins
# them together, since this module imports no Django).
TASKS = ("binary_classification", "multiclass_classification", "regression")
CLASSIFIERS = ["binary_classification", "multiclass_classification"]
REQUIREMENT_KEYS = frozenset({"check", "metric", "comparator", "threshold", "level",
                              "external_allowed", "tasks"})


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


# Checks that run the model's graph: a model with no ONNX form cannot have them computed.
GRAPH_CHECKS = ("robustness", "explainability", "drift", "mitigation")
NOT_APPLICABLE = "not_applicable"
GRAPH_CHECK_TREATMENTS = (NOT_APPLICABLE, BLOCK)
# The due-diligence items of a vendor model when the policy names none (OCC 2013-29 / SR 11-7's
# third-party guidance: what a bank must know of a vendor before relying on its model).
DEFAULT_DUE_DILIGENCE: list[dict[str, str]] = [
    {"key": "financial_soundness", "label": "The vendor's financial soundness"},
    {"key": "model_documentation", "label": "Model documentation received (design, data, "
                                           "limitations)"},
    {"key": "vendor_validation", "label": "Validation and testing evidence from the vendor"},
    {"key": "privacy_security", "label": "Data privacy and information security review"},
    {"key": "ongoing_support", "label": "Ongoing support, maintenance and change notice"},
    {"key": "right_to_audit", "label": "Right to audit the vendor and its model"},
]


def definition_errors(definition: Any) -> list[str]:
    """Everything wrong with a policy definition, each message naming where; [] when valid."""
    if not isinstance(definition, dict):
        return ["The definition must be a JSON object with 'questionnaire' and 'tiers'."]
    errors: list[str] = []
    unknown = set(definition) - {"questionnaire", "tiers", "vendor_due_diligence",
                                 "without_artifact", "tools", attestation_policy.KEY,
                                 "change_materiality"}
    if unknown:
        errors.append(f"Unknown top-level keys: {', '.join(sorted(unknown))}.")
    if attestation_policy.KEY in definition:
        errors += attestation_policy.attestation_errors(definition[attestation_policy.KEY])
    if "change_materiality" in definition:
        errors += _materiality_errors(definition["change_materiality"])
    errors += _questionnaire_errors(definition.get("questionnaire"))
    errors += _tiers_errors(definition.get("tiers"))
    if "tools" in definition:
        errors += tool_rules_errors(definition["tools"])
    errors += _vendor_errors(definition)
    return errors


def _vendor_errors(definition: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    items = definition.get("vendor_due_diligence")
    if items is not None:
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and set(i) == {"key", "label"}
                and isinstance(i["key"], str) and 0 < len(i["key"]) <= 50
                and isinstance(i["label"], str) and i["label"].strip() for i in items):
            errors.append("vendor_due_diligence is a list of {\"key\": up to 50 characters, "
                          "\"label\": text}.")
        elif len({i["key"] for i in items}) != len(items):
            errors.append("vendor_due_diligence names an item key twice.")
    without = definition.get("without_artifact")
    if without is not None and (not isinstance(without, dict) or set(without) != {"graph_checks"}
                                or without["graph_checks"] not in GRAPH_CHECK_TREATMENTS):
        errors.append("without_artifact is {\"graph_checks\": \"not_applicable\" or "
                      "\"block\"}.")
    return errors


# ---------------------------------------------------------------------------------------------
# The register of tools that are not models: its workflow per tool criticality.

CRITICALITIES = ("high", "medium", "low")
TOOL_REVIEWERS = ("owner", "validator", "risk_officer")
TOOL_RULE_KEYS = frozenset({"review_months", "reviewer", "controls"})
_BASE_CONTROLS = ["Documented: purpose, inputs, logic and outputs are written down",
                  "Access is restricted to named users"]
# Common end-user computing controls; a high-criticality tool also gets its outputs checked
# independently and its changes approved, as a model's would be.
DEFAULT_TOOL_RULES: dict[str, dict[str, Any]] = {
    "high": {"review_months": 12, "reviewer": "risk_officer", "controls": [
        *_BASE_CONTROLS, "Changes are versioned and approved by a second person",
        "Outputs are reconciled or checked independently", "Backed up and recoverable"]},
    "medium": {"review_months": 12, "reviewer": "owner", "controls": [
        *_BASE_CONTROLS, "Changes are versioned"]},
    "low": {"review_months": 24, "reviewer": "owner", "controls": list(_BASE_CONTROLS)},
}


def tool_rules_errors(tools: Any) -> list[str]:
    """What is wrong with a definition's ``tools`` section, each message naming where."""
    if not isinstance(tools, dict) or sorted(tools) != sorted(CRITICALITIES):
        return ["tools: must be an object with keys 'high', 'medium' and 'low' (the tool "
                "criticalities)."]
    errors: list[str] = []
    for name in CRITICALITIES:
        rules, where = tools[name], f"tools.{name}"
        if not isinstance(rules, dict):
            errors.append(f"{where}: must be an object with {', '.join(sorted(TOOL_RULE_KEYS))}.")
            continue
        unknown = set(rules) - TOOL_RULE_KEYS
        if unknown:
            errors.append(f"{where}: unknown keys {', '.join(sorted(unknown))}.")
        months = rules.get("review_months")
        if not _is_count(months) or not 1 <= months <= 60:
            errors.append(f"{where}.review_months: a whole number of months, 1 to 60.")
        if rules.get("reviewer") not in TOOL_REVIEWERS:
            errors.append(f"{where}.reviewer: who concludes the periodic review, one of "
                          f"{', '.join(TOOL_REVIEWERS)}.")
        controls = rules.get("controls")
        if not isinstance(controls, list) or not all(
                isinstance(c, str) and c.strip() and len(c) <= 200 for c in controls):
            errors.append(f"{where}.controls: a list of controls, each a text of up to 200 "
                          "characters (may be empty).")
        elif len(set(controls)) != len(controls):
            errors.append(f"{where}.controls: each control once.")
    return errors


@dataclass(frozen=True)
class ToolRules:
    """What a policy asks of a tool of one criticality."""

    criticality: str
    review_months: int
    reviewer: str
    controls: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"criticality": self.criticality, "review_months": self.review_months,
                "reviewer": self.reviewer, "controls": list(self.controls)}


def _questionnaire_errors(q: Any) -> list[str]:
    if not isinstance(q, dict):
        return ["questionnaire: must be an object with 'questions' and 'cutoffs'."]
    errors: list[str] = []
    questions = q.get("questions")
    if not isinstance(questions, list) or not questions:
        return ["questionnaire.questions: must be a non-empty list."]
    keys = []
    for i, question in enumerate(questions):
        where = f"questionnaire.questions[{i}]"
        if not isinstance(question, dict):
            errors.append(f"{where}: must be an object.")
            continue
        key = question.get("key")
        if not isinstance(key, str) or not key:
            errors.append(f"{where}.key: must be a non-empty string.")
        keys.append(key)
        if not isinstance(question.get("label"), str) or not question.get("label"):
            errors.append(f"{where}.label: must be a non-empty string.")
        weight = question.get("weight")
        if not _is_number(weight) or weight < 0:
            errors.append(f"{where}.weight: must be a number ≥ 0.")
        options = question.get("options")
        if not isinstance(options, list) or len(options) < 2:
            errors.append(f"{where}.options: must list at least two answers.")
            continue
        values = []
        for j, option in enumerate(options):
            if not isinstance(option, dict) or not isinstance(option.get("value"), str) \
                    or not option.get("value") or not _is_number(option.get("score")) \
                    or option["score"] < 0:
                errors.append(f"{where}.options[{j}]: needs a 'value' (string), a 'label' and "
                              "a 'score' (number ≥ 0).")
                continue
            values.append(option["value"])
        if len(values) != len(set(values)):
            errors.append(f"{where}.options: answer values must be unique.")
    duplicates = sorted({k for k in keys if isinstance(k, str) and keys.count(k) > 1})
    if duplicates:
        errors.append(f"questionnaire.questions: duplicate keys {', '.join(duplicates)}.")
    missing = [k for k in REQUIRED_QUESTIONS if k not in keys]
    if missing:
        errors.append(f"questionnaire.questions: must ask about {', '.join(missing)}.")
    cutoffs = q.get("cutoffs")
    if not isinstance(cutoffs, dict) or not _is_number(cutoffs.get("tier1")) \
            or not _is_number(cutoffs.get("tier2")):
        errors.append("questionnaire.cutoffs: needs numbers 'tier1' and 'tier2' (the minimum "
                      "points for tier 1 and tier 2).")
    elif cutoffs["tier1"] <= cutoffs["tier2"]:
        errors.append("questionnaire.cutoffs: 'tier1' must be above 'tier2' (tier 1 is the "
                      "highest risk).")
    return errors


def _tiers_errors(tiers: Any) -> list[str]:
    if not isinstance(tiers, dict):
        return ["tiers: must be an object with keys '1', '2' and '3'."]
    errors: list[str] = []
    if sorted(tiers) != ["1", "2", "3"]:
        errors.append("tiers: must have exactly the keys '1', '2' and '3'.")
    for name in ("1", "2", "3"):
        tier = tiers.get(name)
        where = f"tiers.{name}"
        if not isinstance(tier, dict):
            errors.append(f"{where}: must be an object.")
            continue
        known = {"revalidation_months", "conditional_approval", "expired_waiver_suspends",
                 "signoffs", "required_evidence", "exclude_model_team", "developers_may_deploy",
                 "monitoring", "minor_change_evidence", "upstream_change"}
        unknown = set(tier) - known
        if unknown:
            errors.append(f"{where}: unknown keys {', '.join(sorted(unknown))}.")
        months = tier.get("revalidation_months")
        if not _is_count(months) or not 1 <= months <= 120:
            errors.append(f"{where}.revalidation_months: a whole number of months, 1 to 120.")
        for flag in ("conditional_approval", "expired_waiver_suspends"):
            if not isinstance(tier.get(flag), bool):
                errors.append(f"{where}.{flag}: must be true or false.")
        if "exclude_model_team" in tier and not isinstance(tier["exclude_model_team"], bool):
            errors.append(f"{where}.exclude_model_team: must be true or false.")
        relax = tier.get("developers_may_deploy", False)
        if not isinstance(relax, bool):
            errors.append(f"{where}.developers_may_deploy: must be true or false.")
        elif relax and name != "3":
            errors.append(f"{where}.developers_may_deploy: only tier 3 may let a version's "
                          "developers deploy it to production; remove it or set it false.")
        signoffs = tier.get("signoffs")
        if not isinstance(signoffs, dict) or not signoffs:
            errors.append(f"{where}.signoffs: name at least one role and how many of it must "
                          f"sign, e.g. {{\"risk_officer\": 1}}.")
        else:
            for role, count in signoffs.items():
                if role not in SIGNOFF_ROLES:
                    errors.append(f"{where}.signoffs: {role!r} cannot sign off; use "
                                  f"{', '.join(SIGNOFF_ROLES)}.")
                if not _is_count(count) or not 1 <= count <= 10:
                    errors.append(f"{where}.signoffs.{role}: a count from 1 to 10.")
        if "monitoring" in tier:
            errors += [f"{where}.monitoring{e}" for e in monitoring_errors(tier["monitoring"])]
        if "upstream_change" in tier:
            errors += [f"{where}.upstream_change{e}"
                       for e in upstream_change_errors(tier["upstream_change"])]
        evidence = tier.get("required_evidence")
        if not isinstance(evidence, list):
            errors.append(f"{where}.required_evidence: must be a list (may be empty).")
            continue
        errors += _requirements_errors(evidence, where)
        if "minor_change_evidence" in tier:
            errors += _minor_scope_errors(tier["minor_change_evidence"], evidence, where)
    return errors


# ---------------------------------------------------------------------------------------------
# Change materiality and upstream changes (docs/dependencies-and-materiality.md).

MINOR, MAJOR = "minor", "major"
DEFAULT_MATERIALITY: dict[str, str] = {
    MINOR: "A change that keeps the model's methodology, inputs, target, population and intended "
           "use: a refit on newer data of the same kind, a recalibration, a fix that does not "
           "move its outputs materially.",
    MAJOR: "Any other change: a new methodology or algorithm, inputs added or removed, a new "
           "target, population or use, new data sources, or outputs that move materially.",
}
FLAGS = ("finding", "review")
SEVERITIES = ("high", "medium", "low")  # governance.models.Severity's values


def _materiality_errors(data: Any) -> list[str]:
    if not isinstance(data, dict) or set(data) != {MINOR, MAJOR} or not all(
            isinstance(v, str) and v.strip() for v in data.values()):
        return ["change_materiality: an object with 'minor' and 'major', each the text that "
                "defines the class (shown to whoever declares a new version's change)."]
    return []


def _minor_scope_errors(scope: Any, evidence: list[Any], where: str) -> list[str]:
    if not isinstance(scope, list) or not all(isinstance(c, str) and c for c in scope):
        return [f"{where}.minor_change_evidence: a list of check names (may be empty: a minor "
                "change then needs no evidence)."]
    checks = {item.get("check") for item in evidence if isinstance(item, dict)}
    unknown = sorted(set(scope) - checks)
    if unknown:
        return [f"{where}.minor_change_evidence: {', '.join(map(repr, unknown))} "
                f"{'is' if len(unknown) == 1 else 'are'} not required of the tier; name checks "
                f"of its required_evidence ({', '.join(sorted(c for c in checks if c)) or 'none'})."]
    return []


def upstream_change_errors(data: Any) -> list[str]:
    """What is wrong with a tier's ``upstream_change`` (each message starts with where)."""
    if not isinstance(data, dict) or set(data) - {"flag", "severity", "due_days"}:
        return [": an object with 'flag' (finding or review), 'severity' (for a finding) and "
                "'due_days'."]
    errors = []
    if data.get("flag") not in FLAGS:
        errors.append(f".flag: one of {', '.join(FLAGS)}.")
    if data.get("flag") == "finding" and data.get("severity") not in SEVERITIES:
        errors.append(f".severity: one of {', '.join(SEVERITIES)} (the finding's severity).")
    if not _is_count(data.get("due_days")) or not 1 <= data["due_days"] <= 365:
        errors.append(".due_days: a whole number of days, 1 to 365.")
    return errors


@dataclass(frozen=True)
class UpstreamChange:
    """What an upstream model's suspension, retirement or major change does downstream."""

    flag: str
    severity: str
    due_days: int

    def describe(self) -> str:
        if self.flag == "finding":
            return f"a {self.severity} finding, due in {self.due_days} days"
        return f"the periodic review due within {self.due_days} days"


def default_minor_change_evidence(tier: int) -> list[str] | None:
    """The checks a minor change still needs where the policy does not say: tier 1 the full
    scope (None), tier 2 performance and bias, tier 3 performance."""
    return {1: None, 2: ["performance", "bias"]}.get(tier, ["performance"])


def default_upstream_change(tier: int) -> dict[str, Any]:
    """Where the policy does not say: a finding at tiers 1 (high, 30 days) and 2 (medium, 60
    days); at tier 3 the periodic review comes due within 90 days."""
    return {1: {"flag": "finding", "severity": "high", "due_days": 30},
            2: {"flag": "finding", "severity": "medium", "due_days": 60}}.get(
        tier, {"flag": "review", "severity": "", "due_days": 90})


def _requirements_errors(evidence: list[Any], where: str) -> list[str]:
    errors: list[str] = []
    seen: list[tuple[str, str, frozenset[str]]] = []
    for i, item in enumerate(evidence):
        at = f"{where}.required_evidence[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("check"), str) \
                or not item.get("check"):
            errors.append(f"{at}: needs a 'check' name.")
            continue
        unknown = set(item) - REQUIREMENT_KEYS
        if unknown:
            errors.append(f"{at}: unknown keys {', '.join(sorted(unknown))}; a requirement has "
                          f"{', '.join(sorted(REQUIREMENT_KEYS))}.")
        has_metric = any(k in item for k in ("metric", "comparator", "threshold"))
        if has_metric and (not isinstance(item.get("metric"), str) or not item.get("metric")
                           or item.get("comparator") not in COMPARATORS
                           or not _is_finite_number(item.get("threshold"))):
            errors.append(f"{at}: a threshold needs 'metric' (string), 'comparator' (one of "
                          f"{' '.join(COMPARATORS)}) and 'threshold' (number).")
        if item.get("level", BLOCK) not in LEVELS:
            errors.append(f"{at}.level: one of {', '.join(LEVELS)} (missed, 'block' stops the "
                          "approval and 'warn' is only shown).")
        if not isinstance(item.get("external_allowed", False), bool):
            errors.append(f"{at}.external_allowed: must be true or false.")
        tasks = item.get("tasks", list(TASKS))
        if not isinstance(tasks, list) or not tasks or not all(t in TASKS for t in tasks):
            errors.append(f"{at}.tasks: a non-empty list of {', '.join(TASKS)}.")
            tasks = list(TASKS)
        key = (item["check"], item.get("metric", "") or "", frozenset(tasks))
        if any(key[:2] == other[:2] and key[2] & other[2] for other in seen):
            errors.append(f"{where}.required_evidence: {item['check']!r}"
                          + (f" with metric {item['metric']!r}" if key[1] else "")
                          + " appears twice for the same task.")
        seen.append(key)
    return errors


@dataclass(frozen=True)
class EvidenceRequirement:
    """One item of a tier's required evidence (see the module's docstring)."""

    check: str
    metric: str = ""
    comparator: str = ""
    threshold: float | None = None
    level: str = BLOCK
    external_allowed: bool = False
    tasks: tuple[str, ...] = TASKS

    @property
    def warns_only(self) -> bool:
        return self.level == WARN

    def applies_to(self, task: str) -> bool:
        """Whether a model of this task must meet it (a model without a task: every item)."""
        return not task or task in self.tasks

    def describe(self) -> str:
        if not self.metric:
            text = self.check
        else:
            text = f"{self.check} ({self.metric} {self.comparator} {self.threshold})"
        return f"{text}, warning only" if self.warns_only else text

    def figure_problem(self, figures: Any) -> str:
        """What keeps the figures from meeting the threshold: "" when they meet it (or there is
        no threshold). Fails closed: a metric that is missing, null, NaN or not a number misses."""
        if not self.metric or self.threshold is None:
            return ""
        if not isinstance(figures, dict) or self.metric not in figures:
            return f"{self.metric} is missing"
        value = figures[self.metric]
        if value is None:
            return f"{self.metric} is null"
        if not _is_finite_number(value):
            return f"{self.metric} = {value!r} is not a number"
        if not COMPARATORS[self.comparator](value, self.threshold):
            return f"{self.metric} = {value} misses {self.comparator} {self.threshold}"
        return ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "metric": self.metric, "comparator": self.comparator,
                "threshold": self.threshold, "level": self.level,
                "external_allowed": self.external_allowed, "tasks": list(self.tasks)}


def default_excludes_model_team(tier: int) -> bool:
    """A policy version that does not say (every version stored before the setting existed):
    the model's team is excluded from validating and signing off tiers 1 and 2."""
    return tier <= 2


# ---------------------------------------------------------------------------------------------
# Ongoing monitoring (docs/monitoring.md): the statistics a plan may threshold, each "higher is
# worse", and who may be alerted.

STATISTICS: dict[str, str] = {
    "max_psi": "largest PSI of an input feature against the validated reference data",
    "prediction_psi": "PSI of the predictions against the reference data's predictions",
    "max_ks_statistic": "largest KS statistic of a numeric input feature",
    "missing_rate": "share of input values missing",
    "out_of_range_rate": "share of numeric values outside the reference's range, or categories "
                         "the reference never had",
    "schema_violation_rate": "share of logged records with a field missing, unknown or of the "
                             "wrong type",
    "volume_change": "relative change of the prediction rate against the previous windows",
    "performance_drop": "validated performance minus live performance on the outcomes posted "
                        "(ROC AUC or accuracy; multiclass: macro F1 or accuracy; regression: "
                        "the relative rise of RMSE or MAE)",
    "dp_ratio_shortfall": "1 minus the ratio of the lowest to the highest selection rate across "
                          "the groups of a sensitive attribute (live outcomes; the policy's "
                          "dp_ratio at least x is a shortfall of at most 1 - x)",
    "eo_difference": "largest difference of true- or false-positive rates across the groups of "
                     "a sensitive attribute (live outcomes)",
    "mae_difference": "largest difference of mean absolute error across the groups of a "
                      "sensitive attribute (regression, live outcomes)",
    "override_rate": "share of predictions a person overrode",
}
ALERTED = ("owner", "validator", "developers")
MONITORING_KEYS = frozenset({"frequency_minutes", "window_hours", "sustained_checks", "suspend",
                             "alert", "thresholds"})


@dataclass(frozen=True)
class Threshold:
    limit: float
    severe: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"limit": self.limit, "severe": self.severe}


@dataclass(frozen=True)
class MonitoringRules:
    """What a monitoring plan watches, how often, and what a breach does."""

    frequency_minutes: float
    window_hours: int
    sustained_checks: int
    suspend: bool
    alert: tuple[str, ...]
    thresholds: dict[str, Threshold]

    def as_dict(self) -> dict[str, Any]:
        return {"frequency_minutes": self.frequency_minutes, "window_hours": self.window_hours,
                "sustained_checks": self.sustained_checks, "suspend": self.suspend,
                "alert": list(self.alert),
                "thresholds": {k: t.as_dict() for k, t in self.thresholds.items()}}


def monitoring_errors(data: Any) -> list[str]:
    """What is wrong with a monitoring policy (each message starts with where: "" or ".key")."""
    if not isinstance(data, dict):
        return [": must be an object with " + ", ".join(sorted(MONITORING_KEYS)) + "."]
    errors: list[str] = []
    unknown = set(data) - MONITORING_KEYS
    if unknown:
        errors.append(f": unknown keys {', '.join(sorted(unknown))}; a monitoring policy has "
                      f"{', '.join(sorted(MONITORING_KEYS))}.")
    frequency = data.get("frequency_minutes")
    if not (_is_number(frequency) and math.isfinite(frequency) and 0.01 <= frequency <= 10080):
        errors.append(".frequency_minutes: how often the plan is checked, in minutes, 0.01 to "
                      "10080 (a week).")
    for key, low, high, what in (("window_hours", 1, 2160, "hours, 1 to 2160 (90 days)"),
                                 ("sustained_checks", 1, 100, "checks in a row, 1 to 100")):
        if not _is_count(data.get(key)) or not low <= data[key] <= high:
            errors.append(f".{key}: a whole number of {what}.")
    if not isinstance(data.get("suspend"), bool):
        errors.append(".suspend: must be true or false (whether a sustained or severe breach "
                      "suspends serving).")
    alert = data.get("alert")
    if not isinstance(alert, list) or not alert or not all(a in ALERTED for a in alert):
        errors.append(f".alert: a non-empty list of {', '.join(ALERTED)}.")
    thresholds = data.get("thresholds")
    if not isinstance(thresholds, dict) or not thresholds:
        errors.append(".thresholds: an object of statistic -> {\"limit\": number, \"severe\": "
                      "number}; name at least one statistic.")
        return errors
    for name, threshold in thresholds.items():
        if name not in STATISTICS:
            errors.append(f".thresholds: {name!r} is not a statistic; use "
                          f"{', '.join(STATISTICS)}.")
            continue
        if not isinstance(threshold, dict) or set(threshold) - {"limit", "severe"} \
                or not _is_finite_number(threshold.get("limit")) or threshold["limit"] < 0:
            errors.append(f".thresholds.{name}: {{\"limit\": a number >= 0, \"severe\": a "
                          "larger number (optional)}.")
            continue
        severe = threshold.get("severe")
        if severe is not None and (not _is_finite_number(severe) or severe < threshold["limit"]):
            errors.append(f".thresholds.{name}.severe: a number at least the limit "
                          f"({threshold['limit']}), or leave it out.")
    return errors


def monitoring_rules(data: dict[str, Any]) -> MonitoringRules:
    """A valid monitoring policy (``monitoring_errors`` found nothing) read as rules."""
    return MonitoringRules(
        frequency_minutes=data["frequency_minutes"], window_hours=data["window_hours"],
        sustained_checks=data["sustained_checks"], suspend=data["suspend"],
        alert=tuple(data["alert"]),
        thresholds={name: Threshold(float(t["limit"]),
                                    None if t.get("severe") is None else float(t["severe"]))
                    for name, t in data["thresholds"].items()})


def default_monitoring(tier: int) -> dict[str, Any]:
    """The monitoring policy of a tier whose definition does not say (every definition stored
    before monitoring existed): PSI's conventional bands for drift (0.25 significant), the
    usual data-quality tolerances, hourly checks at tier 1 suspending on a sustained or severe
    breach; tiers 2 and 3 checked less often and only flagged for revalidation."""
    thresholds = {
        "max_psi": {"limit": 0.25, "severe": 0.5},
        "prediction_psi": {"limit": 0.25, "severe": 0.5},
        "missing_rate": {"limit": 0.05, "severe": 0.2},
        "out_of_range_rate": {"limit": 0.05, "severe": 0.2},
        "schema_violation_rate": {"limit": 0.01, "severe": 0.1},
        "volume_change": {"limit": 0.5, "severe": 0.9},
        "performance_drop": {"limit": 0.05, "severe": 0.1},
        "override_rate": {"limit": 0.2, "severe": 0.4},
    }
    frequency = {1: 60, 2: 360}.get(tier, 1440)
    return {"frequency_minutes": frequency, "window_hours": 24 * 7, "sustained_checks": 3,
            "suspend": tier == 1, "alert": ["owner", "validator"], "thresholds": thresholds}


@dataclass(frozen=True)
class TierRules:
    """What a policy asks of a model of one tier."""

    tier: int
    revalidation_months: int
    conditional_approval: bool
    expired_waiver_suspends: bool
    signoffs: dict[str, int]
    required_evidence: tuple[EvidenceRequirement, ...]
    # Whether members of the model's team are excluded from validating and signing off its
    # versions (beyond its owner, developers and the version's authors, who always are).
    exclude_model_team: bool = True
    # Whether a version's developers may deploy it to production endpoints (tier 3 only).
    developers_may_deploy: bool = False
    # The monitoring plan a version of this tier gets at approval.
    monitoring: MonitoringRules | None = None
    # The required-evidence checks a minor change still needs (None: all of them).
    minor_change_checks: tuple[str, ...] | None = None
    upstream_change: UpstreamChange | None = None

    def evidence_for(self, change_class: str) -> tuple[EvidenceRequirement, ...]:
        """The required evidence of a version of this change class: a minor change's reduced
        scope, or everything."""
        if change_class != MINOR or self.minor_change_checks is None:
            return self.required_evidence
        return tuple(r for r in self.required_evidence if r.check in self.minor_change_checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier, "revalidation_months": self.revalidation_months,
            "conditional_approval": self.conditional_approval,
            "expired_waiver_suspends": self.expired_waiver_suspends,
            "exclude_model_team": self.exclude_model_team,
            "developers_may_deploy": self.developers_may_deploy,
            "monitoring": self.monitoring.as_dict() if self.monitoring else None,
            "minor_change_evidence": (None if self.minor_change_checks is None
                                      else list(self.minor_change_checks)),
            "upstream_change": (self.upstream_change.describe() if self.upstream_change
                                else None),
            "signoffs": dict(self.signoffs),
            "required_evidence": [r.describe() for r in self.required_evidence],
        }


@dataclass(frozen=True)
class ScoreLine:
    key: str
    label: str
    answer: str
    answer_label: str
    score: float
    weight: float

    @property
    def points(self) -> float:
        return self.score * self.weight


@dataclass(frozen=True)
class Scoring:
    """The questionnaire's result, line by line, so a page can show how the tier came about."""

    lines: tuple[ScoreLine, ...]
    total: float
    cutoff_tier1: float
    cutoff_tier2: float
    tier: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [{"key": s.key, "label": s.label, "answer": s.answer, "score": s.score,
                       "weight": s.weight, "points": s.points} for s in self.lines],
            "total": self.total, "cutoffs": {"tier1": self.cutoff_tier1,
                                             "tier2": self.cutoff_tier2},
            "tier": self.tier,
        }


def _scope(checks: list[str] | None) -> tuple[str, ...] | None:
    return None if checks is None else tuple(checks)


def _upstream(data: dict[str, Any]) -> UpstreamChange:
    return UpstreamChange(flag=data["flag"], severity=data.get("severity") or "",
                          due_days=data["due_days"])


class Definition:
    """Read access to a valid policy definition."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def questions(self) -> list[dict[str, Any]]:
        questions: list[dict[str, Any]] = self.data["questionnaire"]["questions"]
        return questions

    def tier_rules(self, tier: int) -> TierRules:
        raw = self.data["tiers"][str(tier)]
        return TierRules(
            tier=tier, revalidation_months=raw["revalidation_months"],
            conditional_approval=raw["conditional_approval"],
            expired_waiver_suspends=raw["expired_waiver_suspends"],
            signoffs=dict(raw["signoffs"]),
            required_evidence=tuple(
                EvidenceRequirement(check=r["check"], metric=r.get("metric", ""),
                                    comparator=r.get("comparator", ""),
                                    threshold=r.get("threshold"), level=r.get("level", BLOCK),
                                    external_allowed=r.get("external_allowed", False),
                                    tasks=tuple(r.get("tasks", TASKS)))
                for r in raw["required_evidence"]),
            exclude_model_team=raw.get("exclude_model_team",
                                       default_excludes_model_team(tier)),
            developers_may_deploy=raw.get("developers_may_deploy", False),
            monitoring=monitoring_rules(raw.get("monitoring") or default_monitoring(tier)),
            minor_change_checks=_scope(raw.get("minor_change_evidence",
                                               default_minor_change_evidence(tier))),
            upstream_change=_upstream(raw.get("upstream_change")
                                      or default_upstream_change(tier)),
        )

    @property
    def due_diligence(self) -> list[dict[str, str]]:
        """The vendor due-diligence items: the policy's, else ``DEFAULT_DUE_DILIGENCE``."""
        items = self.data.get("vendor_due_diligence")
        return [dict(i) for i in (items if items is not None else DEFAULT_DUE_DILIGENCE)]

    @property
    def graph_checks_without_artifact(self) -> str:
        """How a required graph check is treated for a model with no ONNX form."""
        return str((self.data.get("without_artifact") or {}).get("graph_checks",
                                                                 NOT_APPLICABLE))

    def tool_rules(self, criticality: str) -> ToolRules:
        """The tool workflow for a criticality (the definition's, else DEFAULT_TOOL_RULES)."""
        raw = (self.data.get("tools") or DEFAULT_TOOL_RULES)[criticality]
        return ToolRules(criticality=criticality, review_months=raw["review_months"],
                         reviewer=raw["reviewer"], controls=tuple(raw["controls"]))

    @property
    def change_materiality(self) -> dict[str, str]:
        """What a minor and a major change are, as the policy defines them."""
        return dict(self.data.get("change_materiality") or DEFAULT_MATERIALITY)

    def answer_errors(self, answers: Any) -> dict[str, str]:
        """Per question key, what is wrong with the answers (empty when complete and valid)."""
        if not isinstance(answers, dict):
            return {"answers": "Answer the questionnaire as an object of question → answer."}
        errors = {}
        for q in self.questions:
            values = [o["value"] for o in q["options"]]
            given = answers.get(q["key"])
            if given is None or given == "":
                errors[q["key"]] = f"Answer '{q['label']}': one of {', '.join(values)}."
            elif given not in values:
                errors[q["key"]] = f"{given!r} is not an answer to '{q['label']}'; choose one " \
                                   f"of {', '.join(values)}."
        unknown = set(answers) - {q["key"] for q in self.questions}
        for key in sorted(unknown):
            errors[key] = "This policy asks no such question."
        return errors

    def score(self, answers: dict[str, str]) -> Scoring:
        """Weighted points per answer; tier 1 at or above the tier-1 cut-off, and so on."""
        lines = []
        for q in self.questions:
            option = next(o for o in q["options"] if o["value"] == answers[q["key"]])
            lines.append(ScoreLine(key=q["key"], label=q["label"], answer=option["value"],
                                   answer_label=option.get("label", option["value"]),
                                   score=option["score"], weight=q["weight"]))
        total = sum(line.points for line in lines)
        cutoffs = self.data["questionnaire"]["cutoffs"]
        tier = 1 if total >= cutoffs["tier1"] else 2 if total >= cutoffs["tier2"] else 3
        return Scoring(lines=tuple(lines), total=total, cutoff_tier1=cutoffs["tier1"],
                       cutoff_tier2=cutoffs["tier2"], tier=tier)


# ---------------------------------------------------------------------------------------------
# Templates shipped with Assay.

def _levels(low: str, medium: str, high: str) -> list[dict[str, Any]]:
    return [{"value": "low", "label": low, "score": 0},
            {"value": "medium", "label": medium, "score": 1},
            {"value": "high", "label": high, "score": 2}]


QUESTIONNAIRE: dict[str, Any] = {
    "questions": [
        {"key": "exposure", "label": "Exposure and volume", "weight": 3, "options": _levels(
            "Small portfolio or few decisions", "Material portfolio",
            "Large portfolio or high volume of decisions")},
        {"key": "impact", "label": "Impact on individuals", "weight": 3, "options": _levels(
            "No direct effect on people", "Indirect effect (e.g. marketing)",
            "Decides access to credit, insurance, jobs or care")},
        {"key": "regulatory_use", "label": "Regulatory or financial-reporting use", "weight": 2,
         "options": [{"value": "no", "label": "Not used for either", "score": 0},
                     {"value": "yes", "label": "Capital, provisioning, stress tests or "
                                             "financial statements", "score": 2}]},
        {"key": "automation", "label": "Degree of automation and reliance", "weight": 2,
         "options": _levels("One input among many to a person",
                            "Person reviews the model's output",
                            "Decides automatically")},
        {"key": "complexity", "label": "Complexity", "weight": 1, "options": _levels(
            "Simple rules or linear model", "Ensemble or many features",
            "Deep learning or opaque vendor model")},
        {"key": "data_sensitivity", "label": "Data sensitivity", "weight": 1, "options": _levels(
            "Public or aggregated data", "Internal customer data",
            "Special-category or protected-attribute data")},
    ],
    # Maximum is 2 * (3+3+2+2+1+1) = 24 points.
    "cutoffs": {"tier1": 14, "tier2": 7},
}


def _tier(months: int, signoffs: dict[str, int], *, conditional: bool, waiver_suspends: bool,
          evidence: list[dict[str, Any]], exclude_team: bool | None) -> dict[str, Any]:
    # exclude_team None: the key is left out, as revision 1 shipped (its default applies).
    tier = {"revalidation_months": months, "conditional_approval": conditional,
            "expired_waiver_suspends": waiver_suspends, "signoffs": signoffs,
            "required_evidence": evidence}
    if exclude_team is not None:
        tier["exclude_model_team"] = exclude_team
    return tier


def _threshold(check: str, metric: str, comparator: str, threshold: float, *,
               tasks: list[str], level: str = BLOCK) -> dict[str, Any]:
    return {"check": check, "metric": metric, "comparator": comparator, "threshold": threshold,
            "level": level, "tasks": tasks}


# Revision 2's required evidence, on the flat figures the evaluation checks record
# (docs/evaluation-metrics.md, docs/evaluation-part2.md). Why these thresholds:
# docs/evidence-gate.md, "The shipped templates".
def _performance() -> list[dict[str, Any]]:
    # ROC AUC >= 0.70: "acceptable discrimination" (Hosmer, Lemeshow & Sturdivant, Applied
    # Logistic Regression, 3rd ed., 5.2.4). Multiclass and regression models need the check
    # run and not failed; their figures (macro AUC, RMSE, R²) have no portable threshold.
    return [_threshold("performance", "roc_auc", ">=", 0.7, tasks=["binary_classification"]),
            {"check": "performance", "tasks": ["multiclass_classification", "regression"]}]


def _bias() -> list[dict[str, Any]]:
    # The four-fifths rule (29 CFR 1607.4(D)) on selection rates, and at most 10 points between
    # groups' true- or false-positive rates (AIF360's "fair" band for these differences).
    return [_threshold("bias", "dp_ratio", ">=", 0.8, tasks=CLASSIFIERS),
            _threshold("bias", "eo_difference", "<=", 0.1, tasks=CLASSIFIERS),
            {"check": "bias", "tasks": ["regression"]}]


def _calibration(ece: float) -> list[dict[str, Any]]:
    return [_threshold("calibration", "ece", "<=", ece, tasks=CLASSIFIERS)]


def _robustness_and_explanations() -> list[dict[str, Any]]:
    # Tier 1 requires both (issue 13), on the figures part 2's checks record
    # (docs/evaluation-part2.md): the robustness check's largest metric drop under perturbation
    # (accuracy at the threshold; a regressor's is an RMSE rise in the target's units, which has
    # no portable threshold, so there the check must only be run and not failed), and the
    # explainability check's rows explained. Multiclass models are left out: the run engine
    # computes neither check for them yet (docs/evaluation.md, "Not done yet").
    return [_threshold("robustness", "max_metric_drop", "<=", 0.05,
                       tasks=["binary_classification"]),
            {"check": "robustness", "tasks": ["regression"]},
            _threshold("explainability", "shap_sample_rows", ">=", 1,
                       tasks=["binary_classification", "regression"])]


EVIDENCE_BY_REVISION: dict[int, dict[int, list[dict[str, Any]]]] = {
    1: {1: [], 2: [], 3: []},
    2: {1: _performance() + _bias() + _calibration(0.05)
        + _robustness_and_explanations(),
        2: _performance() + _bias() + _calibration(0.1),
        3: _performance()},
}


def _template(months: tuple[int, int, int], revision: int) -> dict[str, Any]:
    """The shipped template's definition at ``revision``. A revision, once shipped, never
    changes: installations recognise the revisions they hold by their definition."""
    evidence = EVIDENCE_BY_REVISION[revision]

    def says(exclude_team: bool) -> bool | None:
        # Revision 1 shipped before exclude_model_team existed; from revision 2 it is explicit.
        return exclude_team if revision >= 2 else None

    return {
        "questionnaire": copy.deepcopy(QUESTIONNAIRE),
        "tiers": {
            "1": _tier(months[0], {"review_board": 1, "risk_officer": 1}, conditional=False,
                       waiver_suspends=True, evidence=evidence[1], exclude_team=says(True)),
            "2": _tier(months[1], {"review_board": 1, "risk_officer": 1}, conditional=True,
                       waiver_suspends=False, evidence=evidence[2], exclude_team=says(True)),
            "3": _tier(months[2], {"risk_officer": 1}, conditional=True, waiver_suspends=False,
                       evidence=evidence[3], exclude_team=says(False)),
        },
    }


@dataclass(frozen=True)
class Template:
    """A policy shipped with Assay and its revisions, oldest first. A revision, once shipped, never
    changes (installations hold it as a policy version, and the migration that installed it
    names it): change a template by adding a revision."""

    name: str
    description: str
    revisions: tuple[dict[str, Any], ...]

    @property
    def latest(self) -> dict[str, Any]:
        return self.revisions[-1]


SHIPPED: dict[str, Template] = {
    "sr-11-7": Template("SR 11-7", "Federal Reserve SR 11-7 / OCC 2011-12: every model "
                        "revalidated at least every 12 months, whatever its tier.",
                        tuple(_template((12, 12, 12), r) for r in (1, 2))),
    "sr-26-2": Template("SR 26-2", "Federal Reserve SR 26-2 / OCC 2026-13: review frequency "
                        "follows materiality — tier 1 every 12 months, tier 2 every 24, tier 3 "
                        "every 36.", tuple(_template((12, 24, 36), r) for r in (1, 2))),
}
# Each template as (name, description, its latest revision).
TEMPLATES: dict[str, tuple[str, str, dict[str, Any]]] = {
    slug: (t.name, t.description, t.latest) for slug, t in SHIPPED.items()}
DEFAULT_TEMPLATE = "sr-11-7"


def shipped_revision(slug: str, definition: Any) -> int | None:
    """Which revision of the shipped template ``slug`` the definition is (1-based), if any."""
    template = SHIPPED.get(slug)
    if template is None:
        return None
    return next((i for i, rev in enumerate(template.revisions, 1) if rev == definition), None)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it has no such day
    (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

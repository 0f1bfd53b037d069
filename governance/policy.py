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
                     "required_evidence": [{"check": "performance", "metric": "auc",
                                            "comparator": ">=", "threshold": 0.7}]},
               "2": {...}, "3": {...}}}

``exclude_model_team`` (optional) keeps the model's team out of validating and signing off; a
definition without it excludes the team at tiers 1 and 2 (``default_excludes_model_team``).
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The six dimensions the issue names; a policy may weigh them differently but must ask them all.
REQUIRED_QUESTIONS = ("exposure", "impact", "regulatory_use", "automation", "complexity",
                      "data_sensitivity")
SIGNOFF_ROLES = ("review_board", "risk_officer", "validator")
COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def definition_errors(definition: Any) -> list[str]:
    """Everything wrong with a policy definition, each message naming where; [] when valid."""
    if not isinstance(definition, dict):
        return ["The definition must be a JSON object with 'questionnaire' and 'tiers'."]
    errors: list[str] = []
    unknown = set(definition) - {"questionnaire", "tiers"}
    if unknown:
        errors.append(f"Unknown top-level keys: {', '.join(sorted(unknown))}.")
    errors += _questionnaire_errors(definition.get("questionnaire"))
    errors += _tiers_errors(definition.get("tiers"))
    return errors


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
                 "signoffs", "required_evidence", "exclude_model_team"}
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
        evidence = tier.get("required_evidence")
        if not isinstance(evidence, list):
            errors.append(f"{where}.required_evidence: must be a list (may be empty).")
            continue
        checks = []
        for i, item in enumerate(evidence):
            at = f"{where}.required_evidence[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("check"), str) \
                    or not item.get("check"):
                errors.append(f"{at}: needs a 'check' name.")
                continue
            checks.append(item["check"])
            has_metric = any(k in item for k in ("metric", "comparator", "threshold"))
            if has_metric and (not isinstance(item.get("metric"), str) or not item.get("metric")
                               or item.get("comparator") not in COMPARATORS
                               or not _is_number(item.get("threshold"))):
                errors.append(f"{at}: a threshold needs 'metric' (string), 'comparator' (one of "
                              f"{' '.join(COMPARATORS)}) and 'threshold' (number).")
        if len(checks) != len(set(checks)):
            errors.append(f"{where}.required_evidence: each check may appear once.")
    return errors


@dataclass(frozen=True)
class EvidenceRequirement:
    check: str
    metric: str = ""
    comparator: str = ""
    threshold: float | None = None

    def describe(self) -> str:
        if not self.metric:
            return self.check
        return f"{self.check} ({self.metric} {self.comparator} {self.threshold})"

    def figure_fails(self, figures: dict[str, Any]) -> bool:
        """Whether the recorded figure for the metric misses the threshold (absent: no)."""
        value = figures.get(self.metric) if self.metric else None
        if not _is_number(value) or self.threshold is None:
            return False
        return not COMPARATORS[self.comparator](value, self.threshold)


def default_excludes_model_team(tier: int) -> bool:
    """A policy version that does not say (every version stored before the setting existed):
    the model's team is excluded from validating and signing off tiers 1 and 2."""
    return tier <= 2


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier, "revalidation_months": self.revalidation_months,
            "conditional_approval": self.conditional_approval,
            "expired_waiver_suspends": self.expired_waiver_suspends,
            "exclude_model_team": self.exclude_model_team,
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


class Definition:
    """Read access to a valid policy definition."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def questions(self) -> list[dict[str, Any]]:
        return self.data["questionnaire"]["questions"]

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
                                    threshold=r.get("threshold"))
                for r in raw["required_evidence"]),
            exclude_model_team=raw.get("exclude_model_team",
                                       default_excludes_model_team(tier)),
        )

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


def _tier(months: int, signoffs: dict[str, int], *, conditional: bool,
          waiver_suspends: bool, exclude_team: bool) -> dict[str, Any]:
    # required_evidence is filled in by the evaluation checks (evaluation issue).
    return {"revalidation_months": months, "conditional_approval": conditional,
            "expired_waiver_suspends": waiver_suspends, "signoffs": signoffs,
            "required_evidence": [], "exclude_model_team": exclude_team}


def _template(months: tuple[int, int, int]) -> dict[str, Any]:
    return {
        "questionnaire": copy.deepcopy(QUESTIONNAIRE),
        "tiers": {
            "1": _tier(months[0], {"review_board": 1, "risk_officer": 1}, conditional=False,
                       waiver_suspends=True, exclude_team=True),
            "2": _tier(months[1], {"review_board": 1, "risk_officer": 1}, conditional=True,
                       waiver_suspends=False, exclude_team=True),
            "3": _tier(months[2], {"risk_officer": 1}, conditional=True, waiver_suspends=False,
                       exclude_team=False),
        },
    }


TEMPLATES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sr-11-7": ("SR 11-7", "Federal Reserve SR 11-7 / OCC 2011-12: every model revalidated at "
                "least every 12 months, whatever its tier.", _template((12, 12, 12))),
    "sr-26-2": ("SR 26-2", "Federal Reserve SR 26-2 / OCC 2026-13: review frequency follows "
                "materiality — tier 1 every 12 months, tier 2 every 24, tier 3 every 36.",
                _template((12, 24, 36))),
}
DEFAULT_TEMPLATE = "sr-11-7"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it has no such day
    (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))

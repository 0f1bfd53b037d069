"""Owners' attestations as a policy sets them (no Django here).

A policy definition may carry an ``attestation`` object; a definition without it (every version
stored before the setting existed) gets ``DEFAULT_ATTESTATION``::

    {"attestation": {"months": {"1": 6, "2": 12, "3": 12},
                     "statement": "The inventory entry is complete and accurate, ...",
                     "grace_days": 30, "overdue_finding": true, "finding_severity": "medium"}}

``months`` is the cadence per tier: the owner attests again that many months after the last
attestation (or after the model entered the inventory). ``grace_days`` after the due date the
attestation is overdue: the owner is told and, where ``overdue_finding`` says so, a finding of
``finding_severity`` is raised on the model's version in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

KEY = "attestation"
SEVERITIES = ("low", "medium", "high")
STATEMENT_MAX = 2000
DEFAULT_STATEMENT = (
    "I attest that this model's inventory entry is complete and accurate, that the model is used "
    "as it was approved, and that it is used within the conditions and limits of its approval.")
DEFAULT_ATTESTATION: dict[str, Any] = {
    "months": {"1": 6, "2": 12, "3": 12}, "statement": DEFAULT_STATEMENT, "grace_days": 30,
    "overdue_finding": True, "finding_severity": "medium"}
FIELDS = frozenset(DEFAULT_ATTESTATION)


@dataclass(frozen=True)
class AttestationRules:
    """What a policy asks of owners' attestations (see the module's docstring)."""

    months: dict[int, int]
    statement: str
    grace_days: int
    overdue_finding: bool
    finding_severity: str

    def months_for(self, tier: int) -> int:
        return self.months[tier]

    def as_dict(self) -> dict[str, Any]:
        return {"months": {str(t): m for t, m in sorted(self.months.items())},
                "statement": self.statement, "grace_days": self.grace_days,
                "overdue_finding": self.overdue_finding,
                "finding_severity": self.finding_severity}


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def attestation_errors(raw: Any) -> list[str]:
    """Everything wrong with a definition's ``attestation`` object, each message naming where;
    [] when valid."""
    where = KEY
    if not isinstance(raw, dict):
        return [f"{where}: must be an object with {', '.join(sorted(FIELDS))}."]
    errors: list[str] = []
    unknown = set(raw) - FIELDS
    if unknown:
        errors.append(f"{where}: unknown keys {', '.join(sorted(unknown))}; it has "
                      f"{', '.join(sorted(FIELDS))}.")
    months = raw.get("months")
    if not isinstance(months, dict) or sorted(months) != ["1", "2", "3"]:
        errors.append(f"{where}.months: an object with the keys '1', '2' and '3', each the "
                      "months between attestations in that tier.")
    else:
        for tier, count in months.items():
            if not _is_count(count) or not 1 <= count <= 60:
                errors.append(f"{where}.months.{tier}: a whole number of months, 1 to 60.")
    statement = raw.get("statement")
    if not isinstance(statement, str) or not statement.strip():
        errors.append(f"{where}.statement: the text owners attest to, not empty.")
    elif len(statement) > STATEMENT_MAX:
        errors.append(f"{where}.statement: at most {STATEMENT_MAX} characters.")
    grace = raw.get("grace_days")
    if not _is_count(grace) or not 0 <= grace <= 365:
        errors.append(f"{where}.grace_days: a whole number of days, 0 to 365.")
    if not isinstance(raw.get("overdue_finding"), bool):
        errors.append(f"{where}.overdue_finding: true or false (whether an overdue attestation "
                      "raises a finding).")
    if raw.get("finding_severity") not in SEVERITIES:
        errors.append(f"{where}.finding_severity: one of {', '.join(SEVERITIES)}.")
    return errors


def attestation_rules(definition: dict[str, Any]) -> AttestationRules:
    """The attestation rules of a valid definition (the default when it says nothing)."""
    raw = definition.get(KEY) or DEFAULT_ATTESTATION
    return AttestationRules(
        months={int(t): m for t, m in raw["months"].items()}, statement=raw["statement"],
        grace_days=raw["grace_days"], overdue_finding=raw["overdue_finding"],
        finding_severity=raw["finding_severity"])

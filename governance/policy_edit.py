"""A policy definition as a person edits and compares it (no Django here).

The policy form (governance.forms.PolicyDraftForm) shows each tier's required evidence as lines of
text, one requirement a line; ``requirement_from_line`` reads such a line back and
``requirement_line`` writes one. ``definition_changes`` lists what differs between two
definitions in words, for the page where a second person approves a draft.

A requirement line reads ``check [metric comparator threshold] [warn] [external] [tasks=a,b]``,
e.g. ``performance roc_auc >= 0.7`` or ``bias demographic_parity_difference <= 0.1 warn``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from governance.attestation_policy import attestation_rules
from governance.policy import (
    BLOCK,
    COMPARATORS,
    CRITICALITIES,
    DEFAULT_TOOL_RULES,
    SIGNOFF_ROLES,
    TASKS,
    WARN,
)

LINE_HELP = ("One requirement a line: check [metric comparator threshold] [warn] [external] "
             "[tasks=binary_classification,…], e.g. \"performance roc_auc >= 0.7\".")


class LineError(ValueError):
    """A requirement line that cannot be read; the message says how to write it."""


def requirement_line(item: dict[str, Any]) -> str:
    """One required-evidence item as the line the form shows."""
    words = [str(item["check"])]
    if item.get("metric"):
        words += [str(item["metric"]), str(item["comparator"]), _number(item["threshold"])]
    if item.get("level", BLOCK) == WARN:
        words.append("warn")
    if item.get("external_allowed"):
        words.append("external")
    tasks = item.get("tasks")
    if tasks and list(tasks) != list(TASKS):
        words.append("tasks=" + ",".join(tasks))
    return " ".join(words)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def requirement_from_line(line: str) -> dict[str, Any]:
    """The required-evidence item a line describes (raises LineError saying what is wrong)."""
    words = line.split()
    if not words:
        raise LineError("An empty line is not a requirement.")
    item: dict[str, Any] = {"check": words[0]}
    rest = words[1:]
    if len(rest) >= 3 and rest[1] in COMPARATORS:
        metric, comparator, threshold = rest[:3]
        try:
            number = float(threshold)
        except ValueError:
            raise LineError(f"{line.strip()!r}: the threshold {threshold!r} is not a number."
                            ) from None
        if not math.isfinite(number):
            raise LineError(f"{line.strip()!r}: the threshold must be a finite number.")
        item.update(metric=metric, comparator=comparator,
                    threshold=int(number) if number.is_integer() and "." not in threshold
                    else number)
        rest = rest[3:]
    for word in rest:
        if word == "warn":
            item["level"] = WARN
        elif word == "external":
            item["external_allowed"] = True
        elif word.startswith("tasks="):
            tasks = [t for t in word.removeprefix("tasks=").split(",") if t]
            unknown = [t for t in tasks if t not in TASKS]
            if not tasks or unknown:
                raise LineError(f"{line.strip()!r}: tasks are {', '.join(TASKS)}.")
            item["tasks"] = tasks
        else:
            raise LineError(f"{line.strip()!r}: {word!r} is not understood. {LINE_HELP}")
    return item


@dataclass(frozen=True)
class Change:
    """One difference between two policy definitions, in words."""

    where: str
    before: str
    after: str


def quorum_text(tier: dict[str, Any]) -> str:
    """A tier's sign-off quorum in words: "1 review board, 1 risk officer"."""
    quorum = tier.get("signoffs") or {}
    return ", ".join(f"{quorum[r]} {r.replace('_', ' ')}" for r in SIGNOFF_ROLES
                     if r in quorum) or "none"


def _flag(value: Any) -> str:
    return "yes" if value else "no"


def definition_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """What ``after`` changes from ``before`` (a valid definition each; None: nothing before),
    in the order a person reads a policy: questionnaire, cut-offs, then each tier."""
    old = before or {"questionnaire": {"questions": [], "cutoffs": {}}, "tiers": {}}
    changes: list[Change] = []

    def compare(where: str, a: Any, b: Any) -> None:
        if a != b:
            changes.append(Change(where, "—" if a is None else str(a),
                                  "—" if b is None else str(b)))

    old_q = {q["key"]: q for q in old["questionnaire"]["questions"]}
    new_q = {q["key"]: q for q in after["questionnaire"]["questions"]}
    for key in [*new_q, *(k for k in old_q if k not in new_q)]:
        a, b = old_q.get(key), new_q.get(key)
        label = (b or a or {}).get("label", key)
        if a is None or b is None:
            compare(f"Question “{label}”", a and "asked", b and "asked")
            continue
        compare(f"Question “{label}”: weight", _number(a["weight"]), _number(b["weight"]))
        compare(f"Question “{label}”: wording", a["label"], b["label"])
        compare(f"Question “{label}”: answers (score)",
                ", ".join(f"{o['value']} ({_number(o['score'])})" for o in a["options"]),
                ", ".join(f"{o['value']} ({_number(o['score'])})" for o in b["options"]))
    for tier in ("1", "2"):
        compare(f"Cut-off: minimum points for tier {tier}",
                _cutoff(old["questionnaire"]["cutoffs"].get(f"tier{tier}")),
                _cutoff(after["questionnaire"]["cutoffs"].get(f"tier{tier}")))
    for tier in ("1", "2", "3"):
        a, b = old["tiers"].get(tier, {}), after["tiers"].get(tier, {})
        where = f"Tier {tier}"
        compare(f"{where}: revalidation every (months)", a.get("revalidation_months"),
                b.get("revalidation_months"))
        compare(f"{where}: sign-off quorum", quorum_text(a) if a else None, quorum_text(b))
        for key, label in (("conditional_approval", "conditional approval allowed"),
                           ("expired_waiver_suspends", "an expired waiver suspends"),
                           ("developers_may_deploy", "developers may deploy")):
            compare(f"{where}: {label}", _flag(a.get(key)) if a else None, _flag(b.get(key)))
        old_lines = [requirement_line(r) for r in a.get("required_evidence", [])]
        new_lines = [requirement_line(r) for r in b.get("required_evidence", [])]
        for line in old_lines:
            if line not in new_lines:
                changes.append(Change(f"{where}: required evidence", line, "removed"))
        for line in new_lines:
            if line not in old_lines:
                changes.append(Change(f"{where}: required evidence", "added", line))
    if before is not None:
        # Owners' attestations (issue 18): a definition that does not say has the default.
        a, b = (attestation_rules(d).as_dict() for d in (old, after))
        for key in ("months", "statement", "grace_days", "overdue_finding", "finding_severity"):
            compare(f"Owners' attestation: {key.replace('_', ' ')}", a[key], b[key])
        changes += _tool_changes(before.get("tools") or DEFAULT_TOOL_RULES,
                                 after.get("tools") or DEFAULT_TOOL_RULES)
    return changes


def _tool_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changes in the tool register's workflow (a definition without ``tools`` reads as
    the defaults it gets)."""
    changes: list[Change] = []
    for criticality in CRITICALITIES:
        a, b = old[criticality], new[criticality]
        where = f"Tools of {criticality} criticality"
        for key, label in (("review_months", "reviewed every (months)"),
                           ("reviewer", "reviewed by")):
            if a[key] != b[key]:
                changes.append(Change(f"{where}: {label}", str(a[key]), str(b[key])))
        changes += [Change(f"{where}: control", c, "removed")
                    for c in a["controls"] if c not in b["controls"]]
        changes += [Change(f"{where}: control", "added", c)
                    for c in b["controls"] if c not in a["controls"]]
    return changes


def _cutoff(value: Any) -> str | None:
    return None if value is None else _number(value)

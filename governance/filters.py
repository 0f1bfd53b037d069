"""The findings filter: one reading of the query string for the findings page, the findings API
and the findings CSV export, so each holds the same findings for the same parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import ValidationFailed
from core.ids import parse_id
from governance.models import (
    Finding,
    FindingCategory,
    FindingStatus,
    RootCause,
    Severity,
    SR117Area,
)
from governance.models.findings import AGEING_BUCKETS, UNCLASSIFIED, FindingQuerySet

# The query-string names the filter reads, in the order an export records them.
FINDING_PARAMS = ("status", "severity", "version", "overdue", "category", "root_cause",
                  "sr117_area", "ageing")
STATUSES = ("unresolved", *FindingStatus.values, "all")
TAXONOMY = {"category": FindingCategory.values, "root_cause": RootCause.values,
            "sr117_area": SR117Area.values}
AGEING_KEYS = tuple(b[0] for b in AGEING_BUCKETS)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "")


def _one_of(name: str, value: str, allowed: tuple[str, ...] | list[str]) -> str:
    return "" if value in allowed else (
        f"Unknown {name.replace('_', ' ')} {value!r}; use one of: {', '.join(allowed)}.")


@dataclass
class FindingFilter:
    """Which findings to list: ``status`` (``unresolved``, one status, or ``all``), and, when
    set, ``severity``, ``version`` (its id), ``overdue`` (unresolved and past due), the taxonomy
    (each a value of its choices or ``none`` for not classified yet) and the ``ageing`` bucket
    of days open. ``errors`` names each parameter that was not understood, with how to fix it;
    a field in error does not filter."""

    status: str = "unresolved"
    severity: str = ""
    version: int | None = None
    overdue: bool = False
    category: str = ""
    root_cause: str = ""
    sr117_area: str = ""
    ageing: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, default_status: str = "unresolved"
                    ) -> FindingFilter:
        """Read the filter from a query string (or an export's recorded parameters); a
        parameter left out or empty does not filter (``status`` then takes
        ``default_status``: the page's ``unresolved``, the API's ``all``)."""
        raw = {name: params.get(name) for name in FINDING_PARAMS}
        errors: dict[str, str] = {}
        text: dict[str, str] = {}
        for name, value in raw.items():
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[name] = f"Give {name} as text, as in the page's query string."
                value = ""
            text[name] = value.strip()
        wanted = cls(status=text["status"] or default_status)
        if "status" not in errors:
            errors["status"] = _one_of("status", wanted.status, STATUSES)
        if text["severity"]:
            wanted.severity = text["severity"]
            errors["severity"] = _one_of("severity", wanted.severity, Severity.values)
        if text["version"]:
            wanted.version = parse_id(text["version"])
            if wanted.version is None:
                errors["version"] = (f"Give the version as its numeric id, not "
                                     f"{text['version']!r}.")
        if text["overdue"].lower() in TRUE:
            wanted.overdue = True
        elif text["overdue"].lower() not in FALSE:
            errors["overdue"] = f"overdue is true or false, not {text['overdue']!r}."
        for name, values in TAXONOMY.items():
            if text[name]:
                setattr(wanted, name, text[name])
                errors[name] = _one_of(name, text[name], [*values, UNCLASSIFIED])
        if text["ageing"]:
            wanted.ageing = text["ageing"]
            errors["ageing"] = _one_of("ageing bucket", wanted.ageing, AGEING_KEYS)
        wanted.errors = {name: [message] for name, message in errors.items() if message}
        return wanted

    def raise_errors(self) -> None:
        """A 400 naming each parameter that was not understood."""
        if self.errors:
            raise ValidationFailed("The findings filter is invalid: " + " ".join(
                m for msgs in self.errors.values() for m in msgs), fields=self.errors)

    def apply(self, findings: FindingQuerySet, today: dt.date) -> FindingQuerySet:
        """``findings`` narrowed to this filter (days open and overdue counted to ``today``);
        ordered soonest due first, as the page and the export list them."""
        ok = {name: getattr(self, name) if name not in self.errors else ""
              for name in ("status", "severity", "category", "root_cause", "sr117_area",
                           "ageing")}
        qs = findings.shown(ok["status"] or "unresolved")
        if ok["severity"]:
            qs = qs.filter(severity=ok["severity"])
        if self.version is not None:
            qs = qs.filter(version_id=self.version)
        if self.overdue:
            qs = qs.overdue(today)
        qs = qs.classified(category=ok["category"], root_cause=ok["root_cause"],
                           sr117_area=ok["sr117_area"])
        return qs.aged(ok["ageing"], today)

    def as_params(self) -> dict[str, str]:
        """The filter as query-string parameters: ``status`` always, the others when set (what
        an export records and the page's export form carries)."""
        params = {"status": self.status, "severity": self.severity,
                  "version": str(self.version) if self.version is not None else "",
                  "overdue": "true" if self.overdue else "", "category": self.category,
                  "root_cause": self.root_cause, "sr117_area": self.sr117_area,
                  "ageing": self.ageing}
        return {name: value for name, value in params.items() if value}


def findings_listed(user: Any, wanted: FindingFilter, today: dt.date) -> FindingQuerySet:
    """The findings page's list for ``user`` (and so its CSV export's rows): the findings of
    models they may see, narrowed by ``wanted``, soonest due first."""
    return wanted.apply(Finding.objects.visible_to(user).listed(), today)

"""Bulk onboarding: import an existing inventory from CSV, with its risk tiers, as one audited
transaction (a dry run first names every problem by line and column and writes nothing), and
export the inventory in the same columns.

The registry reads and checks the model columns (registry.onboarding); governance adds the
``tier`` column, recorded as the model's intake with the tier carried over from the previous
inventory until someone answers the tiering questionnaire.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core import audit, permissions
from core.audit import refuse
from core.errors import ValidationFailed
from core.models import User
from governance.models import ModelIntake, PolicyVersion
from registry import onboarding
from registry.models import RegisteredModel
from registry.onboarding import Column, RowError

TIER_COLUMN = Column("tier", False, "Its risk tier in the previous inventory: 1 (highest), 2 "
                                    "or 3; empty when it has none yet (answer the intake "
                                    "questionnaire later).")
COLUMNS: tuple[Column, ...] = (*onboarding.COLUMNS, TIER_COLUMN)


@dataclass
class ImportReport:
    """What an import (or its dry run) found and did."""

    dry_run: bool
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # the slugs of the models created

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {"dry_run": self.dry_run, "rows": self.rows, "valid": self.ok,
                "errors": [e.as_dict() for e in self.errors], "created": self.created}


def _tier_errors(rows: list[dict[str, str]]) -> list[RowError]:
    return [RowError(int(r["__line__"]), "tier", f"{r['tier']!r} is not a tier: write 1, 2 or 3, "
                                                 "or leave it empty.")
            for r in rows if r.get("tier", "") not in ("", "1", "2", "3")]


def inventory_import(*, actor: User, data: bytes, dry_run: bool,
                     filename: str = "") -> ImportReport:
    """Check an inventory CSV and — unless ``dry_run`` or anything is wrong — create every model
    in it, with its intake where a tier is given, in one transaction: all rows or none.

    Administrators only. The real import is audited as one ``inventory.import`` event besides
    each model's ``model.create``.
    """
    if not permissions.can_import_inventory(actor):
        refuse(actor, "Only administrators import an inventory.",
               attempted="inventory.import", code=permissions.WRONG_ROLE)
    report = ImportReport(dry_run=dry_run)
    rows, errors = onboarding.read_csv(data, columns=COLUMNS)
    report.rows = len(rows)
    if errors:
        report.errors = errors
        return report
    checked, errors = onboarding.check_rows(rows)
    report.errors = sorted(errors + _tier_errors(rows), key=lambda e: (e.line, e.column))
    tiered = [r for r in checked if r.values.get("tier")]
    currents = list(PolicyVersion.objects.all_current()) if tiered else []
    if tiered and not currents:
        report.errors.append(RowError(0, "tier", "No governance policy is current, so tiers "
                                                 "cannot be recorded: make a policy current "
                                                 "first, or leave the tier column empty."))
    if dry_run or report.errors:
        return report
    now = timezone.now()
    with transaction.atomic():
        models = onboarding.models_create(actor=actor, rows=checked)
        by_slug = {m.slug: m for m in models}
        for row in tiered:
            tier = int(row.values["tier"])
            # The policy of the model's scope (its business line or legal entity), as at intake.
            policy = PolicyVersion.objects.current_for(by_slug[row.slug], currents)
            if policy is None:
                raise ValidationFailed(
                    f"Line {row.line}: no current policy covers {row.slug} (its business line "
                    "or legal entity) and there is no default policy, so its tier cannot be "
                    "recorded: make a policy current for it, or leave its tier empty. Nothing "
                    "was imported.", field="tier")
            intake = ModelIntake.objects.create(
                model=by_slug[row.slug], is_model=True, completed_by=actor, completed_at=now,
                rationale=f"Tier {tier} carried over from the inventory imported on "
                          f"{now:%Y-%m-%d} by {actor.username}; answer the tiering "
                          "questionnaire to score it under the current policy.",
                answers={}, scoring={"imported": True}, computed_tier=tier,
                policy_version=policy)
            audit.record(action="intake.record", actor=actor, obj=intake, payload={
                "is_model": True, "computed_tier": tier, "imported": True,
                "policy_version": str(policy), "tier": {"before": None, "after": tier}})
        report.created = [m.slug for m in models]
        audit.record(action="inventory.import", actor=actor, payload={
            "filename": filename, "rows": report.rows, "created": report.created,
            "tiered": len(tiered)})
    return report


def inventory_csv(models: Iterable[RegisteredModel]) -> str:
    """The models in the import's columns (the import reads the file back unchanged)."""
    models = list(models)
    tiers = {i.model_id: i.tier for i in ModelIntake.objects.filter(
        model_id__in=[m.pk for m in models])}
    return onboarding.write_csv(
        ({**onboarding.model_row(m), "tier": str(tiers.get(m.pk) or "")} for m in models),
        columns=COLUMNS)


def inventory_export(*, actor: User) -> str:
    """The inventory the actor may see, as CSV (auditors and the board see everything)."""
    models = (RegisteredModel.objects.visible_to(actor).select_related("team", "owner")
              .prefetch_related("developers", "upstream_models", "tags").order_by("name"))
    rows = list(models)
    text = inventory_csv(rows)
    audit.record(action="inventory.export", actor=actor, payload={"models": len(rows)})
    return text

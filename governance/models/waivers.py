"""Waivers: exceptions that let a version proceed despite one blocking item, until they expire."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from governance.models.findings import Finding
from registry.models import ModelVersion, RegisteredModel


class WaiverStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class WaiverQuerySet(models.QuerySet):
    def visible_to(self, user) -> WaiverQuerySet:
        return self.filter(version__model__in=RegisteredModel.objects.visible_to(user).values("pk"))

    def listed(self) -> WaiverQuerySet:
        """The waivers list (page and CSV export): newest grant first, with what it shows."""
        return self.select_related("version__model", "approved_by", "ended_by").order_by(
            "-granted_at", "-pk")

    def in_force(self, now: dt.datetime | None = None) -> WaiverQuerySet:
        """Active and not yet past their expiry (the beat task marks them expired soon after)."""
        return self.filter(status=WaiverStatus.ACTIVE, expires_at__gt=now or timezone.now())

    def expiring(self, now: dt.datetime, days: int) -> WaiverQuerySet:
        return self.in_force(now).filter(expires_at__lte=now + dt.timedelta(days=days))


class Waiver(models.Model):
    """An exception: lets a version proceed despite a blocking finding (``finding``) or a missing
    or failing evidence check (``check_name``), under compensating controls, until it expires."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="waivers")
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="waivers")
    check_name = models.CharField("evidence check", max_length=100, blank=True)
    reason = models.TextField()
    compensating_controls = models.TextField()
    limits_of_use = models.TextField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=WaiverStatus.choices,
                              default=WaiverStatus.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+")
    end_reason = models.TextField(blank=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(finding__isnull=False) & Q(check_name=""))
                | (Q(finding__isnull=True) & ~Q(check_name="")),
                name="waiver_covers_one_thing"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="waiver_status_expiry")]

    def __str__(self) -> str:
        return f"Waiver {self.pk} of {self.covers_label}"

    @property
    def audit_model_id(self) -> int:
        return self.version.model_id

    @property
    def blocker_kind(self) -> str:
        return "finding" if self.finding_id else "evidence"

    @property
    def blocker_key(self) -> str:
        return str(self.finding_id) if self.finding_id else self.check_name

    @property
    def covers_label(self) -> str:
        return f"finding F-{self.finding_id}" if self.finding_id else f"check '{self.check_name}'"

    def is_in_force(self, now: dt.datetime | None = None) -> bool:
        return self.status == WaiverStatus.ACTIVE and self.expires_at > (now or timezone.now())

"""Deployments: the endpoints applications call, and which approved versions answer on them.

An endpoint points at a primary version, optionally a canary version that takes a share of the
traffic and a shadow version that sees every request but whose answers are only logged. Which
version may be pointed at (servable: approved, signed, keys in force) and by whom (deployers,
administrators, segregated from the version's developers) is decided in ``serving.services``;
the serving gateway reads these rows to know what it may answer with.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from registry.models import ModelVersion


class EndpointStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class EndpointQuerySet(models.QuerySet):
    def visible_to(self, user) -> EndpointQuerySet:
        """Endpoints of the models the user may see."""
        return self.filter(primary_version__in=ModelVersion.objects.visible_to(user).values("pk"))


class Endpoint(models.Model):
    """A name applications call for predictions (``/predict/<slug>``)."""

    slug = models.SlugField(max_length=64, unique=True,
                            help_text="The name applications call; letters, digits, - and _.")
    description = models.TextField(blank=True)
    production = models.BooleanField(
        default=True, help_text="Production endpoints decide about people; developers of a "
        "version may not deploy it to one (segregation of duties).")
    status = models.CharField(max_length=10, choices=EndpointStatus.choices,
                              default=EndpointStatus.ACTIVE)
    primary_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    canary_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+",
                                       null=True, blank=True)
    canary_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of requests (0-100) the canary version answers.")
    shadow_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+",
                                       null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(canary_percent__gte=0, canary_percent__lte=100),
                name="endpoint_canary_percent_range"),
            models.CheckConstraint(
                condition=models.Q(canary_version__isnull=False) | models.Q(canary_percent=0),
                name="endpoint_no_share_without_canary"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def audit_model_id(self) -> int:
        return self.primary_version.model_id

    def deployed_versions(self) -> list[tuple[str, ModelVersion]]:
        """(role, version) for each version on the endpoint: primary, canary, shadow."""
        pairs = [("primary", self.primary_version), ("canary", self.canary_version),
                 ("shadow", self.shadow_version)]
        return [(role, version) for role, version in pairs if version is not None]

    def problems(self) -> list[str]:
        """Why the endpoint does not serve as configured, read now from its versions (never a
        stored flag that could go stale): suspended, or a version on it no longer servable."""
        problems = ["The endpoint is suspended: it answers no requests."] if (
            self.status == EndpointStatus.SUSPENDED) else []
        for role, version in self.deployed_versions():
            problems += [f"The {role} version is not servable: {problem}"
                         for problem in version.servability_problems()]
        return problems


class ChangeAction(models.TextChoices):
    CREATE = "create", "Created"
    SET_CANARY = "set_canary", "Canary set"
    CLEAR_CANARY = "clear_canary", "Canary taken off"
    SET_SHADOW = "set_shadow", "Shadow set"
    CLEAR_SHADOW = "clear_shadow", "Shadow taken off"
    PROMOTE = "promote", "Canary promoted"
    ROLLBACK = "rollback", "Rolled back"
    SUSPEND = "suspend", "Suspended"
    RESUME = "resume", "Resumed"


class EndpointChange(models.Model):
    """One change of an endpoint, with its configuration after it: the endpoint's history (its
    page lists these with people's names), and what a rollback reads to know the previous
    primary. Each change is also an audit event (``core.audit``), written in the same
    transaction."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=20, choices=ChangeAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True)
    previous_primary = models.ForeignKey(ModelVersion, on_delete=models.PROTECT,
                                         related_name="+", null=True, blank=True)
    primary_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    canary_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+",
                                       null=True, blank=True)
    canary_percent = models.PositiveSmallIntegerField(default=0)
    shadow_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+",
                                       null=True, blank=True)
    status = models.CharField(max_length=10, choices=EndpointStatus.choices)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.action}"

    @property
    def audit_model_id(self) -> int:
        return self.primary_version.model_id

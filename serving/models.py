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

from core import permissions
from core.models import ApiToken
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


class AppKeyQuerySet(models.QuerySet):
    def visible_to(self, user) -> AppKeyQuerySet:
        """Deployers and administrators (who manage keys) and auditors see every key."""
        if permissions.can_manage_app_keys(user) or permissions.can_export_audit(user):
            return self.all()
        return self.none()

    def usable(self) -> AppKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class AppKey(models.Model):
    """An application's key for the serving gateway, scoped to the endpoints it may call.

    Hashed like personal API tokens (``core.models.ApiToken``): the key an application receives
    once is ``assay_app_<prefix>_<secret>``; the prefix finds the row, the SHA-256 of the whole
    key proves it (the secret has 256 bits of entropy, so a plain hash is enough).
    """

    name = models.CharField(max_length=100, help_text="Which application uses the key.")
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    endpoints = models.ManyToManyField(Endpoint, related_name="app_keys")
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Requests per second this key may make; empty for the gateway's default.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", null=True, blank=True)

    objects = AppKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @staticmethod
    def digest_of(key: str) -> str:
        return ApiToken.digest_of(key)

    @property
    def status(self) -> str:
        return "revoked" if self.revoked_at else "active"


class PredictionRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    CANARY = "canary", "Canary"
    SHADOW = "shadow", "Shadow"


class PredictionLog(models.Model):
    """A sampled prediction of the gateway, for monitoring: what came in (with the configured
    fields dropped or replaced by an HMAC), what the version answered, how long it took. Written
    in batches by a background thread of the gateway, deleted after the retention period."""

    endpoint_slug = models.CharField(max_length=64)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    artifact_sha256 = models.CharField(max_length=64)
    role = models.CharField(max_length=10, choices=PredictionRole.choices)
    request_id = models.CharField(max_length=64)
    app_key_prefix = models.CharField(max_length=16)
    inputs = models.JSONField()
    outputs = models.JSONField()
    latency_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint_slug", "-created_at"], name="prediction_log_by_ep"),
                   models.Index(fields=["created_at"], name="prediction_log_age"),
                   # Outcomes and overrides are joined to predictions by request id.
                   models.Index(fields=["request_id"], name="prediction_log_request")]

    def __str__(self) -> str:
        return f"{self.endpoint_slug} {self.role} {self.request_id}"

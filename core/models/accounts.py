"""People and what they may do: users, teams, roles and personal API tokens."""

from __future__ import annotations

import hashlib
from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    DATA_SCIENTIST = "data_scientist", "Data scientist"
    VALIDATOR = "validator", "Validator"
    REVIEW_BOARD = "review_board", "Review board member"
    RISK_OFFICER = "risk_officer", "Risk officer"
    AUDITOR = "auditor", "Auditor"
    DEPLOYER = "deployer", "Deployer"
    ADMIN = "admin", "Administrator"


class Team(models.Model):
    """A group of people who own models together; every model belongs to exactly one team."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """An Assay user. Roles come from RoleGrant rows; a user may hold several."""

    teams = models.ManyToManyField(Team, related_name="members", blank=True)
    # Bumped to end every session of the user at once (deactivation), so that reactivating an
    # account does not bring its old sessions back.
    session_epoch = models.PositiveIntegerField(default=0)
    # The identity provider's subject ("sub") for people who sign in through single sign-on
    # (core/sso): it, not the username or email, ties the provider's person to this account.
    oidc_subject = models.CharField(max_length=255, unique=True, null=True, blank=True,
                                    editable=False)

    class Meta:
        ordering = ["username"]

    @cached_property
    def roles(self) -> frozenset[str]:
        if not self.pk or not self.is_active:
            return frozenset()
        return frozenset(self.role_grants.values_list("role", flat=True))

    @cached_property
    def team_ids(self) -> frozenset[int]:
        if not self.pk:
            return frozenset()
        return frozenset(self.teams.values_list("id", flat=True))

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def get_session_auth_hash(self) -> str:
        """Django checks this on every request; including the epoch ends old sessions."""
        return salted_hmac(
            "assay.core.User.session",
            f"{self.password}:{self.session_epoch}",
            algorithm="sha256",
        ).hexdigest()

    # Django's admin and auth machinery read these; Assay's roles decide them.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.has_role(Role.ADMIN, Role.AUDITOR)

    @is_staff.setter
    def is_staff(self, value: bool) -> None:
        """Ignored: admin access follows the administrator and auditor roles."""


class RoleGrant(models.Model):
    """One role held by one user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="unique_role_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now(),
                           user__is_active=True)


class ApiToken(models.Model):
    """A personal REST API token. Only a SHA-256 digest of the secret is stored.

    The token a user sees once is ``assay_<prefix>_<secret>``: the prefix finds the row, the digest
    of the whole token proves it. The secret has 256 bits of entropy, so a plain hash is enough.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now() and self.user.is_active

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"

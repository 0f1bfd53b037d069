"""Accounts from the identity provider's claims: created at the first sign-in, re-synced at each.

The provider is the source of truth for who someone is and which groups they are in; the maps in
settings (``ASSAY_OIDC_GROUP_ROLES``, ``ASSAY_OIDC_GROUP_TEAMS``) turn groups into Assay's roles and
teams. Whether an account may sign in at all stays Assay's: a deactivated account is refused
whatever the provider says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction

from core import audit, services
from core.audit import SYSTEM
from core.models import Role, Team, User
from core.sso.provider import provider_name


class SignInRefused(Exception):
    """Single sign-on worked at the provider but Assay does not let this person in; the message
    says why and what to do."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def claimed_groups(claims: dict[str, Any]) -> list[str]:
    raw = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",")]
    return sorted({str(group) for group in raw if str(group)})


def mapped_access(groups: Iterable[str]) -> tuple[set[str], set[str]]:
    """The roles and team slugs the configured maps give these groups (the default roles when
    no group maps to a role)."""
    roles: set[str] = set()
    teams: set[str] = set()
    for group in groups:
        roles.update(settings.OIDC_GROUP_ROLES.get(group, []))
        teams.update(settings.OIDC_GROUP_TEAMS.get(group, []))
    if not roles:
        roles.update(settings.OIDC_DEFAULT_ROLES)
    unknown = sorted(roles - set(Role.values))
    if unknown:
        raise SignInRefused(
            f"Assay's group-to-role map names unknown roles ({', '.join(unknown)}); an "
            f"administrator must fix ASSAY_OIDC_GROUP_ROLES (roles: {', '.join(Role.values)}).",
            code="sso_misconfigured")
    return roles, teams


def _teams(slugs: Iterable[str]) -> list[Team]:
    """The mapped teams, creating (audited) those that do not exist yet, named by their slug."""
    teams = []
    for slug in sorted(slugs):
        team = Team.objects.filter(slug=slug).first()
        teams.append(team or services.team_create(actor=SYSTEM, name=slug, slug=slug))
    return teams


def _refuse(message: str, *, code: str, principal: str, payload: dict[str, Any]) -> SignInRefused:
    audit.record_security(action="auth.sso_refused", principal=principal, reason=code,
                          payload={**payload, "message": message})
    return SignInRefused(message, code=code)


def user_sign_in_from_claims(*, claims: dict[str, Any]) -> User:
    """The account for a person the provider has just authenticated, created or brought up to
    date (name, email, roles and teams, each change audited). Raises ``SignInRefused`` (recorded
    as a security event) for a deactivated account, someone whose groups give no role, a
    break-glass account, or claims Assay cannot use."""
    subject = str(claims.get("sub") or "")
    username = str(claims.get(settings.OIDC_USERNAME_CLAIM) or "").strip()
    groups = claimed_groups(claims)
    facts = {"sub": subject, "username": username, "groups": groups}
    if not subject or not username:
        raise _refuse(f"{provider_name()} sent no '{settings.OIDC_USERNAME_CLAIM}' claim (or no "
                      "'sub'), so Assay cannot tell who you are. An administrator must set "
                      "ASSAY_OIDC_USERNAME_CLAIM to a claim the provider sends.",
                      code="sso_claims_missing", principal=username or subject or "unknown",
                      payload=facts)
    roles, team_slugs = mapped_access(groups)
    user = (User.objects.filter(oidc_subject=subject).first()
            or User.objects.filter(username__iexact=username, oidc_subject__isnull=True).first())
    if user is not None and user.username in settings.BREAK_GLASS_USERS:
        raise _refuse(f"The account {user.username!r} is a break-glass administrator: it signs "
                      "in with its password only, never through single sign-on.",
                      code="sso_break_glass", principal=username, payload=facts)
    if user is not None and not user.is_active:
        raise _refuse("Your Assay account is deactivated. Ask an Assay administrator to "
                      "reactivate it if you should have access again.",
                      code="sso_deactivated", principal=user.username, payload=facts)
    if user is None and not roles:
        raise _refuse(_no_role_message(groups), code="sso_no_role", principal=username,
                      payload=facts)
    if user is None and User.objects.filter(username__iexact=username).exists():
        raise _refuse(f"The username {username!r} belongs to another Assay account, tied to "
                      f"another person at {provider_name()}. Ask an Assay administrator to "
                      "rename one of the two accounts.",
                      code="sso_username_taken", principal=username, payload=facts)
    with transaction.atomic():
        details = {"email": str(claims.get("email") or ""),
                   "first_name": str(claims.get("given_name") or "")[:150],
                   "last_name": str(claims.get("family_name") or "")[:150]}
        if user is None:
            user = services.user_create(
                actor=SYSTEM, username=username, password="", check_password=False,
                email=details["email"], first_name=details["first_name"],
                last_name=details["last_name"])
            user.set_unusable_password()
            user.oidc_subject = subject
            user.save(update_fields=["password", "oidc_subject"])
            audit.record(action="user.sso_link", actor=SYSTEM, obj=user,
                         payload={"sub": subject, "created": True})
        else:
            _update_details(user, subject, details)
        changes = services.user_set_access(actor=SYSTEM, user=user, roles=roles,
                                           teams=_teams(team_slugs))
        if changes:
            audit.record(action="user.sso_sync", actor=SYSTEM, obj=user,
                         payload={"groups": groups, "changes": changes})
    if not roles:
        # Their roles were taken (committed above): the provider no longer puts them in a group
        # that maps to one.
        raise _refuse(_no_role_message(groups), code="sso_no_role", principal=username,
                      payload=facts)
    return user


def _update_details(user: User, subject: str, details: dict[str, str]) -> None:
    changed = {field: value for field, value in details.items()
               if value and getattr(user, field) != value}
    linked = user.oidc_subject is None
    if not changed and not linked:
        return
    for field, value in changed.items():
        setattr(user, field, value)
    user.oidc_subject = subject
    user.save(update_fields=[*changed, "oidc_subject"])
    if linked:
        audit.record(action="user.sso_link", actor=SYSTEM, obj=user,
                     payload={"sub": subject, "created": False})
    if changed:
        audit.record(action="user.sso_update", actor=SYSTEM, obj=user, payload=changed)


def _no_role_message(groups: list[str]) -> str:
    mapped = sorted(settings.OIDC_GROUP_ROLES)
    return (f"You signed in at {provider_name()}, but none of your groups "
            f"({', '.join(groups) or 'none'}) gives a role in Assay. Ask your access administrator "
            f"to add you to one of: {', '.join(mapped) or '(no group is mapped yet)'}.")

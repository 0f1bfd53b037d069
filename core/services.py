"""Writes to accounts: users, teams, roles and API tokens.

Every write in Assay goes through a service function like these, whatever the front door (page,
API, admin, management command): it checks permission, changes rows in one transaction and
records exactly one audit event per change.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from core import audit, permissions
from core.audit import SYSTEM
from core.errors import Conflict, ValidationFailed
from core.limits import limit_text, text_errors
from core.models import ApiToken, Role, RoleGrant, Team, User


def _require_account_manager(actor: User | None, *, attempted: str) -> None:
    if actor is not SYSTEM and not permissions.can_manage_accounts(actor):
        audit.refuse(actor, "Only administrators can manage users, teams and roles.",
                     attempted=attempted)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(
            f"Unknown role {role!r}; choose one of: {', '.join(Role.values)}.", field="roles"
        )


def team_create(*, actor: User | None, name: str, slug: str = "", description: str = "") -> Team:
    """Create a team."""
    _require_account_manager(actor, attempted="team_create")
    name = name.strip()
    if not name:
        raise ValidationFailed("A team needs a name.", field="name")
    limit_text({"description": description})
    if len(name) > 200:
        raise ValidationFailed("Team names are at most 200 characters.", field="name")
    slug = slugify(slug or name)[:50]
    if Team.objects.filter(slug=slug).exists() or Team.objects.filter(name=name).exists():
        raise Conflict(f"A team named {name!r} (slug {slug!r}) already exists; pick another name.",
                       field="name")
    with transaction.atomic():
        team = Team.objects.create(name=name, slug=slug, description=description)
        audit.record(action="team.create", actor=actor, obj=team,
                     payload={"name": name, "slug": slug})
    return team


def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    roles: Iterable[str] = (),
    teams: Iterable[Team] = (),
    check_password: bool = True,
) -> User:
    """Create a user with roles and team memberships, as one audited change."""
    _require_account_manager(actor, attempted="user_create")
    roles, teams = sorted(set(roles)), list(teams)
    for role in roles:
        _check_role(role)
    if not username.strip():
        raise ValidationFailed("A user needs a username.", field="username")
    too_long = text_errors({"username": username, "email": email, "first_name": first_name,
                            "last_name": last_name},
                           {"username": 150, "email": 254, "first_name": 150, "last_name": 150})
    if too_long:
        raise ValidationFailed(" ".join(m[0] for m in too_long.values()), fields=too_long)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"The username {username!r} is taken; choose another.", field="username")
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages), field="password") from exc
    user.set_password(password)
    with transaction.atomic():
        user.save()
        RoleGrant.objects.bulk_create([RoleGrant(user=user, role=r) for r in roles])
        user.teams.set(teams)
        audit.record(action="user.create", actor=actor, obj=user, payload={
            "username": username, "email": email, "roles": roles,
            "teams": sorted(t.slug for t in teams),
        })
    return user


def role_grant(*, actor: User | None, user: User, role: str) -> None:
    """Give a user a role (administrators only); granting a held role changes nothing."""
    _require_account_manager(actor, attempted="role_grant")
    _check_role(role)
    with transaction.atomic():
        _, created = RoleGrant.objects.get_or_create(user=user, role=role)
        if created:
            audit.record(action="user.role_grant", actor=actor, obj=user, payload={"role": role})
    user.__dict__.pop("roles", None)


def role_revoke(*, actor: User | None, user: User, role: str) -> None:
    """Take a role from a user (administrators only)."""
    _require_account_manager(actor, attempted="role_revoke")
    _check_role(role)
    with transaction.atomic():
        deleted, _ = RoleGrant.objects.filter(user=user, role=role).delete()
        if deleted:
            audit.record(action="user.role_revoke", actor=actor, obj=user, payload={"role": role})
    user.__dict__.pop("roles", None)


def team_add_member(*, actor: User | None, team: Team, user: User) -> None:
    """Add a user to a team: they then see the team's models (administrators only)."""
    _require_account_manager(actor, attempted="team_add_member")
    with transaction.atomic():
        if not team.members.filter(pk=user.pk).exists():
            team.members.add(user)
            audit.record(action="team.add_member", actor=actor, obj=team,
                         payload={"user_id": user.pk, "username": user.username})
    user.__dict__.pop("team_ids", None)


def team_remove_member(*, actor: User | None, team: Team, user: User) -> None:
    """Remove a user from a team (administrators only)."""
    _require_account_manager(actor, attempted="team_remove_member")
    with transaction.atomic():
        if team.members.filter(pk=user.pk).exists():
            team.members.remove(user)
            audit.record(action="team.remove_member", actor=actor, obj=team,
                         payload={"user_id": user.pk, "username": user.username})
    user.__dict__.pop("team_ids", None)


def user_deactivate(*, actor: User | None, user: User, reason: str = "") -> None:
    """Deactivate an account: its sessions end and its API tokens are revoked at once."""
    _require_account_manager(actor, attempted="user_deactivate")
    if actor is not SYSTEM and actor.pk == user.pk:
        raise Conflict("You cannot deactivate your own account; ask another administrator.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.is_active:
            return
        now = timezone.now()
        user.is_active = False
        user.session_epoch += 1
        user.save(update_fields=["is_active", "session_epoch"])
        revoked = user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
        audit.record(action="user.deactivate", actor=actor, obj=user,
                     payload={"reason": reason, "tokens_revoked": revoked})


def user_reactivate(*, actor: User | None, user: User) -> None:
    """Let a deactivated user sign in again; their old sessions and tokens stay ended."""
    _require_account_manager(actor, attempted="user_reactivate")
    with transaction.atomic():
        updated = User.objects.filter(pk=user.pk, is_active=False).update(is_active=True)
        if updated:
            audit.record(action="user.reactivate", actor=actor, obj=user)


def user_set_access(*, actor: User | None, user: User, roles: Iterable[str],
                    teams: Iterable[Team]) -> list[str]:
    """Make a user's roles and teams exactly these (administrators only), as one transaction of
    grants, revocations and memberships, each audited. Returns what changed, in words.

    Administrators cannot take their own administrator role: another administrator must, so that
    nobody locks the installation out by accident."""
    _require_account_manager(actor, attempted="user_set_access")
    wanted_roles, wanted_teams = set(roles), {team.pk: team for team in teams}
    for role in wanted_roles:
        _check_role(role)
    if (actor is not SYSTEM and actor.pk == user.pk and Role.ADMIN in user.roles
            and Role.ADMIN not in wanted_roles):
        raise Conflict("You cannot take your own administrator role; ask another "
                       "administrator.", field="roles")
    held_roles = set(user.role_grants.values_list("role", flat=True))
    held_teams = {team.pk: team for team in user.teams.all()}
    changed: list[str] = []
    with transaction.atomic():
        for role in sorted(wanted_roles - held_roles):
            role_grant(actor=actor, user=user, role=role)
            changed.append(f"granted {Role(role).label.lower()}")
        for role in sorted(held_roles - wanted_roles):
            role_revoke(actor=actor, user=user, role=role)
            changed.append(f"took {Role(role).label.lower()}")
        for pk in sorted(wanted_teams.keys() - held_teams.keys()):
            team_add_member(actor=actor, team=wanted_teams[pk], user=user)
            changed.append(f"added to {wanted_teams[pk].name}")
        for pk in sorted(held_teams.keys() - wanted_teams.keys()):
            team_remove_member(actor=actor, team=held_teams[pk], user=user)
            changed.append(f"removed from {held_teams[pk].name}")
    return changed


def tokens_revoke_all(*, actor: User | None, user: User) -> int:
    """Revoke every active API token of a user (administrators: a lost laptop, a leaked token).
    Returns how many were revoked; one audit event names the count."""
    _require_account_manager(actor, attempted="tokens_revoke_all")
    with transaction.atomic():
        revoked = user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        if revoked:
            audit.record(action="user.tokens_revoke", actor=actor, obj=user,
                         payload={"tokens_revoked": revoked})
    return revoked


def token_create(*, actor: User, name: str, expires_in_days: int) -> tuple[ApiToken, str]:
    """Create a personal API token for ``actor``. Returns the row and the token, shown once."""
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the token a name that says where it is used, e.g. 'CI pipeline'."]
    elif len(name) > 100:
        errors["name"] = ["Token names are at most 100 characters."]
    limit = settings.API_TOKEN_MAX_DAYS
    if not isinstance(expires_in_days, int) or not 1 <= expires_in_days <= limit:
        errors["expires_in_days"] = [f"Choose an expiry between 1 and {limit} days."]
    if errors:
        raise ValidationFailed("The token could not be created.", fields=errors)
    if actor.api_tokens.usable().filter(name=name).exists():
        raise Conflict(f"You already have an active token named {name!r}; revoke it or pick "
                       "another name.", field="name")
    prefix = secrets.token_hex(6)
    plaintext = f"assay_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor, name=name, prefix=prefix, digest=ApiToken.digest_of(plaintext),
            expires_at=timezone.now() + dt.timedelta(days=expires_in_days),
        )
        audit.record(action="token.create", actor=actor, obj=token, payload={
            "name": name, "prefix": prefix, "expires_at": token.expires_at,
        })
    return token, plaintext


def token_revoke(*, actor: User, token: ApiToken) -> None:
    """Revoke a token: its owner may revoke their own; administrators anyone's."""
    if token.user_id != actor.pk and not permissions.can_manage_accounts(actor):
        audit.refuse(actor, "You can only revoke your own API tokens.", attempted="token_revoke",
                     target=token)
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            audit.record(action="token.revoke", actor=actor, obj=token,
                         payload={"name": token.name, "prefix": token.prefix})


def login_succeeded(*, user: User, client_ip: str) -> None:
    """Record a successful sign-in (a change of who is using Assay, so part of the trail)."""
    audit.atomic_record(action="auth.login", actor=user, obj=user, payload={"ip": client_ip})


def logout_recorded(*, user: User, at_provider: bool = False) -> None:
    """Record a sign-out; ``at_provider`` when the browser goes on to sign out at the identity
    provider too."""
    audit.atomic_record(action="auth.logout", actor=user, obj=user,
                        payload={"at_provider": True} if at_provider else None)


def ensure_user(**kwargs: Any) -> User:
    """Create the user unless one with that username exists (idempotent demo loading)."""
    existing = User.objects.filter(username=kwargs["username"]).first()
    if existing:
        return existing
    try:
        return user_create(actor=SYSTEM, check_password=False, **kwargs)
    except IntegrityError:  # a concurrent loader won
        return User.objects.get(username=kwargs["username"])

"""What every governance service shares: the audited refusal, required text, JSON checks, and the
refusal to add records to a closed version."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from core import audit
from core.errors import Conflict, PermissionRefused, ValidationFailed
from core.models import User
from governance.models import CLOSED
from registry.models import ModelVersion, VersionState

S = VersionState


class Refused(PermissionRefused):
    """A permission refusal already written to the audit trail (pages do not record it again)."""

    recorded = True


class Throttled(Refused):
    """Refused before the password is even checked: too many wrong passwords for the account."""

    status = 429
    code = "throttled"


def refuse(actor: User | None, reason: str, *, attempted: str, target: Any = None,
           code: str = "", error: type[Refused] = Refused) -> NoReturn:
    """Record the refusal as a security event (committed on its own) and raise it as a 403.

    ``code`` names the kind of refusal (``permissions.WRONG_ROLE``...; a ``permissions.Refusal``
    carries its own): the audit trail folds a flood of refusals per code, so it keeps one count
    per kind rather than one message for all.
    """
    code = code or getattr(reason, "code", "") or "permission_denied"
    audit.record_security(
        action="governance.refused", reason=code, actor=actor,
        principal=getattr(actor, "username", "") or "system",
        payload={"attempted": attempted, "message": str(reason), "code": code,
                 "object": str(target) if target is not None else "",
                 "model_id": getattr(target, "audit_model_id", None)})
    raise error(str(reason))


# The longest free text a governance record takes (a description, comment, reason, review
# text): generous for prose, and a bound on what one request can make the database store.
TEXT_MAX = 10_000


def require_text(values: dict[str, str], hints: dict[str, str]) -> None:
    """Refuse blank text fields, each with its hint, all at once; and text over TEXT_MAX."""
    missing = {f: [hints[f]] for f in hints if not (values.get(f) or "").strip()}
    if missing:
        raise ValidationFailed(" ".join(m[0] for m in missing.values()), fields=missing)
    limit_text(values)


def limit_text(values: dict[str, Any], limit: int = TEXT_MAX) -> None:
    """Refuse text fields longer than ``limit`` characters, naming each."""
    too_long = {f: [f"{f.replace('_', ' ').capitalize()} is {len(v):,} characters long; keep "
                    f"it to {limit:,}."]
                for f, v in values.items() if isinstance(v, str) and len(v) > limit}
    if too_long:
        raise ValidationFailed(" ".join(m[0] for m in too_long.values()), fields=too_long)


def json_safe(value: Any) -> bool:
    """Whether the value is plain JSON with finite numbers (what figures may hold)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_safe(v) for k, v in value.items())
    if isinstance(value, list):
        return all(json_safe(v) for v in value)
    return value is None or isinstance(value, bool | int | str)


def require_version_open(version: ModelVersion, what: str) -> None:
    """Refuse (409) to add ``what`` to a rejected or retired version."""
    if version.state in CLOSED:
        raise Conflict(f"Version {version.number} is {version.get_state_display().lower()}; "
                       f"{what} no longer.")

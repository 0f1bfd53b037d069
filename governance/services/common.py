"""What every governance service shares: required text, JSON checks, and the refusal to add
records to a closed version."""

from __future__ import annotations

import math
from typing import Any

from core.errors import Conflict, ValidationFailed
from core.limits import TEXT_MAX, limit_text
from governance.models import CLOSED
from registry.models import ModelVersion, VersionState

S = VersionState

# TEXT_MAX and limit_text live in core.limits (one limit for every app); named here too, since
# the governance services take them from this module.
__all__ = ["TEXT_MAX", "S", "json_safe", "limit_text", "require_text", "require_version_open"]


def require_text(values: dict[str, str], hints: dict[str, str]) -> None:
    """Refuse blank text fields, each with its hint, all at once; and text over TEXT_MAX."""
    missing = {f: [hints[f]] for f in hints if not (values.get(f) or "").strip()}
    if missing:
        raise ValidationFailed(" ".join(m[0] for m in missing.values()), fields=missing)
    limit_text(values)


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

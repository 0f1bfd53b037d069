"""How much text one request can make Assay store.

Every free-text field of every app (a model's purpose, a changelog, a team's description, a
finding, a reason...) takes at most ``TEXT_MAX`` characters, checked by its service, so pages, the
API and commands refuse alike; the API's serializers declare the same ``maxLength`` in the
schema. Short fields (names, usernames, e-mail addresses) keep their column's length. The audit
trail records any longer text as its digest and length (``core.audit.record``).
"""

from __future__ import annotations

from typing import Any

from core.errors import ValidationFailed

# Generous for prose, and a bound on what one request can add to the database and to the
# append-only audit trail, which cannot be pruned.
TEXT_MAX = 10_000


def text_errors(values: dict[str, Any], limits: dict[str, int] | None = None,
                default: int = TEXT_MAX) -> dict[str, list[str]]:
    """For each text value longer than its limit (``limits[field]``, else ``default``): the
    message naming its length and the limit."""
    limits = limits or {}
    return {f: [f"{f.replace('_', ' ').capitalize()} is {len(v):,} characters long; keep it to "
                f"{limits.get(f, default):,}."]
            for f, v in values.items() if isinstance(v, str) and len(v) > limits.get(f, default)}


def limit_text(values: dict[str, Any], limit: int = TEXT_MAX) -> None:
    """Refuse text fields longer than ``limit`` characters, naming each."""
    too_long = text_errors(values, default=limit)
    if too_long:
        raise ValidationFailed(" ".join(m[0] for m in too_long.values()), fields=too_long)

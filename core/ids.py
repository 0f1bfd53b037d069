"""Row ids from untrusted input."""

from __future__ import annotations

from typing import Any

# Largest id a BIGINT column holds; SQLite raises OverflowError past it instead of not matching.
MAX_ID = 2**63 - 1


def parse_id(raw: Any) -> int | None:
    """The id in ``raw`` (an int or ASCII digits), or None if it cannot be a row id.

    ``str.isdigit`` is not enough: it accepts '²', which ``int`` refuses.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit():
        value = int(raw)
    else:
        return None
    return value if 1 <= value <= MAX_ID else None

"""The API's body parsers: DRF's, refusing a NUL character anywhere in what they read.

PostgreSQL can neither store nor compare text holding U+0000 (nor jsonb holding ``\\u0000``): a
NUL reaching a query fails there as a 500, whether it sits in a text field, a slug or username
looked up for a relation, a key of a JSON object or a file name. The parsers refuse it as the
body is read, so nothing downstream ever sees one; DRF reads the body only after the view's
permission checks, so a caller without permission gets 403, not this 400. Paths, query strings
and headers are checked earlier, by ``core.middleware.RequestGuardMiddleware``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers

from core.errors import ValidationFailed

NUL_MESSAGE = "Contains a NUL character (\\u0000), which Assay does not accept anywhere."


def nul_paths(value: Any, path: str = "") -> list[str]:
    """Where ``value`` holds a NUL, as dotted paths (``answers.us\\u0000e`` names its parent)."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if "\x00" in str(key):
                found.append(path or str(key).replace("\x00", "\\u0000"))
                continue
            found += nul_paths(item, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in nul_paths(item, f"{path}.{i}")]
    return []


def refuse_nul(data: Any) -> None:
    """Raise a 400 naming each top-level field that holds a NUL character."""
    found = nul_paths(data)
    if found:
        fields = {p.split(".")[0] or "body": [NUL_MESSAGE] for p in found}
        raise ValidationFailed(f"A NUL character (\\u0000) in {', '.join(fields)}: Assay does not "
                               "accept it anywhere; remove it and send the request again.",
                               fields=fields)


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_nul(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_nul(dict(data.lists()))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None
              ) -> parsers.DataAndFiles[Any, Any]:
        result = super().parse(stream, media_type, parser_context)
        refuse_nul({**dict(result.data.lists()),
                    **{key: [f.name for f in files] for key, files in result.files.lists()}})
        return result

"""DomainError: what a service raises when a request cannot be carried out, in words a user can act on.

Views and the API turn these into responses: ``status`` is the HTTP status to answer with.
"""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the request (400 unless a subclass says otherwise)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None,
                 fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        if field:
            self.fields.setdefault(field, []).append(message)


class ValidationFailed(DomainError):
    """Input is malformed or incomplete; ``fields`` names what to fix."""


class PermissionRefused(DomainError):
    """The user can see the object but may not do this to it.

    Pages and the API record a refusal as a security event when it reaches them, unless the
    service already did (``recorded``), so each refusal is in the trail exactly once.
    """

    status = 403
    code = "permission_denied"
    recorded = False


class NotVisible(DomainError):
    """The user may not see the object; answered as if it did not exist."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The object's state does not allow this now (an invalid transition, a duplicate)."""

    status = 409
    code = "conflict"

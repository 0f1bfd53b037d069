"""DomainError: what a service raises when a request cannot be carried out, in words a user can act on.

Views and the API turn these into responses: ``status`` is the HTTP status to answer with, and
``error_body`` is the one shape of every error the API (and the request guard) answers.
"""

from __future__ import annotations

from typing import Any


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


class Refused(PermissionRefused):
    """A permission refusal already written to the audit trail by ``core.audit.refuse()``
    (pages and the API do not record it again)."""

    recorded = True


class WrongPassword(Refused):
    """A re-entered password (an electronic signature) did not match: refused and recorded like
    any refusal; a page keeps the rest of its form and asks for the password again."""

    code = "wrong_password"


class Throttled(Refused):
    """Refused before the password is even checked: too many wrong passwords for the account."""

    status = 429
    code = "throttled"


class NotVisible(DomainError):
    """The user may not see the object; answered as if it did not exist."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The object's state does not allow this now (an invalid transition, a duplicate)."""

    status = 409
    code = "conflict"


class Unavailable(DomainError):
    """A service Assay depends on (database, cache, file store) cannot be reached right now; the
    same request should succeed once it is back. Answered with ``Retry-After``."""

    status = 503
    code = "unavailable"
    retry_after = 5


class InsufficientStorage(Unavailable):
    """The file store has no room (or no permission) for an upload; nothing was kept."""

    status = 507
    code = "insufficient_storage"
    retry_after = 60


class StoredFileDamaged(DomainError):
    """A stored file is missing or no longer matches its digest: it is not served, and pages and
    the API record a security event (``security.stored_file_damaged``) when this reaches them."""

    status = 503
    code = "stored_file_damaged"

    def __init__(self, message: str, *, reason: str, sha256: str) -> None:
        super().__init__(message)
        self.reason, self.sha256 = reason, sha256


def error_body(detail: str, code: str, fields: dict[str, list[str]] | None = None
               ) -> dict[str, Any]:
    """The API's error shape: ``{"detail": ..., "code": ..., "fields": {field: [messages]}}``."""
    return {"detail": detail, "code": code, "fields": fields or {}}

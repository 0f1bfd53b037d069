"""Showing a service's DomainError on the form that caused it."""

from __future__ import annotations

from django import forms

from core.errors import DomainError, NotVisible, PermissionRefused


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Attach the error to the fields it names (or to the form as a whole).

    A permission refusal is not a form error: it is re-raised, so the page answers 403 (or 404)
    and the refusal is recorded, as it would be without a form.
    """
    if isinstance(exc, PermissionRefused | NotVisible):
        raise exc
    placed = False
    for field, messages in exc.fields.items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)

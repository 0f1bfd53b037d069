"""Showing a service's DomainError on the form that caused it."""

from __future__ import annotations

from django import forms

from core.errors import DomainError


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Attach the error to the fields it names (or to the form as a whole)."""
    placed = False
    for field, messages in exc.fields.items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)

"""What every app's pages share: one way to run a form's action.

A page's form posts to a view that checks the form, calls one service and redirects with a
message, or shows the page again with what went wrong. ``form_action`` is the body of every such
view, so each view only says which form, which service, where to go and how to show the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from core.errors import DomainError, NotVisible, PermissionRefused
from core.forms import add_domain_error


def form_action(request: HttpRequest, *, form: forms.Form | None, call: Callable[[], Any],
                done: str | Callable[[Any], HttpResponse],
                failure: Callable[[int, DomainError | None], HttpResponse],
                success: str | Callable[[Any], str] = "") -> HttpResponse:
    """Run a page's action: validate ``form`` (None: the action has none), then ``call`` the
    service, which reads the form's cleaned data.

    On success, flash ``success`` (text, or made from the service's result) and answer ``done``:
    a URL or URL name to redirect to, or a function of the result returning the response. When
    the form is invalid, answer ``failure(400, None)``; when the service raises a DomainError,
    put it on the form and answer ``failure(error.status, error)`` — the page shown again, with
    the status the API would answer.

    A permission refusal is not a form error: it propagates to DomainErrorMiddleware, which
    answers with its status and reason and records it unless the service already did.
    """
    if form is not None and not form.is_valid():
        return failure(400, None)
    try:
        result = call()
    except (PermissionRefused, NotVisible):
        raise
    except DomainError as error:
        if form is not None:
            add_domain_error(form, error)
        return failure(error.status, error)
    message = success(result) if callable(success) else success
    if message:
        messages.success(request, message)
    return done(result) if callable(done) else redirect(done)


"""The inbox: a user's notifications, marking them read, and their email preferences."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import pages
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from core.ids import parse_id
from governance import services
from governance.forms import PreferencesForm
from governance.models import Notification


@login_required
def inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    # Bound on every POST: unticking every box posts no field at all, and means "email nothing".
    form = PreferencesForm(request.POST if request.method == "POST" else None,
                           current=services.preferences_of(request.user))

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/inbox.html", {
            "notifications": Notification.objects.filter(user=request.user)[:200],
            "form": form}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.preferences_update(
            actor=request.user, email=dict(form.cleaned_data)),
        success="Preferences saved.", done="governance:inbox", failure=page)


@login_required
@require_POST
def inbox_mark_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    # One notification when the form names it; all of them only when it names none.
    raw = request.POST.get("id")
    services.notification_mark_read(actor=request.user, ids=None if raw is None else [raw])
    if request.htmx:  # the row, now read, and the header's unread badge (out of band)
        return render(request, "governance/inbox.html#row", {
            "n": get_object_or_404(Notification, user=request.user, pk=parse_id(raw)),
            "unread_after": Notification.objects.filter(user=request.user).unread().count()})
    return redirect("governance:inbox")

"""Browsing the audit trail (auditors and administrators), exports, and a model's timeline.

Read-only: nothing here changes or deletes an event. Pages show the *last* verification result
and the latest checkpoint; a full verification (seconds for a million events) runs only when
someone asks for it with the "Verify now" button or ``manage.py verify_audit``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core import checkpoints, export, permissions, verification
from core.errors import PermissionRefused, ValidationFailed
from core.http import AuthenticatedHttpRequest
from core.models import AuditEvent

PAGE_SIZE = 50
REFUSAL = "Only auditors and administrators can browse and export the audit trail."


class AuditFilterForm(forms.Form):
    model = forms.SlugField(required=False, label="Model (slug)")
    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    action = forms.CharField(required=False, max_length=64,
                             help_text="exact action, or a prefix ending in a dot (model.)")
    date_from = forms.DateField(required=False, label="From (UTC)",
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To (UTC)",
                              widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        if data and data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date; swap them.")
        return data


def _require_auditor(request: HttpRequest) -> None:
    if not permissions.can_export_audit(request.user):
        raise PermissionRefused(REFUSAL)


def _filtered(data: dict[str, Any]) -> Any:
    """Events matching the filter form's cleaned data (a model slug that does not exist: error)."""
    scope = export.resolve_scope(model_slug=data.get("model") or "",
                                 date_from=data.get("date_from"), date_to=data.get("date_to"))
    events = scope.events()
    if data.get("actor"):
        events = events.filter(actor_username=data["actor"])
    action = data.get("action") or ""
    if action.endswith("."):
        events = events.filter(action__startswith=action)
    elif action:
        events = events.filter(action=action)
    return events


def _int_param(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name, "")
    return int(raw) if raw.isdigit() else None


def _page(events: Any, request: HttpRequest) -> dict[str, Any]:
    """Keyset pagination on seq (newest first): no COUNT over a million rows per page view."""
    before, after = _int_param(request, "before"), _int_param(request, "after")
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[:PAGE_SIZE + 1])
        has_newer = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE][::-1]
        has_older = bool(rows) and events.filter(seq__lt=rows[-1].seq).exists()
    else:
        if before is not None:
            events = events.filter(seq__lt=before)
        rows = list(events.order_by("-seq")[:PAGE_SIZE + 1])
        has_older = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        has_newer = before is not None and bool(rows)
    return {"events": rows, "older": rows[-1].seq if has_older else None,
            "newer": rows[0].seq if has_newer else None}


@login_required
def event_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_auditor(request)
    form = AuditFilterForm(request.GET or None)
    page: dict[str, Any] = {"events": [], "older": None, "newer": None}
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        try:
            page = _page(_filtered(form.cleaned_data if form.is_bound else {}), request)
        except ValidationFailed as exc:
            form.add_error("model" if "model" in exc.fields else None, exc.message)
            status = 400
    query = request.GET.copy()
    for name in ("before", "after"):
        query.pop(name, None)
    template = "core/audit_list.html#rows" if request.htmx else "core/audit_list.html"
    return render(request, template, {
        "form": form, "page": page, "query": query.urlencode(),
        "last_verification": verification.last_result(),
        "latest_checkpoint": checkpoints.latest(),
        "head_seq": AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first(),
    }, status=status)


@login_required
@require_POST
def verify_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Run a full verification (chain + checkpoints) and show its result on the trail page."""
    _require_auditor(request)
    result = verification.verify_trail()
    (messages.success if result.ok else messages.error)(request, result.summary)
    return redirect("audit-list")


@login_required
@require_POST
def export_download(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """Download a bundle for the filter's model and dates (actor/action do not narrow a bundle)."""
    _require_auditor(request)
    form = AuditFilterForm(request.POST)
    if not form.is_valid():
        # A form's error lists yield their messages as text; the stubs type the items more widely.
        raise ValidationFailed("The export's model or dates are invalid: "
                               + "; ".join(m for msgs in form.errors.values()  # type: ignore[misc]
                                           for m in msgs))
    prepared = export.audit_export(actor=request.user,
                                   model_slug=form.cleaned_data.get("model") or "",
                                   date_from=form.cleaned_data.get("date_from"),
                                   date_to=form.cleaned_data.get("date_to"))
    response = StreamingHttpResponse(prepared.lines(), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
    return response


def model_timeline(model_id: int, *, limit: int = 20) -> list[AuditEvent]:
    """The newest events about one model (its versions, reviews...), for the model page.

    The model page includes ``core/_audit_timeline.html`` with ``timeline_events`` set to this
    list and ``model`` to the model (see that template). Visibility is the model page's: whoever
    may see the model may see its history. Each event gets ``changed_fields`` (the names of the
    fields an update changed) for a one-line summary.
    """
    events = list(AuditEvent.objects.filter(model_id=model_id).order_by("-seq")[:limit])
    for event in events:
        # For the template only: an attribute on the fetched row, never a field.
        event.changed_fields = _changed_fields(event.payload)  # type: ignore[attr-defined]
    return events


def _changed_fields(payload: object) -> str:
    if not isinstance(payload, dict):
        return ""
    changes = payload.get("changes")
    if not isinstance(changes, dict):
        changes = payload
    return ", ".join(sorted(k for k, v in changes.items() if isinstance(v, dict) and "after" in v))

"""Reading the audit trail (auditors, risk officers, administrators), exports (auditors and
administrators), one event's page, and a model's timeline.

Read-only: nothing here changes or deletes an event. Pages show the *last* verification result
and the latest checkpoint; a full verification (seconds for a million events) runs only when
someone asks for it with the "Verify now" button or ``manage.py verify_audit``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import audit, audit_display, checkpoints, export, permissions, verification
from core.errors import PermissionRefused, ValidationFailed
from core.http import AuthenticatedHttpRequest
from core.models import AuditEvent, Verification

PAGE_SIZE = 50
REFUSAL = ("Only auditors, risk officers and administrators can read the audit trail; ask an "
           "administrator for one of those roles if your work needs it.")
EXPORT_REFUSAL = "Only auditors and administrators can export the audit trail."
ACTIONS_CACHE_KEY = "assay:audit:actions"


class AuditFilterForm(forms.Form):
    """The trail's filters. Model and person are pickers, but their values stay slugs and
    usernames (links and bookmarks carry ``?model=<slug>``), checked by ``export.resolve_scope``
    so that a wrong one is named in the error."""

    model = forms.CharField(required=False, label="Model", widget=forms.Select)
    actor = forms.CharField(required=False, max_length=150, label="Person", widget=forms.Select)
    action = forms.CharField(required=False, max_length=64,
                             help_text="exact action, or a prefix ending in a dot (model.)",
                             widget=forms.TextInput(attrs={"list": "audit-actions"}))
    date_from = forms.DateField(required=False, label="From (UTC)",
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To (UTC)",
                              widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_widget = self.fields["model"].widget
        actor_widget = self.fields["actor"].widget
        if isinstance(model_widget, forms.Select) and isinstance(actor_widget, forms.Select):
            model_widget.choices = [("", "All models"), *audit_display.model_choices()]
            actor_widget.choices = [("", "Everyone"), ("system", "system (no person)"),
                                    *audit_display.people_choices()]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean()
        if data and data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date; swap them.")
        return data


def _require_reader(request: HttpRequest) -> None:
    if not permissions.can_read_audit(request.user):
        raise PermissionRefused(REFUSAL)


def _require_exporter(request: HttpRequest) -> None:
    if not permissions.can_export_audit(request.user):
        raise PermissionRefused(EXPORT_REFUSAL)


def _current_verification() -> Verification | None:
    """The newest verification on a worker, while it runs or for an hour after it finished."""
    newest = Verification.objects.first()
    if newest is None or (newest.is_finished and newest.finished_at is not None
                          and timezone.now() - newest.finished_at > dt.timedelta(hours=1)):
        return None
    return newest


def _known_actions() -> list[str]:
    """Every action the trail holds, for the action field's suggestions (cached for a minute:
    a DISTINCT over millions of events is not a per-page cost)."""
    actions: list[str] | None = cache.get(ACTIONS_CACHE_KEY)
    if actions is None:
        actions = list(AuditEvent.objects.order_by("action").values_list("action", flat=True)
                       .distinct())
        cache.set(ACTIONS_CACHE_KEY, actions, timeout=60)
    return actions


def filtered_events(data: dict[str, Any]) -> Any:
    """Events matching the filter form's cleaned data (a model slug that does not exist: error);
    the trail page and its CSV export (reports.exports) both read through this."""
    scope = export.resolve_scope(model_slug=data.get("model") or "",
                                 date_from=data.get("date_from"), date_to=data.get("date_to"))
    events = scope.events()
    if data.get("actor") == "system":
        events = events.filter(actor_id__isnull=True)
    elif data.get("actor"):
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
    _require_reader(request)
    form = AuditFilterForm(request.GET or None)
    page: dict[str, Any] = {"events": [], "older": None, "newer": None}
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        try:
            page = _page(filtered_events(form.cleaned_data if form.is_bound else {}), request)
        except ValidationFailed as exc:
            form.add_error("model" if "model" in exc.fields else None, exc.message)
            status = 400
    query = request.GET.copy()
    for name in ("before", "after"):
        query.pop(name, None)
    page["events"] = audit_display.readable(page["events"])
    template = "core/audit_list.html#rows" if request.htmx else "core/audit_list.html"
    return render(request, template, {
        "form": form, "page": page, "query": query.urlencode(),
        "actions": _known_actions(), "can_export": permissions.can_export_audit(request.user),
        "last_verification": verification.last_result(),
        "verification": _current_verification(),
        "latest_checkpoint": checkpoints.latest(),
        "head_seq": AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first(),
    }, status=status)


@login_required
@require_POST
def verify_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Run a full verification (chain + checkpoints): within the request for a small trail, on a
    worker with progress for a large one; back to the trail page with the person's filter
    (``query``, the page's own query string)."""
    _require_reader(request)
    query = QueryDict(request.POST.get("query", ""))
    outcome = verification.verify_on_worker(actor=request.user, query=query.urlencode())
    if isinstance(outcome, Verification):
        messages.info(request, f"Verifying {outcome.total:,} events on a worker; the progress "
                               "shows below and the result replaces it when done.")
    else:
        (messages.success if outcome.ok else messages.error)(request, outcome.summary)
    return redirect(f"{reverse('audit-list')}?{query.urlencode()}" if query else
                    reverse("audit-list"))


@login_required
def verification_progress(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The progress of a verification on a worker, for the trail page to poll."""
    _require_reader(request)
    running = Verification.objects.filter(pk=pk).first()
    if running is None:
        raise Http404(f"No verification {pk}; start one with Verify now.")
    return render(request, "core/_verification.html", {"verification": running})


@login_required
def event_detail(request: AuthenticatedHttpRequest, seq: int) -> HttpResponse:
    """One event on its own page: who, what, which model, the recorded changes and its place in
    the chain (its digest recomputed and its link to the previous event checked)."""
    _require_reader(request)
    event = AuditEvent.objects.filter(seq=seq).first()
    if event is None:
        raise Http404(f"The audit trail has no event {seq}; the newest is "
                      f"{AuditEvent.objects.order_by('-seq').values_list('seq', flat=True).first()}.")
    (row,) = audit_display.readable([event])
    return render(request, "core/audit_event.html", {
        "row": row, "event": event, "changes": audit_display.payload_changes(event.payload),
        "payload": json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False),
        "link": audit.check_link(event),
        "previous_seq": seq - 1 if seq > 1 else None,
        "next_seq": seq + 1 if AuditEvent.objects.filter(seq=seq + 1).exists() else None,
    })


@login_required
@require_POST
def export_download(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """Download a bundle for the filter's model and dates (actor/action do not narrow a bundle)."""
    _require_exporter(request)
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
    fields an update changed) for a one-line summary, and ``readable`` (names, not ids).
    """
    events = list(AuditEvent.objects.filter(model_id=model_id).order_by("-seq")[:limit])
    for event, row in zip(events, audit_display.readable(events), strict=True):
        # For the template only: attributes on the fetched row, never fields.
        event.changed_fields = _changed_fields(event.payload)  # type: ignore[attr-defined]
        event.readable = row  # type: ignore[attr-defined]
    return events


def _changed_fields(payload: object) -> str:
    if not isinstance(payload, dict):
        return ""
    changes = payload.get("changes")
    if not isinstance(changes, dict):
        changes = payload
    return ", ".join(sorted(k for k, v in changes.items() if isinstance(v, dict) and "after" in v))

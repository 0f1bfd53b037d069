"""Pages of governance part 2: findings (list, detail with discussion, raise), waivers, periodic
review, the inbox with preferences, the board. They call the same services as the API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import permissions
from core.errors import PermissionRefused
from core.ids import parse_id
from core.models import Role
from governance import findings, notify, queues, reviews
from governance.forms import (
    AttachmentForm,
    CommentForm,
    FindingForm,
    FindingMoveForm,
    PeriodicReviewForm,
    PreferencesForm,
    WaiverForm,
)
from governance.gates import blocking_items, case_for
from governance.models import (
    Finding,
    FindingComment,
    FindingStatus,
    Notification,
    Waiver,
)
from governance.views import _attempt, _version
from registry.storage import stored_file_response

MOVE_LABELS = {"propose_remediation": "Propose the remediation",
               "close": "Close: the remediation is verified",
               "reopen": "Send back: the remediation does not answer it",
               "accept_risk": "Accept as a risk"}


def _finding(request: HttpRequest, pk: int) -> Finding:
    return get_object_or_404(queues.findings_listed(Finding.objects.visible_to(request.user)),
                             pk=pk)


def _finding_moves(user: Any, finding: Finding) -> list[tuple[str, str]]:
    """(target status, button label) of the edges this user may take now."""
    case = case_for(finding.version)
    return [(to, MOVE_LABELS[rule.name])
            for (frm, to), rule in findings.FINDING_TRANSITIONS.items()
            if frm == finding.status and not rule.may(user, case, finding)]


@login_required
def finding_list(request: HttpRequest) -> HttpResponse:
    qs = queues.findings_listed(Finding.objects.visible_to(request.user))
    status = request.GET.get("status", "unresolved")
    if status == "unresolved":
        qs = qs.unresolved()
    elif status in FindingStatus.values:
        qs = qs.filter(status=status)
    return render(request, "governance/findings.html", {
        "findings": qs.order_by("due_date", "pk")[:500], "status": status,
        "statuses": FindingStatus.choices})


def _finding_page(request: HttpRequest, finding: Finding, *, status: int = 200,
                  error: str = "", **forms_: Any) -> HttpResponse:
    finding = _finding(request, finding.pk)
    case = case_for(finding.version)
    return render(request, "governance/finding.html", {
        "finding": finding, "version": finding.version, "model": finding.version.model,
        "comments": finding.comments.select_related("author"),
        "attachments": finding.attachments.select_related("uploaded_by"),
        "moves": _finding_moves(request.user, finding),
        "can_discuss": permissions.can_discuss_finding(request.user, case)
        and finding.is_unresolved,
        "move_form": forms_.get("move_form") or FindingMoveForm(),
        "comment_form": forms_.get("comment_form") or CommentForm(),
        "attachment_form": forms_.get("attachment_form") or AttachmentForm(),
        "error": error}, status=status)


@login_required
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _finding_page(request, _finding(request, pk))


@login_required
def finding_attachment_download(request: HttpRequest, pk: int, attachment_id: int
                                ) -> HttpResponse:
    """Download an attachment of a finding you may see (always as a file, never inline)."""
    attachment = get_object_or_404(_finding(request, pk).attachments, pk=attachment_id)
    return stored_file_response(attachment.sha256, attachment.filename)


@login_required
@require_POST
def finding_move(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = FindingMoveForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, status=400, move_form=form,
                             error="Choose what to do with the finding.")
    _, error = _attempt(request, form, lambda: findings.finding_transition(
        actor=request.user, finding=finding, to=form.cleaned_data["to"],
        text=form.cleaned_data["text"]))
    if error is not None:
        return _finding_page(request, finding, status=error.status, error=error.message,
                             move_form=form)
    messages.success(request, "Done.")
    return redirect("governance:finding", pk=pk)


@login_required
@require_POST
def finding_comment(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, finding, status=400, comment_form=form)
    reply_id = form.cleaned_data.get("reply_to")
    reply_to = FindingComment.objects.filter(pk=reply_id, finding=finding).first() \
        if reply_id else None
    _, error = _attempt(request, form, lambda: findings.finding_comment_add(
        actor=request.user, finding=finding, body=form.cleaned_data["body"],
        kind=form.cleaned_data["kind"], reply_to=reply_to))
    if error is not None:
        return _finding_page(request, finding, status=error.status, comment_form=form,
                             error=error.message)
    if request.htmx:
        return render(request, "governance/finding.html#thread", {
            "comments": finding.comments.select_related("author")})
    return redirect("governance:finding", pk=pk)


@login_required
@require_POST
def finding_attach(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _finding_page(request, finding, status=400, attachment_form=form)
    upload = form.cleaned_data["file"]
    _, error = _attempt(request, form, lambda: findings.finding_attach(
        actor=request.user, finding=finding, upload=upload, filename=upload.name))
    if error is not None:
        return _finding_page(request, finding, status=error.status, attachment_form=form,
                             error=error.message)
    messages.success(request, "Attached.")
    return redirect("governance:finding", pk=pk)


@login_required
def finding_raise(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    reason = permissions.reason_cannot_raise_finding(request.user, case_for(version))
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = FindingForm(request.POST or None)
    status = 400 if form.is_bound and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        finding, error = _attempt(request, form, lambda: findings.finding_raise(
            actor=request.user, version=version, **form.cleaned_data))
        if error is None:
            messages.success(request, f"Finding F-{finding.pk} raised.")
            return redirect("governance:finding", pk=finding.pk)
        status = error.status
    return render(request, "governance/finding_raise.html", {
        "version": version, "model": version.model, "form": form}, status=status)


# --- waivers -----------------------------------------------------------------------------------

@login_required
def waiver_list(request: HttpRequest) -> HttpResponse:
    rows = Waiver.objects.visible_to(request.user).select_related(
        "version__model", "approved_by").order_by("-granted_at")[:500]
    return render(request, "governance/waivers.html", {
        "waivers": rows, "can_revoke": request.user.has_role(Role.RISK_OFFICER)})


@login_required
def waiver_grant(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    reason = permissions.reason_cannot_grant_waiver(request.user, case_for(version))
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = WaiverForm(request.POST or None, blockers=blocking_items(version))
    status = 400 if form.is_bound and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        kind, _, key = data.pop("covers").partition(":")
        target: dict[str, Any] = {"check": key} if kind == "evidence" else {
            "finding": Finding.objects.filter(pk=int(key), version=version).first()}
        _, error = _attempt(request, form, lambda: findings.waiver_grant(
            actor=request.user, version=version, **target, **data))
        if error is None:
            messages.success(request, "Waiver granted.")
            return redirect("governance:workflow", slug=slug, number=number)
        status = error.status
    return render(request, "governance/waiver_grant.html", {
        "version": version, "model": version.model, "form": form}, status=status)


@login_required
@require_POST
def waiver_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    waiver = get_object_or_404(Waiver.objects.visible_to(request.user), pk=pk)
    _, error = _attempt(request, None, lambda: findings.waiver_revoke(
        actor=request.user, waiver=waiver, reason=request.POST.get("reason", "")))
    if error is not None:
        messages.error(request, error.message)
        return render(request, "governance/waivers.html", {
            "waivers": Waiver.objects.visible_to(request.user).select_related(
                "version__model", "approved_by"), "error": error.message}, status=error.status)
    messages.success(request, "Waiver revoked.")
    return redirect("governance:waivers")


# --- periodic review ---------------------------------------------------------------------------

@login_required
def periodic_review(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    version = _version(request, slug, number)
    reason = permissions.reason_cannot_review_periodically(request.user, case_for(version))
    if reason and request.method == "GET":
        raise PermissionRefused(reason)
    form = PeriodicReviewForm(request.POST or None)
    status = 400 if form.is_bound and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        _, error = _attempt(request, form, lambda: reviews.periodic_review_conclude(
            actor=request.user, version=version, **form.cleaned_data))
        if error is None:
            messages.success(request, "Periodic review concluded.")
            return redirect("governance:workflow", slug=slug, number=number)
        status = error.status
    return render(request, "governance/periodic_review.html", {
        "version": version, "model": version.model, "form": form,
        "gov": getattr(version, "governance", None),
        "history": version.periodic_reviews.select_related("reviewer")}, status=status)


# --- inbox, queues, board ----------------------------------------------------------------------

@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    current = notify.preferences_of(request.user)
    form = PreferencesForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        notify.preferences_update(actor=request.user, email=dict(form.cleaned_data))
        messages.success(request, "Preferences saved.")
        return redirect("governance:inbox")
    return render(request, "governance/inbox.html", {
        "notifications": Notification.objects.filter(user=request.user)[:200],
        "form": form})


@login_required
@require_POST
def inbox_mark_read(request: HttpRequest) -> HttpResponse:
    # One notification when the form names it; all of them only when it names none.
    raw = request.POST.get("id")
    notify.notification_mark_read(actor=request.user, ids=None if raw is None else [raw])
    if request.htmx:  # the row, now read, and the header's unread badge (out of band)
        return render(request, "governance/inbox.html#row", {
            "n": get_object_or_404(Notification, user=request.user, pk=parse_id(raw)),
            "unread_after": Notification.objects.filter(user=request.user).unread().count()})
    return redirect("governance:inbox")


@login_required
def board(request: HttpRequest) -> HttpResponse:
    if not permissions.can_view_board(request.user):
        raise PermissionRefused("The board is for risk officers, the review board, auditors and "
                                "administrators.")
    return render(request, "governance/board.html", {"b": queues.board()})

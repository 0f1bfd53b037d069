"""Findings pages: the list, a finding with its discussion, attachments and the moves the user may
make (derived from FINDING_TRANSITIONS), and raising one on a version."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.filters import FindingFilter, findings_listed
from governance.forms import (
    AttachmentForm,
    CommentForm,
    FindingClassifyForm,
    FindingForm,
    FindingMoveForm,
)
from governance.gates import case_for
from governance.models import (
    Finding,
    FindingCategory,
    FindingComment,
    FindingStatus,
    RootCause,
    Severity,
    SR117Area,
)
from governance.models.findings import AGEING_BUCKETS, UNCLASSIFIED
from governance.views.common import refuse_on_get, workable_version
from registry.storage import stored_file_response

MOVE_LABELS = {"propose_remediation": "Propose the remediation",
               "close": "Close: the remediation is verified",
               "reopen": "Send back: the remediation does not answer it",
               "accept_risk": "Accept as a risk"}


def _finding(request: AuthenticatedHttpRequest, pk: int) -> Finding:
    return get_object_or_404(Finding.objects.visible_to(request.user).listed(), pk=pk)


def _finding_moves(user: Any, finding: Finding) -> list[tuple[str, str]]:
    """(target status, button label) of the edges this user may take now."""
    case = case_for(finding.version)
    return [(to, MOVE_LABELS[rule.name])
            for (frm, to), rule in services.FINDING_TRANSITIONS.items()
            if frm == finding.status and not rule.may(user, case, finding)]


@login_required
def finding_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The findings the user may see, filtered as the API and the CSV export filter them
    (governance.filters); a filter value not understood is a 400 saying what to use."""
    wanted = FindingFilter.from_params(request.GET)
    today = timezone.localdate()
    visible = Finding.objects.visible_to(request.user)
    return render(request, "governance/findings.html", {
        "findings": findings_listed(request.user, wanted, today)[:500], "filter": wanted,
        "status": wanted.status, "statuses": FindingStatus.choices,
        "severities": Severity.choices, "ageing": wanted.ageing,
        "taxonomy": [(field, label, choices, getattr(wanted, field)) for field, label, choices in (
            ("category", "Category", FindingCategory.choices),
            ("root_cause", "Root cause", RootCause.choices),
            ("sr117_area", "SR 11-7 area", SR117Area.choices))],
        "buckets": AGEING_BUCKETS, "unclassified": UNCLASSIFIED,
        "ageing_summary": visible.ageing_summary(today),
        "export_params": wanted.as_params()}, status=400 if wanted.errors else 200)


def _finding_page(request: AuthenticatedHttpRequest, finding: Finding, *, status: int = 200,
                  error: str = "", **forms_: Any) -> HttpResponse:
    finding = _finding(request, finding.pk)
    case = case_for(finding.version)
    # Opening the finding, or acting on it, reads what pointed the person here.
    services.notification_mark_read_about(actor=request.user, obj=finding)
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
        "can_classify": not permissions.reason_cannot_raise_finding(request.user, case),
        "classify_form": forms_.get("classify_form") or FindingClassifyForm(initial={
            "category": finding.category, "root_cause": finding.root_cause,
            "sr117_area": finding.sr117_area}),
        "error": error}, status=status)


@login_required
def finding_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _finding_page(request, _finding(request, pk))


@login_required
def finding_attachment_download(request: AuthenticatedHttpRequest, pk: int, attachment_id: int
                                ) -> HttpResponseBase:
    """Download an attachment of a finding you may see (always as a file, never inline)."""
    attachment = get_object_or_404(_finding(request, pk).attachments, pk=attachment_id)
    return stored_file_response(attachment.sha256, attachment.filename)


@login_required
@require_POST
def finding_move(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = FindingMoveForm(request.POST)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        return _finding_page(request, finding, status=status, move_form=form,
                             error=error.message if error is not None
                             else "Choose what to do with the finding.")

    return pages.form_action(
        request, form=form, call=lambda: services.finding_transition(
            actor=request.user, finding=finding, to=form.cleaned_data["to"],
            text=form.cleaned_data["text"]),
        success="Done.", done=finding.get_absolute_url(), failure=failure)


@login_required
@require_POST
def finding_comment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = CommentForm(request.POST)

    def call() -> FindingComment:
        reply_to = services.comment_to_reply_to(finding, form.cleaned_data.get("reply_to"))
        return services.finding_comment_add(
            actor=request.user, finding=finding, body=form.cleaned_data["body"],
            kind=form.cleaned_data["kind"], reply_to=reply_to)

    def done(_comment: FindingComment) -> HttpResponse:
        if request.htmx:  # the thread, with the new comment
            return render(request, "governance/finding.html#thread", {
                "comments": finding.comments.select_related("author")})
        return redirect(finding)

    return pages.form_action(
        request, form=form, call=call, done=done, failure=lambda status, error: _finding_page(
            request, finding, status=status, comment_form=form,
            error=error.message if error is not None else ""))


@login_required
@require_POST
def finding_attach(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    finding = _finding(request, pk)
    form = AttachmentForm(request.POST, request.FILES)

    def call() -> Any:
        upload = form.cleaned_data["file"]
        return services.finding_attach(actor=request.user, finding=finding, upload=upload,
                                       filename=upload.name)

    return pages.form_action(
        request, form=form, call=call, success="Attached.", done=finding.get_absolute_url(),
        failure=lambda status, error: _finding_page(
            request, finding, status=status, attachment_form=form,
            error=error.message if error is not None else ""))


@login_required
@require_POST
def finding_classify(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The validator sets or corrects the finding's category, root cause and SR 11-7 area."""
    finding = _finding(request, pk)
    form = FindingClassifyForm(request.POST)
    return pages.form_action(
        request, form=form, call=lambda: services.finding_classify(
            actor=request.user, finding=finding, **form.cleaned_data),
        success="Classification saved.", done=finding.get_absolute_url(),
        failure=lambda status, error: _finding_page(
            request, finding, status=status, classify_form=form,
            error=error.message if error is not None else "Choose from the lists."))


@login_required
def finding_raise(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = workable_version(request, slug, number)
    refuse_on_get(request, permissions.reason_cannot_raise_finding(request.user,
                                                                   case_for(version)))
    form = FindingForm(request.POST or None)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/finding_raise.html", {
            "version": version, "model": version.model, "form": form}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.finding_raise(
            actor=request.user, version=version, **form.cleaned_data),
        success=lambda finding: f"Finding F-{finding.pk} raised.", done=redirect,
        failure=page)

"""Policy pages: every version of every governance policy; drafting a new version in a form; a
version's page with its differences to the current one, where a second person (four-eyes)
approves making it current or declines it with a reason (its drafter may withdraw it)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from core import pages, permissions
from core.audit_display import person_name
from core.errors import DomainError, ValidationFailed
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.attestation_policy import attestation_rules
from governance.forms import PolicyDeclineForm, PolicyDraftForm
from governance.models import PolicyVersion
from governance.policy import CRITICALITIES
from governance.policy_edit import definition_changes, quorum_text, requirement_line
from governance.views.common import refuse_on_get


def _versions() -> Any:
    return PolicyVersion.objects.select_related("policy", "created_by", "approved_by")


@login_required
def policies(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "governance/policies.html", {
        "versions": _versions().order_by("policy__name", "-number"),
        "current": PolicyVersion.objects.all_current(),
        "can_manage": permissions.can_manage_policies(request.user)})


def _draft_page(request: AuthenticatedHttpRequest, form: PolicyDraftForm, base: PolicyVersion,
                *, status: int = 200) -> HttpResponse:
    return render(request, "governance/policy_draft.html", {
        "form": form, "base": base,
        "tiers": [(tier, [form[name] for name in names])
                  for tier, names in form.tier_fields.items()],
        "questions": [form[name] for name in form.question_fields]}, status=status)


@login_required
def policy_draft(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Draft a new version of a policy, starting from the current version (or ``?from=<id>``)."""
    refuse_on_get(request, "" if permissions.can_manage_policies(request.user) else
                  "Only administrators and risk officers draft governance policies.")
    source = request.POST.get("base") or request.GET.get("from")
    base = (get_object_or_404(_versions(), pk=source) if source and str(source).isdigit()
            else PolicyVersion.objects.current() or next(iter(PolicyVersion.objects.all_current()),
                                                         None) or services.current_policy())
    form = PolicyDraftForm(request.POST or None, base=base.definition,
                           business_lines=base.business_lines,
                           legal_entities=base.legal_entities)
    if request.method != "POST":
        return _draft_page(request, form, base)
    if not form.is_valid():
        return _draft_page(request, form, base, status=400)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        if isinstance(error, ValidationFailed) and "definition" in error.fields:
            form.place_errors(error.fields["definition"])
        elif isinstance(error, ValidationFailed) and error.fields.keys() & {
                "business_lines", "legal_entities"}:
            for name, errors in error.fields.items():
                form.add_error(name if name in form.fields else None, errors)
        elif error is not None:
            form.add_error(None, error.message)
        return _draft_page(request, form, base, status=status)

    return pages.form_action(
        request, form=None, call=lambda: services.policy_version_create(
            actor=request.user, policy_slug=form.new_policy_slug or base.policy.slug,
            name=form.cleaned_data["new_policy_name"], definition=form.definition(),
            notes=form.cleaned_data["notes"], business_lines=form.cleaned_data["business_lines"],
            legal_entities=form.cleaned_data["legal_entities"]),
        success=lambda pv: f"{pv} is drafted; another administrator or risk officer is "
                           "notified to approve it.",
        done=lambda pv: redirect(pv), failure=failure)


def _decline_form(request: AuthenticatedHttpRequest, pv: PolicyVersion,
                  data: Any = None) -> PolicyDeclineForm:
    form = PolicyDeclineForm(data)
    if pv.created_by_id == request.user.pk:
        form.fields["reason"].label = "Why you withdraw it"
        form.fields["reason"].help_text = "It stays with the version."
    return form


def _version_page(request: AuthenticatedHttpRequest, pv: PolicyVersion, *, status: int = 200,
                  error: str = "", decline_form: PolicyDeclineForm | None = None) -> HttpResponse:
    currents = PolicyVersion.objects.all_current()
    replaced = pv.replaces(currents)
    current = replaced[0] if replaced else PolicyVersion.objects.current()
    compared = None if current is None or current.pk == pv.pk else current
    moves = services.review_moves(pv) if pv.is_current else []
    services.notification_mark_read_about(actor=request.user, obj=pv)
    template = "governance/policy_version.html"
    if decline_form is not None and request.htmx:
        template += "#decision"  # the decline form, swapped in again with what was wrong
    return render(request, template, {
        "pv": pv, "current": current, "replaced": replaced,
        "others_current": [c for c in currents if c.pk != pv.pk and c not in replaced],
        "scope_conflicts": [] if pv.is_current else pv.scope_conflicts(currents),
        "moves": moves, "moves_fingerprint": services.moves_fingerprint(moves),
        "compared": compared,
        "changes": definition_changes(compared.definition if compared else None,
                                      pv.definition) if compared else [],
        "tiers": [(tier, rules, quorum_text(rules),
                   [requirement_line(r) for r in rules["required_evidence"]])
                  for tier, rules in sorted(pv.definition["tiers"].items())],
        "tool_rules": [pv.rules.tool_rules(c) for c in CRITICALITIES],
        "tools_defaulted": "tools" not in pv.definition,
        "attestation": attestation_rules(pv.definition),
        "can_manage": permissions.can_manage_policies(request.user),
        "can_approve": permissions.can_approve_policy(request.user, pv.created_by),
        "own_draft": pv.created_by_id == request.user.pk,
        "decline_form": decline_form or _decline_form(request, pv),
        "decline_open": decline_form is not None,
        "error": error}, status=status)


@login_required
def policy_version(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _version_page(request, get_object_or_404(_versions(), pk=pk))


@login_required
@require_POST
def policy_make_current(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    pv = get_object_or_404(_versions(), pk=pk)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        return _version_page(request, pv, status=status,
                             error=error.message if error is not None else "")

    return pages.form_action(
        request, form=None, call=lambda: services.policy_version_make_current(
            actor=request.user, policy_version=pv),
        success=lambda done: f"{done} is now the current policy"
                             f"{'' if done.scope.is_default else ' for ' + done.scope.describe()}; "
                             f"{'its drafter is notified' if done.created_by else 'approved'}. "
                             "Below, see which approved models' periodic reviews its cadence "
                             "would re-schedule.",
        done=lambda done: redirect(done), failure=failure)


@login_required
@require_POST
def policy_reschedule_reviews(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Apply the re-scheduling the version's page previews (its fingerprint posted with it)."""
    pv = get_object_or_404(_versions(), pk=pk)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        return _version_page(request, pv, status=status,
                             error=error.message if error is not None else "")

    return pages.form_action(
        request, form=None, call=lambda: services.policy_reviews_reschedule(
            actor=request.user, policy_version=pv,
            fingerprint=request.POST.get("fingerprint", "")),
        success=lambda moves: f"{len(moves)} periodic review{'s' if len(moves) != 1 else ''} "
                              f"re-scheduled under {pv}; the models' owners are notified.",
        done=lambda moves: redirect(pv), failure=failure)


@login_required
@require_POST
def policy_decline(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Decline a draft with a reason (its drafter: withdraw it). With htmx, what was wrong comes
    back into the form in place; done, the page is loaded again with the outcome."""
    pv = get_object_or_404(_versions(), pk=pk)
    form = _decline_form(request, pv, request.POST)

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        return _version_page(request, pv, status=status, decline_form=form)

    def done(declined: PolicyVersion) -> HttpResponse:
        url = declined.get_absolute_url()
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)

    return pages.form_action(
        request, form=form, call=lambda: services.policy_version_decline(
            actor=request.user, policy_version=pv, reason=form.cleaned_data["reason"]),
        success=lambda declined: (
            f"{declined} is withdrawn; it stays for the record and will not become current."
            if declined.is_withdrawn else
            f"{declined} is declined; its drafter, {person_name(declined.created_by)}, is "
            "notified with your reason." if declined.created_by else
            f"{declined} is declined; it stays for the record and will not become current."),
        done=done, failure=failure)

"""The validation review page: the assigned validator writes and concludes the review."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from core import pages, permissions
from core.errors import DomainError
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.forms import ReviewForm
from governance.gates import case_for
from governance.models import workflow_url
from governance.status import version_status
from governance.views.common import refuse_on_get, workable_version


@login_required
def review(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = workable_version(request, slug, number)
    refuse_on_get(request, permissions.reason_cannot_review(request.user, case_for(version)))
    form = ReviewForm(request.POST or None)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "governance/review.html", {
            "version": version, "model": version.model, "form": form,
            "w": version_status(version, request.user)}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.review_conclude(
            actor=request.user, version=version, **form.cleaned_data),
        success="Review concluded.", done=workflow_url(version), failure=page)

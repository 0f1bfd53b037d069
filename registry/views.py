"""Inventory pages: list, model and version details, and the forms that change them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from core import pages, permissions
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from core.models import Team
from registry import services
from registry.filters import (
    SORTS,
    STATUS_CHOICES,
    ModelFilter,
    inventory_rows,
    visible_links,
    with_version_stats,
)
from registry.forms import (
    ArtifactForm,
    ModelForm,
    MonotoneForm,
    VendorDocumentForm,
    VersionForm,
)
from registry.models import (
    DecisionType,
    EntryKind,
    ModelVersion,
    RegisteredModel,
    SignatureKind,
    VersionState,
)
from registry.storage import signature_response, stored_file_response
from registry.tabs import MODEL_PAGE

PAGE_SIZE = 50


def _visible_model(request: AuthenticatedHttpRequest, slug: str) -> RegisteredModel:
    return get_object_or_404(
        RegisteredModel.objects.visible_to(request.user)
        .select_related("team", "owner", "created_by")
        .prefetch_related("developers", "assignees", "tags",
                          visible_links("upstream_models", request.user),
                          visible_links("downstream_models", request.user)),
        slug=slug,
    )


def _require_edit(request: AuthenticatedHttpRequest, model: RegisteredModel) -> None:
    """403 with the reason unless the user may change the model (checked before any input)."""
    if not permissions.can_edit_model(request.user, model):
        raise PermissionRefused(permissions.reason_cannot_edit_model(request.user, model))


def _visible_version(request: AuthenticatedHttpRequest, slug: str, number: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.visible_to(request.user).select_related("model", "created_by"),
        model__slug=slug, number=number,
    )


@login_required
def model_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    wanted = ModelFilter.from_params(request.GET)
    models = inventory_rows(wanted.apply(RegisteredModel.objects.visible_to(request.user)))
    page = Paginator(models, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = with_version_stats(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page, "filter": wanted, "query": query.urlencode(),
        "teams": Team.objects.all(), "statuses": STATUS_CHOICES,
        "kinds": EntryKind.choices,
        "decision_types": DecisionType.choices, "sorts": SORTS,
        "can_create": permissions.can_create_model(request.user),
    }
    template = "registry/model_list.html#rows" if request.htmx else "registry/model_list.html"
    return render(request, template, context, status=400 if wanted.errors else 200)


@login_required
def model_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not permissions.can_create_model(request.user):
        raise PermissionRefused("Only data scientists and administrators can register models.")
    form = ModelForm(request.POST or None, user=request.user)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "registry/model_form.html", {"form": form, "model": None},
                      status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.model_create(
            actor=request.user, **form.service_kwargs()),
        success=lambda model: f"Model '{model.name}' is registered.", done=_model_page,
        failure=page)


@login_required
def model_detail(request: AuthenticatedHttpRequest, slug: str, tab: str = "") -> HttpResponse:
    """The model page: one tab at a time (``/models/<slug>/`` the overview, ``/models/<slug>/
    <tab>/`` the others), each added by the app that owns its content (registry.tabs). With
    htmx, only the tabs and the chosen one's content (the page's ``tabbed`` partial)."""
    model = _visible_model(request, slug)
    shown = pages.tabs(MODEL_PAGE)
    current = next((t for t in shown if t.key == tab), None)
    if current is None:  # the URL converter lets only registered keys through
        raise Http404(f"This model page has no tab {tab!r}.")
    links = [{"key": t.key, "label": t.label, "selected": t is current,
              "id": f"tab-{t.key or 'overview'}",
              "url": (reverse("registry:model-tab", kwargs={"slug": slug, "tab": t.key}) if t.key
                      else reverse("registry:model-detail", kwargs={"slug": slug}))}
             for t in shown]
    context = {"model": model, "can_edit": permissions.can_edit_model(request.user, model),
               "tab": current, "tab_links": links, "tab_id": links[shown.index(current)]["id"],
               **(current.context(request, model) if current.context else {})}
    template = "registry/model_detail.html#tabbed" if request.htmx else "registry/model_detail.html"
    response = render(request, template, context)
    # One URL, two answers (the page, or its tabs for htmx): caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def model_edit(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = _visible_model(request, slug)
    _require_edit(request, model)
    form = ModelForm(request.POST or None, user=request.user, instance=model)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "registry/model_form.html", {"form": form, "model": model},
                      status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: services.model_update(
            actor=request.user, model=model, **form.service_kwargs()),
        success="Changes saved.", done=lambda _: _model_page(model), failure=page)


@login_required
def version_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = _visible_model(request, slug)
    _require_edit(request, model)
    form = VersionForm(request.POST or None, request.FILES or None,
                       first=model.last_version_number == 0)
    if not model.has_onnx_form:  # validated on documentation and predictions, no artifact
        del form.fields["artifact"]
        del form.fields["monotone_features"]
    _note_refused_upload(request, form, "artifact")

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "registry/version_form.html", {"form": form, "model": model},
                      status=status)

    def call() -> ModelVersion:
        data = dict(form.cleaned_data)
        artifact = data.pop("artifact", None)
        return services.version_create(actor=request.user, model=model, artifact=artifact,
                                       artifact_filename=getattr(artifact, "name", ""), **data)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=call, failure=page,
        success=lambda version: f"Version {version.number} created.",
        done=lambda version: redirect("registry:version-detail", slug=slug,
                                      number=version.number))


@login_required
def version_detail(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = _visible_version(request, slug, number)
    can_edit = permissions.can_edit_model(request.user, version.model)
    return render(request, "registry/version_detail.html", {
        "version": version, "model": version.model,
        "can_upload": can_edit and not version.artifact_is_frozen,
        "artifact_form": ArtifactForm(),
        "monotone_form": MonotoneForm(initial={"monotone_features": "\n".join(
            f"{k}: {v}" for k, v in version.monotone_features.items())}),
        **_signature_context(version),
    })


@login_required
@require_POST
def version_monotone(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    """Declare the draft version's monotone features (the robustness check tests them)."""
    version = _visible_version(request, slug, number)
    _require_edit(request, version.model)
    form = MonotoneForm(request.POST)
    return pages.form_action(
        request, form=form, call=lambda: services.version_update(
            actor=request.user, version=version,
            monotone_features=form.cleaned_data["monotone_features"]),
        success="Monotone features saved.",
        done=reverse("registry:version-detail", kwargs={"slug": slug, "number": number}),
        failure=lambda status, _: render(request, "registry/version_detail.html", {
            "version": version, "model": version.model, "can_upload": True,
            "artifact_form": ArtifactForm(), "monotone_form": form,
            **_signature_context(version)}, status=status))


def _signature_context(version: ModelVersion) -> dict[str, Any]:
    """The current signatures, and why they do not back an approval (if they do not)."""
    current = [s for s in (version.current_signature(k) for k in SignatureKind.values) if s]
    problems = version.signature_problems() if version.state == VersionState.APPROVED \
        and version.model.has_onnx_form else []
    return {"signatures": current, "signature_problems": problems}


@login_required
def signature_download(request: AuthenticatedHttpRequest, slug: str, number: int, kind: str) -> HttpResponse:
    signature = _visible_version(request, slug, number).current_signature(kind)
    if signature is None:
        raise Http404(f"This version has no {kind} signature.")
    return signature_response(signature)


@login_required
@require_POST
def artifact_upload(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    version = _visible_version(request, slug, number)
    _require_edit(request, version.model)
    form = ArtifactForm(request.POST, request.FILES)
    _note_refused_upload(request, form, "artifact")

    def call() -> ModelVersion:
        upload = form.cleaned_data["artifact"]
        return services.artifact_upload(actor=request.user, version=version, artifact=upload,
                                        filename=upload.name)

    return pages.form_action(
        request, form=form, call=call, success="Artifact checked and stored.",
        done=reverse("registry:version-detail", kwargs={"slug": slug, "number": number}),
        failure=lambda status, _: render(request, "registry/version_detail.html", {
            "version": version, "model": version.model, "can_upload": True,
            "artifact_form": form}, status=status))


@login_required
def artifact_download(request: AuthenticatedHttpRequest, slug: str,
                      number: int) -> HttpResponseBase:
    version = _visible_version(request, slug, number)
    if not version.has_artifact:
        raise Http404("This version has no artifact yet.")
    return stored_file_response(version.artifact_sha256,
                                version.artifact_filename or f"{slug}-v{number}.onnx")


@login_required
def vendor_document_download(request: AuthenticatedHttpRequest, slug: str,
                             doc_id: int) -> HttpResponseBase:
    doc = get_object_or_404(_visible_model(request, slug).vendor_documents, pk=doc_id)
    return stored_file_response(doc.sha256, doc.filename)


@login_required
@require_POST
def vendor_document_upload(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    model = _visible_model(request, slug)
    _require_edit(request, model)
    form = VendorDocumentForm(request.POST, request.FILES)
    _note_refused_upload(request, form, "document")

    def call() -> RegisteredModel:
        upload = form.cleaned_data["document"]
        services.vendor_document_add(actor=request.user, model=model, document=upload,
                                     filename=upload.name)
        return model

    def failure(status: int, error: DomainError | None) -> HttpResponse:
        # The model page has no upload form to show again: its errors become messages.
        for field_errors in form.errors.values():
            for message in field_errors:
                # An ErrorList yields its messages as text; the stubs type its items more widely.
                messages.error(request, message)  # type: ignore[arg-type]
        return _model_page(model)

    return pages.form_action(
        request, form=form, call=call, done=_model_page, failure=failure,
        success=lambda _: f"Added '{form.cleaned_data['document'].name}'.")


def _model_page(model: RegisteredModel) -> HttpResponse:
    return redirect("registry:model-detail", slug=model.slug)


def _note_refused_upload(request: AuthenticatedHttpRequest, form, field: str) -> None:
    """Show the upload handler's refusal (file over the cap) on the form's field."""
    refused = getattr(request, "upload_refusals", {}).get(field)
    if refused and field in form.fields:
        form.add_error(field, refused)


"""The data-source catalogue's pages: the list, one source with the models that use it, and the
forms to record, change and delete one. Each action calls registry.data_sources."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core import pages, permissions
from core.errors import DomainError, PermissionRefused
from core.http import AuthenticatedHttpRequest
from registry import data_sources
from registry.forms import DataSourceForm
from registry.models import DataSource, RegisteredModel


def _visible(request: AuthenticatedHttpRequest, pk: int) -> DataSource:
    return get_object_or_404(DataSource.objects.visible_to(request.user)
                             .select_related("owner", "created_by"), pk=pk)


def _require_edit(request: AuthenticatedHttpRequest, source: DataSource) -> None:
    if not permissions.can_edit_data_source(request.user, source.owner_id):
        raise PermissionRefused("Only the data source's owner, risk officers and administrators "
                                "change it.")


@login_required
def data_source_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    sources = DataSource.objects.visible_to(request.user).select_related("owner")
    visible = RegisteredModel.objects.visible_to(request.user)
    counts = {pk: 0 for pk in sources.values_list("pk", flat=True)}
    for pk in visible.filter(linked_data_sources__isnull=False).values_list(
            "linked_data_sources", flat=True):
        counts[pk] = counts.get(pk, 0) + 1
    rows = [(s, counts.get(s.pk, 0)) for s in sources]
    return render(request, "registry/data_sources.html", {
        "rows": rows, "can_create": permissions.can_create_data_source(request.user)})


@login_required
def data_source_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    source = _visible(request, pk)
    using = (RegisteredModel.objects.visible_to(request.user).filter(linked_data_sources=source)
             .select_related("team", "owner"))
    hidden = RegisteredModel.objects.filter(linked_data_sources=source).count() - using.count()
    return render(request, "registry/data_source.html", {
        "source": source, "using": using, "hidden": hidden,
        "can_edit": permissions.can_edit_data_source(request.user, source.owner_id)})


@login_required
def data_source_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not permissions.can_create_data_source(request.user):
        raise PermissionRefused("Only data scientists, risk officers and administrators record "
                                "data sources.")
    form = DataSourceForm(request.POST or None)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "registry/data_source_form.html", {"form": form, "source": None},
                      status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: data_sources.data_source_create(
            actor=request.user, **form.service_kwargs()),
        success=lambda s: f"Data source '{s.name}' recorded.",
        done=lambda s: redirect("data-source", pk=s.pk), failure=page)


@login_required
def data_source_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    source = _visible(request, pk)
    _require_edit(request, source)
    form = DataSourceForm(request.POST or None, instance=source)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        return render(request, "registry/data_source_form.html",
                      {"form": form, "source": source}, status=status)

    if request.method != "POST":
        return page()
    return pages.form_action(
        request, form=form, call=lambda: data_sources.data_source_update(
            actor=request.user, source=source, **form.service_kwargs()),
        success="Changes saved.", done=lambda s: redirect("data-source", pk=s.pk),
        failure=page)


@login_required
def data_source_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    source = _visible(request, pk)
    _require_edit(request, source)
    if request.method != "POST":
        return redirect("data-source", pk=pk)

    def page(status: int = 200, error: DomainError | None = None) -> HttpResponse:
        using = (RegisteredModel.objects.visible_to(request.user)
                 .filter(linked_data_sources=source).select_related("team", "owner"))
        return render(request, "registry/data_source.html", {
            "source": source, "using": using, "hidden": 0, "can_edit": True,
            "delete_error": str(error) if error else ""}, status=status)

    return pages.form_action(
        request, form=None, call=lambda: data_sources.data_source_delete(
            actor=request.user, source=source),
        success=f"Data source '{source.name}' deleted.", done="data-sources", failure=page)

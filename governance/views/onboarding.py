"""Bulk onboarding pages: an administrator uploads an inventory CSV, reads the dry run's
problems by line and column, then imports the same file (all rows or none); anyone exports the
inventory they may see as CSV."""

from __future__ import annotations

import base64
import binascii

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core import permissions
from core.errors import PermissionRefused
from core.http import AuthenticatedHttpRequest
from governance import services
from governance.api.onboarding import csv_response
from governance.services.onboarding import COLUMNS
from registry.onboarding import MAX_BYTES


class UploadForm(forms.Form):
    file = forms.FileField(label="Inventory CSV")


@login_required
@require_http_methods(["GET", "POST"])
def inventory_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the columns and the upload form. POST with a file: the dry run. POST with the
    checked file's content (``content``, as the dry run's page carries it): the import."""
    if not permissions.can_import_inventory(request.user):
        raise PermissionRefused("Only administrators import an inventory.")
    form = UploadForm(request.POST or None, request.FILES or None)
    report = None
    content = ""
    filename = request.POST.get("filename", "")
    status = 200
    if request.method == "POST" and "content" in request.POST:
        try:
            data = base64.b64decode(request.POST["content"], validate=True)
        except (binascii.Error, ValueError):
            data = b""
        report = services.inventory_import(actor=request.user, data=data, dry_run=False,
                                           filename=filename)
        if report.ok:
            messages.success(request, f"Imported {len(report.created)} models from {filename}.")
            return redirect("registry:model-list")
        status = 400
        form = UploadForm()
    elif request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            data = upload.read(MAX_BYTES + 1)
            filename = upload.name
            report = services.inventory_import(actor=request.user, data=data, dry_run=True,
                                               filename=filename)
            content = base64.b64encode(data).decode() if report.ok else ""
            status = 200 if report.ok else 400
        else:
            status = 400
    return render(request, "governance/inventory_import.html", {
        "form": form, "report": report, "content": content, "filename": filename,
        "columns": COLUMNS}, status=status)


@login_required
def inventory_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    return csv_response(services.inventory_export(actor=request.user))

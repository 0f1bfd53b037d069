"""Browsing the audit trail (auditors and administrators)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core import permissions
from core.errors import PermissionRefused
from core.models import AuditEvent


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    if not permissions.can_export_audit(request.user):
        raise PermissionRefused("Only auditors and administrators can browse the audit trail.")
    events = AuditEvent.objects.order_by("-seq")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_list.html", {"page": page})

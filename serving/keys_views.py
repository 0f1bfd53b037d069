"""The application keys page: deployers and administrators create keys (shown once) and revoke
them; auditors read the list. The page and the API call the same services (serving.appkeys)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core import permissions
from core.errors import DomainError, PermissionRefused
from core.forms import add_domain_error
from core.http import AuthenticatedHttpRequest
from serving import appkeys
from serving.models import AppKey, Endpoint


class AppKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The application that will use the key.")
    endpoints = forms.ModelMultipleChoiceField(
        queryset=Endpoint.objects.all(), to_field_name="slug",
        widget=forms.CheckboxSelectMultiple, help_text="The endpoints the key may call.")
    rate_limit = forms.IntegerField(
        required=False, min_value=1, max_value=100_000, label="Rate limit (requests per second)",
        help_text="Leave empty for the gateway's default.")


def _may_read(request: AuthenticatedHttpRequest) -> None:
    if not (permissions.can_manage_app_keys(request.user)
            or permissions.can_export_audit(request.user)):
        raise PermissionRefused("Only deployers and administrators manage application keys.")


@login_required
def keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    """List the keys; create one (its value is shown once, on this response only)."""
    _may_read(request)
    created = None
    form = AppKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _key, created = appkeys.appkey_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            form = AppKeyForm()
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "serving/keys.html", {
        "form": form, "created": created,
        "keys": AppKey.objects.visible_to(request.user).select_related("created_by")
        .prefetch_related("endpoints"),
        "may_manage": permissions.can_manage_app_keys(request.user),
    }, status=status)


@login_required
@require_POST
def key_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(AppKey.objects.visible_to(request.user), pk=pk)
    appkeys.appkey_revoke(actor=request.user, key=key, reason=request.POST.get("reason", ""))
    messages.success(request, f"Application key '{key.name}' is revoked; the gateway refuses it "
                              "within seconds.")
    return redirect("app-keys")

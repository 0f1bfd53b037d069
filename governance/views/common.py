"""What governance's pages share: the model or version a URL names, among those the user may see
(404 otherwise), and the refusal a form page answers on GET."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from core.errors import PermissionRefused
from core.http import AuthenticatedHttpRequest
from governance.gates import workable_versions
from registry.models import ModelVersion, RegisteredModel


def visible_model(request: AuthenticatedHttpRequest, slug: str) -> RegisteredModel:
    return get_object_or_404(RegisteredModel.objects.visible_to(request.user), slug=slug)


def workable_version(request: AuthenticatedHttpRequest, slug: str, number: int) -> ModelVersion:
    """A version the user may see, or (validators) take from the open queue."""
    return get_object_or_404(workable_versions(request.user), model__slug=slug, number=number)


def refuse_on_get(request: AuthenticatedHttpRequest, reason: str) -> None:
    """The form page of an action the user may not take answers 403 with the reason at once on
    GET; a POST goes on to the service, which refuses it on the record."""
    if reason and request.method == "GET":
        raise PermissionRefused(reason)

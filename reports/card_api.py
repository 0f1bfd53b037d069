"""The model card through the API, for pipelines and the Python client: the same download as the
page's (Model Card Toolkit JSON or Hugging Face Markdown), audited the same way."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from core.api.schema import ErrorSerializer
from core.http import AuthenticatedRequest
from registry.models import ModelVersion
from reports.views import EXPORTS, model_card_download


class ModelCardView(APIView):
    @extend_schema(
        operation_id="version_model_card",
        summary="A version's model card (Model Card Toolkit JSON v0.0.2, or Markdown)",
        parameters=[OpenApiParameter(
            "as", str, enum=sorted(EXPORTS), default="json",
            description="json: Model Card Toolkit schema v0.0.2; markdown: the Hugging Face "
                        "model card layout (a README.md).")],
        responses={(200, "application/json"): OpenApiResponse(
                       OpenApiTypes.OBJECT, description="The Model Card Toolkit JSON; "
                                                        "X-Content-SHA256 is its digest."),
                   (200, "text/markdown"): OpenApiResponse(
                       OpenApiTypes.STR, description="The Hugging Face model card."),
                   400: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: AuthenticatedRequest, pk: int) -> HttpResponse:
        what = request.query_params.get("as", "json")
        if what not in EXPORTS:
            raise ValidationError({"as": [f"Unknown format '{what}'; use one of: "
                                          f"{', '.join(sorted(EXPORTS))}."]})
        version = get_object_or_404(
            ModelVersion.objects.visible_to(request.user).select_related("model"), pk=pk)
        return model_card_download(request.user, version, what)

"""API for keys, checkpoints and export: public keys for everyone signed in; checkpoints and
exports for auditors and administrators."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import export, permissions
from core.api.base import valid_input
from core.http import AuthenticatedRequest
from core.models.signing import Checkpoint, KeyPurpose, SigningKey


class CanReadAudit(BasePermission):
    message = "Only auditors and administrators can read checkpoints and export the audit trail."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return permissions.can_export_audit(request.user)


class SigningKeySerializer(serializers.ModelSerializer[SigningKey]):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = SigningKey
        fields = ["keyid", "purpose", "algorithm", "public_key_pem", "status", "created_at",
                  "retired_at", "revoked_at", "revocation_reason"]
        read_only_fields = fields


class CheckpointSerializer(serializers.ModelSerializer[Checkpoint]):
    class Meta:
        model = Checkpoint
        fields = ["id", "seq", "chain_hash", "signed_at", "keyid", "reason", "envelope"]
        read_only_fields = fields


class ExportRequestSerializer(serializers.Serializer[Any]):
    model = serializers.SlugField(required=False, allow_blank=True, default="",
                                  help_text="slug of the model whose events to include")
    date_from = serializers.DateField(required=False, allow_null=True, default=None,
                                      help_text="first day (UTC), YYYY-MM-DD")
    date_to = serializers.DateField(required=False, allow_null=True, default=None,
                                    help_text="last day (UTC), YYYY-MM-DD")


class SigningKeyList(generics.ListAPIView[SigningKey]):
    """Published public keys (all purposes, or ``?purpose=``), with their validity."""

    serializer_class = SigningKeySerializer

    @extend_schema(parameters=[OpenApiParameter("purpose", enum=KeyPurpose.values,
                                                required=False)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[SigningKey]:
        keys = SigningKey.objects.all()
        purpose = self.request.query_params.get("purpose")
        if purpose:
            if purpose not in KeyPurpose.values:
                raise serializers.ValidationError(
                    {"purpose": [f"Unknown purpose; choose one of: {', '.join(KeyPurpose.values)}."]})
            keys = keys.filter(purpose=purpose)
        return keys


class SigningKeyDetail(generics.RetrieveAPIView[SigningKey]):
    serializer_class = SigningKeySerializer
    queryset = SigningKey.objects.all()
    lookup_field = "keyid"


class CheckpointList(generics.ListAPIView[Checkpoint]):
    """Signed checkpoints of the audit chain, newest first."""

    serializer_class = CheckpointSerializer
    permission_classes = [CanReadAudit]
    queryset = Checkpoint.objects.order_by("-seq", "-pk")


class AuditExportView(APIView):
    """Export the trail as a bundle (JSON Lines) that ``python -m core.verify_bundle`` checks
    offline. Recorded as an ``audit.export`` event, covered by a checkpoint signed for it."""

    permission_classes = [CanReadAudit]

    @extend_schema(request=ExportRequestSerializer,
                   responses={(200, "application/x-ndjson"): OpenApiResponse(
                       response=OpenApiTypes.BINARY, description="the bundle file")})
    def post(self, request: AuthenticatedRequest) -> StreamingHttpResponse:
        data = valid_input(ExportRequestSerializer, request)
        prepared = export.audit_export(actor=request.user, model_slug=data["model"],
                                       date_from=data["date_from"], date_to=data["date_to"])
        return bundle_response(prepared)


def bundle_response(prepared: export.Export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(prepared.lines(), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
    return response

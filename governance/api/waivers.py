"""Waivers over the API: the list, granting one (a risk officer independent of the model) and
revoking it."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import (
    ScopedReadOnlyViewSet,
    StrictSerializer,
    TextField,
    valid_input,
)
from core.api.parsers import JSONParser
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.api.common import Username, VisibleInputSerializer
from governance.models import Finding, Waiver
from registry.models import ModelVersion


class WaiverSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    check = serializers.CharField(source="check_name", read_only=True)
    approved_by: Username[User] = Username(slug_field="username", read_only=True)
    ended_by: Username[User] = Username(slug_field="username", read_only=True)
    covers = serializers.CharField(source="covers_label", read_only=True)

    class Meta:
        model = Waiver
        fields = ["id", "version", "model", "version_number", "finding", "check", "covers",
                  "reason", "compensating_controls", "limits_of_use", "approved_by",
                  "granted_at", "expires_at", "status", "ended_at", "ended_by", "end_reason"]
        read_only_fields = fields


class WaiverInputSerializer(VisibleInputSerializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    finding = serializers.PrimaryKeyRelatedField(queryset=Finding.objects.all(), required=False,
                                                 default=None,
                                                 help_text="The blocking finding it covers.")
    check = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                  help_text="Or: the evidence check it covers.")
    reason = TextField()
    compensating_controls = TextField()
    limits_of_use = TextField()
    expires_at = serializers.DateTimeField()


class ReasonInputSerializer(StrictSerializer):
    reason = TextField()


class WaiverViewSet(ScopedReadOnlyViewSet):
    """Waivers of versions you may see. A risk officer independent of the model grants one (POST)
    for a blocking finding or a missing or failing evidence check, until its expiry."""

    model = Waiver
    parser_classes = [JSONParser]
    serializer_class = WaiverSerializer

    def visible(self, user: User) -> QuerySet:
        qs = super().visible(user).select_related(
            "version__model", "approved_by", "ended_by")
        if self.request.query_params.get("status") in ("active", "expired", "revoked"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs.order_by("expires_at", "pk")

    @extend_schema(parameters=[OpenApiParameter("status", str,
                                                enum=["active", "expired", "revoked"])])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=WaiverInputSerializer, responses={201: WaiverSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(WaiverInputSerializer, request)
        version = data.pop("version")  # the serializer resolves only versions you may see
        waiver = services.waiver_grant(actor=request.user, version=version, **data)
        return Response(WaiverSerializer(waiver).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonInputSerializer, responses=WaiverSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """End the waiver early (risk officer): the item blocks again."""
        waiver = services.waiver_revoke(actor=request.user, waiver=self.get_object(),
                                        reason=valid_input(ReasonInputSerializer, request)["reason"])
        return Response(WaiverSerializer(waiver).data)

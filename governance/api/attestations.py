"""Owners' attestations over the API: the history of models you may see, what is due, and the
owner's attestation (POST)."""

from __future__ import annotations

from typing import Any, ClassVar

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
    VisibleInputMixin,
    valid_input,
)
from core.api.parsers import JSONParser
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.api.common import StrictBooleanField, Username
from governance.models import OwnerAttestation
from governance.services.attestations import OK
from registry.models import RegisteredModel


class OwnerAttestationSerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    attested_by: Username[User] = Username(slug_field="username", read_only=True)
    policy_version: serializers.StringRelatedField[Any] = serializers.StringRelatedField()

    class Meta:
        model = OwnerAttestation
        fields = ["id", "model", "attested_by", "attested_at", "due_on", "statement",
                  "entry_complete", "used_as_approved", "within_conditions", "comment",
                  "policy_version", "tier", "next_due_on"]
        read_only_fields = fields


class OwnerAttestationInputSerializer(VisibleInputMixin, StrictSerializer):
    visible_inputs: ClassVar = {"model": RegisteredModel.objects.visible_to}

    model = serializers.SlugRelatedField(
        slug_field="slug", queryset=RegisteredModel.objects.all(),
        error_messages={"does_not_exist": "No model with the slug {value}."},
        help_text="The model's slug.")
    entry_complete = StrictBooleanField(help_text="The inventory entry is complete and accurate.")
    used_as_approved = StrictBooleanField(help_text="The model is used as it was approved.")
    within_conditions = StrictBooleanField(help_text="The model is used within the conditions "
                                                     "and limits of its approval.")
    comment = TextField(required=False, default="", allow_blank=True)


class AttestationStandingSerializer(serializers.Serializer):
    """Where a model stands with its owner's attestation."""

    model = serializers.CharField(source="model.slug")
    owner = serializers.CharField(source="model.owner.username")
    tier = serializers.IntegerField()
    policy_version = serializers.CharField()
    cadence_months = serializers.IntegerField()
    statement = serializers.CharField()
    due_on = serializers.DateField()
    overdue_from = serializers.DateField()
    status = serializers.ChoiceField(choices=["ok", "due", "overdue"])
    last_attested_at = serializers.DateTimeField(source="last.attested_at", allow_null=True,
                                                 default=None)


class OwnerAttestationViewSet(ScopedReadOnlyViewSet):
    """Owners' attestations of models you may see, newest first; the owner attests (POST);
    ``due/`` lists where each model stands."""

    model = OwnerAttestation
    parser_classes = [JSONParser]
    serializer_class = OwnerAttestationSerializer

    def visible(self, user: User) -> QuerySet:
        qs = super().visible(user).select_related("model", "attested_by",
                                                  "policy_version__policy")
        slug = self.request.query_params.get("model")
        return qs.filter(model__slug=slug) if slug else qs

    @extend_schema(parameters=[OpenApiParameter("model", str, description="A model's slug.")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=OwnerAttestationInputSerializer,
                   responses={201: OwnerAttestationSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(OwnerAttestationInputSerializer, request)
        row = services.owner_attestation_record(actor=request.user, **data)
        return Response(OwnerAttestationSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("all", bool, description="Every tiered model, "
                                                "not only those due or overdue.")],
                   responses=AttestationStandingSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None)
    def due(self, request: AuthenticatedRequest) -> Response:
        """Attestations due or overdue on the models you may see (most overdue first)."""
        show_all = request.query_params.get("all") in ("1", "true")
        standings = [s for s in services.attestation_standings(
            RegisteredModel.objects.visible_to(request.user).select_related("owner"))
            if show_all or s.status != OK]
        standings.sort(key=lambda s: (s.status != "overdue", s.due_on, s.model.slug))
        return Response(AttestationStandingSerializer(standings, many=True).data)

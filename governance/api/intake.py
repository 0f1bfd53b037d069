"""A model's intake and risk tier over the API: the questionnaire, and tier override requests and
decisions."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import ScopedViewSet, StrictSerializer, TextField, not_found, valid_input
from core.api.parsers import JSONParser
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.api.common import StrictBooleanField
from governance.models import ModelIntake, PolicyVersion, TierOverride, UseCase
from registry.models import RegisteredModel


class IntakeInputSerializer(StrictSerializer):
    is_model = StrictBooleanField(help_text="Is this a model in the supervisory sense?")
    rationale = TextField(required=False, default="", allow_blank=True)
    answers = serializers.DictField(child=TextField(), required=False, default=dict,
                                    help_text="Question key → answer value.")


class OverrideRequestSerializer(StrictSerializer):
    tier = serializers.IntegerField(min_value=1, max_value=3)
    justification = TextField()


class OverrideDecisionSerializer(StrictSerializer):
    approve = StrictBooleanField()
    comment = TextField(required=False, default="", allow_blank=True)


class TierOverrideSerializer(serializers.ModelSerializer):
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    decided_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)

    class Meta:
        model = TierOverride
        fields = ["id", "tier", "computed_tier", "justification", "status", "requested_by",
                  "requested_at", "decided_by", "decided_at", "comment"]
        read_only_fields = fields


class UseCaseInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = TextField()
    business_line = serializers.CharField(max_length=100, required=False, default="",
                                          allow_blank=True)
    answers = serializers.DictField(child=TextField(), help_text="Question key → answer value "
                                                                 "(the intake's questionnaire).")


class UseCaseSerializer(serializers.ModelSerializer):
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    policy_version: serializers.StringRelatedField[PolicyVersion] = serializers.StringRelatedField()

    class Meta:
        model = UseCase
        fields = ["id", "name", "description", "business_line", "answers", "scoring", "tier",
                  "policy_version", "created_by", "created_at"]
        read_only_fields = fields


class IntakeSerializer(serializers.ModelSerializer):
    """``tier`` is the tier in force: the most critical of ``primary_tier`` (``override_tier``,
    the approved ``override``, when there is one, else ``computed_tier``) and
    ``use_case_tier`` (the most critical of ``use_cases``). ``override_request`` is a request awaiting a risk officer; it
    changes nothing until decided. ``overrides`` lists every request, newest first."""

    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    tier = serializers.IntegerField(read_only=True, allow_null=True)
    policy_version: serializers.StringRelatedField[PolicyVersion] = serializers.StringRelatedField()
    completed_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    override = TierOverrideSerializer(read_only=True, allow_null=True)
    override_request = TierOverrideSerializer(source="pending_override", read_only=True,
                                              allow_null=True)
    overrides = TierOverrideSerializer(many=True, read_only=True)
    primary_tier = serializers.IntegerField(read_only=True, allow_null=True,
                                            help_text="The main purpose's tier (override or "
                                                      "computed).")
    governed_by_use_case = serializers.BooleanField(read_only=True)
    use_cases = UseCaseSerializer(source="model.use_cases", many=True, read_only=True)

    class Meta:
        model = ModelIntake
        fields = ["model", "is_model", "rationale", "answers", "scoring", "computed_tier",
                  "tier", "primary_tier", "use_case_tier", "governed_by_use_case", "use_cases",
                  "policy_version", "override_tier", "override", "override_request",
                  "overrides", "completed_by", "completed_at"]
        read_only_fields = fields


@extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH,
                                            description="The model's slug.")])
class IntakeViewSet(ScopedViewSet):
    """A model's intake ("is it a model?") and risk tier. PUT scores the questionnaire under the
    current policy; a tier override needs a justification and a risk officer's approval."""

    model = RegisteredModel
    lookup_field = "slug"
    parser_classes = [JSONParser]
    serializer_class = IntakeSerializer

    def _body(self, model: RegisteredModel) -> Response:
        intake = ModelIntake.objects.filter(model=model).first()
        if intake is None:
            not_found("This model has no intake yet; PUT one.")
        return Response(IntakeSerializer(intake).data)

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        return self._body(self.get_object())

    @extend_schema(request=IntakeInputSerializer, responses=IntakeSerializer)
    def update(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        model = self.get_object()
        data = valid_input(IntakeInputSerializer, request)
        services.intake_record(actor=request.user, model=model, **data)
        return self._body(model)

    @extend_schema(request=OverrideRequestSerializer, responses=IntakeSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        """Ask for another tier than the computed one (with a justification)."""
        model = self.get_object()
        services.tier_override_request(actor=request.user, model=model,
                                       **valid_input(OverrideRequestSerializer, request))
        return self._body(model)

    @extend_schema(request=OverrideDecisionSerializer, responses=IntakeSerializer)
    @action(detail=True, methods=["post"], url_path="override-decision")
    def override_decision(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        """A risk officer approves or rejects the requested override."""
        model = self.get_object()
        services.tier_override_decide(actor=request.user, model=model,
                                      **valid_input(OverrideDecisionSerializer, request))
        return self._body(model)

    @extend_schema(request=UseCaseInputSerializer, responses={201: IntakeSerializer},
                   summary="Add a use case, tiered by the questionnaire (a more critical one "
                           "re-tiers the model)")
    @action(detail=True, methods=["post"], url_path="use-cases")
    def use_cases(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        model = self.get_object()
        services.use_case_add(actor=request.user, model=model,
                              **valid_input(UseCaseInputSerializer, request))
        response = self._body(model)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(request=None, responses=IntakeSerializer,
                   parameters=[OpenApiParameter("use_case_id", int, OpenApiParameter.PATH)],
                   summary="Remove a use case (the model is re-tiered)")
    @action(detail=True, methods=["delete"], url_path=r"use-cases/(?P<use_case_id>\d+)")
    def use_case_remove(self, request: AuthenticatedRequest, slug: str | None = None,
                        use_case_id: str | None = None) -> Response:
        model = self.get_object()
        use_case = get_object_or_404(UseCase.objects.filter(model=model), pk=use_case_id)
        services.use_case_remove(actor=request.user, use_case=use_case)
        return self._body(model)

"""The register of tools that are not models over the API: the list (review due first), a tool
with its policy's workflow and its reviews, registering an entry whose intake said "not a
model", changing its criticality, and concluding a periodic review."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
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
from governance.models import PolicyVersion, Tool, ToolCriticality, ToolKind, ToolReview
from registry.models import RegisteredModel

CONTROLS_HELP = ("Each control of the policy's checklist for the tool's criticality -> whether "
                 "it is in place (true or false); a control left out is not in place.")


class ToolReviewSerializer(serializers.ModelSerializer):
    reviewer: Username[User] = Username(slug_field="username", read_only=True)

    class Meta:
        model = ToolReview
        fields = ["id", "reviewer", "reviewed_at", "due_on", "still_in_use", "controls", "notes",
                  "next_review_due"]
        read_only_fields = fields


class ToolRulesSerializer(serializers.Serializer):
    criticality = serializers.CharField()
    review_months = serializers.IntegerField()
    reviewer = serializers.ChoiceField(choices=["owner", "validator", "risk_officer"],
                                       help_text="Who concludes the periodic review.")
    controls = serializers.ListField(child=serializers.CharField())


class ToolSerializer(serializers.ModelSerializer):
    """A tool in the register; its name, owner and team are its inventory entry's (``model``)."""

    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    name = serializers.CharField(source="model.name", read_only=True)
    owner = serializers.CharField(source="model.owner.username", read_only=True)
    team = serializers.CharField(source="model.team.name", read_only=True)
    policy_version: serializers.StringRelatedField[PolicyVersion] = \
        serializers.StringRelatedField()
    registered_by: Username[User] = Username(slug_field="username", read_only=True)
    review_overdue = serializers.SerializerMethodField()

    class Meta:
        model = Tool
        fields = ["model", "name", "owner", "team", "kind", "criticality", "usage", "controls",
                  "policy_version", "next_review_due", "review_overdue", "registered_by",
                  "registered_at", "retired_at"]
        read_only_fields = fields

    def get_review_overdue(self, obj: Tool) -> bool:
        return obj.is_review_overdue()


class ToolDetailSerializer(ToolSerializer):
    rules = serializers.SerializerMethodField()
    reviews = ToolReviewSerializer(many=True, read_only=True)

    class Meta(ToolSerializer.Meta):
        fields = [*ToolSerializer.Meta.fields, "rules", "reviews"]
        read_only_fields = fields

    @extend_schema_field(ToolRulesSerializer)
    def get_rules(self, obj: Tool) -> dict[str, Any]:
        """The workflow its policy version sets for its criticality."""
        return services.tool_rules_of(obj).as_dict()


class ToolInputSerializer(VisibleInputMixin, StrictSerializer):
    visible_inputs = {"model": lambda user: RegisteredModel.objects.visible_to(user)}

    model = serializers.SlugRelatedField(slug_field="slug", queryset=RegisteredModel.objects.all(),
                                         help_text="Slug of the inventory entry whose intake "
                                                   "recorded it as not a model.")
    kind = serializers.ChoiceField(choices=ToolKind.choices)
    criticality = serializers.ChoiceField(choices=ToolCriticality.choices)
    usage = TextField(help_text="Who uses the tool, for what, and how often.")
    controls = serializers.DictField(child=StrictBooleanField(), required=False, default=dict,
                                     help_text=CONTROLS_HELP)


class ToolReviewInputSerializer(StrictSerializer):
    still_in_use = StrictBooleanField(help_text="false retires the tool from the register.")
    notes = TextField(help_text="What the review found.")
    controls = serializers.DictField(child=StrictBooleanField(), required=False, default=dict,
                                     help_text=CONTROLS_HELP)


class ToolCriticalityInputSerializer(StrictSerializer):
    criticality = serializers.ChoiceField(
        choices=ToolCriticality.choices, help_text="The new criticality.", error_messages={
            "invalid_choice": f"The criticality is one of: {', '.join(ToolCriticality.values)}."})
    reason = TextField(help_text="Why it changes: what the tool is used for now.")
    controls = serializers.DictField(
        child=StrictBooleanField(), required=False, default=None,
        help_text="Optional: each control of the new criticality's checklist -> whether it is "
                  "in place; left out, controls the old checklist shares keep their answers "
                  "and new ones start as missing.")


TOOL_FILTERS = [
    OpenApiParameter("criticality", str, enum=ToolCriticality.values),
    OpenApiParameter("kind", str, enum=ToolKind.values),
    OpenApiParameter("overdue", bool, description="Only tools in use whose review is overdue."),
    OpenApiParameter("retired", bool, description="true: only retired tools; default: in use."),
]


@extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH,
                                            description="The slug of the tool's inventory "
                                                        "entry.")])
class ToolViewSet(ScopedReadOnlyViewSet):
    """Tools that are not models (spreadsheets, end-user computing tools, rules engines), each an
    inventory entry whose intake said "not a model". POST registers one with the current policy's
    workflow for its criticality; its reviewer concludes its periodic reviews."""

    model = Tool
    lookup_field = "model__slug"
    lookup_url_kwarg = "slug"
    parser_classes = [JSONParser]

    def get_serializer_class(self) -> type:
        return ToolDetailSerializer if self.action == "retrieve" else ToolSerializer

    def visible(self, user: User) -> QuerySet[Tool]:
        qs = Tool.objects.visible_to(user).listed().select_related("policy_version",
                                                                   "registered_by")
        if self.action == "retrieve":
            return qs.prefetch_related("reviews__reviewer")
        params = self.request.query_params
        if self.action == "list":
            retired = params.get("retired") in ("1", "true")
            qs = qs.filter(retired_at__isnull=not retired)
        if params.get("criticality") in ToolCriticality.values:
            qs = qs.filter(criticality=params["criticality"])
        if params.get("kind") in ToolKind.values:
            qs = qs.filter(kind=params["kind"])
        if params.get("overdue") in ("1", "true"):
            qs = qs.filter(retired_at__isnull=True, next_review_due__lt=timezone.localdate())
        return qs.order_by("next_review_due", "pk")

    @extend_schema(parameters=TOOL_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def _detail(self, tool: Tool) -> Response:
        return Response(ToolDetailSerializer(
            Tool.objects.listed().prefetch_related("reviews__reviewer").get(pk=tool.pk)).data)

    @extend_schema(request=ToolInputSerializer, responses={201: ToolDetailSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(ToolInputSerializer, request)
        tool = services.tool_register(actor=request.user, **data)
        response = self._detail(tool)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(request=ToolCriticalityInputSerializer, responses=ToolDetailSerializer,
                   summary="Change the tool's criticality (its team's editors, risk officers)")
    @action(detail=True, methods=["post"])
    def criticality(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        """The workflow is derived again from the current policy for the new criticality, and
        the next review falls due that many months after the last review (or registration)."""
        tool = self.get_object()
        services.tool_criticality_change(actor=request.user, tool=tool,
                                         **valid_input(ToolCriticalityInputSerializer, request))
        return self._detail(tool)

    @extend_schema(request=ToolReviewInputSerializer, responses=ToolDetailSerializer,
                   summary="Conclude the tool's periodic review (the reviewer its policy names)")
    @action(detail=True, methods=["post"])
    def review(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        tool = self.get_object()
        services.tool_review(actor=request.user, tool=tool,
                             **valid_input(ToolReviewInputSerializer, request))
        return self._detail(tool)

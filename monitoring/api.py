"""Monitoring over the API (``/api/v1/monitoring/``): the plans you may see with their latest
check and recent statistics; the owner's proposed change and the validator's decision; and the
outcomes and overrides applications post. Each write calls the service the pages call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.api.base import (
    ScopedReadOnlyViewSet,
    ScopedViewSet,
    StrictSerializer,
    TextField,
    valid_input,
)
from core.api.parsers import JSONParser
from core.http import AuthenticatedRequest
from core.models import User
from monitoring import services
from monitoring.models import MonitoringCheck, MonitoringPlan, PlanChange
from serving.api_auth import AppKeyAuthentication, application_key

RECENT_CHECKS = 50


class CheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringCheck
        fields = ["id", "at", "period_start", "rows", "status", "statistics", "breaches",
                  "details"]
        read_only_fields = fields


class PlanChangeSerializer(serializers.ModelSerializer):
    proposed_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    decided_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = PlanChange
        fields = ["id", "plan", "rules", "reason", "status", "proposed_by", "proposed_at",
                  "decided_by", "decided_at", "note"]
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    latest_check = serializers.SerializerMethodField()
    revalidation_required_at = serializers.SerializerMethodField()

    class Meta:
        model = MonitoringPlan
        fields = ["id", "version", "model", "version_number", "tier", "rules", "status",
                  "next_check_at", "reference_note", "latest_check",
                  "revalidation_required_at", "created_at"]
        read_only_fields = fields

    @extend_schema(responses=CheckSerializer(allow_null=True))  # type: ignore[misc]
    def get_latest_check(self, plan: MonitoringPlan) -> dict[str, Any] | None:
        check = plan.checks.order_by("-at", "-pk").first()
        return CheckSerializer(check).data if check else None

    def get_revalidation_required_at(self, plan: MonitoringPlan) -> str | None:
        gov = getattr(plan.version, "governance", None)
        at = gov.revalidation_required_at if gov else None
        return at.isoformat() if at else None


class ProposeInputSerializer(StrictSerializer):
    rules = serializers.JSONField(help_text="The plan's new rules (docs/monitoring.md).")
    reason = TextField()


class DecisionInputSerializer(StrictSerializer):
    note = TextField(required=False, default="", allow_blank=True)


class PlanViewSet(ScopedReadOnlyViewSet):
    """Monitoring plans of the versions you may see, each with its latest check."""

    model = MonitoringPlan
    parser_classes = [JSONParser]
    serializer_class = PlanSerializer

    def visible(self, user: User) -> QuerySet[MonitoringPlan]:
        queryset = super().visible(user).select_related("version__model",
                                                        "version__governance")
        endpoint = self.request.query_params.get("endpoint")
        if endpoint:
            from serving.models import PredictionLog
            queryset = queryset.filter(version__in=PredictionLog.objects.filter(
                endpoint_slug=endpoint).values("version"))
        return queryset

    @extend_schema(responses=CheckSerializer(many=True),
                   summary="The plan's recent checks, newest first (the control charts' data)")
    @action(detail=True, methods=["get"])
    def checks(self, request: Request, pk: str | None = None) -> Response:
        page = self.paginate_queryset(self.get_object().checks.order_by("-at", "-pk"))
        return self.get_paginated_response(CheckSerializer(page, many=True).data)

    @extend_schema(request=ProposeInputSerializer, responses={201: PlanChangeSerializer},
                   summary="Propose new rules (the model's owner); the validator decides")
    @action(detail=True, methods=["post"])
    def propose(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        data = valid_input(ProposeInputSerializer, request)
        change = services.plan_change_propose(actor=request.user, plan=self.get_object(),
                                              **data)
        return Response(PlanChangeSerializer(change).data, status=status.HTTP_201_CREATED)


class PlanChangeViewSet(ScopedViewSet):
    """Proposed changes of monitoring plans; the version's validator agrees or declines."""

    model = PlanChange
    parser_classes = [JSONParser]
    serializer_class = PlanChangeSerializer

    def visible(self, user: User) -> QuerySet[PlanChange]:
        return PlanChange.objects.filter(
            plan__in=MonitoringPlan.objects.visible_to(user)).select_related(
            "plan__version__model", "proposed_by", "decided_by")

    @extend_schema(request=DecisionInputSerializer, responses=PlanChangeSerializer,
                   summary="Agree to the change (the version's validator): it applies now")
    @action(detail=True, methods=["post"])
    def agree(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        data = valid_input(DecisionInputSerializer, request)
        return Response(PlanChangeSerializer(services.plan_change_decide(
            actor=request.user, change=self.get_object(), agree=True, **data)).data)

    @extend_schema(request=DecisionInputSerializer, responses=PlanChangeSerializer,
                   summary="Decline the change (the version's validator), saying why")
    @action(detail=True, methods=["post"])
    def decline(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        data = valid_input(DecisionInputSerializer, request)
        return Response(PlanChangeSerializer(services.plan_change_decide(
            actor=request.user, change=self.get_object(), agree=False, **data)).data)


class OutcomesInputSerializer(StrictSerializer):
    endpoint = serializers.CharField(help_text="The endpoint that made the predictions.")
    outcomes = serializers.ListField(
        child=serializers.JSONField(), help_text="Up to 1000 objects: request_id (the "
        "gateway's X-Request-Id), row (the record's place in the batch, default 0), outcome "
        "(number, true/false or label), sensitive (optional object of attributes).")


class OverridesInputSerializer(StrictSerializer):
    endpoint = serializers.CharField(help_text="The endpoint that made the predictions.")
    overrides = serializers.ListField(
        child=serializers.JSONField(), help_text="Up to 1000 objects: request_id, row "
        "(default 0), reason (a reason code), note (optional).")


class RecordedSerializer(serializers.Serializer[Any]):
    received = serializers.IntegerField()
    new = serializers.IntegerField(help_text="Not recorded before (a repeat keeps the first).")


class ApplicationPosts(APIView):
    """Posted by an application with its key (``Authorization: Bearer assay_app_...``, scoped
    to the endpoint) or by a person with their token or session. The key authenticates no
    person: the roles' permission classes do not apply to it; the service checks its scope."""

    parser_classes = [JSONParser]
    authentication_classes = [AppKeyAuthentication,
                              *api_settings.DEFAULT_AUTHENTICATION_CLASSES]  # type: ignore[list-item]

    def get_permissions(self) -> Sequence[Any]:
        if application_key(self.request) is not None:
            return []
        return super().get_permissions()

    def who(self, request: Request) -> dict[str, Any]:
        key = application_key(request)
        return {"actor": None, "app_key": key} if key is not None else {"actor": request.user}


class OutcomesView(ApplicationPosts):
    """Actual outcomes of predictions, posted later by the application."""

    @extend_schema(request=OutcomesInputSerializer, responses={201: RecordedSerializer},
                   summary="Record actual outcomes, joined to predictions by request id")
    def post(self, request: Request) -> Response:
        data = valid_input(OutcomesInputSerializer, request)
        return Response(services.outcomes_record(**self.who(request), **data),
                        status=status.HTTP_201_CREATED)


class OverridesView(ApplicationPosts):
    """Decisions of the model that a person overrode, with the reason."""

    @extend_schema(request=OverridesInputSerializer, responses={201: RecordedSerializer},
                   summary="Record overrides of the model's decisions")
    def post(self, request: Request) -> Response:
        data = valid_input(OverridesInputSerializer, request)
        return Response(services.overrides_record(**self.who(request), **data),
                        status=status.HTTP_201_CREATED)


router = SimpleRouter()
router.register("plans", PlanViewSet, basename="monitoring-plan")
router.register("plan-changes", PlanChangeViewSet, basename="monitoring-plan-change")
urlpatterns = [*router.urls,
                path("outcomes/", OutcomesView.as_view(), name="monitoring-outcomes"),
                path("overrides/", OverridesView.as_view(), name="monitoring-overrides")]

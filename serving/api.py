"""Endpoints over the API (``/api/v1/endpoints/``): list and read them with their servability
computed now, create one (POST), and one POST action per change, each calling the service the
pages call (serving.services). Endpoints whose model you may not see answer 404."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

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
from governance.api.common import StrictBooleanField
from governance.api.waivers import ReasonInputSerializer
from registry.models import ModelVersion
from serving import services
from serving.models import Endpoint, EndpointChange


class DeployedVersionSerializer(serializers.ModelSerializer):
    """A version on an endpoint and whether it may be served, as of this request."""

    model = serializers.CharField(source="model.slug", read_only=True)
    servable = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ["id", "model", "number", "state", "artifact_sha256", "servable", "problems"]
        read_only_fields = fields

    def get_servable(self, version: ModelVersion) -> bool:
        return not self.get_problems(version)

    def get_problems(self, version: ModelVersion) -> list[str]:
        """Why it may not be served (empty when it may)."""
        return version.servability_problems()


class EndpointSerializer(serializers.ModelSerializer):
    primary_version = DeployedVersionSerializer(read_only=True)
    canary_version = DeployedVersionSerializer(read_only=True, allow_null=True)
    shadow_version = DeployedVersionSerializer(read_only=True, allow_null=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    serving = serializers.SerializerMethodField(
        help_text="Active and every version on it servable, as of this request.")
    problems = serializers.SerializerMethodField()

    class Meta:
        model = Endpoint
        fields = ["slug", "description", "production", "status", "primary_version",
                  "canary_version", "canary_percent", "shadow_version", "serving", "problems",
                  "created_by", "created_at", "updated_at"]
        read_only_fields = fields

    def get_serving(self, endpoint: Endpoint) -> bool:
        return not self.get_problems(endpoint)

    def get_problems(self, endpoint: Endpoint) -> list[str]:
        """Why the endpoint does not serve as configured (empty when it does)."""
        return endpoint.problems()


class EndpointChangeSerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    actor_name = serializers.SerializerMethodField()
    previous_primary: serializers.StringRelatedField[ModelVersion] = serializers.StringRelatedField()
    primary_version: serializers.StringRelatedField[ModelVersion] = serializers.StringRelatedField()
    canary_version: serializers.StringRelatedField[ModelVersion] = serializers.StringRelatedField()
    shadow_version: serializers.StringRelatedField[ModelVersion] = serializers.StringRelatedField()

    class Meta:
        model = EndpointChange
        fields = ["id", "action", "actor", "actor_name", "at", "reason", "previous_primary",
                  "primary_version", "canary_version", "canary_percent", "shadow_version",
                  "status"]
        read_only_fields = fields

    def get_actor_name(self, change: EndpointChange) -> str:
        return change.actor.get_full_name() or change.actor.username


def _visible_versions(user: User) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.visible_to(user).select_related("model")


class VersionInputSerializer(VisibleInputMixin, StrictSerializer):
    visible_inputs = {"version": _visible_versions}
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all(),
                                                 help_text="The version's id.")


class EndpointInputSerializer(VersionInputSerializer):
    slug = serializers.CharField(max_length=services.SLUG_MAX,
                                 help_text="The name applications call: letters, digits, - "
                                           "and _.")
    production = StrictBooleanField(
        default=True, help_text="A production endpoint decides about people: a version's "
                                "developers may not deploy to it.")
    description = TextField(required=False, default="", allow_blank=True)


class CanaryInputSerializer(VersionInputSerializer):
    percent = serializers.IntegerField(help_text="Share of requests the canary answers, 1-100.")


class OptionalReasonInputSerializer(StrictSerializer):
    reason = TextField(required=False, default="", allow_blank=True)


class EndpointViewSet(ScopedReadOnlyViewSet):
    """Endpoints of models you may see. Deployers and administrators create them and change
    them; a version's developers may not deploy it to a production endpoint."""

    model = Endpoint
    lookup_field = "slug"
    lookup_value_regex = r"[-\w]+"
    parser_classes = [JSONParser]
    serializer_class = EndpointSerializer

    def visible(self, user: User) -> QuerySet[Endpoint]:
        return super().visible(user).select_related(
            "primary_version__model", "canary_version__model", "shadow_version__model",
            "created_by")

    def _answer(self, endpoint: Endpoint, code: int = status.HTTP_200_OK) -> Response:
        return Response(EndpointSerializer(self.visible(self.request.user).get(pk=endpoint.pk))
                        .data, status=code)

    @extend_schema(request=EndpointInputSerializer, responses={201: EndpointSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(EndpointInputSerializer, request)
        endpoint = services.endpoint_create(actor=request.user, **data)
        return self._answer(endpoint, status.HTTP_201_CREATED)

    @extend_schema(request=CanaryInputSerializer, responses=EndpointSerializer,
                   summary="Set the canary and its share of traffic")
    @action(detail=True, methods=["post"], url_path="set-canary")
    def set_canary(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        data = valid_input(CanaryInputSerializer, request)
        return self._answer(services.endpoint_set_canary(
            actor=request.user, endpoint=self.get_object(), **data))

    @extend_schema(request=OptionalReasonInputSerializer, responses=EndpointSerializer,
                   summary="Take the canary off")
    @action(detail=True, methods=["post"], url_path="clear-canary")
    def clear_canary(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        data = valid_input(OptionalReasonInputSerializer, request)
        return self._answer(services.endpoint_clear_canary(
            actor=request.user, endpoint=self.get_object(), **data))

    @extend_schema(request=VersionInputSerializer, responses=EndpointSerializer,
                   summary="Set the shadow version")
    @action(detail=True, methods=["post"], url_path="set-shadow")
    def set_shadow(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        data = valid_input(VersionInputSerializer, request)
        return self._answer(services.endpoint_set_shadow(
            actor=request.user, endpoint=self.get_object(), **data))

    @extend_schema(request=OptionalReasonInputSerializer, responses=EndpointSerializer,
                   summary="Take the shadow off")
    @action(detail=True, methods=["post"], url_path="clear-shadow")
    def clear_shadow(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        data = valid_input(OptionalReasonInputSerializer, request)
        return self._answer(services.endpoint_clear_shadow(
            actor=request.user, endpoint=self.get_object(), **data))

    @extend_schema(request=None, responses=EndpointSerializer,
                   summary="Promote the canary to primary")
    @action(detail=True, methods=["post"])
    def promote(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        return self._answer(services.endpoint_promote(actor=request.user,
                                                      endpoint=self.get_object()))

    @extend_schema(request=ReasonInputSerializer, responses=EndpointSerializer,
                   summary="Roll back to the previous primary")
    @action(detail=True, methods=["post"])
    def rollback(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        data = valid_input(ReasonInputSerializer, request)
        return self._answer(services.endpoint_rollback(
            actor=request.user, endpoint=self.get_object(), **data))

    @extend_schema(request=ReasonInputSerializer, responses=EndpointSerializer,
                   summary="Suspend the endpoint (it answers nothing)")
    @action(detail=True, methods=["post"])
    def suspend(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        data = valid_input(ReasonInputSerializer, request)
        return self._answer(services.endpoint_suspend(
            actor=request.user, endpoint=self.get_object(), **data))

    @extend_schema(request=None, responses=EndpointSerializer, summary="Resume the endpoint")
    @action(detail=True, methods=["post"])
    def resume(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        return self._answer(services.endpoint_resume(actor=request.user,
                                                     endpoint=self.get_object()))

    @extend_schema(responses=EndpointChangeSerializer(many=True),
                   summary="The endpoint's history, newest first")
    @action(detail=True, methods=["get"])
    def history(self, request: Request, slug: str | None = None) -> Response:
        changes = self.get_object().changes.select_related(
            "actor", "previous_primary__model", "primary_version__model",
            "canary_version__model", "shadow_version__model")
        page = self.paginate_queryset(changes)
        return self.get_paginated_response(EndpointChangeSerializer(page, many=True).data)


router = SimpleRouter()
router.register("endpoints", EndpointViewSet, basename="endpoint")
urlpatterns = router.urls

"""REST API of application keys: ``/api/v1/app-keys/`` (list, create — the key is in the
creation's answer only — and ``POST /api/v1/app-keys/{id}/revoke/``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from core.api.base import ScopedViewSet, StrictSerializer, TextField, valid_input
from core.api.permissions import ManagesAppKeys
from core.http import AuthenticatedRequest
from core.models import User
from serving import appkeys
from serving.models import AppKey, Endpoint


class AppKeySerializer(serializers.ModelSerializer[AppKey]):
    endpoints: serializers.SlugRelatedField[Endpoint] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    revoked_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    status = serializers.CharField(read_only=True)

    class Meta:
        model = AppKey
        fields = ["id", "name", "prefix", "endpoints", "rate_limit", "status", "created_by",
                  "created_at", "revoked_at", "revoked_by"]
        read_only_fields = fields


class AppKeyCreatedSerializer(AppKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The key; shown in this answer only.")

    class Meta(AppKeySerializer.Meta):
        fields = [*AppKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class AppKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="The application that uses the key.")
    endpoints = serializers.SlugRelatedField(slug_field="slug", many=True,
                                             queryset=Endpoint.objects.all(),
                                             help_text="Slugs of the endpoints the key may call.")
    rate_limit = serializers.IntegerField(min_value=1, max_value=100_000, required=False,
                                          allow_null=True,
                                          help_text="Requests per second; empty for the default.")


class AppKeyRevokeSerializer(StrictSerializer):
    reason = TextField(required=False, allow_blank=True, default="")


class AppKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Application keys of the serving gateway."""

    model = AppKey
    serializer_class = AppKeySerializer
    permission_classes = [IsAuthenticated, ManagesAppKeys]

    def visible(self, user):  # type: ignore[no-untyped-def]
        return super().visible(user).select_related("created_by", "revoked_by").prefetch_related(
            "endpoints")

    @extend_schema(request=AppKeyCreateSerializer, responses={201: AppKeyCreatedSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        key, plaintext = appkeys.appkey_create(actor=request.user,
                                               **valid_input(AppKeyCreateSerializer, request))
        data = dict(AppKeyCreatedSerializer(key).data)
        data["key"] = plaintext
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AppKeyRevokeSerializer, responses=AppKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        key = appkeys.appkey_revoke(actor=request.user, key=self.get_object(),
                                    **valid_input(AppKeyRevokeSerializer, request))
        return Response(AppKeySerializer(key).data)


router = SimpleRouter()
router.register("app-keys", AppKeyViewSet, basename="app-key")
urlpatterns = router.urls

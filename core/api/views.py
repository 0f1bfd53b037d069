from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions, services
from core.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    TeamSerializer,
    UserSerializer,
)
from core.models import ApiToken, Team, User


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request):
        user = User.objects.prefetch_related("role_grants", "teams").get(pk=request.user.pk)
        return Response(UserSerializer(user).data)


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams: everyone signed in may list them (models are filed under teams)."""

    serializer_class = TeamSerializer
    queryset = Team.objects.all()
    lookup_field = "slug"


class UserViewSet(viewsets.ReadOnlyModelViewSet):
    """Users: those who see everything list all; others see their teams' members."""

    serializer_class = UserSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return User.objects.none()
        users = User.objects.prefetch_related("role_grants", "teams").order_by("username")
        if permissions.sees_everything(self.request.user):
            return users
        return users.filter(teams__in=self.request.user.team_ids).distinct()


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own API tokens."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ApiToken.objects.none()
        return self.request.user.api_tokens.all()

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, plaintext = services.token_create(actor=request.user, **data.validated_data)
        token.token = plaintext
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = self.get_object()
        services.token_revoke(actor=request.user, token=token)
        token.refresh_from_db()
        return Response(ApiTokenSerializer(token).data)

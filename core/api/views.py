from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions, services
from core.api.base import ScopedReadOnlyViewSet, valid_input
from core.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenCreateSerializer,
    ApiTokenSerializer,
    RoleSerializer,
    TeamMembershipSerializer,
    TeamSerializer,
    UserCreateSerializer,
    UserDeactivateSerializer,
    UserSerializer,
)
from core.http import AuthenticatedRequest
from core.models import ApiToken, Team, User


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        user = User.objects.prefetch_related("role_grants", "teams").get(pk=request.user.pk)
        return Response(UserSerializer(user).data)


class TeamViewSet(viewsets.ReadOnlyModelViewSet[Team]):
    """Teams: everyone signed in may list them (models are filed under teams)."""

    serializer_class = TeamSerializer
    queryset = Team.objects.all()
    lookup_field = "slug"


class UserViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Users: those who see everything list all; others see their teams' members and themselves.

    Only administrators manage accounts (create, deactivate, reactivate, grant and revoke roles);
    the services refuse everyone else with a 403 that says so.
    """

    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds
    model = User
    serializer_class = UserSerializer
    admin_writes = ("create", "deactivate", "reactivate", "grant_role", "revoke_role",
                    "add_to_team", "remove_from_team")
    admin_writes_reason = "Only administrators can manage users, teams and roles."

    def visible(self, user: User) -> QuerySet[User]:
        users = User.objects.prefetch_related("role_grants", "teams").order_by("username")
        if permissions.sees_everything(user):
            return users
        return users.filter(Q(teams__in=user.team_ids) | Q(pk=user.pk)).distinct()

    def _answer(self, user: User) -> Response:
        fresh = User.objects.prefetch_related("role_grants", "teams").get(pk=user.pk)
        return Response(UserSerializer(fresh).data)

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    # Narrower than CreateModelMixin's Request: IsAuthenticated holds, the user is a User.
    def create(self, request: AuthenticatedRequest) -> Response:  # type: ignore[override]
        user = services.user_create(actor=request.user, **valid_input(UserCreateSerializer, request))
        response = self._answer(user)
        response.status_code = status.HTTP_201_CREATED
        return response

    def _change(self, request: AuthenticatedRequest, change: Callable[..., object],
                input_serializer: type[serializers.Serializer[Any]] | None = None) -> Response:
        """Validate the input, apply ``change(user, **input)`` (a service call), answer the user."""
        data = valid_input(input_serializer, request) if input_serializer else {}
        user = self.get_object()
        change(user, **data)
        return self._answer(user)

    @extend_schema(request=UserDeactivateSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Deactivate the account: its sessions end and its API tokens are revoked at once."""
        return self._change(request, lambda user, **data: services.user_deactivate(
            actor=request.user, user=user, **data), UserDeactivateSerializer)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._change(request, lambda user: services.user_reactivate(
            actor=request.user, user=user))

    @extend_schema(request=RoleSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="grant-role")
    def grant_role(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._change(request, lambda user, role: services.role_grant(
            actor=request.user, user=user, role=role), RoleSerializer)

    @extend_schema(request=RoleSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="revoke-role")
    def revoke_role(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._change(request, lambda user, role: services.role_revoke(
            actor=request.user, user=user, role=role), RoleSerializer)

    @extend_schema(request=TeamMembershipSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="add-to-team")
    def add_to_team(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._change(request, lambda user, team: services.team_add_member(
            actor=request.user, team=team, user=user), TeamMembershipSerializer)

    @extend_schema(request=TeamMembershipSerializer, responses=UserSerializer)
    @action(detail=True, methods=["post"], url_path="remove-from-team")
    def remove_from_team(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._change(request, lambda user, team: services.team_remove_member(
            actor=request.user, team=team, user=user), TeamMembershipSerializer)


class ApiTokenViewSet(ScopedReadOnlyViewSet):
    """The caller's own API tokens."""

    model = ApiToken
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds
    serializer_class = ApiTokenSerializer
    auditor_writes = ("create", "revoke")

    def visible(self, user: User) -> QuerySet[ApiToken]:
        return user.api_tokens.all()

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        token, plaintext = services.token_create(actor=request.user,
                                                 **valid_input(ApiTokenCreateSerializer, request))
        # The plaintext, shown this once, rides on the row for the serializer; it is never stored.
        token.token = plaintext  # type: ignore[attr-defined]
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiTokenSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        token = self.get_object()
        services.token_revoke(actor=request.user, token=token)
        token.refresh_from_db()
        return Response(ApiTokenSerializer(token).data)

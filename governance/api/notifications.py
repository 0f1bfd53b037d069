"""Notifications over the API: your inbox, marking read, and email preferences per kind."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import ScopedViewSet, StrictSerializer, valid_input
from core.api.parsers import JSONParser
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.models import Notification, NotificationKind


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "object_type", "object_id", "period",
                  "created_at", "emailed", "read_at"]
        read_only_fields = fields


class MarkReadSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=None,
                                help_text="Ids to mark read; omit to mark everything read.")


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


class PreferencesSerializer(StrictSerializer):
    email = serializers.DictField(child=serializers.BooleanField(),
                                  help_text="Kind → whether to email it. Kinds: "
                                            + ", ".join(NotificationKind.values))


class NotificationViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Your in-app inbox, newest first (``?unread=1`` for unread only)."""

    model = Notification
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds
    parser_classes = [JSONParser]
    serializer_class = NotificationSerializer
    auditor_writes = ("mark_read", "preferences")

    def visible(self, user: User) -> QuerySet:
        qs = Notification.objects.filter(user=user)
        if self.request.query_params.get("unread") in ("1", "true"):
            qs = qs.unread()
        return qs

    @extend_schema(parameters=[OpenApiParameter("unread", bool)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=MarkReadSerializer, responses=MarkedSerializer)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request: AuthenticatedRequest) -> Response:
        """Mark the given notifications (or all) read."""
        marked = services.notification_mark_read(actor=request.user,
                                               ids=valid_input(MarkReadSerializer, request)["ids"])
        unread = Notification.objects.filter(user=request.user).unread().count()
        return Response({"marked": marked, "unread": unread})

    @extend_schema(methods=["GET"], responses=PreferencesSerializer)
    @extend_schema(methods=["PUT"], request=PreferencesSerializer,
                   responses=PreferencesSerializer)
    @action(detail=False, methods=["get", "put"])
    def preferences(self, request: AuthenticatedRequest) -> Response:
        """Email on or off per kind of notification (the inbox always gets them)."""
        if request.method == "PUT":
            services.preferences_update(actor=request.user,
                                      email=valid_input(PreferencesSerializer, request)["email"])
        return Response({"email": services.preferences_of(request.user)})

"""REST API of governance part 2: findings, waivers, periodic reviews, notifications, the queues
and the board. Thin views over governance.findings / reviews / notify / queues."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions
from core.errors import PermissionRefused, ValidationFailed
from core.ids import parse_id
from governance import findings, notify, queues, reviews
from governance.api import oversight_serializers as s
from governance.gates import workable_versions
from governance.models import (
    Finding,
    FindingComment,
    FindingStatus,
    Notification,
    PeriodicReview,
    Waiver,
)
from registry.storage import stored_file_response


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


FINDING_FILTERS = [
    OpenApiParameter("status", str, enum=FindingStatus.values),
    OpenApiParameter("severity", str, enum=["high", "medium", "low"]),
    OpenApiParameter("version", int, description="Only this version's findings."),
    OpenApiParameter("overdue", bool, description="Only unresolved findings past their due date."),
]


class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Findings on versions you may see. Validators and risk officers raise them (POST); the
    owner proposes a remediation, the validator closes it or sends it back, a risk officer may
    accept it as a risk. Unresolved high findings block approval."""

    parser_classes = [JSONParser]

    def get_serializer_class(self) -> type:
        return s.FindingDetailSerializer if self.action == "retrieve" else s.FindingSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Finding.objects.none()
        qs = queues.findings_listed(Finding.objects.visible_to(self.request.user))
        if self.action == "retrieve":
            return qs.prefetch_related("comments__author", "attachments__uploaded_by")
        params = self.request.query_params
        if params.get("status") in FindingStatus.values:
            qs = qs.filter(status=params["status"])
        if params.get("severity") in ("high", "medium", "low"):
            qs = qs.filter(severity=params["severity"])
        if params.get("version"):
            version_id = parse_id(params["version"])
            if version_id is None:
                raise ValidationFailed("Give the version as its numeric id.", field="version")
            qs = qs.filter(version_id=version_id)
        if params.get("overdue") in ("1", "true"):
            qs = qs.overdue(timezone.localdate())
        return qs.order_by("-raised_at", "-pk")

    @extend_schema(parameters=FINDING_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.FindingInputSerializer, responses={201: s.FindingDetailSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.FindingInputSerializer, request)
        version = data.pop("version")  # the serializer resolves only versions you may see
        finding = findings.finding_raise(actor=request.user, version=version, **data)
        return Response(s.FindingDetailSerializer(finding).data, status=status.HTTP_201_CREATED)

    def _move(self, to: str) -> Response:
        finding = self.get_object()
        findings.finding_transition(actor=self.request.user, finding=finding, to=to,
                                    text=_valid(s.TextSerializer, self.request)["text"])
        return Response(s.FindingDetailSerializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=s.TextSerializer, responses=s.FindingDetailSerializer,
                   summary="Propose a remediation (the finding's owner)")
    @action(detail=True, methods=["post"], url_path="propose-remediation")
    def propose_remediation(self, request: Request, pk: str | None = None) -> Response:
        return self._move(FindingStatus.REMEDIATION_PROPOSED)

    @extend_schema(request=s.TextSerializer, responses=s.FindingDetailSerializer,
                   summary="Close the finding after verifying the remediation (validator)")
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        return self._move(FindingStatus.CLOSED)

    @extend_schema(request=s.TextSerializer, responses=s.FindingDetailSerializer,
                   summary="Send the remediation back: the finding is open again (validator)")
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        return self._move(FindingStatus.OPEN)

    @extend_schema(request=s.TextSerializer, responses=s.FindingDetailSerializer,
                   summary="Accept the finding as a risk (risk officer independent of the model)")
    @action(detail=True, methods=["post"], url_path="accept-risk")
    def accept_risk(self, request: Request, pk: str | None = None) -> Response:
        return self._move(FindingStatus.ACCEPTED_AS_RISK)

    @extend_schema(request=s.CommentInputSerializer, responses={201: s.CommentSerializer})
    @action(detail=True, methods=["post"])
    def comments(self, request: Request, pk: str | None = None) -> Response:
        """Add a challenge, response or note to the discussion."""
        finding = self.get_object()
        data = _valid(s.CommentInputSerializer, request)
        reply_to = None
        if data["reply_to"] is not None:
            reply_to = FindingComment.objects.filter(pk=data["reply_to"]).first()
            if reply_to is None:
                raise ValidationFailed("There is no such comment to reply to.", field="reply_to")
        comment = findings.finding_comment_add(actor=request.user, finding=finding,
                                               body=data["body"], kind=data["kind"],
                                               reply_to=reply_to)
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": s.AttachmentInputSerializer},
                   responses={201: s.AttachmentSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        """Attach an evidence file (stored under its SHA-256)."""
        finding = self.get_object()
        upload = _valid(s.AttachmentInputSerializer, request)["file"]
        row = findings.finding_attach(actor=request.user, finding=finding, upload=upload,
                                      filename=upload.name)
        return Response(s.AttachmentSerializer(row).data, status=status.HTTP_201_CREATED)


    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("attachment_id", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>\d+)")
    def attachment_download(self, request: Request, pk: str | None = None,
                            attachment_id: str | None = None) -> HttpResponse:
        """Download one attachment (always as a file, never rendered inline)."""
        attachment = get_object_or_404(self.get_object().attachments, pk=attachment_id)
        return stored_file_response(attachment.sha256, attachment.filename)


class WaiverViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Waivers of versions you may see. A risk officer independent of the model grants one (POST)
    for a blocking finding or a missing or failing evidence check, until its expiry."""

    parser_classes = [JSONParser]
    serializer_class = s.WaiverSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Waiver.objects.none()
        qs = Waiver.objects.visible_to(self.request.user).select_related(
            "version__model", "approved_by", "ended_by")
        if self.request.query_params.get("status") in ("active", "expired", "revoked"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs.order_by("expires_at", "pk")

    @extend_schema(parameters=[OpenApiParameter("status", str,
                                                enum=["active", "expired", "revoked"])])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.WaiverInputSerializer, responses={201: s.WaiverSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.WaiverInputSerializer, request)
        version = data.pop("version")  # the serializer resolves only versions you may see
        waiver = findings.waiver_grant(actor=request.user, version=version, **data)
        return Response(s.WaiverSerializer(waiver).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ReasonInputSerializer, responses=s.WaiverSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """End the waiver early (risk officer): the item blocks again."""
        waiver = findings.waiver_revoke(actor=request.user, waiver=self.get_object(),
                                        reason=_valid(s.ReasonInputSerializer, request)["reason"])
        return Response(s.WaiverSerializer(waiver).data)


class PeriodicReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    """Concluded periodic reviews; an independent validator concludes one (POST) for an approved
    version: continue, continue with conditions, or retire."""

    parser_classes = [JSONParser]
    serializer_class = s.PeriodicReviewSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PeriodicReview.objects.none()
        visible = workable_versions(self.request.user).values("pk")
        return PeriodicReview.objects.filter(version__in=visible).select_related(
            "version__model", "reviewer", "policy_version__policy")

    @extend_schema(request=s.PeriodicReviewInputSerializer,
                   responses={201: s.PeriodicReviewSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.PeriodicReviewInputSerializer, request)
        version = data.pop("version")  # the serializer resolves only versions you may see
        review = reviews.periodic_review_conclude(actor=request.user, version=version, **data)
        return Response(s.PeriodicReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your in-app inbox, newest first (``?unread=1`` for unread only)."""

    parser_classes = [JSONParser]
    serializer_class = s.NotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        qs = Notification.objects.filter(user=self.request.user)
        if self.request.query_params.get("unread") in ("1", "true"):
            qs = qs.unread()
        return qs

    @extend_schema(parameters=[OpenApiParameter("unread", bool)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.MarkReadSerializer, responses=s.MarkedSerializer)
    @action(detail=False, methods=["post"], url_path="mark-read")
    def mark_read(self, request: Request) -> Response:
        """Mark the given notifications (or all) read."""
        marked = notify.notification_mark_read(actor=request.user,
                                               ids=_valid(s.MarkReadSerializer, request)["ids"])
        unread = Notification.objects.filter(user=request.user).unread().count()
        return Response({"marked": marked, "unread": unread})

    @extend_schema(methods=["GET"], responses=s.PreferencesSerializer)
    @extend_schema(methods=["PUT"], request=s.PreferencesSerializer,
                   responses=s.PreferencesSerializer)
    @action(detail=False, methods=["get", "put"])
    def preferences(self, request: Request) -> Response:
        """Email on or off per kind of notification (the inbox always gets them)."""
        if request.method == "PUT":
            notify.preferences_update(actor=request.user,
                                      email=_valid(s.PreferencesSerializer, request)["email"])
        return Response({"email": notify.preferences_of(request.user)})


class MyWorkView(APIView):
    """Your queues: validations assigned to you, versions awaiting your sign-off, findings you
    must answer or close, and your teams' models."""

    @extend_schema(responses=s.MyWorkSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(s.MyWorkSerializer({
            "validations": queues.my_validations(user), "signoffs": queues.my_signoffs(user),
            "findings": queues.my_findings(user), "team_models": queues.team_models(user),
        }).data)


class BoardView(APIView):
    """The oversight board (risk officers, review board, auditors, administrators): overdue and
    upcoming reviews, open high and overdue findings, waivers in force, models by tier and
    status."""

    @extend_schema(responses=s.BoardSerializer)
    def get(self, request: Request) -> Response:
        if not permissions.can_view_board(request.user):
            raise PermissionRefused("The board is for risk officers, the review board, auditors "
                                    "and administrators.")
        data = queues.board()
        return Response(s.BoardSerializer({**data.__dict__,
                                           "expiring_waiver_ids": sorted(
                                               data.expiring_waiver_ids)}).data)

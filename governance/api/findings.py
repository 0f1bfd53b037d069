"""Findings over the API: the list (filtered as the findings page and its CSV export filter,
governance.filters), a finding with its discussion and attachments, raising one, the moves of
FINDING_TRANSITIONS (propose a remediation, close, reopen, accept as a risk), comments and
attachments."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import (
    ScopedReadOnlyViewSet,
    StrictSerializer,
    TextField,
    valid_input,
)
from core.api.parsers import JSONParser, MultiPartParser
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.api.common import Username, VisibleInputSerializer
from governance.filters import STATUSES, FindingFilter
from governance.models import (
    CommentKind,
    Finding,
    FindingAttachment,
    FindingCategory,
    FindingComment,
    FindingStatus,
    RootCause,
    Severity,
    SR117Area,
)
from governance.models.findings import AGEING_BUCKETS, UNCLASSIFIED
from registry.models import ModelVersion
from registry.storage import stored_file_response


class CommentSerializer(serializers.ModelSerializer):
    author: Username[User] = Username(slug_field="username", read_only=True)

    class Meta:
        model = FindingComment
        fields = ["id", "author", "kind", "body", "reply_to", "created_at"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by: Username[User] = Username(slug_field="username", read_only=True)

    class Meta:
        model = FindingAttachment
        fields = ["id", "filename", "sha256", "size", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class FindingSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    owner: Username[User] = Username(slug_field="username", read_only=True)
    raised_by: Username[User] = Username(slug_field="username", read_only=True)
    resolved_by: Username[User] = Username(slug_field="username", read_only=True)
    overdue = serializers.SerializerMethodField()
    blocks_approval = serializers.BooleanField(read_only=True)
    days_open = serializers.SerializerMethodField(
        help_text="Whole days from raising to resolution, or to today while unresolved.")
    ageing = serializers.ChoiceField(choices=[b[0] for b in AGEING_BUCKETS], read_only=True,
                                     help_text="The ageing bucket of its days open.")

    class Meta:
        model = Finding
        fields = ["id", "version", "model", "version_number", "title", "description", "severity",
                  "status", "source", "category", "root_cause", "sr117_area", "figures", "owner",
                  "due_date", "overdue", "days_open", "ageing", "blocks_approval", "raised_by",
                  "raised_at", "remediation", "resolved_by", "resolved_at", "resolution"]
        read_only_fields = fields

    def get_overdue(self, obj: Finding) -> bool:
        return obj.is_overdue()

    def get_days_open(self, obj: Finding) -> int:
        return obj.days_open()


class FindingDetailSerializer(FindingSerializer):
    comments = CommentSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "comments", "attachments"]
        read_only_fields = fields


class FindingInputSerializer(VisibleInputSerializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all(),
                                                 help_text="Id of the version.")
    title = serializers.CharField(max_length=200)
    description = TextField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    owner = serializers.SlugRelatedField(slug_field="username", required=False, default=None,
                                         queryset=User.objects.filter(is_active=True),
                                         help_text="Who must answer; the model's owner if "
                                                   "omitted.")
    due_date = serializers.DateField(required=False, default=None)
    category = serializers.ChoiceField(choices=FindingCategory.choices, required=False,
                                       allow_blank=True, default="")
    root_cause = serializers.ChoiceField(choices=RootCause.choices, required=False,
                                         allow_blank=True, default="")
    sr117_area = serializers.ChoiceField(choices=SR117Area.choices, required=False,
                                         allow_blank=True, default="")


class ClassifySerializer(StrictSerializer):
    """The finding taxonomy; each field empty ("") for not classified."""

    category = serializers.ChoiceField(choices=FindingCategory.choices, allow_blank=True)
    root_cause = serializers.ChoiceField(choices=RootCause.choices, allow_blank=True)
    sr117_area = serializers.ChoiceField(choices=SR117Area.choices, allow_blank=True)


class TextSerializer(StrictSerializer):
    text = TextField(help_text="The remediation, the verification, the challenge or the risk "
                               "acceptance (joins the discussion).")


class CommentInputSerializer(StrictSerializer):
    body = TextField()
    kind = serializers.ChoiceField(choices=CommentKind.choices, required=False, default="note")
    reply_to = serializers.IntegerField(required=False, default=None,
                                        help_text="Id of the comment this answers.")


class AttachmentInputSerializer(StrictSerializer):
    file = serializers.FileField()


FINDING_FILTERS = [
    OpenApiParameter("status", str, enum=list(STATUSES),
                     description="One status, 'unresolved' (open or remediation proposed) or "
                                 "'all' (the default)."),
    OpenApiParameter("severity", str, enum=Severity.values),
    OpenApiParameter("version", int, description="Only this version's findings (its id)."),
    OpenApiParameter("overdue", bool, description="Only unresolved findings past their due date."),
    OpenApiParameter("category", str, enum=[*FindingCategory.values, UNCLASSIFIED],
                     description="Only this category ('none': not classified yet)."),
    OpenApiParameter("root_cause", str, enum=[*RootCause.values, UNCLASSIFIED],
                     description="Only this root cause ('none': not classified yet)."),
    OpenApiParameter("sr117_area", str, enum=[*SR117Area.values, UNCLASSIFIED],
                     description="Only this SR 11-7 area ('none': not classified yet)."),
    OpenApiParameter("ageing", str, enum=[b[0] for b in AGEING_BUCKETS],
                     description="Only findings whose days open fall in this bucket."),
]


class FindingViewSet(ScopedReadOnlyViewSet):
    """Findings on versions you may see. Validators and risk officers raise them (POST); the
    owner proposes a remediation, the validator closes it or sends it back, a risk officer may
    accept it as a risk. Unresolved high findings block approval."""

    model = Finding
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds
    parser_classes = [JSONParser]

    def get_serializer_class(self) -> type:
        return FindingDetailSerializer if self.action == "retrieve" else FindingSerializer

    def visible(self, user: User) -> QuerySet[Finding]:
        qs = Finding.objects.visible_to(user).listed()
        if self.action == "retrieve":
            return qs.prefetch_related("comments__author", "attachments__uploaded_by")
        wanted = FindingFilter.from_params(self.request.query_params, default_status="all")
        wanted.raise_errors()
        qs = wanted.apply(qs, timezone.localdate())
        return qs.order_by("-raised_at", "-pk")

    @extend_schema(parameters=FINDING_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=FindingInputSerializer, responses={201: FindingDetailSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(FindingInputSerializer, request)
        version = data.pop("version")  # the serializer resolves only versions you may see
        finding = services.finding_raise(actor=request.user, version=version, **data)
        return Response(FindingDetailSerializer(finding).data, status=status.HTTP_201_CREATED)

    def _move(self, to: str) -> Response:
        finding = self.get_object()
        services.finding_transition(actor=self.request.user, finding=finding, to=to,
                                    text=valid_input(TextSerializer, self.request)["text"])
        return Response(FindingDetailSerializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=TextSerializer, responses=FindingDetailSerializer,
                   summary="Propose a remediation (the finding's owner)")
    @action(detail=True, methods=["post"], url_path="propose-remediation")
    def propose_remediation(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(FindingStatus.REMEDIATION_PROPOSED)

    @extend_schema(request=ClassifySerializer, responses=FindingDetailSerializer,
                   summary="Set the finding's category, root cause and SR 11-7 area (validator)")
    @action(detail=True, methods=["post"])
    def classify(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        finding = self.get_object()
        services.finding_classify(actor=request.user, finding=finding,
                                  **valid_input(ClassifySerializer, request))
        return Response(FindingDetailSerializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=TextSerializer, responses=FindingDetailSerializer,
                   summary="Close the finding after verifying the remediation (validator)")
    @action(detail=True, methods=["post"])
    def close(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(FindingStatus.CLOSED)

    @extend_schema(request=TextSerializer, responses=FindingDetailSerializer,
                   summary="Send the remediation back: the finding is open again (validator)")
    @action(detail=True, methods=["post"])
    def reopen(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(FindingStatus.OPEN)

    @extend_schema(request=TextSerializer, responses=FindingDetailSerializer,
                   summary="Accept the finding as a risk (risk officer independent of the model)")
    @action(detail=True, methods=["post"], url_path="accept-risk")
    def accept_risk(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(FindingStatus.ACCEPTED_AS_RISK)

    @extend_schema(request=CommentInputSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["post"])
    def comments(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Add a challenge, response or note to the discussion."""
        finding = self.get_object()
        data = valid_input(CommentInputSerializer, request)
        reply_to = services.comment_to_reply_to(finding, data["reply_to"])
        comment = services.finding_comment_add(actor=request.user, finding=finding,
                                               body=data["body"], kind=data["kind"],
                                               reply_to=reply_to)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": AttachmentInputSerializer},
                   responses={201: AttachmentSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attachments(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Attach an evidence file (stored under its SHA-256)."""
        finding = self.get_object()
        upload = valid_input(AttachmentInputSerializer, request)["file"]
        row = services.finding_attach(actor=request.user, finding=finding, upload=upload,
                                      filename=upload.name)
        return Response(AttachmentSerializer(row).data, status=status.HTTP_201_CREATED)


    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("attachment_id", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>\d+)")
    def attachment_download(self, request: AuthenticatedRequest, pk: str | None = None,
                            attachment_id: str | None = None) -> HttpResponseBase:
        """Download one attachment (always as a file, never rendered inline)."""
        attachment = get_object_or_404(self.get_object().attachments, pk=attachment_id)
        return stored_file_response(attachment.sha256, attachment.filename)

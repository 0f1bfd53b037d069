"""The reports API, ``/api/v1/reports/exports/``: ask for an export (the same kinds and filters
as the Exports page, and a model's evidence pack: kind ``evidence_pack``, params ``model``),
poll its state and progress, download its file. Thin: each action is one
service call of ``reports.jobs``; permissions are the pages' (auditors read everything)."""

from __future__ import annotations

from typing import Any

from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import StrictSerializer, valid_input
from core.api.parsers import JSONParser
from core.api.schema import ERRORS, ErrorSerializer
from core.http import AuthenticatedRequest
from core.models import User
from registry import storage
from reports import exports, jobs
from reports.models import ExportKind, ExportState, GeneratedReport


class ReportExportSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices, read_only=True)
    state = serializers.ChoiceField(choices=ExportState.choices, read_only=True)
    params = serializers.DictField(child=serializers.CharField(), read_only=True)
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    progress = serializers.IntegerField(source="percent", read_only=True)
    download = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedReport
        fields = ["id", "kind", "params", "state", "progress", "step", "rows", "on_worker",
                  "requested_by", "requested_at", "started_at", "finished_at", "filename",
                  "content_type", "sha256", "size", "pages", "error", "download", "page"]
        read_only_fields = fields

    def get_download(self, job: GeneratedReport) -> str | None:
        """The file's URL once the export is done (null before)."""
        if job.state != ExportState.DONE:
            return None
        return f"/api/v1/reports/exports/{job.pk}/download/"

    def get_page(self, job: GeneratedReport) -> str:
        return jobs.export_url(job)


class ReportExportRequestSerializer(StrictSerializer):
    kind = serializers.CharField(help_text=f"One of: {', '.join(exports.KINDS)}.")
    params = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict,
        help_text="The filter of the page the export comes from, as in its query string: the "
                  "inventory's q, team, status, owner, business_line, decision_type, tag, sort; "
                  "findings' status (unresolved, a status or all); the audit trail's model, "
                  "actor, action, date_from, date_to; the board report's date_from and date_to "
                  "(YYYY-MM-DD, both required); the evidence pack's model (the model's slug, "
                  "required).")


class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet[GeneratedReport]):
    """Your exports: ask for one (POST; 201 when it was made at once, 202 when a worker makes
    it), follow its progress (GET), download its file once done. Someone else's export
    answers 404."""

    serializer_class = ReportExportSerializer
    parser_classes = [JSONParser]
    auditor_writes = ("create",)  # asking for an export changes nothing but the requester's list
    request: AuthenticatedRequest

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return GeneratedReport.objects.none()
        return GeneratedReport.objects.filter(requested_by=self.request.user).select_related(
            "requested_by")

    @extend_schema(request=ReportExportRequestSerializer,
                   responses={201: ReportExportSerializer, 202: ReportExportSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        """Ask for an export: 400 for an unknown kind or a bad filter, period or model, 403 for a
        kind you may not export (the board report: risk officers, the review board, auditors,
        administrators; audit events: auditors, risk officers, administrators; a model's
        evidence pack, ``{"kind": "evidence_pack", "params": {"model": "<slug>"}}``: auditors
        and administrators). A small pack is made at once (201); one copying more than
        ASSAY_REPORTS_PACK_WORKER_ABOVE_MB of reports and attachments, or of a model with more
        than three versions, by a worker (202). Its file is a zip that
        ``python -m core.verify_pack`` checks offline."""
        data = valid_input(ReportExportRequestSerializer, request)
        job = jobs.export_request(actor=request.user, kind=data["kind"],
                                  params=data.get("params") or {})
        return Response(ReportExportSerializer(job).data,
                        status=status.HTTP_202_ACCEPTED if job.on_worker and not job.is_finished
                        else status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY,
                              409: OpenApiResponse(ErrorSerializer, description=ERRORS[409])})
    @action(detail=True, methods=["get"])
    def download(self, request: AuthenticatedRequest, pk: str | None = None) -> HttpResponseBase:
        """The export's file, checked against its SHA-256 (409 until it is done); the download
        is recorded in the audit trail."""
        job = self.get_object()
        jobs.export_download_record(actor=request.user, job=job)
        response = storage.stored_file_response(job.sha256, job.filename)
        response["Content-Type"] = job.content_type
        return response

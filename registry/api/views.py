"""Registry REST API: thin views over registry.services."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core import permissions
from core.api.base import ScopedViewSet, not_found, valid_input
from core.api.parsers import FormParser, JSONParser, MultiPartParser
from core.errors import ValidationFailed
from core.http import AuthenticatedRequest
from core.models import User
from core.uploads import require_file
from registry import data_sources, dependencies, mlflow_jobs, services
from registry.api.serializers import (
    ArtifactUploadSerializer,
    DataSourceSerializer,
    DependenciesSerializer,
    MlflowImportRequestSerializer,
    MlflowImportSerializer,
    ModelSerializer,
    TransferSerializer,
    UsingModelSerializer,
    VendorDocumentSerializer,
    VendorDocumentUploadSerializer,
    VersionSerializer,
    VersionSignaturesSerializer,
)
from registry.filters import ModelFilter, inventory_rows, visible_links, with_version_stats
from registry.models import (
    DataSource,
    EntryKind,
    MlflowImport,
    ModelVersion,
    RegisteredModel,
    SignatureKind,
    VersionState,
)
from registry.storage import signature_response, stored_file_response

MODEL_FILTERS = [
    OpenApiParameter("q", str, description="Search in name, slug and purpose."),
    OpenApiParameter("team", str, description="Team slug."),
    OpenApiParameter("status", str, enum=VersionState.values),
    OpenApiParameter("owner", str, description="Owner's username."),
    OpenApiParameter("business_line", str),
    OpenApiParameter("decision_type", str),
    OpenApiParameter("tag", str),
    OpenApiParameter("kind", str, enum=EntryKind.values,
                     description="model, or tool: entries whose intake said not a model."),
    OpenApiParameter("sort", str, enum=["name", "-name", "updated", "-updated", "status",
                                        "-status", "team", "-team"]),
]


@extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)])
class ModelViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                   mixins.DestroyModelMixin, mixins.ListModelMixin, ScopedViewSet):
    """The model inventory. Team and slug are set at creation; owner, status read-only."""

    model = RegisteredModel
    serializer_class = ModelSerializer
    lookup_field = "slug"
    parser_classes = [JSONParser]
    admin_writes = ("transfer",)
    admin_writes_reason = "Only administrators can move a model to another team or change its owner."

    def visible(self, user: User) -> QuerySet:
        models = super().visible(user)
        if self.action == "list":
            wanted = ModelFilter.from_params(self.request.query_params)
            wanted.raise_errors()
            models = wanted.apply(models)
        return inventory_rows(models).prefetch_related(
            "developers", "linked_data_sources", visible_links("upstream_models", user))

    @extend_schema(parameters=MODEL_FILTERS)
    def list(self, request, *args, **kwargs):
        page = with_version_stats(self.paginate_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_object(self):
        return with_version_stats([super().get_object()])[0]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("tag_names", [])
        model = services.model_create(actor=self.request.user, tags=tags, **data)
        serializer.instance = self._reloaded(model)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        tags = data.pop("tag_names", None)
        model = services.model_update(actor=self.request.user, model=serializer.instance,
                                      tags=tags, **data)
        serializer.instance = self._reloaded(model)

    def _reloaded(self, model: RegisteredModel) -> RegisteredModel:
        """The model as the list shows it (links scoped to what the user may see)."""
        return with_version_stats([self.get_queryset().get(pk=model.pk)])[0]

    def perform_destroy(self, instance):
        services.model_delete(actor=self.request.user, model=instance)

    @extend_schema(request={"multipart/form-data": VersionSerializer,
                            "application/json": VersionSerializer},
                   responses={201: VersionSerializer})
    @action(detail=True, methods=["post"], url_path="versions",
            parser_classes=[MultiPartParser, FormParser, JSONParser])
    def create_version(self, request, slug=None):
        """Add a draft version, optionally with its ONNX artifact (multipart field 'artifact')."""
        model = self.get_object()
        request.data  # noqa: B018 (reading the body runs the upload handlers, which note refusals)
        if getattr(request, "upload_refusals", {}).get("artifact"):
            require_file(request, request.FILES, "artifact", "ONNX artifact")
        data = valid_input(VersionSerializer, request)
        artifact = data.pop("artifact", None)
        version = services.version_create(
            actor=request.user, model=model, artifact=artifact,
            artifact_filename=getattr(artifact, "name", ""), **data)
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


    @extend_schema(responses=DependenciesSerializer)
    @action(detail=True, methods=["get"])
    def dependencies(self, request, slug=None):
        """Every model this one depends on and every model that depends on it, directly or
        through others, with the state of each; only models you may see are listed.
        GET /api/v1/models/{slug}/impact/ says what an upstream change would do to them."""
        model = self.get_object()
        visible = RegisteredModel.objects.visible_to(request.user).values_list("pk", flat=True)
        return Response(DependenciesSerializer({
            "upstream": dependencies.neighbours(model, downstream=False, visible=visible),
            "downstream": dependencies.neighbours(model, downstream=True, visible=visible),
        }).data)

    @extend_schema(request=TransferSerializer, responses=ModelSerializer)
    @action(detail=True, methods=["post"])
    def transfer(self, request, slug=None):
        """Move the model to another team and/or owner (administrators only)."""
        model = services.model_transfer(actor=request.user, model=self.get_object(),
                                        **valid_input(TransferSerializer, request))
        return Response(self.get_serializer(self._reloaded(model)).data)

    @extend_schema(methods=["GET"], responses=VendorDocumentSerializer(many=True))
    @extend_schema(methods=["POST"],
                   request={"multipart/form-data": VendorDocumentUploadSerializer},
                   responses={201: VendorDocumentSerializer})
    @action(detail=True, methods=["get", "post"], url_path="vendor-documents",
            parser_classes=[MultiPartParser])
    def vendor_documents(self, request, slug=None):
        """GET lists a vendor model's documentation files; POST (multipart 'document') adds one."""
        model = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(model.vendor_documents.select_related(
                "uploaded_by").order_by("-uploaded_at", "-pk"))
            return self.get_paginated_response(VendorDocumentSerializer(page, many=True).data)
        upload = require_file(request, request.FILES, "document", "vendor documentation file")
        doc = services.vendor_document_add(actor=request.user, model=model, document=upload,
                                           filename=upload.name)
        return Response(VendorDocumentSerializer(doc).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   parameters=[OpenApiParameter("doc_id", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["get"], url_path=r"vendor-documents/(?P<doc_id>\d+)")
    def vendor_document_download(self, request, slug=None, doc_id=None):
        """Download one vendor documentation file (always as an attachment)."""
        doc = get_object_or_404(self.get_object().vendor_documents, pk=doc_id)
        return stored_file_response(doc.sha256, doc.filename)


class VersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin, ScopedViewSet):
    """Model versions. Create one with POST /models/{slug}/versions/."""

    model = ModelVersion
    serializer_class = VersionSerializer
    parser_classes = [JSONParser]

    def visible(self, user: User) -> QuerySet:
        versions = super().visible(user).select_related(
            "model", "created_by").order_by("model__slug", "-number")
        params = self.request.query_params
        if params.get("model"):
            versions = versions.filter(model__slug=params["model"])
        if params.get("state"):
            if params["state"] not in VersionState.values:
                raise ValidationFailed(f"Unknown state {params['state']!r}; use one of: "
                                       f"{', '.join(VersionState.values)}.", field="state")
            versions = versions.filter(state=params["state"])
        return versions

    @extend_schema(parameters=[OpenApiParameter("model", str, description="Model slug."),
                               OpenApiParameter("state", str, enum=VersionState.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "artifact" in data:
            data.pop("artifact")
        serializer.instance = services.version_update(actor=self.request.user,
                                                      version=serializer.instance, **data)

    def perform_destroy(self, instance):
        services.version_delete(actor=self.request.user, version=instance)

    @extend_schema(methods=["POST"], request={"multipart/form-data": ArtifactUploadSerializer},
                   responses=VersionSerializer)
    @extend_schema(methods=["GET"], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get", "post"], url_path="artifact",
            parser_classes=[MultiPartParser])
    def artifact(self, request, pk=None):
        """GET downloads the ONNX artifact; POST (multipart 'artifact') sets it on a draft."""
        version = self.get_object()
        if request.method == "GET":
            if not version.has_artifact:
                not_found("This version has no artifact yet.")
            return stored_file_response(version.artifact_sha256,
                                        version.artifact_filename or "model.onnx")
        upload = require_file(request, request.FILES, "artifact", "ONNX artifact")
        version = services.artifact_upload(actor=request.user, version=version, artifact=upload,
                                           filename=upload.name)
        return Response(VersionSerializer(version).data)

    @extend_schema(responses=VersionSignaturesSerializer, operation_id="versions_signatures_list")
    @action(detail=True, methods=["get"], url_path="signatures")
    def signatures(self, request, pk=None):
        """The version's artifact signatures and approval attestations (docs/signing.md)."""
        version = self.get_object()
        rows = version.signatures.select_related("key").order_by("-created_at", "-pk")
        current = {k: version.current_signature(k) for k in SignatureKind.values}
        problems = version.signature_problems() if version.state == VersionState.APPROVED else []
        return Response(VersionSignaturesSerializer({
            "servable": version.is_servable(), "problems": problems, "signatures": rows},
            context={"current_ids": {s.pk for s in current.values() if s}}).data)

    @extend_schema(operation_id="versions_signature_download",
                   parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH,
                                                enum=SignatureKind.values)],
                   responses={(200, "application/json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path=r"signatures/(?P<kind>artifact|approval)")
    def signature_download(self, request, pk=None, kind=None):
        """Download the current Sigstore bundle of ``kind``: the artifact signature (OpenSSF
        Model Signing, for ``model_signing verify key``) or the approval attestation; both
        verify offline with ``python -m core.verify_bundle``."""
        signature = self.get_object().current_signature(kind)
        if signature is None:
            return Response({"detail": f"This version has no {kind} signature.",
                             "code": "not_found", "fields": {}}, status=404)
        return signature_response(signature)


class MlflowImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """Imports from an MLflow model registry (docs: README, "Importing from MLflow"): ask for one
    (POST, a dry run unless ``dry_run`` is false; 202, a worker does it), follow its progress and
    read its report (GET). Yours, or everyone's for administrators."""

    model = MlflowImport
    serializer_class = MlflowImportSerializer
    parser_classes = [JSONParser]

    def visible(self, user: User) -> QuerySet[MlflowImport]:
        queryset = MlflowImport.objects.select_related("team", "requested_by", "owner")
        return queryset if permissions.is_admin(user) else queryset.filter(requested_by=user)

    @extend_schema(request=MlflowImportRequestSerializer,
                   responses={202: MlflowImportSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        """400 for a malformed address or an unknown team, owner, task or decision type; 403
        unless you are an administrator or a data scientist of the team. The report says per
        registered model and version what was (or would be) created, skipped or refused."""
        data = valid_input(MlflowImportRequestSerializer, request)
        job = mlflow_jobs.import_request(
            actor=request.user, tracking_uri=data["tracking_uri"], team=data["team"],
            owner=data.get("owner"), models=data.get("models"), task=data.get("task", ""),
            decision_type=data.get("decision_type", ""), dry_run=data["dry_run"])
        return Response(MlflowImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class DataSourceViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin,
                        mixins.ListModelMixin, ScopedViewSet):
    """The data sources models use: anyone signed in reads them; data scientists, risk officers
    and administrators record them; their owner, risk officers and administrators change them.
    A source still linked to a model cannot be deleted (409)."""

    model = DataSource
    serializer_class = DataSourceSerializer
    parser_classes = [JSONParser]

    def visible(self, user: User) -> QuerySet:
        return super().visible(user).select_related("owner", "created_by")

    def perform_create(self, serializer):
        serializer.instance = data_sources.data_source_create(
            actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = data_sources.data_source_update(
            actor=self.request.user, source=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        data_sources.data_source_delete(actor=self.request.user, source=instance)

    @extend_schema(responses=UsingModelSerializer(many=True))
    @action(detail=True, methods=["get"])
    def models(self, request, pk=None):
        """Which models use this data: those you may see."""
        source = self.get_object()
        using = (RegisteredModel.objects.visible_to(request.user)
                 .filter(linked_data_sources=source).select_related("team", "owner"))
        return Response(UsingModelSerializer(using, many=True).data)

"""The evaluation REST API: data sets (upload, list, download) and runs (launch, watch, cancel,
fetch the results). Thin views over evaluation.services; errors in the one API shape."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import StrictInputMixin, VisibleInputMixin
from core.api.parsers import JSONParser, MultiPartParser
from core.errors import ValidationFailed
from core.http import AuthenticatedRequest
from core.models import User
from core.uploads import require_file
from evaluation import engine, explanations, services
from evaluation.models import Dataset, RowExplanation, Run, RunStatus
from registry.models import ModelVersion, RegisteredModel
from registry.storage import stored_file_response


class BinsSerializer(serializers.Serializer):
    edges = serializers.ListField(child=serializers.FloatField())
    labels = serializers.ListField(child=serializers.CharField(), required=False)


class SensitiveFeatureSerializer(serializers.Serializer):
    column = serializers.CharField(max_length=200)
    bins = BinsSerializer(required=False, allow_null=True,
                          help_text="Bins for a continuous column: edges, closed on the left.")


class ColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField()


class DatasetSerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    uploaded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    columns = ColumnSerializer(many=True, read_only=True)
    sensitive_features = SensitiveFeatureSerializer(many=True, read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "model", "name", "is_reference", "reference", "filename", "file_format",
                  "sha256", "size", "row_count", "columns", "label_column",
                  "predictions_column", "sensitive_features", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class DatasetUploadSerializer(StrictInputMixin, VisibleInputMixin, serializers.Serializer):
    """Multipart: the file and what it holds. ``sensitive_features`` is JSON text, e.g.
    ``[{"column": "sex"}, {"column": "age", "bins": {"edges": [25, 60]}}]``."""

    model = serializers.SlugRelatedField(slug_field="slug", queryset=RegisteredModel.objects.none())
    file = serializers.FileField(help_text="CSV (UTF-8, header row) or Parquet.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    label_column = serializers.CharField(max_length=200, required=False, allow_blank=True)
    sensitive_features = serializers.CharField(
        required=False, allow_blank=True,
        help_text='JSON: [{"column": "sex"}, {"column": "age", "bins": {"edges": [25, 60], '
                  '"labels": ["<25", "25 to <60", "≥60"]}}]')
    predictions_column = serializers.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text="A model with no ONNX form: the column holding the model's own prediction per "
                  "row (a score from 0 to 1 or the predicted label; a regressor's value). The "
                  "file is then a predictions file, evaluated as an outcomes analysis.")
    is_reference = serializers.BooleanField(required=False, default=False)
    reference = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.none(),
                                                   required=False, allow_null=True)
    version = serializers.IntegerField(
        required=False, min_value=1,
        help_text="The version number to check the data against (default: the newest with an "
                  "artifact).")

    visible_inputs = {"model": lambda user: RegisteredModel.objects.visible_to(user),
                      "reference": lambda user: Dataset.objects.visible_to(user)}

    def validate_sensitive_features(self, value: str) -> list[Any]:
        if not value.strip():
            return []
        try:
            return json.loads(value)
        except ValueError:
            raise serializers.ValidationError("Give the sensitive features as JSON text, e.g. "
                                              '[{"column": "sex"}].') from None


class RunSerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        source="version.model", slug_field="slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    launched_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    status = serializers.ChoiceField(choices=RunStatus.choices, read_only=True)
    checks = serializers.ListField(child=serializers.CharField(), read_only=True)
    dataset_digests = serializers.ListField(child=serializers.CharField(), read_only=True)
    options = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    verdicts = serializers.JSONField(read_only=True)
    figures = serializers.SerializerMethodField()
    library_versions = serializers.DictField(child=serializers.CharField(), read_only=True)
    page = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", "model", "version", "version_number", "dataset", "reference",
                  "artifact_digest", "dataset_digests", "checks", "policy_version",
                  "favourable_class", "threshold", "options", "status", "progress", "step",
                  "attempts", "worker", "error", "results_digest", "verdicts", "figures",
                  "library_versions", "launched_by", "created_at", "started_at", "finished_at",
                  "page"]
        read_only_fields = fields

    def get_figures(self, run: Run) -> dict[str, dict[str, float | None]]:
        """Per check, the flat figures recorded as evidence (empty until the run succeeded)."""
        checks = (run.results or {}).get("checks", {})
        return {name: check.get("figures", {}) for name, check in checks.items()}

    def get_page(self, run: Run) -> str:
        return services.run_url(run)


class RunLaunchSerializer(StrictInputMixin, VisibleInputMixin, serializers.Serializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.none())
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.none())
    checks = serializers.ListField(
        child=serializers.CharField(), required=False, default=list(engine.DEFAULT_CHECKS),
        help_text=f"Among {', '.join(engine.RUN_CHECKS)} (default: "
                  f"{', '.join(engine.DEFAULT_CHECKS)}). Robustness and explainability need a "
                  "binary classifier or a regressor; drift needs the data set's reference data "
                  "set; mitigation needs a binary classifier and a sensitive feature.")
    options = serializers.DictField(
        child=serializers.JSONField(), required=False,
        help_text="seed, n_bootstrap (0-5000), min_group_size, n_bins (2-100), shap_rows "
                  "(1-5000: rows the explainability check explains).")

    visible_inputs = {"version": lambda user: ModelVersion.objects.visible_to(user),
                      "dataset": lambda user: Dataset.objects.visible_to(user)}


class LocalExplanationSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row's position in the data set (0-based).")
    values = serializers.DictField(child=serializers.JSONField(), help_text="The row's inputs.")
    contributions = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                          help_text="SHAP value per input column.")
    base_value = serializers.FloatField(allow_null=True)
    prediction = serializers.FloatField(allow_null=True,
                                        help_text="Base value + contributions.")
    score = serializers.FloatField(allow_null=True, help_text="The model's score for the row.")


class ExplanationResultSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=["tree", "permutation"])
    output_space = serializers.ChoiceField(
        choices=["log_odds", "probability", "raw_value"],
        help_text="The scale the contributions are in: the tree path explains a tree "
                  "ensemble's margin (log-odds for gradient boosting), the permutation "
                  "explainer the score (the favourable class's probability, or the value).")
    fallback_reason = serializers.CharField()
    background_rows = serializers.IntegerField()
    seed = serializers.IntegerField()
    local = LocalExplanationSerializer(many=True, help_text="The row asked for.")


class RowExplanationSerializer(serializers.ModelSerializer):
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    dataset_digests = serializers.ListField(child=serializers.CharField(), read_only=True)
    result = ExplanationResultSerializer(read_only=True, allow_null=True,
                                         help_text="The explanation, once it succeeded.")
    page = serializers.SerializerMethodField()

    class Meta:
        model = RowExplanation
        fields = ["id", "run", "row", "artifact_digest", "dataset_digests", "status",
                  "progress", "step", "attempts", "worker", "error", "result", "result_digest",
                  "requested_by", "created_at", "started_at", "finished_at", "page"]
        read_only_fields = fields

    def get_page(self, explanation: RowExplanation) -> str:
        return reverse("evaluation:run-explanation", args=[explanation.run_id, explanation.pk])


class RowExplanationRequestSerializer(StrictInputMixin, serializers.Serializer):
    # Any JSON value, null included: the service says what a row number is and its range.
    row = serializers.JSONField(allow_null=True,
                                help_text="The row's number in the evaluation data, 1 = the "
                                          "first row under the header.")


def _valid(serializer_class: type[serializers.Serializer], request: AuthenticatedRequest) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema(parameters=[OpenApiParameter("model", str, description="Model slug.")])
class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Evaluation and reference data sets of the models you may see."""

    serializer_class = DatasetSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Dataset.objects.none()
        datasets = Dataset.objects.visible_to(self.request.user).select_related(
            "model", "uploaded_by")
        if self.request.query_params.get("model"):
            datasets = datasets.filter(model__slug=self.request.query_params["model"])
        return datasets

    @extend_schema(request={"multipart/form-data": DatasetUploadSerializer},
                   responses={201: DatasetSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        """Upload a data set (multipart). It is checked against the model's version first: a
        400 names each column and its problem, and nothing is stored."""
        require_file(request, request.FILES, "file", "data set (CSV or Parquet)")
        data = _valid(DatasetUploadSerializer, request)
        model = data["model"]
        version = None
        if data.get("version"):
            version = model.versions.filter(number=data["version"]).first()
            if version is None:
                raise ValidationFailed(f"The model has no version {data['version']}.",
                                       field="version")
        upload = data["file"]
        dataset = services.dataset_upload(
            actor=request.user, model=model, file=upload, filename=upload.name,
            name=data.get("name", ""), label_column=data.get("label_column", ""),
            sensitive_features=data.get("sensitive_features"),
            is_reference=data.get("is_reference", False), reference=data.get("reference"),
            version=version, predictions_column=data.get("predictions_column", ""))
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request: AuthenticatedRequest, pk: str | None = None) -> HttpResponseBase:
        """The stored file, as uploaded (always as an attachment)."""
        dataset = self.get_object()
        return stored_file_response(dataset.sha256, dataset.filename)


@extend_schema(parameters=[OpenApiParameter("version", int, description="Version id."),
                           OpenApiParameter("status", str, enum=RunStatus.values)])
class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Evaluation runs: launch one (POST), watch its progress (GET), cancel it, fetch its full
    results as JSON once it succeeded."""

    serializer_class = RunSerializer
    parser_classes = [JSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Run.objects.none()
        runs = Run.objects.visible_to(self.request.user).select_related(
            "version__model", "launched_by").defer("results")
        params = self.request.query_params
        if params.get("version"):
            if not params["version"].isdigit():
                raise ValidationFailed("version is a version's id (a number).", field="version")
            runs = runs.filter(version_id=int(params["version"]))
        if params.get("status"):
            if params["status"] not in RunStatus.values:
                raise ValidationFailed(f"Unknown status; use one of: "
                                       f"{', '.join(RunStatus.values)}.", field="status")
            runs = runs.filter(status=params["status"])
        return runs

    @extend_schema(request=RunLaunchSerializer, responses={201: RunSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        """Queue an evaluation of a version on one of its model's data sets."""
        data = _valid(RunLaunchSerializer, request)
        run = services.run_launch(actor=request.user, version=data["version"],
                                  dataset=data["dataset"], checks=data["checks"],
                                  options=data.get("options"))
        return Response(RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Cancel a queued or running evaluation (409 once it has finished)."""
        run = services.run_cancel(actor=request.user, run=self.get_object())
        return Response(RunSerializer(run).data)

    @extend_schema(request=RowExplanationRequestSerializer,
                   responses={202: RowExplanationSerializer})
    @action(detail=True, methods=["post"])
    def explanations(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Ask for one row of the evaluation data to be explained (SHAP) on a worker, as the
        run's explainability check explains: 202 with the explanation to poll (``GET
        /api/v1/explanations/{id}/``); the same one again when the row was asked for before.
        400 for a row number outside the data, 409 for a run without that check."""
        run = Run.objects.select_related("version__model", "dataset").get(
            pk=self.get_object().pk)
        explanations.explanation_permission(actor=request.user, run=run)
        data = _valid(RowExplanationRequestSerializer, request)
        explanation = explanations.explanation_request(actor=request.user, run=run,
                                                       row=data["row"])
        return Response(RowExplanationSerializer(explanation).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def results(self, request: AuthenticatedRequest, pk: str | None = None) -> HttpResponse:
        """The full results as a JSON file (404 until the run has succeeded)."""
        return results_download(Run.objects.get(pk=self.get_object().pk))


@extend_schema(parameters=[OpenApiParameter("run", int, description="Run id.")])
class RowExplanationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    """One-row explanations of the runs you may see: their progress, then their result (ask
    for one with ``POST /api/v1/runs/{id}/explanations/``)."""

    serializer_class = RowExplanationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RowExplanation.objects.none()
        rows = RowExplanation.objects.visible_to(self.request.user).select_related(
            "requested_by")
        run = self.request.query_params.get("run")
        if run:
            if not run.isdigit():
                raise ValidationFailed("run is a run's id (a number).", field="run")
            rows = rows.filter(run_id=int(run))
        return rows


def results_download(run: Run) -> HttpResponse:
    """The run's full results and their digest, as a JSON attachment (pages and the API)."""
    if run.status != RunStatus.SUCCEEDED or run.results is None:
        return HttpResponse(json.dumps({"detail": f"Run {run.pk} has no results: it is "
                                                  f"{run.get_status_display().lower()}.",
                                        "code": "not_found", "fields": {}}),
                            status=404, content_type="application/json")
    body = {"run": run.pk, "results_digest": run.results_digest, "verdicts": run.verdicts,
            "library_versions": run.library_versions, "results": run.results}
    response = HttpResponse(json.dumps(body, ensure_ascii=False, sort_keys=True),
                            content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="evaluation-run-{run.pk}.json"'
    response["X-Results-SHA256"] = run.results_digest
    return response

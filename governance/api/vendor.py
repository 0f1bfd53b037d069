"""A vendor model over the API (``/api/v1/vendor-models/<slug>/``): its due-diligence checklist
with answers and reviews, its releases; the owner answers, the validator of the version in
validation reviews, and a recorded release notifies the owner."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.base import ScopedViewSet, StrictSerializer, TextField, valid_input
from core.api.parsers import JSONParser
from core.errors import Conflict
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.models import DiligenceAnswer, VendorRelease
from governance.models.vendor import REVIEW_DECISIONS
from governance.services.vendor import (
    diligence_items_of,
    releases_awaiting_version,
    version_in_flight,
)
from registry.models import RegisteredModel


class DiligenceAnswerInputSerializer(StrictSerializer):
    item = serializers.CharField(max_length=50, help_text="The item's key in the policy.")
    answer = TextField(help_text="The answer and the evidence it rests on.")
    evidence_reference = serializers.CharField(max_length=300, required=False, default="",
                                               allow_blank=True)


class DiligenceReviewInputSerializer(StrictSerializer):
    item = serializers.CharField(max_length=50)
    decision = serializers.ChoiceField(choices=REVIEW_DECISIONS)
    comment = TextField(required=False, default="", allow_blank=True,
                        help_text="Required when rejecting.")


class ReleaseInputSerializer(StrictSerializer):
    # A field named "label" shadows Field.label in the stubs; the API's name for it stays.
    label = serializers.CharField(max_length=100)  # type: ignore[assignment]
    released_on = serializers.DateField()
    notes = TextField(required=False, default="", allow_blank=True)


class DiligenceAnswerSerializer(serializers.ModelSerializer):
    answered_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    reviewed_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)

    class Meta:
        model = DiligenceAnswer
        fields = ["answer", "evidence_reference", "answered_by", "answered_at", "review",
                  "reviewed_by", "reviewed_at", "review_comment"]
        read_only_fields = fields


class DiligenceItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # as above
    answer = DiligenceAnswerSerializer(allow_null=True)


class ReleaseSerializer(serializers.ModelSerializer):
    recorded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    awaiting_version = serializers.BooleanField(help_text=(
        "Recorded after the model's newest version: a new version is due."))

    class Meta:
        model = VendorRelease
        fields = ["id", "label", "released_on", "notes", "recorded_by", "recorded_at",
                  "awaiting_version"]
        read_only_fields = fields


class VendorModelSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The model's slug.")
    vendor_name = serializers.CharField()
    artifact_form = serializers.CharField()
    servable_by_gateway = serializers.BooleanField(help_text=(
        "False for a model with no ONNX form: approved for use outside Assay's gateway."))
    contract_reference = serializers.CharField()
    contract_start = serializers.DateField(allow_null=True)
    contract_end = serializers.DateField(allow_null=True)
    renewal_date = serializers.DateField(allow_null=True)
    sla_terms = serializers.CharField()
    contingency_plan = serializers.CharField()
    due_diligence = DiligenceItemSerializer(many=True)
    releases = ReleaseSerializer(many=True)


def vendor_body(model: RegisteredModel) -> dict[str, Any]:
    answers = {a.item: a for a in DiligenceAnswer.objects.filter(model=model)
               .select_related("answered_by", "reviewed_by")}
    awaiting = {r.pk for r in releases_awaiting_version(model)}
    releases = list(VendorRelease.objects.filter(model=model).select_related("recorded_by"))
    for release in releases:
        release.awaiting_version = release.pk in awaiting  # type: ignore[attr-defined]
    return VendorModelSerializer({
        "model": model.slug, "vendor_name": model.vendor_name,
        "artifact_form": model.artifact_form, "servable_by_gateway": model.has_onnx_form,
        "contract_reference": model.contract_reference, "contract_start": model.contract_start,
        "contract_end": model.contract_end, "renewal_date": model.renewal_date,
        "sla_terms": model.sla_terms, "contingency_plan": model.contingency_plan,
        "due_diligence": [{**item, "answer": answers.get(item["key"])}
                          for item in diligence_items_of(model)],
        "releases": releases}).data


@extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH,
                                            description="The model's slug.")])
class VendorModelViewSet(ScopedViewSet):
    """A vendor model's due diligence, contract and releases. The contract, SLA terms and
    contingency plan are the model's fields (``PATCH /api/v1/models/<slug>/``)."""

    model = RegisteredModel
    lookup_field = "slug"
    parser_classes = [JSONParser]
    serializer_class = VendorModelSerializer

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        return Response(vendor_body(self.get_object()))

    @extend_schema(request=DiligenceAnswerInputSerializer, responses=VendorModelSerializer)
    @action(detail=True, methods=["post"], url_path="diligence")
    def diligence(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        """The owner (or the model's team) answers one due-diligence item."""
        model = self.get_object()
        services.diligence_answer(actor=request.user, model=model,
                                  **valid_input(DiligenceAnswerInputSerializer, request))
        return Response(vendor_body(model))

    @extend_schema(request=DiligenceReviewInputSerializer, responses=VendorModelSerializer)
    @action(detail=True, methods=["post"], url_path="diligence-review")
    def diligence_review(self, request: AuthenticatedRequest,
                         slug: str | None = None) -> Response:
        """The validator of the version in validation accepts or rejects an answer."""
        model = self.get_object()
        data = valid_input(DiligenceReviewInputSerializer, request)  # bad input first: a 400
        version = version_in_flight(model)
        if version is None:
            raise Conflict(f"No version of {model.name} is in validation: due diligence is "
                           "reviewed by the validator of a version in validation.")
        services.diligence_review(actor=request.user, version=version, **data)
        return Response(vendor_body(model))

    @extend_schema(request=ReleaseInputSerializer, responses=VendorModelSerializer)
    @action(detail=True, methods=["post"])
    def releases(self, request: AuthenticatedRequest, slug: str | None = None) -> Response:
        """Record a vendor release; the owner is told a new version is due."""
        model = self.get_object()
        services.vendor_release_record(actor=request.user, model=model,
                                       **valid_input(ReleaseInputSerializer, request))
        return Response(vendor_body(model), status=201)

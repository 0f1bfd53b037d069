"""A version's governance over the API (its lifecycle): GET .../governance/ for its status, one POST
per action (submit, assign the validator, review, sign off, suspend…), its evidence; and the open
validation queue."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.base import ScopedViewSet, StrictSerializer, TextField, not_found, valid_input
from core.api.parsers import JSONParser
from core.api.schema import ErrorSerializer
from core.http import AuthenticatedRequest
from core.models import Role, User
from core.net import client_ip
from governance import services, worklists
from governance.api.common import StrictBooleanField
from governance.api.evidence import (
    EvidenceSerializer,
    ExternalEvidenceInputSerializer,
    RequiredEvidenceSerializer,
)
from governance.gates import case_for, workable_versions
from governance.models import (
    Conclusion,
    Decision,
    EvidenceOrigin,
    ModelIntake,
    PolicyVersion,
    SignOff,
    ValidationReview,
    VersionGovernance,
)
from governance.status import marked_exploratory, version_status
from registry.models import ChangeClass, ModelVersion, VersionState


class ReasonSerializer(StrictSerializer):
    reason = TextField(help_text="Why (recorded in the audit trail).")


class AssignSerializer(StrictSerializer):
    validator = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(),
        error_messages={"does_not_exist": "No user named {value}.",
                        "required": "Name the validator (a username; your own to take the "
                                    "version yourself)."},
        help_text="Username of the validator: an active validator independent of the model "
                  "(your own, to take the version from the open queue).")
    independence_attested = StrictBooleanField(
        required=False, default=False,
        help_text="Taking the version yourself: true attests that you are independent of it "
                  "(no part in developing or using it, no conflict of interest); required.")


class ReviewInputSerializer(StrictSerializer):
    conceptual_soundness = TextField()
    data_quality = TextField(help_text="Data quality and relevance.")
    outcomes_analysis = TextField(help_text="Back-testing or a benchmark against a challenger "
                                            "or baseline.")
    implementation_verification = TextField()
    artifact_sha256 = serializers.CharField(
        max_length=64, required=False, default="", allow_blank=True,
        help_text="SHA-256 of the artifact you reviewed (required unless the model has no ONNX "
                  "form, when there is no artifact).")
    limitations = TextField()
    conclusion = serializers.ChoiceField(choices=Conclusion.choices)
    conditions = TextField(required=False, default="", allow_blank=True)
    independence_attested = serializers.BooleanField(
        required=False, default=False,
        help_text="Attest your independence of the version (needed once, if you did not when "
                  "you took the validation or on the workflow page).")


class ReviewSerializer(serializers.ModelSerializer):
    validator: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    policy_version: serializers.StringRelatedField[PolicyVersion] = serializers.StringRelatedField()

    class Meta:
        model = ValidationReview
        fields = ["id", "validator", "policy_version", "tier", "conceptual_soundness",
                  "data_quality", "outcomes_analysis", "implementation_verification",
                  "artifact_sha256", "limitations", "conclusion", "conditions", "concluded_at"]
        read_only_fields = fields


class SignOffInputSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = TextField()
    conditions = TextField(required=False, default="", allow_blank=True,
                           help_text="Optional, with an approval: the conditions you attach "
                                     "(listed in the approval attestation).")
    password = serializers.CharField(
        style={"input_type": "password"}, write_only=True, required=False, default="",
        help_text="Your own password: the electronic signature. People who sign in through "
                  "single sign-on cannot sign here: their signature is a fresh sign-in at the "
                  "identity provider, on the version's sign-off page.")
    role = serializers.ChoiceField(choices=Role.choices, required=False, default="",
                                   help_text="The role you sign in (when you hold several).")


class SignOffSerializer(serializers.ModelSerializer):
    signer: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    policy_version: serializers.StringRelatedField[PolicyVersion] = serializers.StringRelatedField()

    class Meta:
        model = SignOff
        fields = ["id", "signer", "role", "decision", "comment", "conditions", "policy_version",
                  "tier", "artifact_sha256", "signed_at"]
        read_only_fields = fields


class SignOffResultSerializer(SignOffSerializer):
    """A new signature, and where it left the version (e.g. approved, when it met the quorum)."""

    version_state = serializers.ChoiceField(source="version.state", choices=VersionState.choices,
                                            read_only=True)

    class Meta(SignOffSerializer.Meta):
        fields = [*SignOffSerializer.Meta.fields, "version_state"]
        read_only_fields = fields


class BlockerSerializer(serializers.Serializer):
    kind = serializers.CharField()
    key = serializers.CharField()
    message = serializers.CharField()


class ChangeClassStatusSerializer(serializers.Serializer):
    """The change a version declares and the validator's decision on it."""

    declared = serializers.ChoiceField(choices=ChangeClass.choices)
    in_force = serializers.ChoiceField(choices=ChangeClass.choices,
                                       help_text="The validator's class once confirmed, else the "
                                                 "declared one.")
    confirmed = serializers.BooleanField()
    confirmed_by = serializers.CharField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(allow_blank=True)
    reduced_scope = serializers.BooleanField(help_text="Whether the version is held to the "
                                                       "reduced scope of a minor change.")
    scope_checks = serializers.ListField(child=serializers.CharField(), allow_null=True,
                                         help_text="The checks the reduced scope requires.")
    definitions = serializers.DictField(child=serializers.CharField(),
                                        help_text="The policy's definition of minor and major.")


class ClassifyChangeSerializer(StrictSerializer):
    change_class = serializers.ChoiceField(choices=ChangeClass.choices)
    note = TextField(required=False, allow_blank=True,
                     help_text="Why; required when it differs from the declared class.")


class WorkflowSerializer(serializers.Serializer):
    """A version's governance status: where it is, what still blocks it, what you may do."""

    version_id = serializers.IntegerField()
    model = serializers.CharField()
    number = serializers.IntegerField()
    state = serializers.ChoiceField(choices=VersionState.choices)
    servable = serializers.BooleanField()
    policy_version = serializers.CharField(allow_null=True)
    policy_version_id = serializers.IntegerField(allow_null=True)
    policy_bound = serializers.BooleanField()
    current_policy_version = serializers.CharField(
        allow_null=True, help_text="The policy that governs the version's model now (its scope's "
                                   "current policy); a submitted version keeps policy_version.")
    current_policy_version_id = serializers.IntegerField(allow_null=True)
    review_policy_version = serializers.CharField(
        allow_null=True, help_text="The policy whose cadence schedules its periodic reviews, "
                                   "when re-scheduled under one made current after its decision.")
    policy_note = serializers.CharField(help_text="The policy it is under and the one that "
                                                  "governs its model now, in words.")
    tier = serializers.IntegerField(allow_null=True)
    requirements = serializers.DictField(allow_null=True)
    submitted_by = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    validator = serializers.CharField(allow_null=True)
    next_review_due = serializers.DateField(allow_null=True, help_text="When the approved "
                                            "version's next periodic review is due.")
    review = ReviewSerializer(allow_null=True)
    signoffs = SignOffSerializer(many=True)
    latest_evidence = EvidenceSerializer(many=True, help_text="The newest row per check, whether "
                                         "it counts or not.")
    required_evidence = RequiredEvidenceSerializer(
        many=True, help_text="Each required-evidence item of the tier, the evidence it is judged "
                             "on, whether that counts and why not.")
    blockers = BlockerSerializer(many=True)
    warnings = BlockerSerializer(many=True, help_text="Required evidence of level 'warn' that is "
                                                      "missed: shown, blocking nothing.")
    actions = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_null=True, help_text="What the state asks of you, when it "
                                                            "needs saying (changes requested).")
    sign_off_refused = serializers.CharField(
        allow_null=True, help_text="Why you may not sign this version although you hold a role "
                                   "its quorum needs (segregation of duties), when that is so.")
    change_class = ChangeClassStatusSerializer(
        allow_null=True, help_text="Minor or major change: declared, confirmed, the scope it "
                                   "takes (null for a model's first version).")


class QueueEntrySerializer(serializers.Serializer):
    """A submitted version waiting for a validator (only what choosing it needs)."""

    version_id = serializers.IntegerField()
    model = serializers.CharField(source="version.model.slug")
    model_name = serializers.CharField(source="version.model.name")
    number = serializers.IntegerField(source="version.number")
    tier = serializers.SerializerMethodField()
    policy_version = serializers.CharField()
    submitted_by = serializers.CharField(source="submitted_by.username")
    submitted_at = serializers.DateTimeField()

    def get_tier(self, obj: Any) -> int | None:
        intake = ModelIntake.objects.filter(model_id=obj.version.model_id).first()
        return intake.tier if intake else None


def lifecycle_action(input_serializer: type | None, summary: str):
    """Schema for a POST action that answers the version's governance status."""
    return extend_schema(request=input_serializer, responses=WorkflowSerializer,
                         summary=summary)


class VersionGovernanceViewSet(ScopedViewSet):
    """A version's governance: status (GET .../governance/) and one POST per state change.

    Versions you may not see answer 404; validators also see the open queue, to take versions
    from it.
    """

    model = ModelVersion
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds
    parser_classes = [JSONParser]
    serializer_class = WorkflowSerializer
    may_throttle = ("sign_off",)  # wrong passwords are throttled per account (429)

    def visible(self, user: User) -> QuerySet:
        return workable_versions(user)

    def _status(self, version: ModelVersion) -> Response:
        version.refresh_from_db()
        return Response(WorkflowSerializer(version_status(version, self.request.user)).data)

    @extend_schema(responses=WorkflowSerializer)
    @action(detail=True, methods=["get"])
    def governance(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Where the version is, the policy and tier that apply, what still blocks it, and the
        actions you may take."""
        return self._status(self.get_object())

    @lifecycle_action(None, "Submit (or resubmit) the version for validation")
    @action(detail=True, methods=["post"])
    def submit(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        version = self.get_object()
        services.version_submit(actor=request.user, version=version)
        return self._status(version)

    @lifecycle_action(AssignSerializer, "Assign an independent validator")
    @action(detail=True, methods=["post"], url_path="assign-validator")
    def assign_validator(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        version = self.get_object()
        data = valid_input(AssignSerializer, request)
        services.validator_assign(actor=request.user, version=version,
                                  validator=data["validator"],
                                  independence_attested=data["independence_attested"])
        return self._status(version)

    @lifecycle_action(None, "Attest your independence of the version (its assigned validator)")
    @action(detail=True, methods=["post"], url_path="attest-independence")
    def attest_independence(self, request: AuthenticatedRequest,
                            pk: str | None = None) -> Response:
        """A validator a risk officer assigned attests their independence of the version."""
        version = self.get_object()
        services.independence_attest(actor=request.user, version=version)
        return self._status(version)

    @lifecycle_action(None, "Start the validation again after a resubmission (its validator)")
    @action(detail=True, methods=["post"], url_path="start-validation")
    def start_validation(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """A resubmitted version keeps its validator: they (or a risk officer) start the
        validation again; to hand it to someone else, assign another validator."""
        version = self.get_object()
        services.version_transition(version=version, to=VersionState.IN_VALIDATION,
                                    actor=request.user)
        return self._status(version)

    @lifecycle_action(ReasonSerializer, "Send the version back for changes (validator)")
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(VersionState.CHANGES_REQUESTED)

    @extend_schema(methods=["GET"], responses=ReviewSerializer)
    @extend_schema(methods=["POST"], request=ReviewInputSerializer,
                   responses={201: ReviewSerializer})
    @action(detail=True, methods=["get", "post"])
    def review(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """GET the concluded validation review; POST concludes it (assigned validator)."""
        version = self.get_object()
        if request.method == "GET":
            review = getattr(version, "validation_review", None)
            if review is None:
                not_found("No review has been concluded for this version.")
            return Response(ReviewSerializer(review).data)
        review = services.review_conclude(actor=request.user, version=version,
                                          **valid_input(ReviewInputSerializer, request))
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SignOffInputSerializer, responses={201: SignOffResultSerializer})
    @action(detail=True, methods=["post"], url_path="sign-off")
    def sign_off(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Sign approve or reject, re-entering your password."""
        version = self.get_object()
        signoff = services.signoff_record(actor=request.user, version=version,
                                          client_ip=client_ip(request),
                                          **valid_input(SignOffInputSerializer, request))
        version.refresh_from_db(fields=["state"])
        signoff.version = version
        return Response(SignOffResultSerializer(signoff).data, status=status.HTTP_201_CREATED)

    @lifecycle_action(None, "Complete an approval whose quorum is met once nothing blocks")
    @action(detail=True, methods=["post"], url_path="complete-approval")
    def complete_approval(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        version = self.get_object()
        services.version_complete_approval(actor=request.user, version=version)
        return self._status(version)

    @lifecycle_action(ReasonSerializer, "Suspend an approved version (risk officer)")
    @action(detail=True, methods=["post"])
    def suspend(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(VersionState.SUSPENDED)

    @lifecycle_action(ReasonSerializer, "Reinstate a suspended version (risk officer)")
    @action(detail=True, methods=["post"])
    def reinstate(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(VersionState.APPROVED)

    @lifecycle_action(ReasonSerializer, "Retire an approved or suspended version")
    @action(detail=True, methods=["post"])
    def retire(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        return self._move(VersionState.RETIRED)

    @lifecycle_action(ClassifyChangeSerializer,
                      "Confirm or reclassify the declared minor/major change (validator)")
    @action(detail=True, methods=["post"], url_path="classify-change")
    def classify_change(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        version = self.get_object()
        services.version_classify_change(actor=request.user, version=version,
                                         **valid_input(ClassifyChangeSerializer, request))
        return self._status(version)

    def _move(self, to: str) -> Response:
        version = self.get_object()
        reason = valid_input(ReasonSerializer, self.request)["reason"]
        services.version_transition(version=version, to=to, actor=self.request.user,
                                    reason=reason)
        return self._status(version)

    @extend_schema(methods=["GET"], responses=EvidenceSerializer(many=True))
    @extend_schema(methods=["POST"], request=ExternalEvidenceInputSerializer, responses={
        201: EvidenceSerializer,
        400: OpenApiResponse(ErrorSerializer, description="Invalid input: `fields` names "
                             "each bad field. Nothing is stored."),
        403: OpenApiResponse(ErrorSerializer, description="Only the model's team, its "
                             "validator and risk officers record evidence (auditors read)."),
        404: OpenApiResponse(ErrorSerializer, description="No such version, or you may not "
                             "see it."),
        409: OpenApiResponse(ErrorSerializer, description="The version is rejected or "
                             "retired."),
    }, summary="Record evidence from a tool outside Assay (a CI pipeline, a notebook)")
    @action(detail=True, methods=["get", "post"])
    def evidence(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """GET every evidence row of the version, newest first. POST records evidence a tool
        outside Assay computed on the version's artifact, as external: it is shown as such and
        satisfies a required check only where the policy accepts external evidence for it."""
        version = self.get_object()
        if request.method == "POST":
            data = valid_input(ExternalEvidenceInputSerializer, request)
            row = services.evidence_record(
                version=version, check=data["check"], status=data["status"],
                figures=data["figures"], digest=data["digest"], source_url=data["source_url"],
                artifact_digest=data["artifact_digest"], dataset_digests=data["dataset_digests"],
                origin=EvidenceOrigin.EXTERNAL, actor=request.user)
            return Response(EvidenceSerializer(row).data, status=status.HTTP_201_CREATED)
        rows = version.evidence.select_related("recorded_by", "launched_by")
        page = marked_exploratory(list(self.paginate_queryset(rows) or []), case_for(version))
        return self.get_paginated_response(EvidenceSerializer(page, many=True).data)


class ValidationQueueViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Submitted versions no validator has taken yet (validators and risk officers)."""

    model = VersionGovernance
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds
    serializer_class = QueueEntrySerializer

    def visible(self, user: User) -> QuerySet:
        if not user.has_role(Role.VALIDATOR, Role.RISK_OFFICER):
            return VersionGovernance.objects.none()
        return worklists.validation_queue()

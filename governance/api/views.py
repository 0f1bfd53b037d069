"""Governance REST API: thin views over governance.services (the pages call the same services)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import Role
from core.net import client_ip
from governance import services
from governance.api import serializers as s
from governance.gates import workable_versions
from governance.models import ModelIntake, PolicyVersion, VersionGovernance
from governance.policy import definition_errors
from registry.models import ModelVersion, RegisteredModel, VersionState


class PolicyVersionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           viewsets.GenericViewSet):
    """Governance policy versions. Everyone reads them; administrators add versions (POST) and
    choose the current one (make-current). Versions never change once stored."""

    serializer_class = s.PolicyVersionSerializer
    parser_classes = [JSONParser]
    queryset = PolicyVersion.objects.select_related("policy", "created_by").order_by(
        "policy__slug", "-number")

    @extend_schema(request=s.PolicyVersionCreateSerializer,
                   responses={201: s.PolicyVersionSerializer})
    def create(self, request: Request) -> Response:
        data = _valid(s.PolicyVersionCreateSerializer, request)
        pv = services.policy_version_create(actor=request.user, policy_slug=data["policy"],
                                            name=data["name"], definition=data["definition"],
                                            notes=data["notes"])
        return Response(s.PolicyVersionSerializer(pv).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.PolicyVersionSerializer)
    @action(detail=True, methods=["post"], url_path="make-current")
    def make_current(self, request: Request, pk: str | None = None) -> Response:
        """Bind submissions from now on to this version (it is validated again first)."""
        pv = services.policy_version_make_current(actor=request.user,
                                                  policy_version=self.get_object())
        return Response(s.PolicyVersionSerializer(pv).data)

    @extend_schema(request=s.DefinitionSerializer, responses=s.DefinitionCheckSerializer)
    @action(detail=False, methods=["post"])
    def validate(self, request: Request) -> Response:
        """Check a definition without storing anything."""
        errors = definition_errors(_valid(s.DefinitionSerializer, request)["definition"])
        return Response({"valid": not errors, "errors": errors})


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH,
                                            description="The model's slug.")])
class IntakeViewSet(viewsets.GenericViewSet):
    """A model's intake ("is it a model?") and risk tier. PUT scores the questionnaire under the
    current policy; a tier override needs a justification and a risk officer's approval."""

    lookup_field = "slug"
    parser_classes = [JSONParser]
    serializer_class = s.IntakeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RegisteredModel.objects.none()
        return RegisteredModel.objects.visible_to(self.request.user)

    def _body(self, model: RegisteredModel) -> Response:
        intake = ModelIntake.objects.filter(model=model).first()
        if intake is None:
            return Response({"detail": "This model has no intake yet; PUT one.",
                             "code": "not_found", "fields": {}}, status=404)
        return Response(s.IntakeSerializer(intake).data)

    def retrieve(self, request: Request, slug: str | None = None) -> Response:
        return self._body(self.get_object())

    @extend_schema(request=s.IntakeInputSerializer, responses=s.IntakeSerializer)
    def update(self, request: Request, slug: str | None = None) -> Response:
        model = self.get_object()
        data = _valid(s.IntakeInputSerializer, request)
        services.intake_record(actor=request.user, model=model, **data)
        return self._body(model)

    @extend_schema(request=s.OverrideRequestSerializer, responses=s.IntakeSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request: Request, slug: str | None = None) -> Response:
        """Ask for another tier than the computed one (with a justification)."""
        model = self.get_object()
        services.tier_override_request(actor=request.user, model=model,
                                       **_valid(s.OverrideRequestSerializer, request))
        return self._body(model)

    @extend_schema(request=s.OverrideDecisionSerializer, responses=s.IntakeSerializer)
    @action(detail=True, methods=["post"], url_path="override-decision")
    def override_decision(self, request: Request, slug: str | None = None) -> Response:
        """A risk officer approves or rejects the requested override."""
        model = self.get_object()
        services.tier_override_decide(actor=request.user, model=model,
                                      **_valid(s.OverrideDecisionSerializer, request))
        return self._body(model)


def lifecycle_action(input_serializer: type | None, summary: str):
    """Schema for a POST action that answers the version's governance status."""
    return extend_schema(request=input_serializer, responses=s.WorkflowSerializer,
                         summary=summary)


class VersionGovernanceViewSet(viewsets.GenericViewSet):
    """A version's governance: status (GET .../governance/) and one POST per state change.

    Versions you may not see answer 404; validators also see the open queue, to take versions
    from it.
    """

    parser_classes = [JSONParser]
    serializer_class = s.WorkflowSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        return workable_versions(self.request.user)

    def _status(self, version: ModelVersion) -> Response:
        version.refresh_from_db()
        return Response(s.WorkflowSerializer(s.workflow_data(version, self.request.user)).data)

    @extend_schema(responses=s.WorkflowSerializer)
    @action(detail=True, methods=["get"])
    def governance(self, request: Request, pk: str | None = None) -> Response:
        """Where the version is, the policy and tier that apply, what still blocks it, and the
        actions you may take."""
        return self._status(self.get_object())

    @lifecycle_action(None, "Submit (or resubmit) the version for validation")
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        services.version_submit(actor=request.user, version=version)
        return self._status(version)

    @lifecycle_action(s.AssignSerializer, "Assign an independent validator")
    @action(detail=True, methods=["post"], url_path="assign-validator")
    def assign_validator(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        data = _valid(s.AssignSerializer, request)
        services.validator_assign(actor=request.user, version=version,
                                  validator=data["validator"])
        return self._status(version)

    @lifecycle_action(None, "Start the validation again after a resubmission (its validator)")
    @action(detail=True, methods=["post"], url_path="start-validation")
    def start_validation(self, request: Request, pk: str | None = None) -> Response:
        """A resubmitted version keeps its validator: they (or a risk officer) start the
        validation again; to hand it to someone else, assign another validator."""
        version = self.get_object()
        services.version_transition(version=version, to=VersionState.IN_VALIDATION,
                                    actor=request.user)
        return self._status(version)

    @lifecycle_action(s.ReasonSerializer, "Send the version back for changes (validator)")
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request: Request, pk: str | None = None) -> Response:
        return self._move(VersionState.CHANGES_REQUESTED)

    @extend_schema(methods=["GET"], responses=s.ReviewSerializer)
    @extend_schema(methods=["POST"], request=s.ReviewInputSerializer,
                   responses={201: s.ReviewSerializer})
    @action(detail=True, methods=["get", "post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        """GET the concluded validation review; POST concludes it (assigned validator)."""
        version = self.get_object()
        if request.method == "GET":
            review = getattr(version, "validation_review", None)
            if review is None:
                return Response({"detail": "No review has been concluded for this version.",
                                 "code": "not_found", "fields": {}}, status=404)
            return Response(s.ReviewSerializer(review).data)
        review = services.review_conclude(actor=request.user, version=version,
                                          **_valid(s.ReviewInputSerializer, request))
        return Response(s.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.SignOffInputSerializer, responses={201: s.SignOffResultSerializer})
    @action(detail=True, methods=["post"], url_path="sign-off")
    def sign_off(self, request: Request, pk: str | None = None) -> Response:
        """Sign approve or reject, re-entering your password."""
        version = self.get_object()
        signoff = services.signoff_record(actor=request.user, version=version,
                                          client_ip=client_ip(request),
                                          **_valid(s.SignOffInputSerializer, request))
        version.refresh_from_db(fields=["state"])
        signoff.version = version
        return Response(s.SignOffResultSerializer(signoff).data, status=status.HTTP_201_CREATED)

    @lifecycle_action(None, "Complete an approval whose quorum is met once nothing blocks")
    @action(detail=True, methods=["post"], url_path="complete-approval")
    def complete_approval(self, request: Request, pk: str | None = None) -> Response:
        version = self.get_object()
        services.version_complete_approval(actor=request.user, version=version)
        return self._status(version)

    @lifecycle_action(s.ReasonSerializer, "Suspend an approved version (risk officer)")
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str | None = None) -> Response:
        return self._move(VersionState.SUSPENDED)

    @lifecycle_action(s.ReasonSerializer, "Reinstate a suspended version (risk officer)")
    @action(detail=True, methods=["post"])
    def reinstate(self, request: Request, pk: str | None = None) -> Response:
        return self._move(VersionState.APPROVED)

    @lifecycle_action(s.ReasonSerializer, "Retire an approved or suspended version")
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str | None = None) -> Response:
        return self._move(VersionState.RETIRED)

    def _move(self, to: str) -> Response:
        version = self.get_object()
        reason = _valid(s.ReasonSerializer, self.request)["reason"]
        services.version_transition(version=version, to=to, actor=self.request.user,
                                    reason=reason)
        return self._status(version)

    @extend_schema(responses=s.EvidenceSerializer(many=True))
    @action(detail=True, methods=["get"])
    def evidence(self, request: Request, pk: str | None = None) -> Response:
        """Every evidence row of the version, newest first (the newest per check counts)."""
        rows = self.get_object().evidence.select_related("recorded_by")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.EvidenceSerializer(page, many=True).data)


class ValidationQueueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Submitted versions no validator has taken yet (validators and risk officers)."""

    serializer_class = s.QueueEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VersionGovernance.objects.none()
        user = self.request.user
        if not user.has_role(Role.VALIDATOR, Role.RISK_OFFICER):
            return VersionGovernance.objects.none()
        return VersionGovernance.objects.open_queue().select_related(
            "version__model", "submitted_by", "policy_version__policy").order_by("submitted_at")

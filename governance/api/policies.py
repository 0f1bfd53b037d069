"""Governance policy versions over the API: everyone reads them; administrators and risk officers
draft versions, and one who did not draft a version approves making it current (four-eyes)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core import permissions
from core.api.base import (
    ScopedReadOnlyViewSet,
    StrictSerializer,
    TextField,
    not_found,
    valid_input,
)
from core.api.parsers import JSONParser
from core.api.schema import ErrorSerializer
from core.audit import refuse
from core.errors import ValidationFailed
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.gates import no_policy_message
from governance.models import Policy, PolicyVersion
from governance.policy import definition_errors
from registry.models import RegisteredModel


class PolicyVersionSerializer(serializers.ModelSerializer):
    policy: serializers.SlugRelatedField[Policy] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    policy_name = serializers.CharField(source="policy.name", read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    approved_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who made it current (never its "
        "drafter); null for the shipped templates and drafts.")
    is_draft = serializers.BooleanField(read_only=True, help_text="Never current yet and not "
                                        "declined: it waits for a second person's approval.")
    is_declined = serializers.BooleanField(read_only=True, help_text="Declined by a second "
                                           "person, or withdrawn by its drafter (declined_by is "
                                           "then its drafter): kept, never current.")
    declined_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who declined or withdrew the draft.")

    business_lines = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Business lines it governs; empty with legal_entities empty: the default "
                  "policy for every model no other current policy covers.")
    legal_entities = serializers.ListField(child=serializers.CharField(), read_only=True,
                                           help_text="Legal entities it governs.")
    scope = serializers.SerializerMethodField(help_text="The scope in words.")

    class Meta:
        model = PolicyVersion
        fields = ["id", "policy", "policy_name", "number", "business_lines", "legal_entities",
                  "scope", "definition", "notes", "is_current",
                  "validated_at", "made_current_at", "created_by", "created_at", "approved_by",
                  "is_draft", "is_declined", "declined_at", "declined_by", "decline_reason"]
        read_only_fields = fields

    def get_scope(self, obj: PolicyVersion) -> str:
        return obj.scope.describe()


class PolicyVersionCreateSerializer(StrictSerializer):
    policy = serializers.SlugField(help_text="Slug of the policy; a new slug creates a policy.")
    name = serializers.CharField(required=False, default="", max_length=100,
                                 help_text="Name, when creating a new policy.")
    definition = serializers.JSONField(help_text="The policy definition (see governance/"
                                                 "policy.py for its shape).")
    notes = TextField(required=False, default="", allow_blank=True)
    business_lines = serializers.JSONField(
        required=False, default=None, allow_null=True, help_text="Names of the business lines it governs (a "
        "list of strings); empty with no legal entities: the default policy.")
    legal_entities = serializers.JSONField(
        required=False, default=None, allow_null=True, help_text="Names of the legal entities it governs (a list "
        "of strings). A model takes the current policy naming both its legal entity and "
        "business line, else its legal entity, else its business line, else the default.")


class PolicyDeclineSerializer(StrictSerializer):
    reason = TextField(help_text="Why the draft is declined (or withdrawn); its drafter reads "
                                 "it, and it stays with the version.")


class DefinitionSerializer(StrictSerializer):
    definition = serializers.JSONField()


class DefinitionCheckSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    # A field named like Serializer.errors; the schema's name for the definition's problems.
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


class ReviewMoveSerializer(serializers.Serializer):
    """One approved version whose next periodic review the policy's cadence moves."""

    version_id = serializers.IntegerField()
    model = serializers.CharField()
    number = serializers.IntegerField()
    tier = serializers.IntegerField()
    decided_under = serializers.CharField(help_text="The policy it was decided under (kept).")
    scheduled_under = serializers.CharField(help_text="The policy whose cadence schedules its "
                                                      "reviews until now.")
    counted_from = serializers.DateField(help_text="Its last periodic review, or approval.")
    months = serializers.IntegerField(help_text="The new policy's interval for its tier.")
    old_due = serializers.DateField()
    new_due = serializers.DateField()


class ReschedulePreviewSerializer(serializers.Serializer):
    policy_version = serializers.CharField()
    fingerprint = serializers.CharField(help_text="Post it back to reschedule-reviews to apply "
                                                  "exactly this preview.")
    moves = ReviewMoveSerializer(many=True)


class RescheduleInputSerializer(StrictSerializer):
    fingerprint = serializers.CharField(
        required=False, default="", allow_blank=True,
        help_text="From the preview: refused (409) when the moves are no longer those.")


class ModelPolicySerializer(serializers.Serializer):
    model = serializers.CharField()
    business_line = serializers.CharField()
    legal_entity = serializers.CharField()
    policy_version = PolicyVersionSerializer(allow_null=True, help_text="The current policy "
                                             "that governs the model; null when none covers it.")
    detail = serializers.CharField(help_text="Why this policy, or why none, in words.")


def _preview(pv: PolicyVersion, moves: list[services.ReviewMove]) -> dict[str, Any]:
    return {"policy_version": str(pv), "fingerprint": services.moves_fingerprint(moves),
            "moves": [move.as_dict() for move in moves]}


class PolicyVersionViewSet(ScopedReadOnlyViewSet):
    """Governance policy versions. Everyone reads them; administrators and risk officers draft
    versions (POST; the others are notified) and approve another person's draft, making it
    current (make-current; four-eyes: its drafter is refused, 403), or decline it with a reason
    (decline; its drafter is notified; the drafter declining their own draft withdraws it).
    Several versions may be current, one per policy, each over its scope (business lines, legal
    entities); for-model answers which governs a model. A current version's reschedule-preview
    lists the approved versions whose next periodic review its cadence moves, and
    reschedule-reviews applies that. Versions never change once stored, except that a draft is
    marked declined."""

    model = PolicyVersion
    serializer_class = PolicyVersionSerializer
    parser_classes = [JSONParser]
    auditor_writes = ("validate",)  # checks a definition, stores nothing

    def check_permissions(self, request: Request) -> None:
        """Who may not draft or approve policies is refused before the input is read (403, not
        400); the services refuse again, and decide four-eyes."""
        super().check_permissions(request)
        if self.action in ("create", "make_current", "decline",
                           "reschedule_reviews") and not permissions.can_manage_policies(
                request.user):
            refuse(request.user if isinstance(request.user, User) else None, "Only administrators and risk officers draft, approve "
                   "and decline governance policies.", attempted=f"policy.{self.action}",
                   code=permissions.WRONG_ROLE)

    def visible(self, user: User) -> QuerySet:
        return PolicyVersion.objects.select_related("policy", "created_by", "approved_by").order_by(
            "policy__slug", "-number")

    @extend_schema(request=PolicyVersionCreateSerializer,
                   responses={201: PolicyVersionSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(PolicyVersionCreateSerializer, request)
        pv = services.policy_version_create(actor=request.user, policy_slug=data["policy"],
                                            name=data["name"], definition=data["definition"],
                                            notes=data["notes"],
                                            business_lines=data["business_lines"],
                                            legal_entities=data["legal_entities"])
        return Response(PolicyVersionSerializer(pv).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=PolicyVersionSerializer)
    @action(detail=True, methods=["post"], url_path="make-current")
    def make_current(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Approve a draft: bind submissions from now on to this version (it is validated again
        first; its drafter is notified). Its drafter may not approve it (403)."""
        pv = services.policy_version_make_current(actor=request.user,
                                                  policy_version=self.get_object())
        return Response(PolicyVersionSerializer(pv).data)

    @extend_schema(request=PolicyDeclineSerializer, responses=PolicyVersionSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request: AuthenticatedRequest, pk: str | None = None) -> Response:
        """Decline a draft, with a reason (required): it never becomes current, is kept for the
        record, and its drafter is notified. Its drafter declining it withdraws it. A version
        that is or was current, or is already declined, is refused (409)."""
        pv = self.get_object()
        data = valid_input(PolicyDeclineSerializer, request)
        pv = services.policy_version_decline(actor=request.user, policy_version=pv,
                                             reason=data["reason"])
        return Response(PolicyVersionSerializer(pv).data)

    @extend_schema(responses=ReschedulePreviewSerializer)
    @action(detail=True, methods=["get"], url_path="reschedule-preview")
    def reschedule_preview(self, request: AuthenticatedRequest, pk: str | None = None
                           ) -> Response:
        """The approved versions whose next periodic review this current version's cadence
        would move, with their old and new dates (nothing is stored; empty when it is not
        current or nothing moves)."""
        pv = self.get_object()
        return Response(_preview(pv, services.review_moves(pv)))

    @extend_schema(request=RescheduleInputSerializer, responses={
        200: ReschedulePreviewSerializer,
        403: OpenApiResponse(ErrorSerializer, description="Only administrators and risk "
                             "officers re-schedule reviews."),
        409: OpenApiResponse(ErrorSerializer, description="The version is not current, no "
                             "review date moves, or the moves differ from the preview's "
                             "fingerprint. Nothing is changed.")})
    @action(detail=True, methods=["post"], url_path="reschedule-reviews")
    def reschedule_reviews(self, request: AuthenticatedRequest, pk: str | None = None
                           ) -> Response:
        """Apply the preview: move those review dates in one audited action and notify each
        model's owner. 409 when the version is not current, nothing moves, or the moves differ
        from the previewed fingerprint."""
        pv = self.get_object()
        data = valid_input(RescheduleInputSerializer, request)
        moves = services.policy_reviews_reschedule(actor=request.user, policy_version=pv,
                                                   fingerprint=data["fingerprint"])
        return Response(_preview(pv, moves))

    @extend_schema(parameters=[OpenApiParameter("model", str, required=True,
                                                description="The model's slug.")],
                   responses={
                       200: ModelPolicySerializer,
                       400: OpenApiResponse(ErrorSerializer, description="No model slug given."),
                       404: OpenApiResponse(ErrorSerializer, description="No such model, or "
                                            "you may not see it.")})
    @action(detail=False, methods=["get"], url_path="for-model")
    def for_model(self, request: AuthenticatedRequest) -> Response:
        """The current policy that governs a model you can see (its scope's best fit): the one
        its versions are bound to when submitted from now on."""
        slug = request.query_params.get("model", "")
        if not slug:
            raise ValidationFailed("Give the model's slug: ?model=<slug>.", field="model")
        model = RegisteredModel.objects.visible_to(request.user).filter(slug=slug).first()
        if model is None:
            not_found(f"There is no model {slug!r} you can see.")
        pv = PolicyVersion.objects.current_for(model)
        return Response({
            "model": model.slug, "business_line": model.business_line,
            "legal_entity": model.legal_entity,
            "policy_version": PolicyVersionSerializer(pv).data if pv else None,
            "detail": (f"{pv}, the current policy for {pv.scope.describe()}." if pv
                       else no_policy_message(model))})

    @extend_schema(request=DefinitionSerializer, responses=DefinitionCheckSerializer)
    @action(detail=False, methods=["post"])
    def validate(self, request: AuthenticatedRequest) -> Response:
        """Check a definition without storing anything."""
        errors = definition_errors(valid_input(DefinitionSerializer, request)["definition"])
        return Response({"valid": not errors, "errors": errors})

"""Governance policy versions over the API: everyone reads them; administrators and risk officers
draft versions, and one who did not draft a version approves making it current (four-eyes)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core import permissions
from core.api.base import (
    ScopedReadOnlyViewSet,
    StrictSerializer,
    TextField,
    valid_input,
)
from core.api.parsers import JSONParser
from core.audit import refuse
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.models import Policy, PolicyVersion
from governance.policy import definition_errors


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

    class Meta:
        model = PolicyVersion
        fields = ["id", "policy", "policy_name", "number", "definition", "notes", "is_current",
                  "validated_at", "made_current_at", "created_by", "created_at", "approved_by",
                  "is_draft", "is_declined", "declined_at", "declined_by", "decline_reason"]
        read_only_fields = fields


class PolicyVersionCreateSerializer(StrictSerializer):
    policy = serializers.SlugField(help_text="Slug of the policy; a new slug creates a policy.")
    name = serializers.CharField(required=False, default="", max_length=100,
                                 help_text="Name, when creating a new policy.")
    definition = serializers.JSONField(help_text="The policy definition (see governance/"
                                                 "policy.py for its shape).")
    notes = TextField(required=False, default="", allow_blank=True)


class PolicyDeclineSerializer(StrictSerializer):
    reason = TextField(help_text="Why the draft is declined (or withdrawn); its drafter reads "
                                 "it, and it stays with the version.")


class DefinitionSerializer(StrictSerializer):
    definition = serializers.JSONField()


class DefinitionCheckSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    # A field named like Serializer.errors; the schema's name for the definition's problems.
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]


class PolicyVersionViewSet(ScopedReadOnlyViewSet):
    """Governance policy versions. Everyone reads them; administrators and risk officers draft
    versions (POST; the others are notified) and approve another person's draft, making it
    current (make-current; four-eyes: its drafter is refused, 403), or decline it with a reason
    (decline; its drafter is notified; the drafter declining their own draft withdraws it).
    Versions never change once stored, except that a draft is marked declined."""

    model = PolicyVersion
    serializer_class = PolicyVersionSerializer
    parser_classes = [JSONParser]
    auditor_writes = ("validate",)  # checks a definition, stores nothing

    def check_permissions(self, request: Request) -> None:
        """Who may not draft or approve policies is refused before the input is read (403, not
        400); the services refuse again, and decide four-eyes."""
        super().check_permissions(request)
        if self.action in ("create", "make_current", "decline") and not permissions.can_manage_policies(
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
                                            notes=data["notes"])
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

    @extend_schema(request=DefinitionSerializer, responses=DefinitionCheckSerializer)
    @action(detail=False, methods=["post"])
    def validate(self, request: AuthenticatedRequest) -> Response:
        """Check a definition without storing anything."""
        errors = definition_errors(valid_input(DefinitionSerializer, request)["definition"])
        return Response({"valid": not errors, "errors": errors})

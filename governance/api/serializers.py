"""Governance API serializers: small input serializers for each action, and output shapes.

Workflow fields are never writable here: state changes happen through the POST actions.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.models import AuditEvent, Role, User
from governance.gates import (
    available_actions,
    blocking_items,
    case_for,
    governance_of,
    latest_evidence,
)
from governance.models import (
    Conclusion,
    Decision,
    Evidence,
    ModelIntake,
    PolicyVersion,
    SignOff,
    TierOverride,
    ValidationReview,
)
from governance.services.lifecycle import CHANGES_REQUESTED_HELP
from registry.api.serializers import StrictInputMixin
from registry.models import ModelVersion, VersionState


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    """Unknown input fields are refused, not ignored."""

    read_only_hint = "This field is not accepted here."


# --- policies ----------------------------------------------------------------------------------

class PolicyVersionSerializer(serializers.ModelSerializer):
    policy = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    policy_name = serializers.CharField(source="policy.name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PolicyVersion
        fields = ["id", "policy", "policy_name", "number", "definition", "notes", "is_current",
                  "validated_at", "made_current_at", "created_by", "created_at"]
        read_only_fields = fields


class PolicyVersionCreateSerializer(StrictSerializer):
    policy = serializers.SlugField(help_text="Slug of the policy; a new slug creates a policy.")
    name = serializers.CharField(required=False, default="", max_length=100,
                                 help_text="Name, when creating a new policy.")
    definition = serializers.JSONField(help_text="The policy definition (see governance/"
                                                 "policy.py for its shape).")
    notes = serializers.CharField(required=False, default="", allow_blank=True)


class DefinitionSerializer(StrictSerializer):
    definition = serializers.JSONField()


class DefinitionCheckSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = serializers.ListField(child=serializers.CharField())


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false: "yes", "1" or 0 are refused rather than guessed at."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# --- intake ------------------------------------------------------------------------------------

class IntakeInputSerializer(StrictSerializer):
    is_model = StrictBooleanField(help_text="Is this a model in the supervisory sense?")
    rationale = serializers.CharField(required=False, default="", allow_blank=True)
    answers = serializers.DictField(child=serializers.CharField(), required=False, default=dict,
                                    help_text="Question key → answer value.")


class OverrideRequestSerializer(StrictSerializer):
    tier = serializers.IntegerField(min_value=1, max_value=3)
    justification = serializers.CharField()


class OverrideDecisionSerializer(StrictSerializer):
    approve = StrictBooleanField()
    comment = serializers.CharField(required=False, default="", allow_blank=True)


class TierOverrideSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TierOverride
        fields = ["id", "tier", "computed_tier", "justification", "status", "requested_by",
                  "requested_at", "decided_by", "decided_at", "comment"]
        read_only_fields = fields


class IntakeSerializer(serializers.ModelSerializer):
    """``tier`` is the tier in force: ``override_tier`` (the approved ``override``) when there is
    one, else ``computed_tier``. ``override_request`` is a request awaiting a risk officer; it
    changes nothing until decided. ``overrides`` lists every request, newest first."""

    model = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    tier = serializers.IntegerField(read_only=True, allow_null=True)
    policy_version = serializers.StringRelatedField()
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    override = TierOverrideSerializer(read_only=True, allow_null=True)
    override_request = TierOverrideSerializer(source="pending_override", read_only=True,
                                              allow_null=True)
    overrides = TierOverrideSerializer(many=True, read_only=True)

    class Meta:
        model = ModelIntake
        fields = ["model", "is_model", "rationale", "answers", "scoring", "computed_tier",
                  "tier", "policy_version", "override_tier", "override", "override_request",
                  "overrides", "completed_by", "completed_at"]
        read_only_fields = fields


# --- lifecycle ---------------------------------------------------------------------------------

class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(help_text="Why (recorded in the audit trail).")


class AssignSerializer(StrictSerializer):
    validator = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(),
        error_messages={"does_not_exist": "No user named {value}.",
                        "required": "Name the validator (a username; your own to take the "
                                    "version yourself)."},
        help_text="Username of the validator: an active validator independent of the model "
                  "(your own, to take the version from the open queue).")


class ReviewInputSerializer(StrictSerializer):
    conceptual_soundness = serializers.CharField()
    data_quality = serializers.CharField(help_text="Data quality and relevance.")
    outcomes_analysis = serializers.CharField(help_text="Back-testing or a benchmark against a "
                                                        "challenger or baseline.")
    implementation_verification = serializers.CharField()
    artifact_sha256 = serializers.CharField(help_text="SHA-256 of the artifact you reviewed.")
    limitations = serializers.CharField()
    conclusion = serializers.ChoiceField(choices=Conclusion.choices)
    conditions = serializers.CharField(required=False, default="", allow_blank=True)


class ReviewSerializer(serializers.ModelSerializer):
    validator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    policy_version = serializers.StringRelatedField()

    class Meta:
        model = ValidationReview
        fields = ["id", "validator", "policy_version", "tier", "conceptual_soundness",
                  "data_quality", "outcomes_analysis", "implementation_verification",
                  "artifact_sha256", "limitations", "conclusion", "conditions", "concluded_at"]
        read_only_fields = fields


class SignOffInputSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, write_only=True,
                                     help_text="Your own password: the electronic signature.")
    role = serializers.ChoiceField(choices=Role.choices, required=False, default="",
                                   help_text="The role you sign in (when you hold several).")


class SignOffSerializer(serializers.ModelSerializer):
    signer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    policy_version = serializers.StringRelatedField()

    class Meta:
        model = SignOff
        fields = ["id", "signer", "role", "decision", "comment", "policy_version", "tier",
                  "artifact_sha256", "signed_at"]
        read_only_fields = fields


class SignOffResultSerializer(SignOffSerializer):
    """A new signature, and where it left the version (e.g. approved, when it met the quorum)."""

    version_state = serializers.ChoiceField(source="version.state", choices=VersionState.choices,
                                            read_only=True)

    class Meta(SignOffSerializer.Meta):
        fields = [*SignOffSerializer.Meta.fields, "version_state"]
        read_only_fields = fields


class EvidenceSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name")
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Evidence
        fields = ["id", "check", "status", "figures", "digest", "source_url", "recorded_by",
                  "recorded_at"]
        read_only_fields = fields


class BlockerSerializer(serializers.Serializer):
    kind = serializers.CharField()
    key = serializers.CharField()
    message = serializers.CharField()


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
    tier = serializers.IntegerField(allow_null=True)
    requirements = serializers.DictField(allow_null=True)
    submitted_by = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    validator = serializers.CharField(allow_null=True)
    next_review_due = serializers.DateField(allow_null=True, help_text="When the approved "
                                            "version's next periodic review is due.")
    review = ReviewSerializer(allow_null=True)
    signoffs = SignOffSerializer(many=True)
    latest_evidence = EvidenceSerializer(many=True)
    blockers = BlockerSerializer(many=True)
    actions = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_null=True, help_text="What the state asks of you, when it "
                                                            "needs saying (changes requested).")


def _state_note(version: ModelVersion) -> str | None:
    """For changes requested: the validator's reason and what the developer may do about it."""
    if version.state != VersionState.CHANGES_REQUESTED:
        return None
    event = (AuditEvent.objects.filter(action="version.request_changes",
                                       object_type="registry.modelversion",
                                       object_id=str(version.pk)).order_by("-seq").first())
    reason = event.payload.get("reason", "") if event is not None else ""
    asked = f"Changes requested: {reason}\n" if reason else ""
    return asked + CHANGES_REQUESTED_HELP


def workflow_data(version: ModelVersion, user: Any) -> dict[str, Any]:
    """Everything the status page and GET .../governance/ show, computed once."""
    case = case_for(version)
    gov = governance_of(version)
    review = ValidationReview.objects.filter(version=version).first()
    return {
        "version_id": version.pk, "model": version.model.slug, "number": version.number,
        "state": version.state, "servable": version.is_servable(),
        "policy_version": str(case.policy_version) if case.policy_version else None,
        "policy_version_id": case.policy_version.pk if case.policy_version else None,
        "policy_bound": gov is not None, "tier": case.tier,
        "requirements": case.rules.as_dict() if case.rules else None,
        "submitted_by": gov.submitted_by.username if gov else None,
        "submitted_at": gov.submitted_at if gov else None,
        "validator": gov.validator.username if gov and gov.validator else None,
        "next_review_due": gov.next_review_due if gov else None,
        "review": review,
        "signoffs": list(version.signoffs.select_related("signer", "policy_version__policy")),
        "latest_evidence": list(latest_evidence(version).values()),
        "blockers": [b.as_dict() for b in blocking_items(version, case)],
        "actions": available_actions(user, version, case),
        "note": _state_note(version),
    }


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

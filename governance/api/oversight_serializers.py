"""Serializers of governance part 2: findings, waivers, periodic reviews, notifications, queues.

Workflow fields are read-only: findings and waivers change through their POST actions.
"""

from __future__ import annotations

from rest_framework import serializers

from core.models import User
from governance.api.serializers import StrictSerializer
from governance.gates import workable_versions
from governance.models import (
    CommentKind,
    Finding,
    FindingAttachment,
    FindingComment,
    Notification,
    NotificationKind,
    PeriodicReview,
    ReviewConclusion,
    Severity,
    VersionGovernance,
    Waiver,
)
from registry.models import ModelVersion

Username = serializers.SlugRelatedField


class CommentSerializer(serializers.ModelSerializer):
    author = Username(slug_field="username", read_only=True)

    class Meta:
        model = FindingComment
        fields = ["id", "author", "kind", "body", "reply_to", "created_at"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by = Username(slug_field="username", read_only=True)

    class Meta:
        model = FindingAttachment
        fields = ["id", "filename", "sha256", "size", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class FindingSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    owner = Username(slug_field="username", read_only=True)
    raised_by = Username(slug_field="username", read_only=True)
    resolved_by = Username(slug_field="username", read_only=True)
    overdue = serializers.SerializerMethodField()
    blocks_approval = serializers.BooleanField(read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "version", "model", "version_number", "title", "description", "severity",
                  "status", "source", "figures", "owner", "due_date", "overdue",
                  "blocks_approval", "raised_by", "raised_at", "remediation", "resolved_by",
                  "resolved_at", "resolution"]
        read_only_fields = fields

    def get_overdue(self, obj: Finding) -> bool:
        return obj.is_overdue()


class FindingDetailSerializer(FindingSerializer):
    comments = CommentSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "comments", "attachments"]
        read_only_fields = fields


class VisibleInputSerializer(StrictSerializer):
    """Ids in the input resolve only among what the requesting user may see, so another team's
    version (or finding) answers exactly like an id that does not exist: the API cannot be used
    to probe for them."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["version"].queryset = workable_versions(request.user)
            if "finding" in fields:
                fields["finding"].queryset = Finding.objects.visible_to(request.user)
        return fields


class FindingInputSerializer(VisibleInputSerializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all(),
                                                 help_text="Id of the version.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    owner = serializers.SlugRelatedField(slug_field="username", required=False, default=None,
                                         queryset=User.objects.filter(is_active=True),
                                         help_text="Who must answer; the model's owner if "
                                                   "omitted.")
    due_date = serializers.DateField(required=False, default=None)


class TextSerializer(StrictSerializer):
    text = serializers.CharField(help_text="The remediation, the verification, the challenge or "
                                           "the risk acceptance (joins the discussion).")


class CommentInputSerializer(StrictSerializer):
    body = serializers.CharField()
    kind = serializers.ChoiceField(choices=CommentKind.choices, required=False, default="note")
    reply_to = serializers.IntegerField(required=False, default=None,
                                        help_text="Id of the comment this answers.")


class AttachmentInputSerializer(StrictSerializer):
    file = serializers.FileField()


class WaiverSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    check = serializers.CharField(source="check_name", read_only=True)
    approved_by = Username(slug_field="username", read_only=True)
    ended_by = Username(slug_field="username", read_only=True)
    covers = serializers.CharField(source="covers_label", read_only=True)

    class Meta:
        model = Waiver
        fields = ["id", "version", "model", "version_number", "finding", "check", "covers",
                  "reason", "compensating_controls", "limits_of_use", "approved_by",
                  "granted_at", "expires_at", "status", "ended_at", "ended_by", "end_reason"]
        read_only_fields = fields


class WaiverInputSerializer(VisibleInputSerializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    finding = serializers.PrimaryKeyRelatedField(queryset=Finding.objects.all(), required=False,
                                                 default=None,
                                                 help_text="The blocking finding it covers.")
    check = serializers.CharField(required=False, default="", allow_blank=True,
                                  help_text="Or: the evidence check it covers.")
    reason = serializers.CharField()
    compensating_controls = serializers.CharField()
    limits_of_use = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ReasonInputSerializer(StrictSerializer):
    reason = serializers.CharField()


class PeriodicReviewSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    reviewer = Username(slug_field="username", read_only=True)
    policy_version = serializers.StringRelatedField()

    class Meta:
        model = PeriodicReview
        fields = ["id", "version", "model", "version_number", "reviewer", "policy_version",
                  "tier", "due_on", "performance", "changes", "limitations", "conclusion",
                  "conditions", "next_review_due", "concluded_at"]
        read_only_fields = fields


class PeriodicReviewInputSerializer(VisibleInputSerializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    performance = serializers.CharField()
    changes = serializers.CharField()
    limitations = serializers.CharField()
    conclusion = serializers.ChoiceField(choices=ReviewConclusion.choices)
    conditions = serializers.CharField(required=False, default="", allow_blank=True)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "object_type", "object_id", "period",
                  "created_at", "emailed", "read_at"]
        read_only_fields = fields


class MarkReadSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=None,
                                help_text="Ids to mark read; omit to mark everything read.")


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


class PreferencesSerializer(StrictSerializer):
    email = serializers.DictField(child=serializers.BooleanField(),
                                  help_text="Kind → whether to email it. Kinds: "
                                            + ", ".join(NotificationKind.values))


class ReviewScheduleSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version_id")
    model = serializers.CharField(source="version.model.slug")
    version_number = serializers.IntegerField(source="version.number")
    validator = Username(slug_field="username", read_only=True)

    class Meta:
        model = VersionGovernance
        fields = ["version", "model", "version_number", "validator", "next_review_due"]
        read_only_fields = fields


class QueueVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(source="pk")
    model = serializers.CharField(source="model.slug")
    number = serializers.IntegerField()
    state = serializers.CharField()


class TeamModelSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    team = serializers.CharField(source="team.slug")
    owner = serializers.CharField(source="owner.username")
    status = serializers.CharField()
    tier = serializers.SerializerMethodField()

    def get_tier(self, obj: object) -> int | None:
        intake = getattr(obj, "intake", None)
        return intake.tier if intake is not None else None


class MyWorkSerializer(serializers.Serializer):
    validations = ReviewScheduleSerializer(many=True)
    signoffs = QueueVersionSerializer(many=True)
    findings = FindingSerializer(many=True)
    team_models = TeamModelSerializer(many=True)


class TierStatusCountSerializer(serializers.Serializer):
    tier = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    count = serializers.IntegerField()


class BoardSerializer(serializers.Serializer):
    today = serializers.DateField()
    overdue_reviews = ReviewScheduleSerializer(many=True)
    reviews_coming_due = ReviewScheduleSerializer(many=True)
    open_high_findings = FindingSerializer(many=True)
    overdue_findings = FindingSerializer(many=True)
    waivers = WaiverSerializer(many=True)
    expiring_waiver_ids = serializers.ListField(child=serializers.IntegerField())
    by_tier_and_status = TierStatusCountSerializer(many=True)

"""A version's evidence over the API: what its checks found (GET .../evidence/), evidence a tool
outside Assay records (POST .../evidence/), and where each required-evidence item stands (part of
GET .../governance/). The views are actions of the version's governance (api/lifecycle.py)."""

from __future__ import annotations

from rest_framework import serializers

from core.models import User
from governance.api.common import StrictSerializer
from governance.models import Evidence, EvidenceOrigin, EvidenceStatus
from governance.policy import LEVELS

SHA256_HELP = "SHA-256, 64 hex characters."


class EvidenceSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_name")
    recorded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    launched_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True,
        help_text="Who asked for the evaluation run (its independence decides whether it counts).")
    exploratory = serializers.SerializerMethodField(
        help_text="An Assay run launched by someone not independent of the version (its "
                  "developers, owner, submitter…): shown, never counting. Null where not judged "
                  "(a new row).")

    class Meta:
        model = Evidence
        fields = ["id", "check", "status", "figures", "digest", "source_url", "origin",
                  "artifact_digest", "dataset_digests", "launched_by", "recorded_by",
                  "recorded_at", "exploratory"]
        read_only_fields = fields

    def get_exploratory(self, row: Evidence) -> bool | None:
        return getattr(row, "exploratory", None)


class ExternalEvidenceInputSerializer(StrictSerializer):
    """Evidence a tool outside Assay (a CI pipeline, a notebook) computed on the version's
    artifact. It is stored as external; whether it can satisfy a required check is the policy's
    choice per check (``external_allowed``, default no)."""

    check = serializers.CharField(max_length=100, help_text="The check's name, e.g. performance.")
    status = serializers.ChoiceField(choices=EvidenceStatus.choices)
    figures = serializers.DictField(
        required=False, default=dict,
        help_text="The check's figures: a JSON object of finite numbers, text and lists, with the "
                  "flat metric names the policy's thresholds name (e.g. roc_auc).")
    digest = serializers.CharField(help_text=f"Of the tool's full result: {SHA256_HELP}")
    artifact_digest = serializers.CharField(
        help_text=f"Of the ONNX artifact the tool evaluated: {SHA256_HELP} Evidence computed on "
                  "another artifact than the version's never counts.")
    dataset_digests = serializers.ListField(
        child=serializers.CharField(), required=False, default=list,
        help_text=f"Of each dataset the tool read, in order: {SHA256_HELP}")
    source_url = serializers.CharField(required=False, default="", allow_blank=True,
                                       help_text="Link to the tool's run (http(s) URL or path).")


class StandingEvidenceSerializer(serializers.Serializer):
    """The evidence a required item is judged on (the newest that counts, else the newest)."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=EvidenceStatus.choices)
    origin = serializers.ChoiceField(choices=EvidenceOrigin.choices)
    source_url = serializers.CharField()
    artifact_digest = serializers.CharField()
    launched_by = serializers.CharField(source="launched_by.username", allow_null=True,
                                        default=None)
    recorded_at = serializers.DateTimeField()


class RequiredEvidenceSerializer(serializers.Serializer):
    """One required-evidence item of the version's tier and where it stands."""

    check = serializers.CharField(source="requirement.check")
    metric = serializers.CharField(source="requirement.metric")
    comparator = serializers.CharField(source="requirement.comparator")
    threshold = serializers.FloatField(source="requirement.threshold", allow_null=True)
    level = serializers.ChoiceField(source="requirement.level", choices=LEVELS,
                                    help_text="Missed, 'block' stops the approval; 'warn' is "
                                              "shown and stops nothing.")
    external_allowed = serializers.BooleanField(source="requirement.external_allowed")
    evidence = StandingEvidenceSerializer(allow_null=True)
    value = serializers.JSONField(allow_null=True, help_text="The metric's figure in that "
                                                             "evidence.")
    counts = serializers.BooleanField(help_text="Whether that evidence counts towards the "
                                                "approval.")
    why_not = serializers.CharField(help_text="Why it does not count (other artifact, an "
                                              "exploratory run, external not allowed…).")
    met = serializers.BooleanField()
    waived = serializers.BooleanField(help_text="A waiver in force covers the check.")
    problem = serializers.CharField(help_text="What is missing or failing; empty when met.")
    not_applicable = serializers.BooleanField(help_text=(
        "A check that runs the model's graph, for a model with no ONNX form, under a policy "
        "that treats it as not applicable without an artifact: neither met by evidence nor "
        "blocking (docs/no-artifact-models.md)."))


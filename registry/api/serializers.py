"""Registry API serializers: they shape output and check input types; services do the rest."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.base import TEXT_LIMIT, StrictInputMixin, VisibleInputMixin
from core.models import Team, User
from registry import services
from registry.models import (
    ArtifactForm,
    ChangeClass,
    DataSource,
    DecisionType,
    MlflowImport,
    ModelVersion,
    RegisteredModel,
    Sourcing,
    Tag,
    Task,
    VendorDocument,
    VersionSignature,
)


class VendorDocumentSerializer(serializers.ModelSerializer):
    uploaded_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)

    class Meta:
        model = VendorDocument
        fields = ["id", "filename", "sha256", "size", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class VendorDocumentUploadSerializer(serializers.Serializer):
    document = serializers.FileField(help_text="The vendor's documentation file (multipart).")


class ModelSerializer(StrictInputMixin, VisibleInputMixin, serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    developers = serializers.SlugRelatedField(
        slug_field="username", many=True, required=False,
        queryset=User.objects.filter(is_active=True))
    upstream_models = serializers.SlugRelatedField(
        slug_field="slug", many=True, required=False, queryset=RegisteredModel.objects.all(),
        help_text="Slugs of the models this one depends on; a link that would close a cycle is "
                  "refused.")
    linked_data_sources = serializers.SlugRelatedField(
        slug_field="name", many=True, required=False, queryset=DataSource.objects.all(),
        help_text="Names of the data sources the model uses (GET /api/v1/data-sources/).")
    tags: serializers.SlugRelatedField[Tag] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True)
    tag_names = serializers.ListField(child=serializers.CharField(max_length=services.TAG_MAX),
                                      required=False, max_length=services.TAGS_MAX,
                                      write_only=True, help_text="Replaces the model's tags.")
    decision_type = serializers.ChoiceField(choices=DecisionType.choices)
    task = serializers.ChoiceField(choices=Task.choices)
    sourcing = serializers.ChoiceField(choices=Sourcing.choices, required=False)
    artifact_form = serializers.ChoiceField(
        choices=ArtifactForm.choices, required=False,
        help_text="onnx, or the form of a model with no ONNX artifact: it is validated on "
                  "uploaded predictions and documentation and never served by the gateway.")
    is_idea = serializers.BooleanField(read_only=True, help_text=(
        "Registered with no version yet (the idea stage: intake and tiering may be done)."))
    favourable_class = serializers.CharField(
        max_length=100, required=False, allow_blank=True,
        help_text="The favourable (positive) class as spelled in the label column, e.g. '1'.")
    decision_threshold = serializers.FloatField(
        required=False, min_value=0.0, max_value=1.0,
        help_text="A row is predicted favourable when its score is at or above this.")
    slug = serializers.SlugField(required=False, max_length=100)
    latest_version = serializers.IntegerField(read_only=True, allow_null=True)
    version_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = RegisteredModel
        fields = [
            "id", "slug", "name", "team", "owner", "developers", "purpose", "intended_use",
            "intended_users", "restrictions", "business_line", "legal_entity", "decision_type",
            "task", "sourcing", "vendor_name", "artifact_form", "contract_reference",
            "contract_start", "contract_end", "renewal_date", "sla_terms", "contingency_plan",
            "is_idea", "favourable_class", "decision_threshold",
            "known_limitations", "upstream_models", "linked_data_sources", "data_sources",
            "tags", "tag_names", "status", "kind", "latest_version", "version_count",
            "created_by", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "owner", "status", "kind", "created_by", "created_at",
                            "updated_at"]
        extra_kwargs = dict.fromkeys(services.MODEL_TEXT_FIELDS, TEXT_LIMIT)

    # A model you may not see is not found, here as everywhere.
    visible_inputs = {"upstream_models": lambda user: RegisteredModel.objects.visible_to(user)}

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:  # team and slug are fixed after creation
            fields["team"].read_only = True
            fields["slug"].read_only = True
        return fields


class TensorSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    element_type = serializers.CharField()
    shape = serializers.ListField(child=serializers.JSONField(), help_text="ints, names or null")


class VersionSerializer(StrictInputMixin, serializers.ModelSerializer):
    model: serializers.SlugRelatedField[RegisteredModel] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    input_schema = TensorSpecSerializer(many=True, read_only=True)
    output_schema = TensorSpecSerializer(many=True, read_only=True)
    artifact = serializers.FileField(write_only=True, required=False,
                                     help_text="The ONNX file (multipart).")
    training_data_sha256 = serializers.RegexField(
        r"^(?:[0-9a-fA-F]{64})?$", required=False, allow_blank=True,  # blank: not given
        error_messages={"invalid": "Give the digest as 64 hex characters (sha256sum output)."})
    monotone_features = serializers.DictField(
        child=serializers.CharField(), required=False,
        help_text='Numeric inputs the score must move with in one direction, e.g. {"duration": '
                  '"decreasing", "credit_amount": "increasing"}; checked against the input '
                  "schema, tested by the robustness check.")
    change_class = serializers.ChoiceField(
        choices=ChangeClass.choices, required=False, allow_blank=True,
        help_text="How much this version changes the model, as its policy defines minor and "
                  "major (GET .../governance/ shows the definitions): a later version that does "
                  "not say is major; a model's first version leaves it empty.")

    class Meta:
        model = ModelVersion
        fields = [
            "id", "model", "number", "state", "changelog", "change_class", "artifact",
            "artifact_sha256",
            "artifact_size", "artifact_filename", "input_schema", "output_schema",
            "artifact_meta", "training_data_description", "training_data_sha256",
            "monotone_features", "created_by", "created_at",
        ]
        read_only_fields = ["id", "model", "number", "state", "artifact_sha256", "artifact_size",
                            "artifact_filename", "artifact_meta", "created_by", "created_at"]
        extra_kwargs = dict.fromkeys(services.VERSION_TEXT_FIELDS, TEXT_LIMIT)


class ArtifactUploadSerializer(serializers.Serializer):
    artifact = serializers.FileField(help_text="The ONNX file (multipart field 'artifact').")


class TransferSerializer(serializers.Serializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(),
                                        required=False)
    owner = serializers.SlugRelatedField(slug_field="username", required=False,
                                         queryset=User.objects.filter(is_active=True))

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give the new team, the new owner, or both.")
        return attrs


class VersionSignatureSerializer(serializers.ModelSerializer):
    keyid = serializers.CharField(source="key_id", read_only=True)
    key_status = serializers.CharField(source="key.status", read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = VersionSignature
        fields = ["id", "kind", "keyid", "key_status", "artifact_sha256", "created_at", "current"]
        read_only_fields = fields

    def get_current(self, signature: VersionSignature) -> bool:
        return signature.pk in self.context.get("current_ids", ())


class VersionSignaturesSerializer(serializers.Serializer):
    servable = serializers.BooleanField(help_text="Approved, with both signatures in force.")
    problems = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why the signatures do not back the approval (empty when they do).")
    signatures = VersionSignatureSerializer(many=True, help_text="Newest first; the newest of "
                                                                 "each kind is current.")


class MlflowImportRequestSerializer(StrictInputMixin, serializers.Serializer):
    tracking_uri = serializers.CharField(max_length=500,
                                         help_text="The MLflow server, e.g. http://mlflow:5000.")
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(),
                                        help_text="Slug of the team the models join.")
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), required=False,
        help_text="Username of the new models' owner (default: you).")
    models = serializers.ListField(child=serializers.CharField(max_length=256), required=False,
                                   max_length=500,
                                   help_text="Registered models to import (default: all).")
    task = serializers.ChoiceField(choices=Task.choices, required=False,
                                   help_text="Task of models not tagged assay.task in MLflow.")
    decision_type = serializers.ChoiceField(
        choices=DecisionType.choices, required=False,
        help_text="Decision type of models not tagged assay.decision_type in MLflow.")
    dry_run = serializers.BooleanField(default=True,
                                       help_text="Say what would be imported; write nothing.")


class MlflowImportLineSerializer(serializers.Serializer):
    registered_model = serializers.CharField()
    mlflow_version = serializers.IntegerField(allow_null=True)
    action = serializers.ChoiceField(choices=["create model", "create version",
                                              "already imported", "skip", "refuse"])
    detail = serializers.CharField()
    assay_model = serializers.CharField()
    assay_version = serializers.IntegerField(allow_null=True)


class MlflowImportSerializer(serializers.ModelSerializer):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True)
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    summary = serializers.SerializerMethodField()
    lines = serializers.SerializerMethodField()

    class Meta:
        model = MlflowImport
        fields = ["id", "tracking_uri", "team", "owner", "registered_models", "task",
                  "decision_type", "dry_run", "state", "progress", "step", "requested_by",
                  "queued_at", "started_at", "finished_at", "error", "summary", "lines"]
        read_only_fields = fields

    def get_summary(self, job: MlflowImport) -> str:
        return str(job.report.get("summary", ""))

    @extend_schema_field(MlflowImportLineSerializer(many=True))
    def get_lines(self, job: MlflowImport) -> list[dict[str, Any]]:
        return list(job.report.get("lines", []))


class DataSourceSerializer(StrictInputMixin, serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username", required=False, queryset=User.objects.filter(is_active=True),
        help_text="Who answers for the data (a username; you, when not given).")
    created_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True)
    model_count = serializers.SerializerMethodField(
        help_text="How many models you may see use it (GET .../models/ lists them).")

    class Meta:
        model = DataSource
        fields = ["id", "name", "owner", "system", "description", "model_count", "created_by",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]
        # A name taken answers 409 from the service (what to do instead), not DRF's 400.
        extra_kwargs = {"description": TEXT_LIMIT, "name": {"validators": []}}

    def get_model_count(self, obj: DataSource) -> int:
        user = self.context["request"].user
        return RegisteredModel.objects.visible_to(user).filter(linked_data_sources=obj).count()


class NeighbourSerializer(serializers.Serializer):
    slug = serializers.CharField(source="model.slug")
    name = serializers.CharField(source="model.name")
    status = serializers.CharField(source="model.status",
                                   help_text="The state of the model's newest version.")
    distance = serializers.IntegerField(help_text="Links away (1: directly linked).")
    via = serializers.CharField(source="via.slug", allow_null=True, default=None,
                                help_text="The model it is reached through (null: direct).")


class DependenciesSerializer(serializers.Serializer):
    upstream = NeighbourSerializer(many=True, help_text="Every model this one depends on, "
                                                        "directly or through others.")
    downstream = NeighbourSerializer(many=True, help_text="Every model that depends on this "
                                                          "one, directly or through others.")


class UsingModelSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.slug")
    owner = serializers.CharField(source="owner.username")

    class Meta:
        model = RegisteredModel
        fields = ["slug", "name", "team", "owner", "status"]
        read_only_fields = fields

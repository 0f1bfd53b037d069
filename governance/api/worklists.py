"""The work lists over the API: your queues (my work) and the oversight board."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import permissions
from core.errors import PermissionRefused
from core.models import User
from governance import worklists
from governance.api.common import Username
from governance.api.findings import FindingSerializer
from governance.api.waivers import WaiverSerializer
from governance.models import VersionGovernance
from registry.models import EntryKind


class ReviewScheduleSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version_id")
    model = serializers.CharField(source="version.model.slug")
    version_number = serializers.IntegerField(source="version.number")
    validator: Username[User] = Username(slug_field="username", read_only=True)

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
    kind = serializers.ChoiceField(choices=EntryKind.choices,
                                   help_text="tool: entries whose intake said not a model.")
    count = serializers.IntegerField()


class ToolCountsSerializer(serializers.Serializer):
    in_use = serializers.IntegerField()
    review_overdue = serializers.IntegerField()
    retired = serializers.IntegerField()


class BoardSerializer(serializers.Serializer):
    today = serializers.DateField()
    overdue_reviews = ReviewScheduleSerializer(many=True)
    reviews_coming_due = ReviewScheduleSerializer(many=True)
    open_high_findings = FindingSerializer(many=True)
    overdue_findings = FindingSerializer(many=True)
    waivers = WaiverSerializer(many=True)
    expiring_waiver_ids = serializers.ListField(child=serializers.IntegerField())
    by_tier_and_status = TierStatusCountSerializer(many=True)
    tools = ToolCountsSerializer(help_text="The register of tools that are not models.")


class MyWorkView(APIView):
    """Your queues: validations assigned to you, versions awaiting your sign-off, findings you
    must answer or close, and your teams' models."""

    @extend_schema(responses=MyWorkSerializer)
    def get(self, request: Request) -> Response:
        return Response(MyWorkSerializer(worklists.my_work(request.user)).data)


class BoardView(APIView):
    """The oversight board (risk officers, review board, auditors, administrators): overdue and
    upcoming reviews, open high and overdue findings, waivers in force, models by tier and
    status."""

    @extend_schema(responses=BoardSerializer)
    def get(self, request: Request) -> Response:
        if not permissions.can_view_board(request.user):
            raise PermissionRefused("The board is for risk officers, the review board, auditors "
                                    "and administrators.")
        data = worklists.board()
        return Response(BoardSerializer({**data.__dict__,
                                           "expiring_waiver_ids": sorted(
                                               data.expiring_waiver_ids)}).data)

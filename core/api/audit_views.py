"""The audit trail's REST endpoints (part 1: chain verification)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import audit, permissions, verification
from core.errors import PermissionRefused


class ChainReportSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField(help_text="True when every digest and link verified.")
    checked = serializers.IntegerField(help_text="Events verified before stopping.")
    head_seq = serializers.IntegerField(help_text="Last event that verified (0: none).")
    head_hash = serializers.CharField(help_text="Its chain hash (64 zeros: the genesis).")
    first_bad_seq = serializers.IntegerField(allow_null=True,
                                             help_text="First event that failed, if any.")
    reason = serializers.ChoiceField(
        choices=[audit.DIGEST_MISMATCH, audit.BROKEN_LINK, audit.GAP, audit.BAD_GENESIS,
                 audit.CHECKPOINT_MISMATCH, audit.TRUNCATED, ""],
        help_text="Why it failed (empty when ok).")
    detail = serializers.CharField(help_text="The failure in words (empty when ok).")
    summary = serializers.CharField(help_text="One line for people.")


class CheckpointCheckSerializer(serializers.Serializer[Any]):
    problems = serializers.ListField(child=serializers.CharField(),
                                     help_text="Checkpoint mismatches, each naming its checkpoint.")
    notes = serializers.ListField(child=serializers.CharField())
    checked = serializers.IntegerField(help_text="Checkpoints compared (database and file).")
    head_seq = serializers.IntegerField()
    latest = serializers.DictField(allow_null=True, help_text="Newest valid checkpoint.")


class TrailReportSerializer(ChainReportSerializer):
    """The chain report; ``ok``/``summary`` also cover the signed checkpoints (issue 5)."""

    chain_ok = serializers.BooleanField(help_text="The chain alone recomputed without error.")
    checkpoints = CheckpointCheckSerializer()
    checked_at = serializers.CharField()


class VerifyChainView(APIView):
    """Recompute the whole hash chain now (auditors and administrators).

    Takes seconds for a million events: every digest and link is recomputed from the stored rows.
    """

    @extend_schema(responses=TrailReportSerializer, summary="Verify the audit chain")
    def get(self, request: Request) -> Response:
        if not permissions.can_export_audit(request.user):
            raise PermissionRefused("Only auditors and administrators can verify the audit trail.")
        return Response(TrailReportSerializer(verification.verify_trail().as_dict()).data)

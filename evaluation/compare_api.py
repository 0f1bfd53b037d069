"""The comparison API: two runs side by side, and a version against the previous approved
version. Read-only; the arithmetic is evaluation.compare's, the shapes below document it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.base import not_found
from core.api.schema import ErrorSerializer
from core.http import AuthenticatedRequest
from evaluation import compare
from registry.models import ModelVersion


class SideSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)


class ThresholdSerializer(serializers.Serializer):
    requirement = serializers.CharField(help_text="The policy's requirement, e.g. "
                                                  "'performance (roc_auc >= 0.7)'.")
    level = serializers.CharField()
    left_passes = serializers.BooleanField(allow_null=True)
    right_passes = serializers.BooleanField(allow_null=True)


class FigureChangeSerializer(serializers.Serializer):
    check = serializers.CharField()
    figure = serializers.CharField()
    left = SideSerializer(allow_null=True, help_text="null: only the right run has it.")
    right = SideSerializer(allow_null=True, help_text="null: only the left run has it.")
    difference = serializers.FloatField(allow_null=True, help_text="right - left.")
    better = serializers.ChoiceField(choices=[compare.HIGHER, compare.LOWER, compare.NEUTRAL])
    change = serializers.ChoiceField(choices=[
        compare.BETTER, compare.WORSE, compare.SAME_VALUE, compare.CHANGED, compare.ONLY_LEFT,
        compare.ONLY_RIGHT, compare.UNDEFINED])
    regression = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why it is a regression ('' when it is not).")
    thresholds = ThresholdSerializer(many=True)


class CheckChangeSerializer(serializers.Serializer):
    check = serializers.CharField()
    left_status = serializers.CharField(allow_null=True)
    right_status = serializers.CharField(allow_null=True)
    only_in = serializers.ChoiceField(choices=["left", "right"], allow_null=True)
    figures = FigureChangeSerializer(many=True)


class RunSideSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    version = serializers.IntegerField()
    version_state = serializers.CharField()
    dataset = serializers.CharField()
    dataset_sha256 = serializers.CharField()
    threshold = serializers.FloatField(allow_null=True)
    checks = serializers.ListField(child=serializers.CharField())
    finished_at = serializers.DateTimeField(allow_null=True)
    page = serializers.CharField()


class TolerancesSerializer(serializers.Serializer):
    absolute = serializers.FloatField()
    relative = serializers.FloatField()


class RunComparisonSerializer(serializers.Serializer):
    left = RunSideSummarySerializer(help_text="The baseline run.")
    right = RunSideSummarySerializer(help_text="The run judged against it.")
    same_model = serializers.BooleanField()
    same_data = serializers.BooleanField(help_text="Same evaluation data set digest.")
    notes = serializers.ListField(child=serializers.CharField())
    regressions = FigureChangeSerializer(many=True)
    checks = CheckChangeSerializer(many=True)
    tolerances = TolerancesSerializer()


class VersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    state = serializers.CharField()


class PairingSerializer(serializers.Serializer):
    checks = serializers.ListField(child=serializers.CharField())
    datasets_differ = serializers.BooleanField()
    comparison = RunComparisonSerializer()


class VersionComparisonSerializer(serializers.Serializer):
    version = serializers.DictField()
    baseline = VersionRefSerializer(allow_null=True, help_text="The previous approved version "
                                    "in use; null when there is none.")
    datasets_differ = serializers.BooleanField()
    regressions = FigureChangeSerializer(many=True)
    pairings = PairingSerializer(many=True)
    only_in_version = serializers.ListField(child=serializers.CharField())
    only_in_baseline = serializers.ListField(child=serializers.CharField())


class RunCompareView(APIView):
    """Two succeeded runs side by side: every figure of either, both values, the difference,
    which way is better, regressions of ``right`` against ``left``, policy thresholds met."""

    @extend_schema(parameters=[
        OpenApiParameter("left", int, required=True, description="The baseline run's id."),
        OpenApiParameter("right", int, required=True, description="The compared run's id.")],
        responses={200: RunComparisonSerializer, 404: OpenApiResponse(
            ErrorSerializer, description="No such run, or you may not see it: `fields` names "
                                         "the side (left or right).")})
    def get(self, request: AuthenticatedRequest) -> Response:
        left, right = compare.runs_to_compare(request.user, request.query_params.get("left"),
                                              request.query_params.get("right"))
        return Response(RunComparisonSerializer(compare.compare_runs(left, right).as_dict()).data)


class VersionCompareView(APIView):
    """A version's latest succeeded run per check against the previous approved version's."""

    @extend_schema(responses=VersionComparisonSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        version = (ModelVersion.objects.visible_to(request.user).select_related("model")
                   .filter(pk=pk).first())
        if version is None:
            not_found(f"There is no version {pk} that you may see.")
        result = compare.version_comparison(version)
        return Response(VersionComparisonSerializer(result.as_dict()).data)

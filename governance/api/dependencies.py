"""A model's upstream-change impact over the API: GET /api/v1/models/{slug}/impact/ lists every
model downstream of it and what its policy would have happen to it if this model were suspended,
retired or materially changed (governance.services.dependencies)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotVisible
from governance import services
from governance.policy import FLAGS
from registry.models import RegisteredModel, VersionState


class AffectedSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="The downstream model's slug.")
    name = serializers.CharField()
    distance = serializers.IntegerField(help_text="Links between the two models (1: direct).")
    via = serializers.CharField(help_text="The upstream model it depends on along the way.")
    owner = serializers.CharField()
    version = serializers.IntegerField(allow_null=True, help_text="Its version in use (approved "
                                                                  "or suspended), if any.")
    version_state = serializers.ChoiceField(choices=VersionState.choices, allow_null=True)
    flag = serializers.ChoiceField(choices=FLAGS, allow_null=True)
    severity = serializers.CharField(allow_null=True)
    due_days = serializers.IntegerField(allow_null=True)
    effect = serializers.CharField(help_text="What its policy has happen to it, in words.")


class ImpactSerializer(serializers.Serializer):
    model = serializers.CharField()
    affected = AffectedSerializer(many=True)
    hidden = serializers.IntegerField(help_text="Downstream models you may not see (counted, "
                                                "not named).")


class ModelImpactView(APIView):
    """Who would be affected if this model were suspended, retired or materially changed."""

    @extend_schema(parameters=[OpenApiParameter("slug", str, OpenApiParameter.PATH)],
                   responses=ImpactSerializer)
    def get(self, request: Request, slug: str) -> Response:
        model = RegisteredModel.objects.visible_to(request.user).filter(slug=slug).first()
        if model is None:
            raise NotVisible("No such model.")
        affected = services.upstream_impact(model)
        visible = set(RegisteredModel.objects.visible_to(request.user).filter(
            pk__in=[a.model.pk for a in affected]).values_list("pk", flat=True))
        shown = [a.as_dict() for a in affected if a.model.pk in visible]
        return Response(ImpactSerializer({"model": model.slug, "affected": shown,
                                          "hidden": len(affected) - len(shown)}).data)

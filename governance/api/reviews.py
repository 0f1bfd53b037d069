"""Periodic reviews over the API: the concluded reviews, and concluding one (an independent
validator, for an approved version)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from core.api.base import ScopedReadOnlyViewSet, TextField, valid_input
from core.api.parsers import JSONParser
from core.http import AuthenticatedRequest
from core.models import User
from governance import services
from governance.api.common import Username, VisibleInputSerializer
from governance.gates import workable_versions
from governance.models import PeriodicReview, PolicyVersion, ReviewConclusion
from registry.models import ModelVersion


class PeriodicReviewSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="version.model.slug", read_only=True)
    version_number = serializers.IntegerField(source="version.number", read_only=True)
    reviewer: Username[User] = Username(slug_field="username", read_only=True)
    policy_version: serializers.StringRelatedField[PolicyVersion] = serializers.StringRelatedField()

    class Meta:
        model = PeriodicReview
        fields = ["id", "version", "model", "version_number", "reviewer", "policy_version",
                  "tier", "due_on", "performance", "changes", "limitations", "conclusion",
                  "conditions", "next_review_due", "concluded_at"]
        read_only_fields = fields


class PeriodicReviewInputSerializer(VisibleInputSerializer):
    version = serializers.PrimaryKeyRelatedField(queryset=ModelVersion.objects.all())
    performance = TextField()
    changes = TextField()
    limitations = TextField()
    conclusion = serializers.ChoiceField(choices=ReviewConclusion.choices)
    conditions = TextField(required=False, default="", allow_blank=True)


class PeriodicReviewViewSet(ScopedReadOnlyViewSet):
    """Concluded periodic reviews; an independent validator concludes one (POST) for an approved
    version: continue, continue with conditions, or retire."""

    model = PeriodicReview
    parser_classes = [JSONParser]
    serializer_class = PeriodicReviewSerializer

    def visible(self, user: User) -> QuerySet:
        versions = workable_versions(user).values("pk")
        return PeriodicReview.objects.filter(version__in=versions).select_related(
            "version__model", "reviewer", "policy_version__policy")

    @extend_schema(request=PeriodicReviewInputSerializer,
                   responses={201: PeriodicReviewSerializer})
    def create(self, request: AuthenticatedRequest) -> Response:
        data = valid_input(PeriodicReviewInputSerializer, request)
        version = data.pop("version")  # the serializer resolves only versions you may see
        review = services.periodic_review_conclude(actor=request.user, version=version, **data)
        return Response(PeriodicReviewSerializer(review).data, status=status.HTTP_201_CREATED)

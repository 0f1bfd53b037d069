from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.models import ApiToken, Role, Team, User


class TeamSerializer(serializers.ModelSerializer[Team]):
    class Meta:
        model = Team
        fields = ["id", "slug", "name", "description"]


class UserSerializer(serializers.ModelSerializer[User]):
    email = serializers.CharField(read_only=True, help_text="Empty when none is on file.")
    roles = serializers.SerializerMethodField()
    teams: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug")

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "is_active", "roles", "teams"]
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return sorted(g.role for g in user.role_grants.all())


class UserCreateSerializer(serializers.Serializer[Any]):
    """Input for creating an account; the service checks the password and that the name is free."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    email = serializers.EmailField(required=False, default="", max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, default="")
    last_name = serializers.CharField(max_length=150, required=False, default="")
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Role.choices),
                                  required=False, default=list)
    teams = serializers.SlugRelatedField(many=True, slug_field="slug", queryset=Team.objects.all(),
                                         required=False, default=list)


class UserDeactivateSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class RoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "revoked_at",
                  "last_used_at", "status"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(min_value=1)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


class TeamMembershipSerializer(serializers.Serializer[Any]):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())

"""What governance's API modules share: strict input serializers (unknown fields refused, ids
resolved only among what the user may see) and one way to validate a request's input."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from governance.gates import workable_versions
from governance.models import Finding
from registry.api.serializers import StrictInputMixin

Username = serializers.SlugRelatedField


class StrictSerializer(StrictInputMixin, serializers.Serializer):
    """Unknown input fields are refused, not ignored."""

    read_only_hint = "This field is not accepted here."


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false: "yes", "1" or 0 are refused rather than guessed at."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class VisibleInputSerializer(StrictSerializer):
    """Ids in the input resolve only among what the requesting user may see, so another team's
    version (or finding) answers exactly like an id that does not exist: the API cannot be used
    to probe for them."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            # Related fields (declared by the subclasses); the stubs type fields as plain Fields.
            user = request.user
            fields["version"].queryset = workable_versions(user)  # type: ignore[attr-defined]
            if "finding" in fields:
                visible = Finding.objects.visible_to(user)
                fields["finding"].queryset = visible  # type: ignore[attr-defined]
        return fields


def valid_input(serializer_class: type[serializers.Serializer], request: Request
                ) -> dict[str, Any]:
    """The request's input, validated by ``serializer_class`` (a 400 naming each bad field)."""
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)

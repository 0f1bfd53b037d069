"""What governance's API modules share beyond core.api.base: strict booleans, and input
serializers whose ids resolve only among what the user may see."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.base import StrictSerializer, VisibleInputMixin
from governance.gates import workable_versions
from governance.models import Finding

Username = serializers.SlugRelatedField


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true or false: "yes", "1" or 0 are refused rather than guessed at."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class VisibleInputSerializer(VisibleInputMixin, StrictSerializer):
    """Ids in the input resolve only among what the requesting user may see, so another team's
    version (or finding) answers exactly like an id that does not exist: the API cannot be used
    to probe for them."""

    visible_inputs = {"version": workable_versions,
                      "finding": lambda user: Finding.objects.visible_to(user)}

"""What every API module stands on, so an app's API is a few lines per subject.

* ``ScopedViewSet``: ``get_queryset()`` answers ``visible(user)``, only what the user may see, so
  anything else is a 404; while drf-spectacular builds the schema (no user) it answers an empty
  queryset of ``model``, here and nowhere else. ``ScopedReadOnlyViewSet`` adds list and retrieve.
* ``StrictInputMixin`` / ``StrictSerializer``: input serializers that refuse unknown fields;
  ``TextField``: free text within ``core.limits.TEXT_MAX``, in the services' words.
* ``valid_input()``: a request's input validated by an input serializer (400 naming each field).
* ``not_found()``: a 404 in the API's error shape for something a found object lacks.

Permission (``core.api.permissions``) is checked before any of this reads the input, and NUL
characters are refused by the parsers (``core.api.parsers``) as the body is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn

from django.db.models import Model, QuerySet
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request

from core.errors import NotVisible
from core.http import AuthenticatedRequest
from core.limits import TEXT_MAX
from core.models import User


class ScopedViewSet(viewsets.GenericViewSet[Any]):
    """A viewset over ``model`` whose queryset is what the requesting user may see.

    Override ``visible()`` to narrow or join further (filters, ``select_related``); the default
    is the model's ``visible_to(user)``.
    """

    model: type[Model]
    request: AuthenticatedRequest  # the default permission, IsAuthenticated, holds

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return self.model._default_manager.none()
        return self.visible(self.request.user)

    def visible(self, user: User) -> QuerySet[Any]:
        """What ``user`` may see through this viewset."""
        queryset: QuerySet[Any] = self.model._default_manager.visible_to(  # type: ignore[attr-defined]
            user)  # every scoped model's manager has visible_to (STYLE.md)
        return queryset


class ScopedReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """List and retrieve what the user may see; writes are ``@action``s or ``create`` calling a
    service. A subject's read API is then ``model``, ``serializer_class`` and nothing else."""


# The services' wording for text over the limit (core.limits), so the API and the pages agree.
TEXT_TOO_LONG = f"Is %(show_value)s characters long; keep it to {TEXT_MAX:,}."
# The same limit as a model serializer's extra_kwargs for a model's free-text fields.
TEXT_LIMIT: dict[str, Any] = {"max_length": TEXT_MAX,
                              "error_messages": {"max_length": TEXT_TOO_LONG}}


class TextField(serializers.CharField):
    """Free text: at most ``TEXT_MAX`` characters, declared as ``maxLength`` in the schema."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=TEXT_MAX, error_messages={"max_length": TEXT_TOO_LONG},
                         **kwargs)


class StrictInputMixin:
    """Refuse fields the client may not set, instead of silently ignoring them."""

    read_only_hint = "This field is read-only through the API."
    fields: Any  # the serializer's, which this mixin is mixed into

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        writable = {name for name, f in self.fields.items() if not f.read_only}
        extra = sorted(set(getattr(self, "initial_data", {}) or {}) - writable)
        if extra:
            raise serializers.ValidationError({name: [self.read_only_hint] for name in extra})
        validated: dict[str, Any] = super().validate(attrs)  # type: ignore[misc]  # the serializer's
        return validated


class VisibleInputMixin:
    """Related fields of the input resolve only among what the requesting user may see, so an
    object of another team answers exactly like one that does not exist (the API cannot be used
    to probe for it). ``visible_inputs`` maps a field's name to what ``user`` may name in it; a
    many-related field is scoped through its child relation."""

    visible_inputs: ClassVar[Mapping[str, Callable[[User], QuerySet[Any]]]] = {}

    def get_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = super().get_fields()  # type: ignore[misc]  # the serializer's
        request = getattr(self, "context", {}).get("request")
        if request is not None:
            for name, visible in self.visible_inputs.items():
                if name in fields:
                    field = fields[name]
                    getattr(field, "child_relation", field).queryset = visible(request.user)
        return fields


class StrictSerializer(StrictInputMixin, serializers.Serializer[Any]):
    """Unknown input fields are refused, not ignored."""

    read_only_hint = "This field is not accepted here."


def valid_input(serializer_class: type[serializers.Serializer[Any]], request: Request
                ) -> dict[str, Any]:
    """The request's input, validated by ``serializer_class`` (a 400 naming each bad field)."""
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def not_found(detail: str) -> NoReturn:
    """Answer 404 in the API's error shape: the object exists but lacks what was asked for."""
    raise NotVisible(detail)

"""Read-only serializers that render without building DRF field objects.

DRF builds a fresh set of field objects for every serializer instance (a
ModelSerializer introspects its model each time), and nested serializers do it
again for every nested instance. For the run detail, the API's busiest read,
that was about 40 % of the request (bench/p4_reads_vs_mlflow.py). A serializer
with `DirectReadMixin` keeps its declared fields, so the OpenAPI schema and
`Meta.fields` stay the one description of the shape, but `to_representation`
reads each name in `Meta.fields` straight off the instance (an object or, as
DRF allows, a mapping such as a `.values()` row):

- a SerializerMethodField: its `get_<name>` method, as DRF would call it;
- a declared nested `many=True` serializer: its child's representation of each
  item (of a related manager's `.all()`, or of a list);
- otherwise the attribute, with datetimes and UUIDs written as DRF writes them.

How each name is rendered is worked out once per serializer class, and the
current time zone is looked up once per representation, nested ones included
(`represent_each` does the same for a list).

Use it only for fields whose DRF representation is that plain value (no
DecimalField, no hyperlinks, no context); `tests/test_direct_read_serializers.py`
checks every serializer that uses it against DRF's own representation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, cast

from django.db.models import Manager
from django.utils import timezone
from rest_framework import serializers


def datetime_text(value: datetime, zone: tzinfo | None = None) -> str:
    """As DRF's DateTimeField writes it: ISO 8601 in `zone` (default: the current time zone), UTC as `Z`."""
    if timezone.is_aware(value):
        value = value.astimezone(zone or timezone.get_current_timezone())
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# How a name of Meta.fields is rendered: read and written plainly, by a SerializerMethodField, or by a
# nested `many=True` serializer.
PLAIN, METHOD, NESTED = "plain", "method", "nested"
Step = tuple[str, str, str, Any]  # (name, source, how, the method's name or the nested serializer)
_PLANS: dict[type, tuple[Step, ...]] = {}


class DirectReadMixin:
    """Put before `serializers.ModelSerializer`/`Serializer` in the bases of a read-only serializer."""

    # What the serializer it is mixed into has.
    _declared_fields: dict[str, serializers.Field]
    Meta: Any

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return self.direct_representation(instance, timezone.get_current_timezone())

    def direct_representation(self, instance: Any, zone: tzinfo) -> dict[str, Any]:
        """`to_representation`, datetimes written in `zone`: the current time zone, looked up once for a
        whole representation (it is a context-local lookup, and a run detail writes some thirty)."""
        plan = _PLANS.get(type(self)) or self._plan()
        read = instance.__getitem__ if isinstance(instance, Mapping) else instance.__getattribute__
        representation = {}
        for name, source, how, extra in plan:
            if how is PLAIN:
                value = read(source)
                kind = type(value)  # exact types: one comparison per value instead of isinstance checks
                if kind is datetime:
                    value = datetime_text(value, zone)
                elif kind is uuid.UUID:
                    value = str(value)
                representation[name] = value
            elif how is METHOD:
                representation[name] = getattr(self, extra)(instance)
            else:
                related = read(source)
                items = related.all() if isinstance(related, Manager) else related
                representation[name] = represent_each(extra, items, zone)
        return representation

    def _plan(self) -> tuple[Step, ...]:
        """Each name of Meta.fields with how it is rendered, worked out once per serializer class."""
        steps: list[Step] = []
        for name in self.Meta.fields:
            field = self._declared_fields.get(name)
            source = cast(str, field.source or name) if field else name  # the stubs allow a callable
            if isinstance(field, serializers.SerializerMethodField):
                steps.append((name, name, METHOD, field.method_name or f"get_{name}"))
            elif isinstance(field, serializers.ListSerializer):
                # DRF refuses a ListSerializer without a child; the stubs let it be None.
                steps.append((name, source, NESTED, cast(serializers.BaseSerializer, field.child)))
            else:
                steps.append((name, source, PLAIN, None))
        plan = _PLANS[type(self)] = tuple(steps)
        return plan


def represent_each(serializer: Any, items: Iterable[Any], zone: tzinfo | None = None) -> list[Any]:
    """What `serializer` renders of each item, as its `many=True` form would; the current time zone looked
    up once for them all when it is a DirectReadMixin serializer."""
    if isinstance(serializer, DirectReadMixin):
        zone = zone or timezone.get_current_timezone()
        return [serializer.direct_representation(item, zone) for item in items]
    return [serializer.to_representation(item) for item in items]

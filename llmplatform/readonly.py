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

Use it only for fields whose DRF representation is that plain value (no
DecimalField, no hyperlinks, no context); `llmplatform/tests/test_readonly.py`
checks every serializer that uses it against DRF's own representation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from django.db.models import Manager
from django.utils import timezone
from rest_framework import serializers


def datetime_text(value: datetime) -> str:
    """As DRF's DateTimeField writes it: ISO 8601 in the current time zone, UTC as `Z`."""
    text = timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# Keyed by exact type: one dict lookup per value instead of isinstance checks.
CONVERTERS: dict[type, Callable[[Any], Any]] = {datetime: datetime_text, uuid.UUID: str}


def plain_value(value: Any) -> Any:
    """`value` as DRF's DateTimeField/UUIDField would represent it; other values unchanged."""
    converter = CONVERTERS.get(type(value))
    return converter(value) if converter else value


class DirectReadMixin:
    """Put before `serializers.ModelSerializer`/`Serializer` in the bases of a read-only serializer."""

    # What the serializer it is mixed into has.
    _declared_fields: dict[str, serializers.Field]
    Meta: Any

    def to_representation(self, instance: Any) -> dict[str, Any]:
        declared = self._declared_fields
        read = instance.__getitem__ if isinstance(instance, Mapping) else instance.__getattribute__
        representation = {}
        for name in self.Meta.fields:
            field = declared.get(name)
            if field is None:
                representation[name] = plain_value(read(name))
            elif isinstance(field, serializers.SerializerMethodField):
                representation[name] = getattr(self, field.method_name or f"get_{name}")(instance)
            elif isinstance(field, serializers.ListSerializer):
                related = read(field.source or name)
                items = related.all() if isinstance(related, Manager) else related
                # DRF refuses a ListSerializer without a child; the stubs let it be None.
                child = cast(serializers.BaseSerializer, field.child)
                representation[name] = [child.to_representation(item) for item in items]
            else:
                representation[name] = plain_value(read(field.source or name))
        return representation

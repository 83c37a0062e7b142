"""A JSON list column holding a value, asked the same way on PostgreSQL and SQLite."""

from __future__ import annotations

from django.db import connection, models
from django.db.models.expressions import ExpressionWrapper, RawSQL


def list_holds(model: type[models.Model], field: str, value: str) -> models.Q | ExpressionWrapper:
    """A filter for rows of `model` whose JSON list `field` holds `value`."""
    if connection.vendor == "postgresql":
        return models.Q(**{f"{field}__contains": [value]})
    # SQLite has no JSON containment operator; its json_each() walks the list. The table and
    # column names are our own model's, never user text; the value is a bound parameter.
    json_field = model._meta.get_field(field)
    assert isinstance(json_field, models.JSONField)
    column = json_field.column
    sql = f'EXISTS (SELECT 1 FROM json_each("{model._meta.db_table}"."{column}") WHERE value = %s)'  # noqa: S608
    return ExpressionWrapper(RawSQL(sql, [value]), output_field=models.BooleanField())  # noqa: S611

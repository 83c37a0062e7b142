"""JSON columns asked the same way on PostgreSQL and SQLite: does a list hold a value, and which keys
and items do the rows hold between them."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, connections, models
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


# The keys of an object column (anything else counts as an empty object) and the texts of a list column.
_KEYS = {
    "postgresql": "SELECT '{label}', item FROM picked, jsonb_object_keys(CASE WHEN jsonb_typeof(picked.{column}) = "
    "'object' THEN picked.{column} ELSE '{{}}'::jsonb END) AS item",
    "sqlite": "SELECT '{label}', item.key FROM picked, json_each(CASE WHEN json_type(picked.{column}) = 'object' "
    "THEN picked.{column} ELSE '{{}}' END) AS item",
}
_TEXTS = {
    "postgresql": "SELECT '{label}', item #>> '{{}}' FROM picked, jsonb_array_elements(CASE WHEN "
    "jsonb_typeof(picked.{column}) = 'array' THEN picked.{column} ELSE '[]'::jsonb END) AS item "
    "WHERE jsonb_typeof(item) = 'string'",
    "sqlite": "SELECT '{label}', item.value FROM picked, json_each(CASE WHEN json_type(picked.{column}) = 'array' "
    "THEN picked.{column} ELSE '[]' END) AS item WHERE item.type = 'text'",
}


def distinct_members(
    queryset: models.QuerySet, *, keys_of: Sequence[str] = (), texts_of: Sequence[str] = ()
) -> dict[str, set[str]]:
    """The distinct keys of the JSON objects `keys_of` and texts of the JSON lists `texts_of` that the rows
    of `queryset` hold between them, by field, in one query: the database takes each row's JSON apart
    and answers only what is distinct, so the rows' JSON never leaves it however many there are."""
    fields = [*keys_of, *texts_of]
    rows_sql, params = queryset.order_by().values_list(*fields).query.sql_with_params()
    vendor = connections[queryset.db].vendor
    templates = [_KEYS[vendor]] * len(keys_of) + [_TEXTS[vendor]] * len(texts_of)
    columns = [f"f{index}" for index in range(len(fields))]
    selects = " UNION ".join(
        template.format(label=index, column=columns[index]) for index, template in enumerate(templates)
    )
    sql = f"WITH picked ({', '.join(columns)}) AS ({rows_sql}) {selects}"
    found: dict[str, set[str]] = {field: set() for field in fields}
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        for index, member in cursor.fetchall():
            found[fields[int(index)]].add(member)
    return found

"""Reads compiled once: a fixed-shape queryset's SQL, executed again with new keys.

Django compiles a queryset to SQL each time it is evaluated: it resolves the lookups,
quotes every column and picks each column's converters. For the API's busiest read,
the run detail (bench/p4_reads_vs_mlflow.py), that cost several times what the
database did. `Prepared(build)` takes a function from keys to a queryset. The first
call on a database connection builds it with stand-in keys, compiles it, and notes
where each stand-in landed among the SQL's parameters; every call then puts its own
keys there, executes that SQL and converts the columns as the queryset would have.

Keys are UUIDs (for UUID columns, never their text), strings or integers, and the
queryset's SQL must depend only on where they go, not on their values (true of
`filter(field=key)`; not of `filter(x__in=keys)`).
Results are `.values()` rows or instances of the queryset's model without
`select_related` relations; `llmplatform/tests/test_prepared.py` checks both against
the ORM's own answers.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

Key = uuid.UUID | str | int
ModelT = TypeVar("ModelT", bound=Model)


def _stand_in(index: int, key: Key) -> Key:
    """A value of the key's type that no real key and no other stand-in has."""
    if isinstance(key, uuid.UUID):
        return uuid.UUID(int=0x5EED_0000 + index)
    if isinstance(key, int):
        # Inside a 32-bit column's range: Django compiles a lookup past it to "no rows", dropping the key.
        return 1_987_654_321 + index
    return f"prepared-stand-in-{index}-{uuid.UUID(int=index).hex}"


def _as_bound(stand_in: Key, parameter: Any) -> Callable[[Key], Any] | None:
    """How a key becomes the parameter its stand-in became (as it is, or a UUID as hex), else None."""
    if parameter == stand_in and type(parameter) is type(stand_in):
        return lambda key: key
    if isinstance(stand_in, uuid.UUID) and parameter in (stand_in.hex, str(stand_in)):
        return (lambda key: key.hex) if parameter == stand_in.hex else str  # type: ignore[union-attr]
    return None


@dataclass(frozen=True, slots=True)
class _Compiled:
    compiler: SQLCompiler
    sql: str
    parameters: tuple[Any, ...]
    slots: tuple[tuple[int, int, Callable[[Key], Any]], ...]  # (parameter position, key index, how to bind)
    converters: dict[int, Any]
    columns: tuple[str, ...]  # `.values()` names, or the model's attnames

    def execute(self, connection: BaseDatabaseWrapper, keys: Sequence[Key]) -> list[tuple[Any, ...]]:
        parameters = list(self.parameters)
        for position, index, bind in self.slots:
            parameters[position] = bind(keys[index])
        with connection.cursor() as cursor:
            cursor.execute(self.sql, parameters)
            rows = cursor.fetchall()
        if self.converters:
            return [tuple(row) for row in self.compiler.apply_converters(rows, self.converters)]
        return rows


class Prepared(Generic[ModelT]):
    """`build(*keys)` compiled once per database connection; `rows` and `objects` run it with new keys."""

    def __init__(self, build: Callable[..., QuerySet[ModelT, Any]]) -> None:
        self._build = build
        self._alias: str | None = None  # the database the queryset reads, known once it is built
        self._compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Compiled] = weakref.WeakKeyDictionary()

    def rows(self, *keys: Key) -> list[dict[str, Any]]:
        """The rows of a `.values()` queryset, as dicts."""
        compiled, connection = self._compiled_for(keys)
        return [dict(zip(compiled.columns, row, strict=True)) for row in compiled.execute(connection, keys)]

    def objects(self, *keys: Key) -> list[ModelT]:
        """The model instances of a queryset without `.values()` or `select_related`."""
        compiled, connection = self._compiled_for(keys)
        model = cast(type[ModelT], compiled.compiler.query.model)
        columns = list(compiled.columns)
        return [model.from_db(connection.alias, columns, row) for row in compiled.execute(connection, keys)]

    def _compiled_for(self, keys: Sequence[Key]) -> tuple[_Compiled, BaseDatabaseWrapper]:
        connection = connections[self._alias] if self._alias is not None else None
        compiled = self._compiled.get(connection) if connection is not None else None
        if connection is None or compiled is None:
            queryset = self._build(*(_stand_in(index, key) for index, key in enumerate(keys)))
            self._alias = queryset.db
            connection = connections[queryset.db]
            compiled = self._compiled[connection] = _compile(queryset, keys)
        return compiled, connection


def _compile(queryset: QuerySet[Any, Any], keys: Sequence[Key]) -> _Compiled:
    query = queryset.query
    compiler = query.get_compiler(using=queryset.db)
    sql, parameters = compiler.as_sql()
    slots = []
    for index, key in enumerate(keys):
        stand_in = _stand_in(index, key)
        found = [(position, _as_bound(stand_in, value)) for position, value in enumerate(parameters)]
        places = [(position, index, bind) for position, bind in found if bind is not None]
        if not places:
            raise ValueError(f"Key {index} does not reach the SQL as a parameter: {sql}")
        slots.extend(places)
    selected = [column for column, _, _ in compiler.select[: compiler.col_count]]
    if query.values_select or query.annotation_select:
        columns = (*query.extra_select, *query.values_select, *query.annotation_select)
    else:
        if compiler.klass_info is None or len(compiler.klass_info.get("related_klass_infos", ())) > 0:
            raise ValueError("Prepared takes `.values()` querysets or plain ones without select_related.")
        columns = tuple(column.target.attname for column in selected)
    return _Compiled(
        compiler=compiler,
        sql=sql,
        parameters=tuple(parameters),
        slots=tuple(slots),
        converters=compiler.get_converters(selected),
        columns=columns,
    )

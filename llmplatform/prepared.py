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
`select_related` relations; `tests/test_prepared.py` checks both against the ORM's
own answers.

`read_rows` and `read_objects` make a `Read`, executed when its `answer()` is first
asked for; `read_together(*reads)` sends several in one round trip where it can
(PostgreSQL through psycopg 3: its pipeline mode), which is what a read costs on a busy
machine: each round trip waits for a server process that waits for a core like everyone.
Elsewhere (SQLite, in process: no round trips to save) each read still runs when its
answer is asked for, and one whose answer nobody asks for never runs.

On PostgreSQL these statements, and only these, bind their parameters on the server
(Django's own queries bind them in the client), so that PostgreSQL may keep them
prepared on the connection (psycopg's `prepare_threshold`, in the settings' OPTIONS):
then a read skips parsing and planning, most of what the server spends on it.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

Key = uuid.UUID | str | int
ModelT = TypeVar("ModelT", bound=Model)
AnswerT = TypeVar("AnswerT")


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

    def bound(self, keys: Sequence[Key]) -> list[Any]:
        """The SQL's parameters with `keys` where their stand-ins were."""
        parameters = list(self.parameters)
        for position, index, bind in self.slots:
            parameters[position] = bind(keys[index])
        return parameters

    def converted(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Rows as the database driver gave them, with each column converted as the queryset would have."""
        if self.converters:
            return [tuple(row) for row in self.compiler.apply_converters(rows, self.converters)]
        return rows

    def execute(self, connection: BaseDatabaseWrapper, keys: Sequence[Key]) -> list[tuple[Any, ...]]:
        with statement_cursor(connection) as cursor:
            cursor.execute(self.sql, self.bound(keys))
            return self.converted(cursor.fetchall())


class Read(Generic[AnswerT]):
    """One execution of a compiled query with its keys: run alone when its answer is first asked
    for, unless `read_together` sent it ahead with others."""

    __slots__ = ("_answer", "_compiled", "_connection", "_keys", "_rows")

    def __init__(
        self,
        compiled: _Compiled,
        connection: BaseDatabaseWrapper,
        keys: Sequence[Key],
        answer: Callable[[list[tuple[Any, ...]]], AnswerT],
    ) -> None:
        self._compiled, self._connection, self._keys, self._answer = compiled, connection, keys, answer
        self._rows: list[tuple[Any, ...]] | None = None

    def answer(self) -> AnswerT:
        if self._rows is None:
            self._rows = self._compiled.execute(self._connection, self._keys)
        return self._answer(self._rows)


def read_together(*reads: Read[Any]) -> None:
    """Executes the reads not yet executed in one round trip where the database allows it, else leaves
    each to run when its answer is asked for."""
    waiting = [read for read in reads if read._rows is None]
    if len(waiting) < 2:
        return
    connection = waiting[0]._connection
    if not sends_together(connection) or any(read._connection is not connection for read in waiting):
        return
    # psycopg's pipeline: every statement is sent before any result is awaited, and one Sync ends them
    # all: one round trip, and in autocommit one implicit transaction. A cursor each, for its own result.
    cursors = [statement_cursor(connection) for _ in waiting]
    try:
        with connection.wrap_database_errors, connection.connection.pipeline() as pipeline:
            for read, cursor in zip(waiting, cursors, strict=True):
                cursor.execute(read._compiled.sql, read._compiled.bound(read._keys))
            pipeline.sync()
            for read, cursor in zip(waiting, cursors, strict=True):
                read._rows = read._compiled.converted(cursor.fetchall())
    finally:
        for cursor in cursors:
            cursor.close()


def sends_together(connection: BaseDatabaseWrapper) -> bool:
    """Whether `read_together` sends its reads in one round trip: PostgreSQL through psycopg 3."""
    if connection.vendor != "postgresql":
        return False
    # Imported here: it imports a PostgreSQL driver. django-stubs leave this module out.
    from django.db.backends.postgresql.psycopg_any import is_psycopg3  # type: ignore[import-untyped]

    return bool(is_psycopg3)


def statement_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor for a compiled read, wrapped as Django wraps its own (errors, query log, execute wrappers).
    With psycopg 3 it binds parameters on the server, which lets PostgreSQL prepare the statement."""
    if not sends_together(connection):
        return connection.cursor()
    # Imported here, as above: psycopg's server-binding cursor with Django's additions.
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor  # type: ignore[attr-defined]
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    # As Django does for its own cursors: datetimes in the connection's time zone, should it have changed.
    if connection.timezone != connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
        register_tzloader(connection.timezone, cursor)
    connection.validate_thread_sharing()
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)


class Prepared(Generic[ModelT]):
    """`build(*keys)` compiled once per database connection; `rows` and `objects` run it with new keys."""

    def __init__(self, build: Callable[..., QuerySet[ModelT, Any]]) -> None:
        self._build = build
        self._alias: str | None = None  # the database the queryset reads, known once it is built
        self._compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Compiled] = weakref.WeakKeyDictionary()

    def rows(self, *keys: Key) -> list[dict[str, Any]]:
        """The rows of a `.values()` queryset, as dicts."""
        return self.read_rows(*keys).answer()

    def objects(self, *keys: Key) -> list[ModelT]:
        """The model instances of a queryset without `.values()` or `select_related`."""
        return self.read_objects(*keys).answer()

    def read_rows(self, *keys: Key) -> Read[list[dict[str, Any]]]:
        """`rows(*keys)`, to be answered later (and maybe sent with others by `read_together`)."""
        compiled, connection = self._compiled_for(keys)
        columns = compiled.columns
        return Read(compiled, connection, keys, lambda rows: [dict(zip(columns, row, strict=True)) for row in rows])

    def read_objects(self, *keys: Key) -> Read[list[ModelT]]:
        """`objects(*keys)`, to be answered later (and maybe sent with others by `read_together`)."""
        compiled, connection = self._compiled_for(keys)
        model = cast(type[ModelT], compiled.compiler.query.model)
        columns, alias = list(compiled.columns), connection.alias
        return Read(compiled, connection, keys, lambda rows: [model.from_db(alias, columns, row) for row in rows])

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

"""The few SQL pieces that differ between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Integer, String

# Execution options every office engine gets. `preserve_rowcount` makes SQLAlchemy read
# the driver's rowcount before it closes an INSERT's cursor: psycopg's is gone after
# the close, so `INSERT ... SELECT` reported -1 rows on PostgreSQL (the import's
# "added" count) where SQLite gave the real number.
ENGINE_EXECUTION_OPTIONS: dict[str, Any] = {"preserve_rowcount": True}


# PostgreSQL advisory-lock keys (per database, so per office). Arbitrary 64-bit
# numbers that say "seg_desktop" to anyone reading pg_locks.
WRITER_LOCK_KEY = 0x5E6D_E5C0_0000_0001
RUN_LOCK_KEY = 0x5E6D_E5C0_0000_0002
# How long a write on PostgreSQL waits for another desktop's write (a long run) to end.
WRITER_LOCK_WAIT_SECONDS = 120


def postgresql_begin(connection: Connection, write: bool) -> None:
    """Start a PostgreSQL transaction with SQLite's guarantees.

    A write takes the office's writer lock first, so writers queue one at a
    time as they do on SQLite under BEGIN IMMEDIATE: at READ COMMITTED each of
    their statements then sees every earlier writer's whole work, and two
    imports, or an import and a run, can never both miss each other's records.
    A read runs at REPEATABLE READ: every statement inside it sees the one
    snapshot of its first, as SQLite's read transactions do (a run saved
    meanwhile is either all there or not there at all).
    The lock is a transaction-level advisory lock: released at commit or
    rollback, and by the server when a client dies mid-write.
    """
    if not write:
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{WRITER_LOCK_WAIT_SECONDS}s'")
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")
    connection.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")


def try_run_lock(connection: Connection) -> bool:
    """Take the office's run lock (PostgreSQL, session level) if no one holds it.

    Held by the connection's session until `release_run_lock`, or until the
    session ends, however the client ends.
    """
    return bool(connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({RUN_LOCK_KEY})").scalar())


def release_run_lock(connection: Connection) -> None:
    """Give the run lock back (the session stays in the pool)."""
    connection.exec_driver_sql(f"SELECT pg_advisory_unlock({RUN_LOCK_KEY})")


@compiles(String, "postgresql")
def _string_postgresql(element: String, compiler: Any, **kw: Any) -> str:
    """Every text column is VARCHAR without a length on PostgreSQL.

    SQLite never enforces the lengths the schema declares (String(500)), so a
    10,000-character name or invoice reference stored on one engine must fit on
    the other instead of failing the whole import there.
    """
    return "VARCHAR"


class literal_position(FunctionElement[int]):
    """Position of `needle` in `haystack` (1-based, 0 if absent), matched literally.

    Unlike LIKE, no character of the needle is special (`%`, `_`, `\\` match
    themselves) and the comparison is case-sensitive on both engines.
    """

    type = Integer()
    inherit_cache = True
    name = "literal_position"


@compiles(literal_position)
def _literal_position_default(element: literal_position, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"instr({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


@compiles(literal_position, "postgresql")
def _literal_position_postgresql(element: literal_position, compiler: Any, **kw: Any) -> str:
    haystack, needle = list(element.clauses)
    return f"strpos({compiler.process(haystack, **kw)}, {compiler.process(needle, **kw)})"


def contains_literal(haystack: ColumnElement[str], needle: str) -> ColumnElement[bool]:
    """`haystack` contains `needle` as a literal, case-sensitive substring (never NULL)."""
    return func.coalesce(literal_position(haystack, needle), 0) > 0


class int_div(FunctionElement[int]):
    """Integer division of two non-negative integers, truncated, on both engines.

    SQLite divides integers as integers; PostgreSQL's SUM of BIGINT is NUMERIC,
    where `/` would keep the fraction, so it uses div().
    """

    type = Integer()
    inherit_cache = True
    name = "int_div"


@compiles(int_div)
def _int_div_default(element: int_div, compiler: Any, **kw: Any) -> str:
    numerator, denominator = list(element.clauses)
    return f"(({compiler.process(numerator, **kw)}) / ({compiler.process(denominator, **kw)}))"


@compiles(int_div, "postgresql")
def _int_div_postgresql(element: int_div, compiler: Any, **kw: Any) -> str:
    numerator, denominator = list(element.clauses)
    return f"div({compiler.process(numerator, **kw)}, {compiler.process(denominator, **kw)})"


_PLACEHOLDER = {"qmark": "?", "numeric": ":{n}", "format": "%s", "pyformat": "%s"}
# After a bulk insert of at least this many rows PostgreSQL's planner statistics of the
# table are refreshed (see `bulk_insert`).
ANALYZE_AFTER_ROWS = 1_000


def bulk_insert(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    batch: int = 20_000,
) -> int:
    """Insert many plain tuples through the driver; returns the rows inserted.

    SQLite: executemany in batches. PostgreSQL: one COPY (see `_copy_rows`).

    SQLAlchemy's executemany processes every bound value in Python; for the
    hundreds of thousands of rows a run or an import writes, handing tuples
    straight to the driver is several times faster. Values must already be in
    a form the driver takes: ints, str, bool, None; dates go through
    `date_param`.

    On PostgreSQL a large insert is followed by ANALYZE of the table, inside
    the same transaction (it counts the transaction's own new rows). Without
    it the planner takes the rows just written (a new run's assignments, an
    import's staged lines) for one row, and joins them to the previous run
    or to the clients by scanning them all once per row: the membership log
    of a 50,000-client run took minutes instead of a fraction of a second.
    SQLite plans by its indexes and needs nothing.
    """
    names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    table_name = connection.dialect.identifier_preparer.format_table(table)
    if connection.dialect.name == "postgresql":
        total = _copy_rows(connection, f"COPY {table_name} ({names}) FROM STDIN", rows)
        if total >= ANALYZE_AFTER_ROWS:
            connection.exec_driver_sql(f"ANALYZE {table_name}")
        return total
    marker = _PLACEHOLDER.get(connection.dialect.paramstyle, "?")
    placeholders = ", ".join(marker.format(n=i + 1) for i in range(len(columns)))
    statement = f"INSERT INTO {table_name} ({names}) VALUES ({placeholders})"
    total = 0
    chunk: list[Sequence[object]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            connection.exec_driver_sql(statement, chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        connection.exec_driver_sql(statement, chunk)
        total += len(chunk)
    return total


def _copy_rows(connection: Connection, statement: str, rows: Iterable[Sequence[object]]) -> int:
    """PostgreSQL: stream the rows with COPY on the transaction's own connection.

    Several times faster than executemany over the network protocol; the rows
    land in the caller's transaction, so a rollback takes them back too.
    """
    driver = connection.connection.driver_connection
    assert driver is not None, "a connection in a transaction has its driver connection"
    total = 0
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            total += 1
    return total


def date_param(connection: Connection) -> Callable[[dt.date], object]:
    """How to pass a date to `bulk_insert` on this engine.

    SQLite stores dates as ISO text (what SQLAlchemy's Date type writes there);
    PostgreSQL's driver takes date objects.
    """
    if connection.dialect.name == "sqlite":
        return dt.date.isoformat
    return lambda day: day


def binary_order(column: ColumnElement[str]) -> ColumnElement[str]:
    """Order text by its bytes on both engines (SQLite's BINARY; PostgreSQL's "C").

    A PostgreSQL database created with a linguistic collation (en_US.UTF-8)
    would otherwise sort 'a10' and 'A9' differently from SQLite.
    """
    return _BinaryOrder(column)


class _BinaryOrder(FunctionElement[str]):
    inherit_cache = True
    name = "binary_order"


@compiles(_BinaryOrder)
def _binary_order_default(element: _BinaryOrder, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    return str(compiler.process(column, **kw))


@compiles(_BinaryOrder, "postgresql")
def _binary_order_postgresql(element: _BinaryOrder, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    return f'({compiler.process(column, **kw)}) COLLATE "C"'


def reset_id_sequence(connection: Connection, table: Table) -> None:
    """After rows were copied in with their ids, make new ids continue after the highest one.

    SQLite's rowid needs nothing; PostgreSQL's identity sequence does not see
    explicit ids and would hand out 1 again.
    """
    if connection.dialect.name != "postgresql":
        return
    key = [c for c in table.primary_key.columns if c.autoincrement is True or c.name == "id"]
    if len(table.primary_key.columns) != 1 or not key or key[0].name != "id":
        return
    connection.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
        f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
    )

"""Moving a whole office from one database to another (e.g. a desktop file to a server)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Table, cast, func, inspect, select

from seg_desktop.store.database import Database, open_database
from seg_desktop.store.dialect import reset_id_sequence
from seg_desktop.store.errors import StoreError
from seg_desktop.store.schema import Base, Revenue, table_of

_BATCH = 10_000


@dataclass(frozen=True)
class TableCopy:
    """One table's row counts on both sides after the copy."""

    name: str
    source_rows: int
    target_rows: int


@dataclass(frozen=True)
class MigrationReport:
    """What `migrate` copied and what it checked."""

    source: str
    target: str
    tables: tuple[TableCopy, ...]
    source_revenue_cents: int
    target_revenue_cents: int

    @property
    def ok(self) -> bool:
        """Every table has the same number of rows and revenue sums to the same cent."""
        return (
            all(t.source_rows == t.target_rows for t in self.tables)
            and self.source_revenue_cents == self.target_revenue_cents
        )


def _copied_tables() -> list[Table]:
    # Parents before children; `meta` is the target's own (application, schema version).
    return [t for t in Base.metadata.sorted_tables if t.name != "meta"]


def migrate_office(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    progress: Callable[[float, str], None] | None = None,
) -> MigrationReport:
    """Copy every client, group, record, definition and run from `source` to an empty `target`.

    The source is only read. The target must be new or empty; the copy is one
    transaction there, so a failure leaves it as empty as it was. Raises
    StoreError when the target already holds an office or the checks fail.
    """
    report = progress or (lambda _f, _m: None)
    source_db = open_database(source, create=False)
    try:
        target_db = open_database(target, create=True)
        try:
            return _copy(source_db, target_db, report)
        finally:
            target_db.close()
    finally:
        source_db.close()


def _copy(
    source_db: Database, target_db: Database, report: Callable[[float, str], None]
) -> MigrationReport:
    if source_db.url == target_db.url:
        raise StoreError("the source and the target are the same database")
    tables = _copied_tables()
    with source_db.read() as reader, target_db.write() as writer:
        for table in tables:
            if writer.execute(select(func.count()).select_from(table)).scalar():
                raise StoreError(
                    f"{target_db.target} already holds data ({table.name}); "
                    "migrate only into a new, empty database"
                )
        for position, table in enumerate(tables):
            report(position / len(tables), f"Copying {table.name}")
            _copy_table(reader, writer, table)
        for table in tables:
            reset_id_sequence(writer, table)
        copies = tuple(
            TableCopy(table.name, _count(reader, table), _count(writer, table)) for table in tables
        )
        result = MigrationReport(
            source=source_db.target,
            target=target_db.target,
            tables=copies,
            source_revenue_cents=_revenue_total(reader),
            target_revenue_cents=_revenue_total(writer),
        )
        if not result.ok:
            mismatched = [t.name for t in copies if t.source_rows != t.target_rows]
            raise StoreError(
                "the copy does not match the source "
                f"({', '.join(mismatched) or 'revenue totals'}); nothing was written"
            )
    report(1.0, "Copied and checked")
    return result


def _copy_table(reader: Connection, writer: Connection, table: Table) -> None:
    names = [column.name for column in table.columns]
    present = {c["name"] for c in inspect(reader).get_columns(table.name)}
    missing = [name for name in names if name not in present]
    if missing:
        raise StoreError(f"the source's table {table.name} lacks {', '.join(missing)}")
    order = list(table.primary_key.columns)
    result = reader.execution_options(stream_results=True, yield_per=_BATCH).execute(
        select(*table.columns).order_by(*order)
    )
    for rows in result.mappings().partitions(_BATCH):
        writer.execute(table.insert(), [dict(row) for row in rows])


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar() or 0)


def _revenue_total(connection: Connection) -> int:
    revenue = table_of(Revenue)
    total = connection.execute(
        select(cast(func.coalesce(func.sum(revenue.c.amount_cents), 0), BigInteger))
    ).scalar()
    return int(total or 0)

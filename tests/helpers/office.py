"""Small builders for store tests: an office with given clients and revenue, on either engine.

Revenue rows name their client by `ref`, so a test reads like the data it sets up:

    office, ids = make_office(office_url, [client("A"), client("B")],
                              [("A", date(2026, 1, 31), 1_000_00)])

The office lives where the test says: a folder (a SQLite file `name` in it),
or a path or URL as the `office_url` fixture gives (a SQLite file or a
PostgreSQL database). `db_scalar` and `db_execute` reach a database from
outside the program: plain sqlite3 for a file, SQLAlchemy for a server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from seg_desktop.core.money import Cents
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.rules import ClientFacts
from seg_desktop.core.tiers import Strategy, StrategyKind, Tier
from seg_desktop.store import data
from seg_desktop.store.data import NewClient, NewRevenue
from seg_desktop.store.definitions import OfficeSettings
from seg_desktop.store.office import Office

# Makes a new, empty office database (conftest's office_url_factory): a name (for SQLite,
# the file's name) -> its path or URL.
OfficeUrlFactory = Callable[..., str]

RevenueRow = tuple[str, dt.date, Cents] | tuple[str, dt.date, Cents, str | None]


def client(
    ref: str,
    name: str | None = None,
    *,
    email: str | None = None,
    status: str | None = None,
    tags: Iterable[str] = (),
    groups: Sequence[str] = (),
) -> NewClient:
    """A client to insert; the name defaults to 'Client <ref>'."""
    return NewClient(
        ref=ref,
        name=name if name is not None else f"Client {ref}",
        email=email,
        status=status,
        tags=frozenset(tags),
        groups=tuple(groups),
    )


def add_clients(office: Office, clients: Sequence[NewClient]) -> dict[str, int]:
    """Insert clients in one transaction; returns ref -> id."""
    with office.database.write() as connection:
        return data.insert_clients(connection, clients)


def add_revenue(office: Office, rows: Iterable[RevenueRow]) -> None:
    """Insert revenue rows (client ref, date, cents[, reference]) and refresh the rollups."""
    with office.database.write() as connection:
        ids = data.client_ids_by_ref(connection)
        records = [
            NewRevenue(ids[row[0]], row[1], row[2], row[3] if len(row) > 3 else None)  # type: ignore[misc]
            for row in rows
        ]
        touched = data.insert_revenue(connection, records)
        data.refresh_rollups(connection, touched)


def is_sqlite_target(db: str | Path) -> bool:
    """Whether a path or URL names a SQLite file (else a server database)."""
    raw = str(db)
    return "://" not in raw or raw.startswith("sqlite")


def office_location(where: str | Path, name: str = "office.db") -> str | Path:
    """The database a test means: `name` in a folder, else the path or URL itself."""
    if isinstance(where, Path) and where.is_dir():
        return where / name
    return where


def make_office(
    where: str | Path,
    clients: Sequence[NewClient] = (),
    revenue: Iterable[RevenueRow] = (),
    *,
    max_months: int = 12,
    buffer_months: int = 1,
    name: str = "office.db",
) -> tuple[Office, dict[str, int]]:
    """A new office with these clients, revenue and range settings.

    `where` is a folder (the office is the SQLite file `name` in it) or a
    path or database URL, such as the `office_url` fixture gives.
    """
    office = Office.open(office_location(where, name))
    office.save_settings(
        OfficeSettings(segmentation=SegmentationSettings(max_months, buffer_months))
    )
    ids = add_clients(office, clients) if clients else {}
    rows = list(revenue)
    if rows:
        add_revenue(office, rows)
    return office, ids


def strategy(kind: StrategyKind, *limits: tuple[str, Cents], active: bool = True) -> Strategy:
    """A strategy from (name, monthly lower limit in cents) pairs, lowest first."""
    return Strategy(kind, tuple(Tier(name, lower) for name, lower in limits), active)


def facts(client_id: int = 1, **values: object) -> ClientFacts:
    """ClientFacts with empty defaults (no revenue, no tags, no tier) and the given values."""
    base: dict[str, object] = {
        "client_id": client_id,
        "name": "Acme Ltd",
        "email": None,
        "status": None,
        "tags": frozenset(),
        "total_revenue": 0,
        "invoice_count": 0,
        "average_invoice_amount": None,
        "first_invoice_date": None,
        "last_invoice_date": None,
        "tier": None,
    }
    base.update(values)
    tags = base["tags"]
    if not isinstance(tags, frozenset):
        assert isinstance(tags, set | list | tuple)
        base["tags"] = frozenset(tags)
    return ClientFacts(**base)  # type: ignore[arg-type]


def table_rows(office: Office, table: str) -> list[tuple[object, ...]]:
    """Every row of a table, sorted, for before/after comparisons."""
    with office.database.read() as connection:
        rows = connection.execute(text(f"SELECT * FROM {table}")).all()
    return sorted((tuple(row) for row in rows), key=repr)


DATA_TABLES = (
    "meta",
    "setting",
    "strategy",
    "tier",
    "segment",
    "criterion",
    "segment_member",
    "client",
    "client_tag",
    "client_group",
    "group_member",
    "revenue",
    "client_month",
    "client_stats",
    "tier_override",
    "run",
    "run_assignment",
)


def snapshot(office: Office) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the office (to prove that nothing changed)."""
    return {table: table_rows(office, table) for table in DATA_TABLES}


def db_scalar(db: str | Path, sql: str) -> object:
    """One value read from outside the program: sqlite3 for a file, SQLAlchemy for a server."""
    if is_sqlite_target(db):
        return sqlite_scalar(Path(str(db).removeprefix("sqlite:///")), sql)
    engine = create_engine(str(db))
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def db_execute(db: str | Path, *statements: str) -> None:
    """Run statements in one committed transaction, from outside the program."""
    if is_sqlite_target(db):
        path = str(db).removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as raw, raw:
            for statement in statements:
                raw.execute(statement)
        return
    engine = create_engine(str(db))
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def db_table_names(db: str | Path) -> set[str]:
    """The names of the tables in a database, read from outside the program."""
    url = str(db) if not is_sqlite_target(db) or "://" in str(db) else f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def sqlite_scalar(path: Path, sql: str) -> object:
    """One value read with a plain sqlite3 connection (outside the program)."""
    connection = sqlite3.connect(path)
    try:
        row = connection.execute(sql).fetchone()
    finally:
        connection.close()
    return row[0] if row else None

"""Small builders for store tests: an office in a temporary folder with given clients and revenue.

Revenue rows name their client by `ref`, so a test reads like the data it sets up:

    office, ids = make_office(tmp_path, [client("A"), client("B")],
                              [("A", date(2026, 1, 31), 1_000_00)])
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy import text

from seg_desktop.core.money import Cents
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.rules import ClientFacts
from seg_desktop.core.tiers import Strategy, StrategyKind, Tier
from seg_desktop.store import data
from seg_desktop.store.data import NewClient, NewRevenue
from seg_desktop.store.definitions import OfficeSettings
from seg_desktop.store.office import Office

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


def make_office(
    tmp_path: Path,
    clients: Sequence[NewClient] = (),
    revenue: Iterable[RevenueRow] = (),
    *,
    max_months: int = 12,
    buffer_months: int = 1,
    name: str = "office.db",
) -> tuple[Office, dict[str, int]]:
    """A new office file in tmp_path with these clients, revenue and range settings."""
    office = Office.open(tmp_path / name)
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


def sqlite_scalar(path: Path, sql: str) -> object:
    """One value read with a plain sqlite3 connection (outside the program)."""
    connection = sqlite3.connect(path)
    try:
        row = connection.execute(sql).fetchone()
    finally:
        connection.close()
    return row[0] if row else None

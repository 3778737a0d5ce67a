"""The clients view's reads: every client's row as columns, and one client's detail.

Plain functions over a Connection (callers open the transaction with
``office.database.read()``) that return frozen dataclasses, so a worker can
build them and hand them to the GUI thread. The table is columnar: numbers and
dates are numpy arrays, which the view sorts and filters without a Python call
per row, and text is a tuple of strings.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, and_, exists, select

from seg_desktop.core.money import Cents
from seg_desktop.core.rules import ClientFacts
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import data, runs
from seg_desktop.store.database import StoreError
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.export_rows import EXPORT_COLUMNS, ExportRow, iter_export_rows
from seg_desktop.store.runs import RunSummary
from seg_desktop.store.schema import (
    Client,
    ClientGroup,
    ClientMonth,
    ClientTag,
    GroupMember,
    Run,
    RunAssignment,
    Segment,
    SegmentMember,
    table_of,
)

__all__ = [
    "TEXT_COLUMNS",
    "ClientDetail",
    "ClientTable",
    "GroupMembership",
    "TierHistoryEntry",
    "client_detail",
    "client_table_from_rows",
    "load_client_table",
]

Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]
_Array = TypeVar("_Array", bound=npt.NDArray[Any])

TEXT_COLUMNS = (
    "ref",
    "name",
    "email",
    "status",
    "tags",
    "groups",
    "tier",
    "group_tier",
    "computed_tier",
)
"""The text columns of a ClientTable (the others are numbers or dates)."""

_ROWS_PER_CHUNK = 5_000

# numpy's datetime64[D] counts days from 1970-01-01; date ordinals count from year 1.
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _frozen(array: _Array) -> _Array:
    # The table is shared between the worker that built it and the GUI thread, and
    # between the model and an export running on the worker: nobody may write to it.
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ClientTable:
    """Every client's export columns (SPEC section 4), one sequence per column, in ref order.

    Money is integer cents (``int64``), dates are ``datetime64[D]`` with ``NaT``
    for "none", and the two money columns that may be empty carry a ``has_*``
    mask. ``value``/``rows`` give the values back as the export writers take
    them: ``str``, ``int`` cents, ``int``, ``datetime.date`` or ``None``.
    """

    run_id: int | None
    """The run whose production and tiers the table shows (None before the first run)."""
    client_id: Int64Array
    ref: tuple[str, ...]
    name: tuple[str, ...]
    email: tuple[str | None, ...]
    status: tuple[str | None, ...]
    tags: tuple[str, ...]
    """';'-joined, sorted."""
    groups: tuple[str, ...]
    """';'-joined, sorted."""
    total_revenue: Int64Array
    invoice_count: Int64Array
    first_invoice_date: DateArray
    last_invoice_date: DateArray
    average_invoice_amount: Int64Array
    has_average_invoice_amount: BoolArray
    production: Int64Array
    has_production: BoolArray
    tier: tuple[str | None, ...]
    group_tier: tuple[str | None, ...]
    computed_tier: tuple[str | None, ...]
    """The engine's own tier where a manual override decided ``tier``; else None."""

    def __len__(self) -> int:
        return len(self.ref)

    @classmethod
    def empty(cls) -> ClientTable:
        """A table with no clients (what the view shows before the first load)."""
        return client_table_from_rows([], None)

    def value(self, key: str, row: int) -> object:
        """One cell as the export writers take it (``key`` is an EXPORT_COLUMNS key)."""
        if key in TEXT_COLUMNS:
            return getattr(self, key)[row]
        if key in ("first_invoice_date", "last_invoice_date"):
            day: dt.date | None = getattr(self, key)[row].item()
            return day
        if key == "average_invoice_amount":
            return (
                int(self.average_invoice_amount[row])
                if self.has_average_invoice_amount[row]
                else None
            )
        if key == "production":
            return int(self.production[row]) if self.has_production[row] else None
        if key in ("total_revenue", "invoice_count"):
            return int(getattr(self, key)[row])
        raise KeyError(key)

    def column_values(self, key: str, rows: Sequence[int] | npt.NDArray[np.intp]) -> list[object]:
        """A whole column for the given rows (in that order), as Python values."""
        order = np.asarray(rows, dtype=np.intp)
        if key in TEXT_COLUMNS:
            texts: tuple[str | None, ...] = getattr(self, key)
            return [texts[row] for row in order.tolist()]
        if key == "average_invoice_amount":
            return _with_missing(
                self.average_invoice_amount, self.has_average_invoice_amount, order
            )
        if key == "production":
            return _with_missing(self.production, self.has_production, order)
        if key in ("total_revenue", "invoice_count", "first_invoice_date", "last_invoice_date"):
            # tolist() turns int64 into int and datetime64[D] into date (NaT into None).
            values: list[object] = getattr(self, key)[order].tolist()
            return values
        raise KeyError(key)

    def rows(
        self,
        order: Sequence[int] | npt.NDArray[np.intp] | None = None,
        keys: Sequence[str] = EXPORT_COLUMNS,
    ) -> Iterator[tuple[object, ...]]:
        """The rows in ``order`` (default: all, in ref order), each a tuple of ``keys`` values.

        Converted a few thousand rows at a time, so an export of every client
        never holds all of them as Python objects at once.
        """
        chosen = np.arange(len(self)) if order is None else np.asarray(order, dtype=np.intp)
        for start in range(0, len(chosen), _ROWS_PER_CHUNK):
            chunk = chosen[start : start + _ROWS_PER_CHUNK]
            yield from zip(*(self.column_values(key, chunk) for key in keys), strict=True)


def _with_missing(
    values: Int64Array, present: BoolArray, order: npt.NDArray[np.intp]
) -> list[object]:
    return [
        value if has else None
        for value, has in zip(values[order].tolist(), present[order].tolist(), strict=True)
    ]


def load_client_table(connection: Connection, run: RunSummary | None) -> ClientTable:
    """Every client's export row for a run (the current one, usually), as columns.

    Built from ``iter_export_rows``, so the table shows exactly what an export
    of the current tiers writes.
    """
    rows = list(iter_export_rows(connection, run))
    return client_table_from_rows(rows, run.id if run is not None else None)


def client_table_from_rows(rows: Sequence[ExportRow], run_id: int | None = None) -> ClientTable:
    """A ClientTable of export rows, kept in the given order (tests and benchmarks build them)."""
    # Statuses, tiers, tag and group lists repeat across thousands of clients; one
    # shared string per distinct value keeps a 250,000-row table small.
    shared: dict[str, str] = {}

    def same(text: str | None) -> str | None:
        return None if text is None else shared.setdefault(text, text)

    def same_text(text: str) -> str:
        return shared.setdefault(text, text)

    def ints(get: Callable[[ExportRow], int | None]) -> tuple[Int64Array, BoolArray]:
        values = [get(row) for row in rows]
        present = np.fromiter((v is not None for v in values), dtype=np.bool_, count=len(rows))
        array = np.fromiter((v or 0 for v in values), dtype=np.int64, count=len(rows))
        return array, present

    def dates(get: Callable[[ExportRow], dt.date | None]) -> DateArray:
        # Through ordinals: numpy converts date objects one by one and five times slower.
        ordinals = np.fromiter(
            ((day.toordinal() if (day := get(row)) is not None else 0) for row in rows),
            dtype=np.int64,
            count=len(rows),
        )
        days = (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
        days[ordinals == 0] = np.datetime64("NaT")
        return days

    average, has_average = ints(lambda row: row.average_invoice_amount)
    production, has_production = ints(lambda row: row.production)
    return ClientTable(
        run_id=run_id,
        client_id=_frozen(np.fromiter((r.client_id for r in rows), np.int64, len(rows))),
        ref=tuple(row.ref for row in rows),
        name=tuple(row.name for row in rows),
        email=tuple(row.email for row in rows),
        status=tuple(same(row.status) for row in rows),
        tags=tuple(same_text(row.tags) for row in rows),
        groups=tuple(same_text(row.groups) for row in rows),
        total_revenue=_frozen(np.fromiter((r.total_revenue for r in rows), np.int64, len(rows))),
        invoice_count=_frozen(np.fromiter((r.invoice_count for r in rows), np.int64, len(rows))),
        first_invoice_date=_frozen(dates(lambda row: row.first_invoice_date)),
        last_invoice_date=_frozen(dates(lambda row: row.last_invoice_date)),
        average_invoice_amount=_frozen(average),
        has_average_invoice_amount=_frozen(has_average),
        production=_frozen(production),
        has_production=_frozen(has_production),
        tier=tuple(same(row.tier) for row in rows),
        group_tier=tuple(same(row.group_tier) for row in rows),
        computed_tier=tuple(same(row.computed_tier) for row in rows),
    )


# --- one client ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupMembership:
    """A group the client belongs to."""

    name: str
    kind: str


@dataclass(frozen=True)
class TierHistoryEntry:
    """The client's individual tier in one saved run."""

    run_id: int
    created_at: dt.datetime
    as_of: dt.date
    tier: str
    production: Cents
    overridden: bool
    computed_tier: str | None
    """The engine's own tier when ``overridden`` (a manual pin decided ``tier``)."""


@dataclass(frozen=True)
class ClientDetail:
    """One client as the detail panel shows it."""

    client_id: int
    ref: str
    name: str
    email: str | None
    status: str | None
    tags: tuple[str, ...]
    groups: tuple[GroupMembership, ...]
    revenue_by_month: tuple[tuple[int, Cents], ...]
    """(month key, cents) for every month with a record, oldest first."""
    tier_history: tuple[TierHistoryEntry, ...]
    """Newest run first; runs in which the client had no assignment are left out."""
    segments: tuple[str, ...]
    """The segments whose stored (last recomputed) membership holds the client, by name."""
    facts: ClientFacts
    """The rule fields, for "why in / why out"."""


def client_detail(connection: Connection, client_id: int) -> ClientDetail:
    """One client's detail; StoreError if there is no such client (deleted meanwhile)."""
    client_t = table_of(Client)
    found = connection.execute(
        select(client_t.c.ref, client_t.c.name, client_t.c.email, client_t.c.status).where(
            client_t.c.id == client_id
        )
    ).first()
    if found is None:
        raise StoreError(f"there is no client with id {client_id} (it may have been deleted)")
    ref, name, email, status = found
    tag_t = table_of(ClientTag)
    tags = tuple(
        connection.execute(
            select(tag_t.c.tag)
            .where(tag_t.c.client_id == client_id)
            .order_by(binary_order(tag_t.c.tag))
        ).scalars()
    )
    group_t, member_t = table_of(ClientGroup), table_of(GroupMember)
    groups = tuple(
        GroupMembership(group_name, kind)
        for group_name, kind in connection.execute(
            select(group_t.c.name, group_t.c.kind)
            .select_from(member_t.join(group_t, group_t.c.id == member_t.c.group_id))
            .where(member_t.c.client_id == client_id)
            .order_by(binary_order(group_t.c.name))
        )
    )
    month_t = table_of(ClientMonth)
    months = tuple(
        (int(key), int(cents))
        for key, cents in connection.execute(
            select(month_t.c.month_key, month_t.c.amount_cents)
            .where(month_t.c.client_id == client_id)
            .order_by(month_t.c.month_key)
        )
    )
    facts = data.client_facts(connection, runs.current_run_id(connection), [client_id])
    return ClientDetail(
        client_id=client_id,
        ref=ref,
        name=name,
        email=email,
        status=status,
        tags=tags,
        groups=groups,
        revenue_by_month=months,
        tier_history=_tier_history(connection, client_id),
        segments=_segment_names(connection, client_id),
        facts=facts[0],
    )


def _tier_history(connection: Connection, client_id: int) -> tuple[TierHistoryEntry, ...]:
    run_t, assignment_t = table_of(Run), table_of(RunAssignment)
    # Joined from the (few) runs so each run is one primary-key probe of run_assignment,
    # whose key starts with run_id: filtering on subject_id alone would scan every run.
    query = (
        select(
            run_t.c.id,
            run_t.c.created_at,
            run_t.c.as_of,
            run_t.c.snapshot,
            assignment_t.c.tier_name,
            assignment_t.c.production_cents,
            assignment_t.c.overridden,
            assignment_t.c.computed_tier,
        )
        .select_from(
            run_t.join(
                assignment_t,
                and_(
                    assignment_t.c.run_id == run_t.c.id,
                    assignment_t.c.kind == StrategyKind.INDIVIDUAL.value,
                    assignment_t.c.subject_id == client_id,
                ),
            )
        )
        .order_by(run_t.c.id.desc())
    )
    history = []
    for (
        run_id,
        created_at,
        as_of,
        snapshot,
        tier,
        production,
        overridden,
        computed,
    ) in connection.execute(query):
        computed_name = None
        if overridden:
            tiers = json.loads(snapshot).get(StrategyKind.INDIVIDUAL.value, [])
            if computed is not None and 0 <= computed < len(tiers):
                computed_name = str(tiers[computed]["name"])
        history.append(
            TierHistoryEntry(
                run_id=int(run_id),
                created_at=created_at,
                as_of=as_of,
                tier=tier,
                production=int(production),
                overridden=bool(overridden),
                computed_tier=computed_name,
            )
        )
    return tuple(history)


def _segment_names(connection: Connection, client_id: int) -> tuple[str, ...]:
    segment_t, member_t = table_of(Segment), table_of(SegmentMember)
    # One primary-key probe per segment: segment_member is keyed (segment_id, client_id)
    # and has no index on client_id alone.
    is_member = exists().where(
        and_(member_t.c.segment_id == segment_t.c.id, member_t.c.client_id == client_id)
    )
    return tuple(
        connection.execute(
            select(segment_t.c.name).where(is_member).order_by(binary_order(segment_t.c.name))
        ).scalars()
    )

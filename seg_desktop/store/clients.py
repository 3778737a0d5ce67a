"""The clients view's reads: every client's row as columns, and one client's detail.

Plain functions over a Connection (callers open the transaction with
``office.database.read()``) that return frozen dataclasses, so a worker can
build them and hand them to the GUI thread. The table is columnar: numbers and
dates are numpy arrays, which the view sorts and filters without a Python call
per row, and text is a tuple of strings.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, and_, exists, select

from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import data, runs
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.errors import StoreError
from seg_desktop.store.export_rows import iter_export_rows
from seg_desktop.store.records import TEXT_COLUMNS as TEXT_COLUMNS  # moved; re-exported
from seg_desktop.store.records import ClientDetail as ClientDetail  # moved; re-exported
from seg_desktop.store.records import ClientTable as ClientTable  # moved; re-exported
from seg_desktop.store.records import GroupMembership as GroupMembership  # moved
from seg_desktop.store.records import RunSummary, client_table_from_rows
from seg_desktop.store.records import TierHistoryEntry as TierHistoryEntry  # moved
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


def load_client_table(connection: Connection, run: RunSummary | None) -> ClientTable:
    """Every client's export row for a run (the current one, usually), as columns.

    Built from ``iter_export_rows``, so the table shows exactly what an export
    of the current tiers writes.
    """
    rows = list(iter_export_rows(connection, run))
    return client_table_from_rows(rows, run.id if run is not None else None)


# --- one client ----------------------------------------------------------------------------


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

"""Clients, groups and revenue: writes that keep the rollups current, and reads as dataclasses."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    case,
    cast,
    delete,
    func,
    insert,
    null,
    select,
)

from seg_desktop.core.rules import ClientFacts
from seg_desktop.core.text import storable_text
from seg_desktop.store.dialect import (
    binary_order,
    bulk_insert,
    date_param,
    int_div,
)
from seg_desktop.store.records import NewClient as NewClient
from seg_desktop.store.records import NewRevenue as NewRevenue
from seg_desktop.store.schema import (
    Client,
    ClientGroup,
    ClientMonth,
    ClientStats,
    ClientTag,
    GroupMember,
    Revenue,
    table_of,
)

client_t = table_of(Client)
tag_t = table_of(ClientTag)
group_t = table_of(ClientGroup)
member_t = table_of(GroupMember)
revenue_t = table_of(Revenue)
month_t = table_of(ClientMonth)
stats_t = table_of(ClientStats)

# Past this many changed clients one full rebuild beats per-client refreshes
# (and stays under SQLite's bound-parameter limit).
_FULL_REFRESH_THRESHOLD = 2_000
_BATCH = 20_000


@dataclass(frozen=True)
class GroupInfo:
    """A client group with its member count."""

    id: int
    name: str
    kind: str
    member_count: int


def _storable_client(given: NewClient) -> NewClient:
    texts = [given.ref, given.name, given.email or "", given.status or "", *given.tags]
    if not any("\x00" in text for text in texts):
        return given
    return NewClient(
        ref=storable_text(given.ref),
        name=storable_text(given.name),
        email=None if given.email is None else storable_text(given.email),
        status=None if given.status is None else storable_text(given.status),
        tags=frozenset(storable_text(tag) for tag in given.tags),
        groups=given.groups,
    )


def insert_clients(connection: Connection, given: Sequence[NewClient]) -> dict[str, int]:
    """Insert new clients (refs must be new) with tags and groups; returns ref -> id.

    Texts are stored as `storable_text` keeps them (no NUL); the result is keyed
    by the refs as given.
    """
    if not given:
        return {}
    clients = [_storable_client(c) for c in given]
    for start in range(0, len(clients), _BATCH):
        chunk = clients[start : start + _BATCH]
        connection.execute(
            insert(client_t),
            [{"ref": c.ref, "name": c.name, "email": c.email, "status": c.status} for c in chunk],
        )
    ids = client_ids_by_ref(connection, [c.ref for c in clients])
    tag_rows = [{"client_id": ids[c.ref], "tag": tag} for c in clients for tag in sorted(c.tags)]
    for start in range(0, len(tag_rows), _BATCH):
        connection.execute(insert(tag_t), tag_rows[start : start + _BATCH])
    memberships = {c.ref: c.groups for c in clients if c.groups}
    if memberships:
        set_group_memberships(connection, {ids[ref]: groups for ref, groups in memberships.items()})
    connection.execute(
        insert(stats_t),
        [{"client_id": ids[c.ref], "total_cents": 0, "invoice_count": 0} for c in clients],
    )
    return {asked.ref: ids[kept.ref] for asked, kept in zip(given, clients, strict=True)}


def client_ids_by_ref(
    connection: Connection, refs: Collection[str] | None = None
) -> dict[str, int]:
    """ref -> id for the given refs (all clients when None)."""
    query = select(client_t.c.ref, client_t.c.id)
    if refs is None:
        return dict(connection.execute(query).all())
    result: dict[str, int] = {}
    ref_list = list(refs)
    for start in range(0, len(ref_list), 500):
        chunk = ref_list[start : start + 500]
        result.update(connection.execute(query.where(client_t.c.ref.in_(chunk))).all())
    return result


def ensure_groups(
    connection: Connection, names_and_kinds: Iterable[tuple[str, str]]
) -> dict[str, int]:
    """Create the groups that do not exist yet; returns name -> id for all of them."""
    wanted = dict(names_and_kinds)
    existing = dict(connection.execute(select(group_t.c.name, group_t.c.id)).all())
    missing = [{"name": n, "kind": k} for n, k in wanted.items() if n not in existing]
    if missing:
        connection.execute(insert(group_t), missing)
        existing = dict(connection.execute(select(group_t.c.name, group_t.c.id)).all())
    return {name: existing[name] for name in wanted}


def set_group_memberships(connection: Connection, groups_of: Mapping[int, Sequence[str]]) -> None:
    """Replace the group memberships of the given clients (groups created as 'other' if new)."""
    groups_of = {
        client_id: [storable_text(name) for name in groups]
        for client_id, groups in groups_of.items()
    }
    names = {name for groups in groups_of.values() for name in groups}
    group_ids = ensure_groups(connection, ((name, "other") for name in sorted(names)))
    client_list = list(groups_of)
    for start in range(0, len(client_list), 500):
        connection.execute(
            delete(member_t).where(member_t.c.client_id.in_(client_list[start : start + 500]))
        )
    rows = [
        {"group_id": group_ids[name], "client_id": client_id}
        for client_id, groups in groups_of.items()
        for name in dict.fromkeys(groups)
    ]
    for start in range(0, len(rows), _BATCH):
        connection.execute(insert(member_t), rows[start : start + _BATCH])


def insert_revenue(connection: Connection, records: Iterable[NewRevenue]) -> set[int]:
    """Insert revenue records in batches; returns the ids of the clients touched.

    The caller refreshes the rollups (refresh_rollups) in the same transaction.
    """
    touched: set[int] = set()
    as_param = date_param(connection)

    def rows() -> Iterator[tuple[object, ...]]:
        for record in records:
            touched.add(record.client_id)
            yield (
                record.client_id,
                as_param(record.date),
                record.date.year * 12 + record.date.month - 1,
                record.amount_cents,
                record.reference,
            )

    columns = ("client_id", "date", "month_key", "amount_cents", "reference")
    bulk_insert(connection, revenue_t, columns, rows())
    return touched


def refresh_rollups(connection: Connection, client_ids: Collection[int] | None = None) -> None:
    """Rebuild the monthly rollup and rule-field rollup of some clients (all when None)."""
    if client_ids is not None and len(client_ids) > _FULL_REFRESH_THRESHOLD:
        client_ids = None
    if client_ids is not None and not client_ids:
        return
    id_list = sorted(client_ids) if client_ids is not None else None

    def only(column: ColumnElement[int]) -> list[ColumnElement[bool]]:
        return [column.in_(id_list)] if id_list is not None else []

    connection.execute(delete(month_t).where(*only(month_t.c.client_id)))
    connection.execute(
        insert(month_t).from_select(
            ["client_id", "month_key", "amount_cents", "line_count"],
            select(
                revenue_t.c.client_id,
                revenue_t.c.month_key,
                cast(func.sum(revenue_t.c.amount_cents), BigInteger),
                func.count(),
            )
            .where(*only(revenue_t.c.client_id))
            .group_by(revenue_t.c.client_id, revenue_t.c.month_key),
        )
    )
    connection.execute(delete(stats_t).where(*only(stats_t.c.client_id)))
    total = cast(func.coalesce(func.sum(revenue_t.c.amount_cents), 0), BigInteger)
    count = func.count(revenue_t.c.id)
    connection.execute(
        insert(stats_t).from_select(
            [
                "client_id",
                "total_cents",
                "invoice_count",
                "average_cents",
                "first_date",
                "last_date",
            ],
            select(
                client_t.c.id,
                total,
                count,
                average_expression(total, count),
                func.min(revenue_t.c.date),
                func.max(revenue_t.c.date),
            )
            .select_from(client_t.outerjoin(revenue_t, revenue_t.c.client_id == client_t.c.id))
            .where(*only(client_t.c.id))
            .group_by(client_t.c.id),
        )
    )


def average_expression(
    total: ColumnElement[int], count: ColumnElement[int]
) -> ColumnElement[int | None]:
    """total / count rounded to the cent, halves away from zero; NULL when count is 0."""
    positive = int_div(2 * total + count, 2 * count)
    negative = -int_div(2 * -total + count, 2 * count)
    return case(
        (count == 0, null()),
        (total < 0, cast(negative, BigInteger)),
        else_=cast(positive, BigInteger),
    )


def earliest_record_date(connection: Connection) -> dt.date | None:
    """The date of the office's earliest revenue record (None when there is none)."""
    value = connection.execute(select(func.min(stats_t.c.first_date))).scalar()
    return _as_date(value)


def revenue_extent(connection: Connection) -> tuple[int, dt.date | None, dt.date | None]:
    """How many revenue records the office has, the earliest record date and the latest."""
    count, first, last = connection.execute(
        select(func.count(), func.min(revenue_t.c.date), func.max(revenue_t.c.date))
    ).one()
    return int(count or 0), _as_date(first), _as_date(last)


def client_count(connection: Connection) -> int:
    """How many clients the office has."""
    return int(connection.execute(select(func.count()).select_from(client_t)).scalar() or 0)


def all_client_ids(connection: Connection) -> list[int]:
    """Every client id, ascending."""
    return list(connection.execute(select(client_t.c.id).order_by(client_t.c.id)).scalars())


def group_members(connection: Connection) -> dict[int, list[int]]:
    """group id -> member client ids, for every group (empty groups included)."""
    members: dict[int, list[int]] = {
        gid: [] for gid in connection.execute(select(group_t.c.id)).scalars()
    }
    for group_id, client_id in connection.execute(
        select(member_t.c.group_id, member_t.c.client_id)
    ):
        members[group_id].append(client_id)
    return members


def list_groups(connection: Connection) -> list[GroupInfo]:
    """Every group with its member count, by name."""
    count = func.count(member_t.c.client_id)
    rows = connection.execute(
        select(group_t.c.id, group_t.c.name, group_t.c.kind, count)
        .select_from(group_t.outerjoin(member_t, member_t.c.group_id == group_t.c.id))
        .group_by(group_t.c.id, group_t.c.name, group_t.c.kind)
        .order_by(binary_order(group_t.c.name))
    )
    return [GroupInfo(gid, name, kind, int(n)) for gid, name, kind, n in rows]


def client_facts(
    connection: Connection, current_run_id: int | None, client_ids: Collection[int] | None = None
) -> list[ClientFacts]:
    """The rule fields of some clients (all when None), as the rules read them."""
    from seg_desktop.store.rules_sql import assignment, facts_from

    query = select(
        client_t.c.id,
        client_t.c.name,
        client_t.c.email,
        client_t.c.status,
        stats_t.c.total_cents,
        stats_t.c.invoice_count,
        stats_t.c.average_cents,
        stats_t.c.first_date,
        stats_t.c.last_date,
        assignment.c.tier_name,
    ).select_from(facts_from(current_run_id))
    tag_query = select(tag_t.c.client_id, tag_t.c.tag)
    if client_ids is not None:
        ids = list(client_ids)
        query = query.where(client_t.c.id.in_(ids))
        tag_query = tag_query.where(tag_t.c.client_id.in_(ids))
    tags_of: dict[int, set[str]] = defaultdict(set)
    for client_id, tag in connection.execute(tag_query):
        tags_of[client_id].add(tag)
    return [
        ClientFacts(
            client_id=row[0],
            name=row[1],
            email=row[2],
            status=row[3],
            tags=frozenset(tags_of.get(row[0], ())),
            total_revenue=int(row[4] or 0),
            invoice_count=int(row[5] or 0),
            average_invoice_amount=int(row[6]) if row[6] is not None else None,
            first_invoice_date=_as_date(row[7]),
            last_invoice_date=_as_date(row[8]),
            tier=row[9],
        )
        for row in connection.execute(query.order_by(client_t.c.id))
    ]


def _as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))

"""Merging imported rows into the office: clients by ref, revenue records without duplicates.

Re-importing a file changes nothing: clients match by `ref`; revenue records
match by (client, reference) when they carry a reference, else by (client,
date, amount) counted with multiplicity, so two identical lines in one file
are two records and importing that file again adds none. Revenue is staged
in a temporary table and matched in SQL, so a file of millions of lines is
merged with bounded memory. Files are read in `io`; the rows arrive here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)

from seg_desktop.core.engine import Cancelled, Progress
from seg_desktop.core.periods import month_key
from seg_desktop.core.records import ClientRow, RevenueRow, RowProblem
from seg_desktop.store import data
from seg_desktop.store.dialect import bulk_insert, date_param
from seg_desktop.store.errors import ImportStopped as ImportStopped
from seg_desktop.store.records import MergeCounts as MergeCounts
from seg_desktop.store.schema import Client, ClientGroup, ClientTag, GroupMember, Revenue, table_of
from seg_desktop.store.unit_of_work import UnitOfWork

NoteProblem = Callable[[RowProblem], None]


@dataclass
class _Existing:
    id: int
    name: str
    email: str | None
    status: str | None
    tags: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)


def _existing_clients(connection: Connection) -> dict[str, _Existing]:
    client_t, tag_t = table_of(Client), table_of(ClientTag)
    member_t, group_t = table_of(GroupMember), table_of(ClientGroup)
    by_id: dict[int, _Existing] = {}
    by_ref: dict[str, _Existing] = {}
    for client_id, ref, name, email, status in connection.execute(
        select(client_t.c.id, client_t.c.ref, client_t.c.name, client_t.c.email, client_t.c.status)
    ):
        entry = _Existing(client_id, name, email, status)
        by_id[client_id] = by_ref[ref] = entry
    for client_id, tag in connection.execute(select(tag_t.c.client_id, tag_t.c.tag)):
        by_id[client_id].tags.add(tag)
    for client_id, name in connection.execute(
        select(member_t.c.client_id, group_t.c.name).join(
            group_t, group_t.c.id == member_t.c.group_id
        )
    ):
        by_id[client_id].groups.add(name)
    return by_ref


def merge_clients(
    work: UnitOfWork, rows: Iterable[ClientRow | RowProblem], note_problem: NoteProblem
) -> MergeCounts:
    """Add new clients and update changed ones; bad rows go to ``note_problem``."""
    connection = work.connection
    result = MergeCounts()
    client_t, tag_t = table_of(Client), table_of(ClientTag)
    existing = _existing_clients(connection)
    new_clients: list[data.NewClient] = []
    group_changes: dict[int, tuple[str, ...]] = {}
    for row in rows:
        result.rows_read += 1
        if isinstance(row, RowProblem):
            note_problem(row)
            continue
        current = existing.get(row.ref)
        if current is None:
            new_clients.append(
                data.NewClient(
                    ref=row.ref,
                    name=row.name,
                    email=row.email,
                    status=row.status,
                    tags=row.tags or frozenset(),
                    groups=row.groups or (),
                )
            )
            result.added += 1
            continue
        changes: dict[str, object] = {}
        if row.name != current.name:
            changes["name"] = row.name
        if row.email is not None and row.email != current.email:
            changes["email"] = row.email
        if row.status is not None and row.status != current.status:
            changes["status"] = row.status
        tags_changed = row.tags is not None and set(row.tags) != current.tags
        groups_changed = row.groups is not None and set(row.groups) != current.groups
        if not changes and not tags_changed and not groups_changed:
            result.unchanged += 1
            continue
        result.updated += 1
        result.changed_clients.add(current.id)
        if changes:
            connection.execute(update(client_t).where(client_t.c.id == current.id).values(changes))
        if tags_changed and row.tags is not None:
            connection.execute(delete(tag_t).where(tag_t.c.client_id == current.id))
            if row.tags:
                connection.execute(
                    insert(tag_t), [{"client_id": current.id, "tag": t} for t in sorted(row.tags)]
                )
        if groups_changed and row.groups is not None:
            group_changes[current.id] = row.groups
    if group_changes:
        data.set_group_memberships(connection, group_changes)
    added = data.insert_clients(connection, new_clients)
    result.changed_clients.update(added.values())
    if added or group_changes:
        work.production_inputs_changed()
    if result.changed_clients:
        work.clients_changed(result.changed_clients, cause="clients imported")
    return result


# --- revenue ----------------------------------------------------------------------------------


def _staging_table() -> Table:
    return Table(
        "import_revenue",
        MetaData(),
        Column("row_number", Integer, primary_key=True),
        Column("client_id", BigInteger, nullable=False),
        Column("date", Date, nullable=False),
        Column("month_key", Integer, nullable=False),
        Column("amount_cents", BigInteger, nullable=False),
        Column("reference", String(200)),
        prefixes=["TEMPORARY"],
    )


def merge_revenue(
    work: UnitOfWork,
    rows: Iterable[RevenueRow | RowProblem],
    note_problem: NoteProblem,
    report: Progress,
    stop: Cancelled,
) -> MergeCounts:
    """Add new revenue records and update changed invoices; bad rows go to ``note_problem``."""
    connection = work.connection
    result = MergeCounts()
    ids = data.client_ids_by_ref(connection)
    staging = _staging_table()
    staging.drop(connection, checkfirst=True)
    staging.create(connection)
    as_param = date_param(connection)
    staged_clients: set[int] = set()

    def good_rows() -> Iterable[tuple[object, ...]]:
        for row in rows:
            result.rows_read += 1
            if isinstance(row, RowProblem):
                note_problem(row)
                continue
            client_id = ids.get(row.client_ref)
            if client_id is None:
                note_problem(
                    RowProblem(
                        row.row_number,
                        f"client '{row.client_ref}' does not exist (import the clients first)",
                    )
                )
                continue
            staged_clients.add(client_id)
            yield (
                row.row_number,
                client_id,
                as_param(row.date),
                month_key(row.date),
                row.amount_cents,
                row.reference,
            )

    columns = ("row_number", "client_id", "date", "month_key", "amount_cents", "reference")
    staged = bulk_insert(connection, staging, columns, good_rows())
    if stop():
        raise ImportStopped()
    report(0.85, "Matching records already in the office")
    added, updated = _merge_staged(connection, staging)
    result.added, result.updated = added, updated
    result.unchanged = staged - added - updated
    staging.drop(connection)
    if added or updated:
        # Every client with a line in the file: a superset of those that changed, which
        # costs nothing extra since a refresh recomputes a client from its own records.
        report(0.9, "Summing months")
        work.revenue_changed(staged_clients, cause="revenue imported")
        result.changed_clients = staged_clients
    return result


def _merge_staged(connection: Connection, staging: Table) -> tuple[int, int]:
    """Insert the staged lines that are new and update changed invoices; returns the counts."""
    revenue = table_of(Revenue)
    s = staging.c
    # With a reference: the first line per (client, reference) in the file counts; it is
    # new if the office has no record with that reference, an update if its date or
    # amount differ.
    first_per_reference = (
        select(
            s.row_number,
            func.row_number()
            .over(partition_by=(s.client_id, s.reference), order_by=s.row_number)
            .label("occurrence"),
        )
        .where(s.reference.is_not(None))
        .subquery()
    )
    referenced = (
        select(s.client_id, s.date, s.month_key, s.amount_cents, s.reference)
        .join(first_per_reference, first_per_reference.c.row_number == s.row_number)
        .where(first_per_reference.c.occurrence == 1)
    )
    same_reference = and_(revenue.c.client_id == s.client_id, revenue.c.reference == s.reference)
    new_referenced = referenced.where(~exists().where(same_reference))
    added = connection.execute(
        insert(revenue).from_select(
            ["client_id", "date", "month_key", "amount_cents", "reference"], new_referenced
        )
    ).rowcount
    changed = (
        select(revenue.c.id, s.date, s.month_key, s.amount_cents, s.client_id)
        .select_from(
            staging.join(
                first_per_reference, first_per_reference.c.row_number == s.row_number
            ).join(revenue, same_reference)
        )
        .where(first_per_reference.c.occurrence == 1)
        .where((revenue.c.date != s.date) | (revenue.c.amount_cents != s.amount_cents))
    )
    updates = connection.execute(changed).all()
    for record_id, day, month, amount, _client_id in updates:
        connection.execute(
            update(revenue)
            .where(revenue.c.id == record_id)
            .values(date=day, month_key=month, amount_cents=amount)
        )

    # Without a reference: the k-th identical line of the file (client, date, amount)
    # is new when the office holds fewer than k such records without a reference.
    occurrence = (
        func.row_number()
        .over(partition_by=(s.client_id, s.date, s.amount_cents), order_by=s.row_number)
        .label("occurrence")
    )
    numbered = (
        select(s.client_id, s.date, s.month_key, s.amount_cents, occurrence)
        .where(s.reference.is_(None))
        .subquery()
    )
    already = (
        select(func.count())
        .select_from(revenue)
        .where(
            revenue.c.client_id == numbered.c.client_id,
            revenue.c.date == numbered.c.date,
            revenue.c.amount_cents == numbered.c.amount_cents,
            revenue.c.reference.is_(None),
        )
        .scalar_subquery()
    )
    new_plain = select(
        numbered.c.client_id,
        numbered.c.date,
        numbered.c.month_key,
        numbered.c.amount_cents,
        literal_column("NULL").label("reference"),
    ).where(numbered.c.occurrence > already)
    added += connection.execute(
        insert(revenue).from_select(
            ["client_id", "date", "month_key", "amount_cents", "reference"], new_plain
        )
    ).rowcount
    return added, len(updates)

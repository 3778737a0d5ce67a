"""Importing clients and revenue: a preview first, then one transaction, all or nothing.

Re-importing a file changes nothing: clients match by `ref`; revenue records
match by (client, reference) when they carry a reference, else by (client,
date, amount) counted with multiplicity, so two identical lines in one file
are two records and importing that file again adds none. Revenue is staged
in a temporary table and matched in SQL, so a file of millions of lines is
imported with bounded memory.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

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

from seg_desktop.core.periods import month_key
from seg_desktop.io.readers import (
    ClientRow,
    ImportCancelled,
    ImportFileError,
    ImportOptions,
    RevenueRow,
    RowProblem,
    read_clients,
    read_revenue,
)
from seg_desktop.store import data
from seg_desktop.store.backup import sqlite_file, take_backup
from seg_desktop.store.database import StoreError
from seg_desktop.store.dialect import bulk_insert, date_param
from seg_desktop.store.office import Office
from seg_desktop.store.schema import Client, ClientGroup, ClientTag, GroupMember, Revenue, table_of

Kind = Literal["clients", "revenue"]
Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]
MAX_PROBLEMS_KEPT = 100_000


class _DryRunRollback(Exception):
    pass


@dataclass
class ImportResult:
    """What an import did (or, for a preview, would do)."""

    kind: Kind
    path: Path
    dry_run: bool
    rows_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def accepted(self) -> int:
        """Rows that were good: added, updated or already there."""
        return self.added + self.updated + self.unchanged

    def note_problem(self, problem: RowProblem) -> None:
        """Record a bad row (the first MAX_PROBLEMS_KEPT are kept in full)."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line for the user."""
        verb = "would add" if self.dry_run else "added"
        what = "clients" if self.kind == "clients" else "revenue records"
        return (
            f"{self.path.name}: {self.rows_read:,} rows read; {verb} {self.added:,} {what}, "
            f"{'would update' if self.dry_run else 'updated'} {self.updated:,}, "
            f"{self.unchanged:,} already there, {self.problem_count:,} bad rows"
        )


def _never() -> bool:
    return False


def import_file(
    office: Office,
    kind: Kind,
    path: Path,
    options: ImportOptions,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    backup: bool = True,
) -> ImportResult:
    """Read a clients or revenue file and apply it in one transaction (or only preview it).

    Raises ImportFileError for a file that cannot be read as a whole and
    ImportCancelled when cancelled; in both cases nothing is changed.
    """
    stop = cancelled or _never
    report = progress or (lambda _f, _m: None)
    result = ImportResult(kind=kind, path=path, dry_run=dry_run)
    database_file = sqlite_file(office.database)
    if backup and not dry_run and database_file is not None:
        report(0.0, "Backing up the office")
        take_backup(database_file, "import")
    try:
        with _totals_must_fit(path), office.database.write() as connection:
            if kind == "clients":
                rows = read_clients(path, options, _reader_progress(report), stop)
                _apply_clients(connection, rows, result)
            else:
                rows_r = read_revenue(path, options, _reader_progress(report), stop)
                _apply_revenue(connection, rows_r, result, report, stop)
            if stop():
                raise ImportCancelled()
            if dry_run:
                raise _DryRunRollback()
    except _DryRunRollback:
        pass
    report(1.0, "Import finished" if not dry_run else "Preview ready")
    if not dry_run and (result.added or result.updated):
        office.recompute_segments()
    return result


@contextlib.contextmanager
def _totals_must_fit(path: Path) -> Iterator[None]:
    # Each amount is bounded, but thousands of huge lines for one client could still
    # add up past 64 bits; that is the file's problem, and the transaction is undone.
    try:
        yield
    except StoreError as error:
        if "overflow" in str(error).lower():
            raise ImportFileError(
                f"{path.name}: the amounts of one client add up to more than the program can "
                "store; nothing was imported"
            ) from None
        raise


def _reader_progress(report: Progress) -> Callable[[int, int], None]:
    def on_progress(done: int, total: int) -> None:
        report(0.8 * done / total if total else 0.0, "Reading the file")

    return on_progress


# --- clients ----------------------------------------------------------------------------------


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


def _apply_clients(
    connection: Connection, rows: Iterable[ClientRow | RowProblem], result: ImportResult
) -> None:
    client_t, tag_t = table_of(Client), table_of(ClientTag)
    existing = _existing_clients(connection)
    new_clients: list[data.NewClient] = []
    group_changes: dict[int, tuple[str, ...]] = {}
    for row in rows:
        result.rows_read += 1
        if isinstance(row, RowProblem):
            result.note_problem(row)
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
    data.insert_clients(connection, new_clients)


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


def _apply_revenue(
    connection: Connection,
    rows: Iterable[RevenueRow | RowProblem],
    result: ImportResult,
    report: Progress,
    stop: Cancelled,
) -> None:
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
                result.note_problem(row)
                continue
            client_id = ids.get(row.client_ref)
            if client_id is None:
                result.note_problem(
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
        raise ImportCancelled()
    report(0.85, "Matching records already in the office")
    added, updated = _merge_staged(connection, staging)
    result.added, result.updated = added, updated
    result.unchanged = staged - added - updated
    report(0.95, "Summing months")
    if added or updated:
        # Every client with a line in the file: a superset of those that changed, which
        # costs nothing extra since a refresh recomputes a client from its own records.
        data.refresh_rollups(connection, staged_clients)
    staging.drop(connection)


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


# --- command line -----------------------------------------------------------------------------


def options_from_args(args: argparse.Namespace) -> ImportOptions:
    """ImportOptions from the `import` command's flags."""
    mapping: dict[str, str] = {}
    for item in args.map:
        field_name, sep, column = item.partition("=")
        if not sep or not field_name.strip() or not column.strip():
            raise ValueError(f"--map {item!r}: write it as FIELD=COLUMN, e.g. ref='Account No'")
        mapping[field_name.strip()] = column.strip()
    delimiter = args.delimiter
    if delimiter in ("tab", "\\t"):
        delimiter = "\t"
    return ImportOptions(
        encoding=args.encoding,
        delimiter=delimiter,
        decimal=args.decimal,
        date_format=args.date_format,
        mapping=mapping or None,
        header_row=args.header_row,
        sheet=args.sheet,
    )


def import_command(args: argparse.Namespace, db: str) -> int:
    """`seg-desktop import clients|revenue FILE`: print the preview; non-zero if nothing imports."""
    options = options_from_args(args)
    path = Path(args.file)
    if not path.exists():
        raise ImportFileError(f"{path} does not exist")
    office = Office.open(db)
    try:
        result = import_file(office, args.kind, path, options, dry_run=args.dry_run)
    finally:
        office.close()
    print(("Preview (nothing changed): " if args.dry_run else "") + result.summary())
    for problem in result.problems[:20]:
        print(f"  row {problem.row_number}: {problem.reason}")
    if result.problem_count > 20:
        print(f"  … and {result.problem_count - 20:,} more bad rows")
    if result.rows_read and not result.accepted:
        print("seg-desktop: error: no row of the file could be imported", file=sys.stderr)
        return 1
    if result.rows_read == 0:
        print("seg-desktop: error: the file holds no data rows", file=sys.stderr)
        return 1
    return 0

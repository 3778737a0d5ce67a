"""The SPEC's export columns for every client or a segment's members, streamed from the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import Connection, and_, func, select

from seg_desktop.core.rules import MatchMode, ParsedCriterion
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store.data import _as_date
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.records import EXPORT_COLUMNS as EXPORT_COLUMNS  # moved; re-exported
from seg_desktop.store.records import ExportRow as ExportRow  # moved; re-exported
from seg_desktop.store.records import RunSummary
from seg_desktop.store.rules_sql import assignment, client, compile_segment, facts_from, stats
from seg_desktop.store.schema import ClientGroup, ClientTag, GroupMember, RunAssignment, table_of


def iter_export_rows(
    connection: Connection,
    run: RunSummary | None,
    segment: tuple[tuple[ParsedCriterion, ...], MatchMode] | None = None,
    as_of: dt.date | None = None,
    batch: int = 5_000,
) -> Iterator[ExportRow]:
    """Stream export rows ordered by ref: every client, or the members of a segment on `as_of`."""
    run_id = run.id if run is not None else None
    tag_t, member_t, group_t = table_of(ClientTag), table_of(GroupMember), table_of(ClientGroup)
    group_assignment = table_of(RunAssignment).alias("group_assignment")
    tags_sq = (
        select(tag_t.c.client_id, func.aggregate_strings(tag_t.c.tag, ";").label("tags"))
        .group_by(tag_t.c.client_id)
        .subquery()
    )
    groups_sq = (
        select(
            member_t.c.client_id,
            func.aggregate_strings(group_t.c.name, ";").label("groups"),
            func.max(group_assignment.c.tier).label("group_tier"),
        )
        .select_from(
            member_t.join(group_t, group_t.c.id == member_t.c.group_id).outerjoin(
                group_assignment,
                and_(
                    group_assignment.c.run_id == (run_id if run_id is not None else -1),
                    group_assignment.c.kind == StrategyKind.GROUP.value,
                    group_assignment.c.subject_id == member_t.c.group_id,
                ),
            )
        )
        .group_by(member_t.c.client_id)
        .subquery()
    )
    query = (
        select(
            client.c.id,
            client.c.ref,
            client.c.name,
            client.c.email,
            client.c.status,
            tags_sq.c.tags,
            groups_sq.c.groups,
            stats.c.total_cents,
            stats.c.invoice_count,
            stats.c.first_date,
            stats.c.last_date,
            stats.c.average_cents,
            assignment.c.production_cents,
            assignment.c.tier_name,
            groups_sq.c.group_tier,
            assignment.c.overridden,
            assignment.c.computed_tier,
        )
        .select_from(
            facts_from(run_id)
            .outerjoin(tags_sq, tags_sq.c.client_id == client.c.id)
            .outerjoin(groups_sq, groups_sq.c.client_id == client.c.id)
        )
        .order_by(binary_order(client.c.ref))
    )
    if segment is not None:
        criteria, match = segment
        query = query.where(compile_segment(criteria, match, as_of or dt.date.today()))
    individual = run.strategy(StrategyKind.INDIVIDUAL) if run is not None else None
    group = run.strategy(StrategyKind.GROUP) if run is not None else None
    group_names = group.names if group is not None else []
    individual_names = individual.names if individual is not None else []
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
    for row in result:
        group_tier_index = row[14]
        computed = row[16]
        yield ExportRow(
            client_id=row[0],
            ref=row[1],
            name=row[2],
            email=row[3],
            status=row[4],
            tags=_sorted_list(row[5]),
            groups=_sorted_list(row[6]),
            total_revenue=int(row[7] or 0),
            invoice_count=int(row[8] or 0),
            first_invoice_date=_as_date(row[9]),
            last_invoice_date=_as_date(row[10]),
            average_invoice_amount=int(row[11]) if row[11] is not None else None,
            production=int(row[12]) if row[12] is not None else None,
            tier=row[13],
            group_tier=(
                group_names[group_tier_index]
                if group_tier_index is not None and group_tier_index < len(group_names)
                else None
            ),
            computed_tier=(
                individual_names[computed]
                if row[15] and computed is not None and computed < len(individual_names)
                else None
            ),
        )


def _sorted_list(joined: str | None) -> str:
    if not joined:
        return ""
    return ";".join(sorted(set(joined.split(";"))))

"""Rule-segment membership: counted and recomputed in the database, never client by client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

from seg_desktop.core.engine import Cancelled, Progress, RunCancelled
from seg_desktop.core.rules import SegmentDefinition, validate_definition
from seg_desktop.store import definitions, runs
from seg_desktop.store.rules_sql import members_query
from seg_desktop.store.schema import Id, MembershipEvent, Segment, SegmentMember, table_of

segment_t = table_of(Segment)
member_t = table_of(SegmentMember)
event_t = table_of(MembershipEvent)

# The new membership of one segment, held while it is compared with the stored one.
# A temporary table (per connection, dropped before the commit) so the rule query
# runs once per segment however the before/after comparison uses it.
fresh_t = Table(
    "seg_fresh_members",
    MetaData(),
    Column("client_id", Id, primary_key=True),
    prefixes=["TEMPORARY"],
)


def count_matching(connection: Connection, definition: SegmentDefinition, as_of: dt.date) -> int:
    """How many clients a definition matches on a date (the live preview); validates first."""
    parsed = validate_definition(definition)
    query = members_query(parsed, definition.match, as_of, runs.current_run_id(connection))
    return int(connection.execute(select(func.count()).select_from(query.subquery())).scalar() or 0)


def matching_ids(
    connection: Connection, definition: SegmentDefinition, as_of: dt.date
) -> list[int]:
    """The ids of the clients a definition matches on a date, ascending."""
    parsed = validate_definition(definition)
    query = members_query(parsed, definition.match, as_of, runs.current_run_id(connection))
    return sorted(int(row[0]) for row in connection.execute(query))


def recompute_memberships(
    connection: Connection,
    as_of: dt.date,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    cause: str | None = None,
    segment_causes: Mapping[int, str] | None = None,
) -> dict[int, int]:
    """Recompute every segment's stored membership; returns segment id -> member count.

    Who entered and who left each segment is written to the membership log in
    the same transaction, compared in SQL (NOT EXISTS both ways), with
    ``segment_causes[segment id]`` or else ``cause`` as the reason (default:
    "recomputed as of <date>"). Only the rows that changed are deleted or
    inserted. Called by the unit of work (`store.unit_of_work`), which also
    lets the automation rules act on the new memberships.
    """
    segments = definitions.list_segments(connection)
    run_id = runs.current_run_id(connection)
    now = dt.datetime.now().replace(microsecond=0)
    default_cause = cause or f"recomputed as of {as_of.isoformat()}"
    causes = segment_causes or {}
    counts = {}
    fresh_t.create(connection, checkfirst=True)
    for position, segment in enumerate(segments):
        if progress is not None:
            progress(position / max(len(segments), 1), f"Recomputing {segment.definition.name}")
        if cancelled is not None and cancelled():
            raise RunCancelled()
        parsed = validate_definition(segment.definition)
        query = members_query(parsed, segment.definition.match, as_of, run_id)
        connection.execute(delete(fresh_t))
        connection.execute(insert(fresh_t).from_select(["client_id"], query))
        stored = exists().where(
            member_t.c.segment_id == segment.id, member_t.c.client_id == fresh_t.c.client_id
        )
        still_in = exists().where(fresh_t.c.client_id == member_t.c.client_id)
        event_columns = ["client_id", "kind", "subject", "entered", "at", "cause"]
        constants = (
            literal("segment", String),
            literal(segment.definition.name, String),
        )
        reason = literal(causes.get(segment.id, default_cause), String)
        at = literal(now, event_t.c.at.type)
        # Left before entered, so the log (ordered by time, then id) reads in that order.
        connection.execute(
            insert(event_t).from_select(
                event_columns,
                select(member_t.c.client_id, *constants, false(), at, reason).where(
                    member_t.c.segment_id == segment.id, ~still_in
                ),
            )
        )
        connection.execute(
            insert(event_t).from_select(
                event_columns,
                select(fresh_t.c.client_id, *constants, true(), at, reason).where(~stored),
            )
        )
        connection.execute(delete(member_t).where(member_t.c.segment_id == segment.id, ~still_in))
        connection.execute(
            insert(member_t).from_select(
                ["segment_id", "client_id"],
                select(literal(segment.id), fresh_t.c.client_id).where(~stored),
            )
        )
        count = int(connection.execute(select(func.count()).select_from(fresh_t)).scalar() or 0)
        connection.execute(
            update(segment_t)
            .where(segment_t.c.id == segment.id)
            .values(member_count=count, recomputed_at=now, recomputed_as_of=as_of)
        )
        counts[segment.id] = count
    fresh_t.drop(connection)
    return counts


def computed_before(connection: Connection, day: dt.date) -> bool:
    """Whether any segment's membership was last computed for a date before ``day`` (or never)."""
    stale = select(segment_t.c.id).where(
        or_(segment_t.c.recomputed_as_of.is_(None), segment_t.c.recomputed_as_of < day)
    )
    return connection.execute(stale.limit(1)).first() is not None


def member_ids(connection: Connection, segment_id: int) -> list[int]:
    """The stored members of a segment (as last recomputed), ascending."""
    return list(
        connection.execute(
            select(member_t.c.client_id)
            .where(member_t.c.segment_id == segment_id)
            .order_by(member_t.c.client_id)
        ).scalars()
    )

"""Rule-segment membership: counted and recomputed in the database, never client by client."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, func, insert, literal, select, update

from seg_desktop.core.engine import Cancelled, Progress, RunCancelled
from seg_desktop.core.rules import SegmentDefinition, validate_definition
from seg_desktop.store import definitions, runs
from seg_desktop.store.rules_sql import members_query
from seg_desktop.store.schema import Segment, SegmentMember, table_of

segment_t = table_of(Segment)
member_t = table_of(SegmentMember)


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


def recompute_all(
    connection: Connection,
    as_of: dt.date,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> dict[int, int]:
    """Recompute every segment's stored membership; returns segment id -> member count."""
    segments = definitions.list_segments(connection)
    run_id = runs.current_run_id(connection)
    now = dt.datetime.now().replace(microsecond=0)
    counts = {}
    for position, segment in enumerate(segments):
        if progress is not None:
            progress(position / max(len(segments), 1), f"Recomputing {segment.definition.name}")
        if cancelled is not None and cancelled():
            raise RunCancelled()
        parsed = validate_definition(segment.definition)
        query = members_query(parsed, segment.definition.match, as_of, run_id)
        connection.execute(delete(member_t).where(member_t.c.segment_id == segment.id))
        connection.execute(
            insert(member_t).from_select(
                ["segment_id", "client_id"],
                query.with_only_columns(literal(segment.id), query.selected_columns[0]),
            )
        )
        count = int(
            connection.execute(
                select(func.count()).where(member_t.c.segment_id == segment.id)
            ).scalar()
            or 0
        )
        connection.execute(
            update(segment_t)
            .where(segment_t.c.id == segment.id)
            .values(member_count=count, recomputed_at=now, recomputed_as_of=as_of)
        )
        counts[segment.id] = count
    return counts


def member_ids(connection: Connection, segment_id: int) -> list[int]:
    """The stored members of a segment (as last recomputed), ascending."""
    return list(
        connection.execute(
            select(member_t.c.client_id)
            .where(member_t.c.segment_id == segment_id)
            .order_by(member_t.c.client_id)
        ).scalars()
    )

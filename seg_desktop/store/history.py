"""Run history, run comparison, reports, segment comparison and the membership log.

Plain functions over a Connection (callers open the transaction with
``office.database.read()``, usually on the worker) returning frozen
dataclasses. Revenue in reports is **production**: the sum of a client's
revenue inside the run's date range, exactly as the engine summed it, so a
report's totals equal the run's. Where a report is restricted to a segment, it
uses the segment's stored (last recomputed) members.

Shares are in basis points (hundredths of a percent), rounded half away from
zero with integer arithmetic, so they are exact and export as numbers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Exists,
    Select,
    and_,
    cast,
    delete,
    exists,
    func,
    insert,
    select,
)

from seg_desktop.core.engine import Trigger
from seg_desktop.core.money import Cents, divide_rounded
from seg_desktop.core.movement import compare_placements, tier_labels
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import runs
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.errors import StoreError
from seg_desktop.store.records import (
    ClientLine,
    ComparedRuns,
    RunSummary,
    RunTierCounts,
    SegmentComparison,
    SegmentOverlap,
    SegmentStats,
    SubjectLabel,
    TierLine,
    TierReport,
    TierTrend,
    share_bp,
)
from seg_desktop.store.records import MembershipLogEntry as MembershipLogEntry  # moved
from seg_desktop.store.records import NightlyFailure as NightlyFailure  # moved; re-exported
from seg_desktop.store.records import TierChange as TierChange  # moved; re-exported
from seg_desktop.store.records import format_share as format_share  # moved; re-exported
from seg_desktop.store.schema import (
    Client,
    ClientGroup,
    ClientStats,
    MembershipEvent,
    Run,
    RunAssignment,
    Segment,
    SegmentMember,
    Setting,
    table_of,
)

client_t = table_of(Client)
group_t = table_of(ClientGroup)
stats_t = table_of(ClientStats)
event_t = table_of(MembershipEvent)
run_t = table_of(Run)
assignment_t = table_of(RunAssignment)
segment_t = table_of(Segment)
member_t = table_of(SegmentMember)
setting_t = table_of(Setting)

IND = StrategyKind.INDIVIDUAL
NIGHTLY_ERROR_KEY = "nightly_last_error"
SCHEDULED_TRIGGERS = (Trigger.NIGHTLY, Trigger.COMMAND_LINE)
"""Runs that count as "the nightly run" for the start-up catch-up: the window's
timer, and the ``run`` command the system's scheduler starts."""


# --- one run's assignments ---------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentRow:
    """A subject's production and tier in one saved run."""

    subject_id: int
    production: Cents
    computed_tier: int
    tier: int
    """The tier that counts (the pinned one where an override stood)."""
    tier_name: str
    overridden: bool


def run_assignments(
    connection: Connection, run_id: int, kind: StrategyKind = IND
) -> list[AssignmentRow]:
    """Every assignment of a run for one strategy, by subject id."""
    rows = connection.execute(
        select(
            assignment_t.c.subject_id,
            assignment_t.c.production_cents,
            assignment_t.c.computed_tier,
            assignment_t.c.tier,
            assignment_t.c.tier_name,
            assignment_t.c.overridden,
        )
        .where(assignment_t.c.run_id == run_id, assignment_t.c.kind == kind.value)
        .order_by(assignment_t.c.subject_id)
    )
    return [
        AssignmentRow(int(s), int(p), int(c), int(t), str(n), bool(o)) for s, p, c, t, n, o in rows
    ]


def _require_run(connection: Connection, run_id: int | None) -> RunSummary:
    if run_id is None:
        run = runs.current_run(connection)
        if run is None:
            raise StoreError("there is no run yet: press Run Segmentation first")
        return run
    found = runs.get_run(connection, run_id)
    if found is None:
        raise StoreError(f"run {run_id} no longer exists")
    return found


def previous_run_id(connection: Connection, run_id: int) -> int | None:
    """The run saved just before this one, if any."""
    value = connection.execute(select(func.max(run_t.c.id)).where(run_t.c.id < run_id)).scalar()
    return int(value) if value is not None else None


# --- comparing two runs ------------------------------------------------------------------------


def _placements(
    connection: Connection, run_id: int, kind: StrategyKind
) -> dict[int, tuple[int, Cents]]:
    rows = connection.execute(
        select(
            assignment_t.c.subject_id, assignment_t.c.tier, assignment_t.c.production_cents
        ).where(assignment_t.c.run_id == run_id, assignment_t.c.kind == kind.value)
    )
    return {int(s): (int(t), int(p)) for s, t, p in rows}


def subject_labels(connection: Connection, kind: StrategyKind) -> dict[int, SubjectLabel]:
    """Every client's (or group's) label by id."""
    if kind is IND:
        query = select(client_t.c.id, client_t.c.ref, client_t.c.name)
        return {
            int(i): SubjectLabel(int(i), str(r), str(n)) for i, r, n in connection.execute(query)
        }
    groups = select(group_t.c.id, group_t.c.kind, group_t.c.name)
    return {
        int(i): SubjectLabel(int(i), "", f"{n} ({k})") for i, k, n in connection.execute(groups)
    }


def compare_runs(
    connection: Connection, first_id: int, second_id: int, kind: StrategyKind = IND
) -> ComparedRuns:
    """Compare two saved runs (in either order: the one saved first is the older)."""
    older_id, newer_id = sorted((first_id, second_id))
    older, newer = _require_run(connection, older_id), _require_run(connection, newer_id)
    older_strategy, newer_strategy = older.strategy(kind), newer.strategy(kind)
    comparison = compare_placements(
        _placements(connection, older_id, kind),
        _placements(connection, newer_id, kind),
        older_strategy.names if older_strategy is not None else [],
        newer_strategy.names if newer_strategy is not None else [],
    )
    return ComparedRuns(older, newer, kind, comparison, subject_labels(connection, kind))


# --- reports -----------------------------------------------------------------------------------


def _segment_name(connection: Connection, segment_id: int) -> str:
    name = connection.execute(select(segment_t.c.name).where(segment_t.c.id == segment_id)).scalar()
    if name is None:
        raise StoreError("that segment no longer exists")
    return str(name)


def _in_segment(segment_id: int) -> Exists:
    return exists().where(
        member_t.c.segment_id == segment_id, member_t.c.client_id == assignment_t.c.subject_id
    )


def tier_report(
    connection: Connection,
    run_id: int | None = None,
    segment_id: int | None = None,
    kind: StrategyKind = IND,
) -> TierReport:
    """Clients, revenue, share and average per tier (current run unless ``run_id``).

    With ``segment_id`` (individual strategy only) only the segment's members count.
    """
    if segment_id is not None and kind is not IND:
        raise StoreError("segments hold clients: a segment report uses the individual strategy")
    run = _require_run(connection, run_id)
    strategy = run.strategy(kind)
    if strategy is None:
        raise StoreError(f"run {run.id} has no tiers for {kind.label.lower()}")
    base = select(
        assignment_t.c.tier,
        func.count(),
        cast(func.coalesce(func.sum(assignment_t.c.production_cents), 0), BigInteger),
    ).where(assignment_t.c.run_id == run.id, assignment_t.c.kind == kind.value)
    office_revenue = int(
        connection.execute(
            select(
                cast(func.coalesce(func.sum(assignment_t.c.production_cents), 0), BigInteger)
            ).where(assignment_t.c.run_id == run.id, assignment_t.c.kind == kind.value)
        ).scalar()
        or 0
    )
    scope = "Whole office"
    if segment_id is not None:
        scope = _segment_name(connection, segment_id)
        base = base.where(_in_segment(segment_id))
    found = {
        int(tier): (int(count), int(total))
        for tier, count, total in connection.execute(base.group_by(assignment_t.c.tier))
    }
    total_revenue = sum(total for _count, total in found.values())
    lines = []
    for position, tier in enumerate(strategy.tiers):
        count, revenue = found.get(position, (0, 0))
        lines.append(
            TierLine(
                position=position,
                name=tier.name,
                monthly_lower=tier.monthly_lower,
                effective_lower=tier.monthly_lower * run.range.months,
                clients=count,
                revenue=revenue,
                share=share_bp(revenue, total_revenue),
                average=divide_rounded(revenue, count) if count else None,
            )
        )
    return TierReport(run, kind, scope, segment_id, tuple(lines), office_revenue)


def tier_trend(
    connection: Connection,
    last: int = 12,
    segment_id: int | None = None,
    kind: StrategyKind = IND,
) -> TierTrend:
    """Counts per tier over the last ``last`` runs, for the office or a segment's members.

    A segment's counts use its current (stored) members in every run.
    """
    recent = list(
        connection.execute(
            select(run_t.c.id).order_by(run_t.c.id.desc()).limit(max(last, 1))
        ).scalars()
    )
    summaries = [s for run_id in reversed(recent) if (s := runs.get_run(connection, run_id))]
    summaries = [s for s in summaries if s.strategy(kind) is not None]
    if not summaries:
        return TierTrend((), ())
    by_run: dict[int, dict[int, int]] = {}
    if segment_id is not None:
        query = (
            select(assignment_t.c.run_id, assignment_t.c.tier, func.count())
            .where(
                assignment_t.c.run_id.in_([s.id for s in summaries]),
                assignment_t.c.kind == kind.value,
                _in_segment(segment_id),
            )
            .group_by(assignment_t.c.run_id, assignment_t.c.tier)
        )
        for run_id, tier, count in connection.execute(query):
            by_run.setdefault(int(run_id), {})[int(tier)] = int(count)
    points = []
    for summary in summaries:
        tiers = summary.tiers[kind]
        if segment_id is None:
            counts = tuple(t.count for t in tiers)
        else:
            found = by_run.get(summary.id, {})
            counts = tuple(found.get(position, 0) for position in range(len(tiers)))
        points.append(RunTierCounts(summary.id, summary.created_at, summary.as_of, counts))
    newest = summaries[-1].strategy(kind)
    assert newest is not None
    longest = max(summaries, key=lambda s: len(s.tiers[kind])).tiers[kind]
    names = tier_labels([t.name for t in longest], newest.names)
    return TierTrend(names, tuple(points))


def _client_lines_query(run_id: int | None) -> Select[Any]:
    return select(
        client_t.c.id,
        client_t.c.ref,
        client_t.c.name,
        assignment_t.c.tier_name,
        assignment_t.c.production_cents,
        stats_t.c.total_cents,
    ).select_from(
        client_t.outerjoin(stats_t, stats_t.c.client_id == client_t.c.id).outerjoin(
            assignment_t,
            and_(
                assignment_t.c.run_id == (run_id if run_id is not None else -1),
                assignment_t.c.kind == IND.value,
                assignment_t.c.subject_id == client_t.c.id,
            ),
        )
    )


def _client_line(row: Sequence[Any]) -> ClientLine:
    return ClientLine(
        client_id=int(row[0]),
        ref=str(row[1]),
        name=str(row[2]),
        tier=str(row[3]) if row[3] is not None else None,
        production=int(row[4]) if row[4] is not None else None,
        total_revenue=int(row[5] or 0),
    )


def top_clients(
    connection: Connection,
    limit: int = 20,
    run_id: int | None = None,
    segment_id: int | None = None,
) -> list[ClientLine]:
    """The clients with the highest production in a run (current unless ``run_id``)."""
    run = _require_run(connection, run_id)
    query = _client_lines_query(run.id).where(assignment_t.c.subject_id.is_not(None))
    if segment_id is not None:
        query = query.where(
            exists().where(
                member_t.c.segment_id == segment_id, member_t.c.client_id == client_t.c.id
            )
        )
    query = query.order_by(
        assignment_t.c.production_cents.desc(), binary_order(client_t.c.ref)
    ).limit(limit)
    return [_client_line(row) for row in connection.execute(query)]


def client_lines(connection: Connection, client_ids: Sequence[int]) -> list[ClientLine]:
    """Some clients as list lines (current run's tier and production), by ref."""
    run_id = runs.current_run_id(connection)
    lines: list[ClientLine] = []
    ids = list(client_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = _client_lines_query(run_id).where(client_t.c.id.in_(chunk))
        lines.extend(_client_line(row) for row in connection.execute(query))
    lines.sort(key=lambda line: line.ref.encode("utf-8"))
    return lines


# --- segments side by side and their overlap -----------------------------------------------------


def compare_segments(connection: Connection, segment_ids: Sequence[int]) -> SegmentComparison:
    """Members, revenue, average, share of the office and tier mix of each segment."""
    run = runs.current_run(connection)
    run_id = run.id if run is not None else -1
    strategy = run.strategy(IND) if run is not None else None
    names = tuple(strategy.names) if strategy is not None else ()
    info = {
        int(i): (str(n), at)
        for i, n, at in connection.execute(
            select(segment_t.c.id, segment_t.c.name, segment_t.c.recomputed_at).where(
                segment_t.c.id.in_(list(segment_ids))
            )
        )
    }
    missing = [s for s in segment_ids if s not in info]
    if missing:
        raise StoreError("a segment being compared no longer exists")
    joined = member_t.outerjoin(
        assignment_t,
        and_(
            assignment_t.c.run_id == run_id,
            assignment_t.c.kind == IND.value,
            assignment_t.c.subject_id == member_t.c.client_id,
        ),
    ).outerjoin(stats_t, stats_t.c.client_id == member_t.c.client_id)
    totals = {
        int(segment_id): (int(count), int(revenue), int(total))
        for segment_id, count, revenue, total in connection.execute(
            select(
                member_t.c.segment_id,
                func.count(),
                cast(func.coalesce(func.sum(assignment_t.c.production_cents), 0), BigInteger),
                cast(func.coalesce(func.sum(stats_t.c.total_cents), 0), BigInteger),
            )
            .select_from(joined)
            .where(member_t.c.segment_id.in_(list(segment_ids)))
            .group_by(member_t.c.segment_id)
        )
    }
    mix: dict[int, dict[int, int]] = {}
    for segment_id, tier, count in connection.execute(
        select(member_t.c.segment_id, assignment_t.c.tier, func.count())
        .select_from(joined)
        .where(member_t.c.segment_id.in_(list(segment_ids)), assignment_t.c.tier.is_not(None))
        .group_by(member_t.c.segment_id, assignment_t.c.tier)
    ):
        mix.setdefault(int(segment_id), {})[int(tier)] = int(count)
    office_clients = int(
        connection.execute(select(func.count()).select_from(client_t)).scalar() or 0
    )
    office_revenue = int(
        connection.execute(
            select(
                cast(func.coalesce(func.sum(assignment_t.c.production_cents), 0), BigInteger)
            ).where(assignment_t.c.run_id == run_id, assignment_t.c.kind == IND.value)
        ).scalar()
        or 0
    )
    office_total = int(
        connection.execute(
            select(cast(func.coalesce(func.sum(stats_t.c.total_cents), 0), BigInteger))
        ).scalar()
        or 0
    )
    stats = []
    for segment_id in segment_ids:
        name, recomputed_at = info[segment_id]
        count, revenue, total = totals.get(segment_id, (0, 0, 0))
        found = mix.get(segment_id, {})
        stats.append(
            SegmentStats(
                segment_id=segment_id,
                name=name,
                members=count,
                revenue=revenue,
                average=divide_rounded(revenue, count) if count else None,
                share=share_bp(revenue, office_revenue),
                total_revenue=total,
                tier_mix=tuple(found.get(position, 0) for position in range(len(names))),
                recomputed_at=recomputed_at,
            )
        )
    return SegmentComparison(run, names, office_clients, office_revenue, office_total, tuple(stats))


def segment_overlap(connection: Connection, a_id: int, b_id: int) -> SegmentOverlap:
    """The overlap of two segments' stored memberships, with each client's line."""
    a_name, b_name = _segment_name(connection, a_id), _segment_name(connection, b_id)

    def member_of(segment_id: int) -> Exists:
        return exists().where(
            member_t.c.segment_id == segment_id, member_t.c.client_id == client_t.c.id
        )

    in_a, in_b = member_of(a_id), member_of(b_id)
    query = (
        _client_lines_query(runs.current_run_id(connection))
        .add_columns(in_a, in_b)
        .where(in_a | in_b)
        .order_by(binary_order(client_t.c.ref))
    )
    both, only_a, only_b = [], [], []
    for row in connection.execute(query):
        line = _client_line(row)
        if row[6] and row[7]:
            both.append(line)
        elif row[6]:
            only_a.append(line)
        else:
            only_b.append(line)
    return SegmentOverlap(a_id, a_name, b_id, b_name, tuple(both), tuple(only_a), tuple(only_b))


# --- the membership log and tier changes -----------------------------------------------------


def membership_log(
    connection: Connection, client_id: int, limit: int | None = None
) -> list[MembershipLogEntry]:
    """A client's membership log, newest first."""
    query = (
        select(
            event_t.c.at,
            event_t.c.kind,
            event_t.c.subject,
            event_t.c.entered,
            event_t.c.cause,
        )
        .where(event_t.c.client_id == client_id)
        .order_by(event_t.c.at.desc(), event_t.c.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        MembershipLogEntry(at, str(kind), str(subject), bool(entered), str(cause))
        for at, kind, subject, entered, cause in connection.execute(query)
    ]


def changed_since_previous_run(connection: Connection) -> dict[int, TierChange]:
    """Clients whose tier position differs between the current run and the one before it.

    Positions are compared as in :mod:`seg_desktop.core.movement` (a renamed
    tier moves nobody); clients new since the previous run are not included.
    """
    current = runs.current_run_id(connection)
    if current is None:
        return {}
    previous = previous_run_id(connection, current)
    if previous is None:
        return {}
    new = assignment_t.alias("new_assignment")
    old = assignment_t.alias("old_assignment")
    query = (
        select(new.c.subject_id, old.c.tier_name, new.c.tier_name, old.c.tier, new.c.tier)
        .select_from(
            new.join(
                old,
                and_(
                    old.c.run_id == previous,
                    old.c.kind == IND.value,
                    old.c.subject_id == new.c.subject_id,
                ),
            )
        )
        .where(new.c.run_id == current, new.c.kind == IND.value, new.c.tier != old.c.tier)
    )
    return {
        int(subject): TierChange(str(old_name), str(new_name), int(new_tier) > int(old_tier))
        for subject, old_name, new_name, old_tier, new_tier in connection.execute(query)
    }


# --- the nightly run's bookkeeping --------------------------------------------------------------


def last_scheduled_run_at(connection: Connection) -> dt.datetime | None:
    """When the latest nightly (or scheduler-started command-line) run was saved."""
    value = connection.execute(
        select(func.max(run_t.c.created_at)).where(
            run_t.c.trigger.in_([t.value for t in SCHEDULED_TRIGGERS])
        )
    ).scalar()
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def record_nightly_failure(connection: Connection, failure: NightlyFailure) -> None:
    """Keep a nightly run's failure (replacing an older one) until it is dismissed."""
    clear_nightly_failure(connection)
    value = json.dumps({"at": failure.at.isoformat(timespec="seconds"), "message": failure.message})
    connection.execute(insert(setting_t).values(key=NIGHTLY_ERROR_KEY, value=value))


def nightly_failure(connection: Connection) -> NightlyFailure | None:
    """The kept nightly failure, if any (None also when the stored value is unreadable)."""
    value = connection.execute(
        select(setting_t.c.value).where(setting_t.c.key == NIGHTLY_ERROR_KEY)
    ).scalar()
    if value is None:
        return None
    try:
        parsed = json.loads(value)
        return NightlyFailure(dt.datetime.fromisoformat(parsed["at"]), str(parsed["message"]))
    except (ValueError, KeyError, TypeError):
        return NightlyFailure(dt.datetime.min, str(value))


def clear_nightly_failure(connection: Connection) -> None:
    """Forget the kept nightly failure (the user dismissed it)."""
    connection.execute(delete(setting_t).where(setting_t.c.key == NIGHTLY_ERROR_KEY))

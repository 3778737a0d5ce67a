"""Segmentation runs: computed by the core engine, saved whole or not at all."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from collections.abc import Iterator

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)

from seg_desktop.core.automation import TargetKind
from seg_desktop.core.engine import (
    Cancelled,
    Progress,
    RunCancelled,
    RunInputs,
    RunResult,
    Trigger,
    compute_run,
)
from seg_desktop.core.money import Cents
from seg_desktop.core.periods import EffectiveRange
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import automation, data, definitions
from seg_desktop.store.database import Database, insert_returning_id, translate_errors
from seg_desktop.store.dialect import bulk_insert, release_run_lock, try_run_lock
from seg_desktop.store.errors import RunInProgress
from seg_desktop.store.records import AutomationOutcome, LockOwner, RunSummary, TierCount
from seg_desktop.store.schema import (
    Client,
    ClientMonth,
    MembershipEvent,
    Run,
    RunAssignment,
    Setting,
    table_of,
)

run_t = table_of(Run)
assignment_t = table_of(RunAssignment)
month_t = table_of(ClientMonth)
event_t = table_of(MembershipEvent)
client_t = table_of(Client)
setting_t = table_of(Setting)

# The `setting` row naming who holds the run lock on a server (a LockOwner as JSON).
RUNNER_SETTING = "run_in_progress"


def load_inputs(connection: Connection, as_of: dt.date) -> RunInputs:
    """Everything the engine needs besides the productions, in one snapshot."""
    settings = definitions.get_settings(connection)
    return RunInputs(
        as_of=as_of,
        settings=settings.segmentation,
        strategies=list(definitions.get_strategies(connection).values()),
        earliest_record=data.earliest_record_date(connection),
        client_ids=data.all_client_ids(connection),
        group_members=data.group_members(connection),
        overrides=definitions.list_overrides(connection),
    )


def productions(connection: Connection, period: EffectiveRange) -> Iterator[tuple[int, Cents]]:
    """(client id, production) for the clients with revenue inside the range, from the rollup."""
    query = (
        select(month_t.c.client_id, cast(func.sum(month_t.c.amount_cents), BigInteger))
        .where(month_t.c.month_key.between(period.start_month, period.end_month))
        .group_by(month_t.c.client_id)
    )
    for client_id, amount in connection.execute(query):
        yield int(client_id), int(amount)


def compute_and_save(
    connection: Connection,
    as_of: dt.date,
    trigger: Trigger,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> tuple[int, AutomationOutcome]:
    """Compute a run and save it inside the caller's write transaction.

    Returns the run's id and what its tier automation rules did. Raises
    InsufficientData (nothing saved, the user is told why), RunCancelled,
    StrategyError or StoreError; the caller's transaction then saves nothing.
    """
    report = progress or (lambda _f, _m: None)
    stop = cancelled or (lambda: False)
    inputs = load_inputs(connection, as_of)
    result = compute_run(inputs, lambda period: productions(connection, period), report, stop)
    report(0.8, "Saving the run")
    run_id, outcome = save_run(connection, result, trigger, stop)
    if stop():
        raise RunCancelled()
    return run_id, outcome


@contextlib.contextmanager
def one_run_at_a_time(database: Database) -> Iterator[None]:
    """Hold the office's run lock while a run computes and saves; RunInProgress if another has it.

    A SQLite file needs nothing more: its write transaction (BEGIN IMMEDIATE) and the
    one-writer lock file already keep a second run out. On PostgreSQL a session-level
    advisory lock, taken without waiting, refuses a second desktop at once; the
    holder's name and start time are saved beside it (`RUNNER_SETTING`) so the
    refused one is told who is running and since when. The server drops the lock
    when the holder's connection ends, however its program ends; a name left behind
    by a killed run is simply overwritten by the next one.
    """
    if database.is_sqlite:
        yield
        return
    recorded: str | None = None
    with translate_errors(database.target), database.engine.connect() as holder:
        with holder.begin():
            acquired = try_run_lock(holder)
            if acquired:
                owner = LockOwner(
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started_at=dt.datetime.now().replace(microsecond=0),
                )
                holder.execute(delete(setting_t).where(setting_t.c.key == RUNNER_SETTING))
                holder.execute(insert(setting_t).values(key=RUNNER_SETTING, value=owner.to_json()))
            else:
                recorded = holder.execute(
                    select(setting_t.c.value).where(setting_t.c.key == RUNNER_SETTING)
                ).scalar()
        if not acquired:
            raise RunInProgress(
                database.target, LockOwner.from_json(recorded) if recorded else None
            )
        try:
            yield
        finally:
            try:
                with holder.begin():
                    holder.execute(delete(setting_t).where(setting_t.c.key == RUNNER_SETTING))
                    release_run_lock(holder)
            except Exception:
                # The lock goes with the session: never hand this one back to the pool.
                holder.invalidate()


def save_run(
    connection: Connection, result: RunResult, trigger: Trigger, cancelled: Cancelled
) -> tuple[int, AutomationOutcome]:
    """Insert a run and every assignment (inside the caller's transaction).

    Also writes the membership log's tier events: every client whose
    individual tier name differs from the previous run's enters the new tier
    and leaves the old one, with the cause worked out in SQL (see
    :func:`record_tier_events`).
    """
    created_at = dt.datetime.now().replace(microsecond=0)
    snapshot = {
        strategy_result.strategy.kind.value: [
            {"name": tier.name, "monthly_lower": tier.monthly_lower, "count": count}
            for tier, count in zip(
                strategy_result.strategy.tiers, strategy_result.counts(), strict=True
            )
        ]
        for strategy_result in result.results
    }
    run_id = insert_returning_id(
        connection,
        insert(run_t).values(
            created_at=created_at,
            trigger=trigger.value,
            as_of=result.as_of,
            range_start=result.range.start,
            range_end=result.range.end,
            months=result.range.months,
            clipped=result.range.clipped,
            snapshot=json.dumps(snapshot),
        ),
    )
    columns = (
        "run_id",
        "kind",
        "subject_id",
        "production_cents",
        "computed_tier",
        "tier",
        "tier_name",
        "overridden",
    )
    for strategy_result in result.results:
        kind = strategy_result.strategy.kind.value
        names = strategy_result.strategy.names
        if cancelled():
            raise RunCancelled()
        bulk_insert(
            connection,
            assignment_t,
            columns,
            (
                (
                    run_id,
                    kind,
                    a.subject_id,
                    a.production,
                    a.computed_tier,
                    a.tier,
                    names[a.tier],
                    a.overridden,
                )
                for a in strategy_result.assignments
            ),
        )
    record_tier_events(connection, run_id, created_at)
    # Tier automation rules act in the same transaction: a run is saved with its
    # actions or not at all.
    outcome = automation.apply_rules(
        connection, f"run {run_id}", targets=(TargetKind.TIER,), now=created_at
    )
    return run_id, outcome


def record_tier_events(
    connection: Connection,
    run_id: int,
    at: dt.datetime,
    kind: StrategyKind = StrategyKind.INDIVIDUAL,
) -> None:
    """Log who entered and who left each tier in a run, compared with the run before it.

    Two INSERT ... SELECTs over run_assignment (one probe of the previous run
    per client, by primary key), never a loop over clients. Tiers are matched
    by name, the log's subject; a rename shows as left/entered with the cause
    "tier renamed". Only client tiers are logged (the log belongs to clients).
    """
    previous = connection.execute(select(func.max(run_t.c.id)).where(run_t.c.id < run_id)).scalar()
    previous_id = int(previous) if previous is not None else -1
    new = assignment_t.alias("new_assignment")
    old = assignment_t.alias("old_assignment")
    label = f"run {run_id}"
    missing_old = old.c.subject_id.is_(None)
    missing_new = new.c.subject_id.is_(None)
    cause: ColumnElement[str] = case(
        (
            missing_old,
            f"{label}: first run" if previous is None else f"{label}: not in run {previous_id}",
        ),
        (missing_new, f"{label}: no {kind.label.lower()} tiers in this run"),
        (new.c.overridden == true(), f"{label}: manual override"),
        (old.c.overridden == true(), f"{label}: manual override ended"),
        (new.c.tier == old.c.tier, f"{label}: tier renamed"),
        (
            new.c.production_cents == old.c.production_cents,
            f"{label}: tier limits or range changed",
        ),
        else_=f"{label}: production changed",
    )
    prefix = literal(f"{kind.value}:", String)
    columns = ["client_id", "kind", "subject", "entered", "at", "cause"]
    changed = or_(missing_old, missing_new, old.c.tier_name != new.c.tier_name)
    left = (
        select(
            old.c.subject_id,
            literal("tier", String),
            prefix + old.c.tier_name,
            false(),
            literal(at, event_t.c.at.type),
            cause,
        )
        # Joined to client: a client deleted since the previous run has no log to write to.
        .select_from(
            old.join(client_t, client_t.c.id == old.c.subject_id).outerjoin(
                new,
                and_(
                    new.c.run_id == run_id,
                    new.c.kind == kind.value,
                    new.c.subject_id == old.c.subject_id,
                ),
            )
        )
        .where(old.c.run_id == previous_id, old.c.kind == kind.value, changed)
    )
    # Left before entered, so the log (ordered by time, then id) reads in that order.
    if previous is not None:
        connection.execute(insert(event_t).from_select(columns, left))
    entered = (
        select(
            new.c.subject_id,
            literal("tier", String),
            prefix + new.c.tier_name,
            true(),
            literal(at, event_t.c.at.type),
            cause,
        )
        .select_from(
            new.outerjoin(
                old,
                and_(
                    old.c.run_id == previous_id,
                    old.c.kind == kind.value,
                    old.c.subject_id == new.c.subject_id,
                ),
            )
        )
        .where(new.c.run_id == run_id, new.c.kind == kind.value, changed)
    )
    connection.execute(insert(event_t).from_select(columns, entered))


def current_run_id(connection: Connection) -> int | None:
    """The id of the current run: the latest saved one."""
    value = connection.execute(select(func.max(run_t.c.id))).scalar()
    return int(value) if value is not None else None


def get_run(connection: Connection, run_id: int) -> RunSummary | None:
    """A saved run by id."""
    row = connection.execute(select(run_t).where(run_t.c.id == run_id)).mappings().first()
    if row is None:
        return None
    snapshot = json.loads(row["snapshot"])
    return RunSummary(
        id=row["id"],
        created_at=row["created_at"],
        trigger=Trigger(row["trigger"]),
        as_of=row["as_of"],
        range=EffectiveRange(
            start=row["range_start"],
            end=row["range_end"],
            months=row["months"],
            clipped=bool(row["clipped"]),
        ),
        tiers={
            StrategyKind(kind): [
                TierCount(t["name"], int(t["monthly_lower"]), int(t["count"])) for t in tiers
            ]
            for kind, tiers in snapshot.items()
        },
    )


def current_run(connection: Connection) -> RunSummary | None:
    """The current run, if any run was ever saved."""
    run_id = current_run_id(connection)
    return get_run(connection, run_id) if run_id is not None else None


def list_runs(connection: Connection) -> list[RunSummary]:
    """Every saved run, newest first."""
    ids = connection.execute(select(run_t.c.id).order_by(run_t.c.id.desc())).scalars().all()
    return [summary for run_id in ids if (summary := get_run(connection, run_id)) is not None]

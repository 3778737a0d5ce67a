"""What the tier view shows besides the strategy: every subject's production, the pins, who is who.

The productions are the engine's (SPEC section 2): a client's production is
the sum of its revenue inside the effective range (0 without any), a group's
is the sum of its members'. They are computed for the office's *current*
settings, so the chart follows a change of maximum or buffer months before
the next run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import Connection, func, or_, select

from seg_desktop.core.money import Cents
from seg_desktop.core.periods import (
    EffectiveRange,
    InsufficientData,
    effective_range,
)
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import data, definitions, runs
from seg_desktop.store.database import Database
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.records import StrategyProductions as StrategyProductions  # moved
from seg_desktop.store.records import Subject as Subject  # moved; re-exported
from seg_desktop.store.schema import Client, ClientGroup, table_of

client_t = table_of(Client)
group_t = table_of(ClientGroup)


def load_productions(
    connection: Connection, kind: StrategyKind, period: EffectiveRange
) -> StrategyProductions:
    """Every client's (or group's) production over `period`, with the strategy's overrides."""
    by_client: dict[int, Cents] = dict.fromkeys(data.all_client_ids(connection), 0)
    for client_id, production in runs.productions(connection, period):
        by_client[client_id] = production
    if kind is StrategyKind.INDIVIDUAL:
        productions = by_client
    else:
        productions = {
            group_id: sum(by_client.get(member, 0) for member in members)
            for group_id, members in data.group_members(connection).items()
        }
    overrides = tuple(o for o in definitions.list_overrides(connection) if o.kind is kind)
    labels = subject_labels(connection, kind, [o.subject_id for o in overrides])
    return StrategyProductions(
        kind=kind, period=period, productions=productions, overrides=overrides, labels=labels
    )


def load_for_settings(
    connection: Connection, kind: StrategyKind, as_of: dt.date
) -> StrategyProductions:
    """The productions over the range the office's current settings give on `as_of`.

    Not enough data is not an error here: the result says why, so the view
    can show it in words and keep working.
    """
    settings = definitions.get_settings(connection).segmentation
    earliest = data.earliest_record_date(connection)
    try:
        period = effective_range(as_of, settings, earliest)
    except InsufficientData as error:
        overrides = tuple(o for o in definitions.list_overrides(connection) if o.kind is kind)
        return StrategyProductions(
            kind=kind,
            period=None,
            overrides=overrides,
            labels=subject_labels(connection, kind, [o.subject_id for o in overrides]),
            settings=settings,
            as_of=as_of,
            earliest_record=earliest,
            insufficient=str(error),
        )
    loaded = load_productions(connection, kind, period)
    return StrategyProductions(
        kind=kind,
        period=period,
        productions=loaded.productions,
        overrides=loaded.overrides,
        labels=loaded.labels,
        settings=settings,
        as_of=as_of,
        earliest_record=earliest,
    )


def subject_labels(
    connection: Connection, kind: StrategyKind, ids: Collection[int]
) -> dict[int, str]:
    """id -> label for some clients or groups (ids that no longer exist are left out)."""
    wanted = sorted(set(ids))
    labels: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for subject in _subjects(connection, kind, chunk_ids=chunk):
            labels[subject.id] = subject.label
    return labels


def find_subjects(
    connection: Connection, kind: StrategyKind, text: str, limit: int = 50
) -> list[Subject]:
    """Clients whose ref or name contains `text` (groups: whose name does), case-insensitively.

    Every character of `text` is literal (`%` and `_` match themselves).
    """
    return _subjects(connection, kind, text=text.strip(), limit=limit)


def _subjects(
    connection: Connection,
    kind: StrategyKind,
    *,
    text: str | None = None,
    chunk_ids: list[int] | None = None,
    limit: int | None = None,
) -> list[Subject]:
    if kind is StrategyKind.INDIVIDUAL:
        query = select(client_t.c.id, client_t.c.ref, client_t.c.name).order_by(
            binary_order(client_t.c.ref)
        )
        if chunk_ids is not None:
            query = query.where(client_t.c.id.in_(chunk_ids))
        if text:
            needle = text.lower()
            query = query.where(
                or_(
                    func.lower(client_t.c.ref).contains(needle, autoescape=True),
                    func.lower(client_t.c.name).contains(needle, autoescape=True),
                )
            )
        if limit is not None:
            query = query.limit(limit)
        return [
            Subject(kind, int(i), f"{ref} · {name}") for i, ref, name in connection.execute(query)
        ]
    query = select(group_t.c.id, group_t.c.name, group_t.c.kind).order_by(
        binary_order(group_t.c.name)
    )
    if chunk_ids is not None:
        query = query.where(group_t.c.id.in_(chunk_ids))
    if text:
        query = query.where(func.lower(group_t.c.name).contains(text.lower(), autoescape=True))
    if limit is not None:
        query = query.limit(limit)
    return [
        Subject(kind, int(i), f"{name} ({group_kind})")
        for i, name, group_kind in connection.execute(query)
    ]


def read_strategy_productions(
    database: Database, kind: StrategyKind, as_of: dt.date
) -> StrategyProductions:
    """load_for_settings in its own read transaction (one consistent snapshot)."""
    with database.read() as connection:
        return load_for_settings(connection, kind, as_of)


def search_subjects(
    database: Database, kind: StrategyKind, text: str, limit: int = 50
) -> list[Subject]:
    """find_subjects in its own read transaction."""
    with database.read() as connection:
        return find_subjects(connection, kind, text, limit)

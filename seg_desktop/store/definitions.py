"""Office settings, tier strategies, rule segments and manual overrides."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, delete, insert, select, update

from seg_desktop.core.engine import Override
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.rules import (
    Criterion,
    MatchMode,
    Operator,
    RuleField,
    SegmentDefinition,
    format_value,
    validate_definition,
)
from seg_desktop.core.tiers import Strategy, StrategyKind, Tier, default_strategy
from seg_desktop.store.database import insert_returning_id
from seg_desktop.store.dialect import binary_order
from seg_desktop.store.errors import StoreError
from seg_desktop.store.records import OfficeSettings as OfficeSettings
from seg_desktop.store.records import SegmentInfo as SegmentInfo
from seg_desktop.store.schema import (
    AutomationRuleRow,
    CriterionRow,
    Segment,
    Setting,
    StrategyRow,
    TierOverride,
    TierRow,
    table_of,
)

setting_t = table_of(Setting)
strategy_t = table_of(StrategyRow)
tier_t = table_of(TierRow)
segment_t = table_of(Segment)
criterion_t = table_of(CriterionRow)
override_t = table_of(TierOverride)
automation_rule_t = table_of(AutomationRuleRow)


EXAMPLE_SEGMENTS = (
    SegmentDefinition(
        "High-Value Clients",
        (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "50000"),),
        description="Total revenue over 50,000",
    ),
    SegmentDefinition(
        "Repeat Customers",
        (Criterion(RuleField.INVOICE_COUNT, Operator.GREATER_THAN, "5"),),
        description="More than five invoices",
    ),
    SegmentDefinition(
        "Active Clients",
        (Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "90 days ago"),),
        description="Invoiced within the last 90 days",
    ),
    SegmentDefinition(
        "Inactive Clients",
        (Criterion(RuleField.LAST_INVOICE_DATE, Operator.GREATER_THAN, "180 days ago"),),
        description="Last invoiced more than 180 days ago",
    ),
    SegmentDefinition(
        "New Clients",
        (Criterion(RuleField.FIRST_INVOICE_DATE, Operator.LESS_THAN, "30 days ago"),),
        description="First invoice within the last 30 days",
    ),
)


# --- settings ---------------------------------------------------------------------------------


PRODUCTION_CHANGED_AT = "production_inputs_changed_at"
"""The `setting` row holding when revenue or the clients and groups last changed."""


def note_production_inputs_changed(connection: Connection, at: dt.datetime) -> None:
    """Remember that what a run computes from (revenue, clients, groups) changed at ``at``."""
    connection.execute(delete(setting_t).where(setting_t.c.key == PRODUCTION_CHANGED_AT))
    connection.execute(
        insert(setting_t).values(key=PRODUCTION_CHANGED_AT, value=at.isoformat(timespec="seconds"))
    )


def production_inputs_changed_at(connection: Connection) -> dt.datetime | None:
    """When revenue, clients or groups last changed (None: not since this was recorded)."""
    value = connection.execute(
        select(setting_t.c.value).where(setting_t.c.key == PRODUCTION_CHANGED_AT)
    ).scalar()
    return dt.datetime.fromisoformat(value) if value else None


def get_settings(connection: Connection) -> OfficeSettings:
    """The office settings (defaults for anything never saved)."""
    values = dict(connection.execute(select(setting_t.c.key, setting_t.c.value)).all())
    defaults = OfficeSettings()
    try:
        return OfficeSettings(
            segmentation=SegmentationSettings(
                max_months=int(values.get("max_months", defaults.segmentation.max_months)),
                buffer_months=int(values.get("buffer_months", defaults.segmentation.buffer_months)),
            ),
            nightly_enabled=values.get("nightly_enabled", "0") == "1",
            nightly_time=dt.time.fromisoformat(values.get("nightly_time", "02:00")),
        )
    except ValueError as error:
        raise StoreError(f"the saved settings are not valid: {error}") from None


def save_settings(connection: Connection, settings: OfficeSettings) -> None:
    """Replace the office settings."""
    values = {
        "max_months": str(settings.segmentation.max_months),
        "buffer_months": str(settings.segmentation.buffer_months),
        "nightly_enabled": "1" if settings.nightly_enabled else "0",
        "nightly_time": settings.nightly_time.strftime("%H:%M"),
    }
    connection.execute(delete(setting_t).where(setting_t.c.key.in_(list(values))))
    connection.execute(insert(setting_t), [{"key": k, "value": v} for k, v in values.items()])


# --- strategies -------------------------------------------------------------------------------


def get_strategies(connection: Connection) -> dict[StrategyKind, Strategy]:
    """Both strategies (a kind never saved gets the default tiers)."""
    active = dict(connection.execute(select(strategy_t.c.kind, strategy_t.c.active)).all())
    tiers: dict[str, list[Tier]] = {}
    for kind, name, lower in connection.execute(
        select(tier_t.c.strategy_kind, tier_t.c.name, tier_t.c.monthly_lower_cents).order_by(
            tier_t.c.strategy_kind, tier_t.c.position
        )
    ):
        tiers.setdefault(kind, []).append(Tier(name, int(lower)))
    result = {}
    for kind in StrategyKind:
        if kind.value in active:
            result[kind] = Strategy(
                kind, tuple(tiers.get(kind.value, ())), bool(active[kind.value])
            )
        else:
            result[kind] = default_strategy(kind)
    return result


def save_strategy(connection: Connection, strategy: Strategy) -> None:
    """Replace a strategy's tiers and Active flag; refuses a strategy that breaks the rules.

    Overrides pinned to a tier that was renamed, and automation rules watching it, follow
    it (matched by position).
    """
    strategy.validate()
    kind = strategy.kind.value
    old_names = [
        name
        for (name,) in connection.execute(
            select(tier_t.c.name).where(tier_t.c.strategy_kind == kind).order_by(tier_t.c.position)
        )
    ]
    connection.execute(delete(tier_t).where(tier_t.c.strategy_kind == kind))
    connection.execute(delete(strategy_t).where(strategy_t.c.kind == kind))
    connection.execute(insert(strategy_t).values(kind=kind, active=strategy.active))
    if strategy.tiers:
        connection.execute(
            insert(tier_t),
            [
                {
                    "strategy_kind": kind,
                    "position": position,
                    "name": tier.name.strip(),
                    "monthly_lower_cents": tier.monthly_lower,
                }
                for position, tier in enumerate(strategy.tiers)
            ],
        )
    new_names = strategy.names
    if len(old_names) == len(new_names):
        for old, new in zip(old_names, new_names, strict=True):
            if old != new and old not in new_names:
                connection.execute(
                    update(override_t)
                    .where(override_t.c.kind == kind, override_t.c.tier_name == old)
                    .values(tier_name=new)
                )
                # Automation rules watching the tier follow it too.
                connection.execute(
                    update(automation_rule_t)
                    .where(
                        automation_rule_t.c.strategy_kind == kind,
                        automation_rule_t.c.tier_name == old,
                    )
                    .values(tier_name=new)
                )


# --- segments ---------------------------------------------------------------------------------


def list_segments(connection: Connection) -> list[SegmentInfo]:
    """Every rule segment, by name."""
    criteria: dict[int, list[Criterion]] = {}
    for segment_id, field_name, operator, value in connection.execute(
        select(
            criterion_t.c.segment_id,
            criterion_t.c.field,
            criterion_t.c.operator,
            criterion_t.c.value,
        ).order_by(criterion_t.c.segment_id, criterion_t.c.position)
    ):
        criteria.setdefault(segment_id, []).append(
            Criterion(RuleField(field_name), Operator(operator), value)
        )
    rows = connection.execute(select(segment_t).order_by(binary_order(segment_t.c.name))).mappings()
    return [
        SegmentInfo(
            id=row["id"],
            definition=SegmentDefinition(
                name=row["name"],
                criteria=tuple(criteria.get(row["id"], ())),
                match=MatchMode(row["match_mode"]),
                description=row["description"] or "",
            ),
            member_count=row["member_count"],
            recomputed_at=row["recomputed_at"],
            recomputed_as_of=row["recomputed_as_of"],
        )
        for row in rows
    ]


def find_segment(connection: Connection, name: str) -> SegmentInfo | None:
    """A segment by its exact name."""
    return next((s for s in list_segments(connection) if s.definition.name == name), None)


def save_segment(
    connection: Connection, definition: SegmentDefinition, segment_id: int | None = None
) -> int:
    """Create (segment_id None) or replace a segment; refuses an invalid definition or a taken name.

    Criteria are stored in canonical form ("90 days ago", "50000"), so the
    definitions file and the window read them back the same.
    """
    parsed = validate_definition(definition)
    name = definition.name.strip()
    clash = connection.execute(select(segment_t.c.id).where(segment_t.c.name == name)).scalar()
    if clash is not None and clash != segment_id:
        raise StoreError(f"a segment named '{name}' already exists")
    values = {
        "name": name,
        "description": definition.description,
        "match_mode": definition.match.value,
    }
    if segment_id is None:
        segment_id = insert_returning_id(connection, insert(segment_t).values(**values))
    else:
        found = connection.execute(
            update(segment_t)
            .where(segment_t.c.id == segment_id)
            .values(**values, member_count=None)
        ).rowcount
        if not found:
            raise StoreError("that segment no longer exists")
        connection.execute(delete(criterion_t).where(criterion_t.c.segment_id == segment_id))
    if parsed:
        connection.execute(
            insert(criterion_t),
            [
                {
                    "segment_id": segment_id,
                    "position": position,
                    "field": criterion.field.value,
                    "operator": criterion.operator.value,
                    "value": format_value(criterion.field, criterion.value),
                }
                for position, criterion in enumerate(parsed)
            ],
        )
    return segment_id


def delete_segment(connection: Connection, segment_id: int) -> None:
    """Delete a segment (its criteria and membership go with it; clients are untouched)."""
    connection.execute(delete(segment_t).where(segment_t.c.id == segment_id))


def office_defaults_missing(connection: Connection) -> bool:
    """Whether `ensure_office_defaults` has anything to add (so opening needs no write)."""
    saved = set(connection.execute(select(strategy_t.c.kind)).scalars())
    if any(kind.value not in saved for kind in StrategyKind):
        return True
    return connection.execute(select(segment_t.c.id).limit(1)).first() is None


def ensure_office_defaults(connection: Connection) -> None:
    """Give a new office its default strategies and example segments (only where none exist)."""
    saved = set(connection.execute(select(strategy_t.c.kind)).scalars())
    for kind in StrategyKind:
        if kind.value not in saved:
            save_strategy(connection, default_strategy(kind))
    if connection.execute(select(segment_t.c.id).limit(1)).first() is None:
        for definition in EXAMPLE_SEGMENTS:
            save_segment(connection, definition)


# --- overrides --------------------------------------------------------------------------------


def list_overrides(connection: Connection) -> list[Override]:
    """Every manual override."""
    rows = connection.execute(
        select(
            override_t.c.kind,
            override_t.c.subject_id,
            override_t.c.tier_name,
            override_t.c.reason,
            override_t.c.until,
        ).order_by(override_t.c.kind, override_t.c.subject_id)
    )
    return [Override(StrategyKind(k), int(s), t, r, u) for k, s, t, r, u in rows]


def set_override(connection: Connection, override: Override) -> None:
    """Pin a client or group to a tier (replacing any earlier pin of it)."""
    strategy = get_strategies(connection)[override.kind]
    if override.tier_name not in strategy.names:
        raise StoreError(f"'{override.tier_name}' is not a tier of {override.kind.label.lower()}")
    if not override.reason.strip():
        raise StoreError("an override needs a reason")
    remove_override(connection, override.kind, override.subject_id)
    connection.execute(
        insert(override_t).values(
            kind=override.kind.value,
            subject_id=override.subject_id,
            tier_name=override.tier_name,
            reason=override.reason.strip(),
            until=override.until,
            created_at=dt.datetime.now().replace(microsecond=0),
        )
    )


def remove_override(connection: Connection, kind: StrategyKind, subject_id: int) -> None:
    """Remove the pin of a client or group, if any."""
    connection.execute(
        delete(override_t).where(
            override_t.c.kind == kind.value, override_t.c.subject_id == subject_id
        )
    )

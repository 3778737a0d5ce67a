"""The database schema as SQLAlchemy 2 typed models.

The models define the tables; the repositories query them with Core
statements and hand out frozen core dataclasses, so no ORM object ever leaves
the store or crosses a thread. Everything here is accepted by both SQLite and
PostgreSQL: money is BIGINT cents, dates are DATE, months are integer keys
(year * 12 + month - 1) so no date arithmetic is needed in SQL.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only aliases the rowid for a column declared exactly INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")

SCHEMA_VERSION = 3
APPLICATION_ID = "seg_desktop"


class Base(DeclarativeBase):
    """The declarative base of every table of an office database."""


class Meta(Base):
    """Key/value facts about the database itself: application, schema version."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Setting(Base):
    """The office settings (segmentation months, buffer months, nightly run)."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Client(Base):
    """A client of the office, matched on imports by its external reference."""

    __tablename__ = "client"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str | None] = mapped_column(String(200))


class ClientTag(Base):
    """One tag of one client."""

    __tablename__ = "client_tag"
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)


class ClientGroup(Base):
    """A family, employer or other group of clients."""

    __tablename__ = "client_group"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="other")


class GroupMember(Base):
    """A client's membership of a group."""

    __tablename__ = "group_member"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("client_group.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    __table_args__ = (Index("ix_group_member_client", "client_id", "group_id"),)


class Revenue(Base):
    """One statement line or invoice."""

    __tablename__ = "revenue"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    month_key: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (
        # Covers the rollup refresh and a client's own statement (no table lookups).
        Index("ix_revenue_client_month", "client_id", "month_key", "amount_cents", "date"),
        Index("ix_revenue_client_reference", "client_id", "reference"),
    )


class ClientMonth(Base):
    """Rollup: a client's revenue per calendar month, kept current on every write."""

    __tablename__ = "client_month"
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    month_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(Integer)
    __table_args__ = ({"sqlite_with_rowid": False},)


class ClientStats(Base):
    """Rollup: the per-client rule fields, kept current on every write."""

    __tablename__ = "client_stats"
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    invoice_count: Mapped[int] = mapped_column(Integer, default=0)
    average_cents: Mapped[int | None] = mapped_column(BigInteger)
    first_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    __table_args__ = (
        Index("ix_client_stats_first_date", "first_date"),
        Index("ix_client_stats_last_date", "last_date"),
        Index("ix_client_stats_total", "total_cents"),
    )


class StrategyRow(Base):
    """A tier strategy (one per kind)."""

    __tablename__ = "strategy"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class TierRow(Base):
    """A tier of a strategy, by position (0 = lowest)."""

    __tablename__ = "tier"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    strategy_kind: Mapped[str] = mapped_column(ForeignKey("strategy.kind", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    monthly_lower_cents: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("strategy_kind", "position"),)


class TierOverride(Base):
    """A client or group pinned to a tier by hand."""

    __tablename__ = "tier_override"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    tier_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("kind", "subject_id"),)


class Segment(Base):
    """A rule segment and its last recomputed membership count."""

    __tablename__ = "segment"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    match_mode: Mapped[str] = mapped_column(String(3), default="all")
    member_count: Mapped[int | None] = mapped_column(Integer)
    recomputed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    recomputed_as_of: Mapped[dt.date | None] = mapped_column(Date)


class CriterionRow(Base):
    """One criterion of a segment, stored as typed (canonical text)."""

    __tablename__ = "criterion"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segment.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(20))
    value: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("segment_id", "position"),)


class SegmentMember(Base):
    """A client in a segment's last recomputed membership."""

    __tablename__ = "segment_member"
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segment.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    __table_args__ = ({"sqlite_with_rowid": False},)


class Run(Base):
    """A saved segmentation run; the one with the highest id is current."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    trigger: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[dt.date] = mapped_column(Date)
    range_start: Mapped[dt.date] = mapped_column(Date)
    range_end: Mapped[dt.date] = mapped_column(Date)
    months: Mapped[int] = mapped_column(Integer)
    clipped: Mapped[bool] = mapped_column(Boolean)
    snapshot: Mapped[str] = mapped_column(Text)
    """JSON: each strategy's kind, tier names and monthly limits (cents) and counts per tier."""


class RunAssignment(Base):
    """A client's or group's production and tier in one run."""

    __tablename__ = "run_assignment"
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    production_cents: Mapped[int] = mapped_column(BigInteger)
    computed_tier: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    tier_name: Mapped[str] = mapped_column(String(200))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = ({"sqlite_with_rowid": False},)


class MembershipEvent(Base):
    """A client entering or leaving a segment or a tier, and why (the membership log).

    Written by the store in the same transaction as the change itself, by
    comparing memberships before and after in SQL. ``subject`` is a segment's
    name, or ``"<strategy kind>:<tier name>"`` for a tier (``individual:Gold``);
    names are copied so the log still reads right after a rename or a delete.
    ``cause`` says why in words: ``run 12: production changed``, ``definition
    of 'Active Clients' changed``, ``revenue imported``, ``manual override``.
    """

    __tablename__ = "membership_event"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    """'segment' or 'tier'."""
    subject: Mapped[str] = mapped_column(String(250))
    entered: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    cause: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_membership_event_client_at", "client_id", "at"),)


# --- automation (schema 3) ----------------------------------------------------------------------


class AutomationRuleRow(Base):
    """An automation rule: when a client enters / leaves / is in a segment or tier, do an action.

    A segment target keeps the segment's id (NULL once the segment is deleted:
    the rule then shows as broken) and a copy of its name; a tier target names
    the strategy kind and the tier. ``params`` holds the action's fields as JSON.
    """

    __tablename__ = "automation_rule"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    trigger: Mapped[str] = mapped_column(String(10))
    target_kind: Mapped[str] = mapped_column(String(10))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segment.id", ondelete="SET NULL"), nullable=True
    )
    segment_name: Mapped[str | None] = mapped_column(String(200))
    strategy_kind: Mapped[str | None] = mapped_column(String(20))
    tier_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    params: Mapped[str] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AutomationMember(Base):
    """A client a rule saw in its segment or tier the last time it was evaluated.

    The row's id identifies that entry: an action is recorded against (rule,
    entry), so it is never taken twice for one entry. AUTOINCREMENT on SQLite so
    an id is never handed out again after its row is deleted (a client leaving).
    """

    __tablename__ = "automation_member"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rule.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    __table_args__ = (
        UniqueConstraint("rule_id", "client_id"),
        {"sqlite_autoincrement": True},
    )


class AutomationActivity(Base):
    """The activity log: an action a rule took for a client, when and why.

    Names are copied so the log reads right after the rule, the client or the
    segment is renamed or deleted. (rule, entry) is unique: one action per entry.
    """

    __tablename__ = "automation_activity"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_rule.id", ondelete="SET NULL"), nullable=True
    )
    rule_name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="SET NULL"), nullable=True
    )
    client_ref: Mapped[str] = mapped_column(String(200))
    client_name: Mapped[str] = mapped_column(String(500))
    trigger: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(250))
    action: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(10))
    """'done' (the action changed something), 'nothing' (the tag was already
    there / not there) or 'no_email' (listed in the batch without an address)."""
    detail: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    cause: Mapped[str] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("rule_id", "entry_id"),
        Index("ix_automation_activity_at", "at"),
        Index("ix_automation_activity_client", "client_id"),
    )


class FollowUpTask(Base):
    """A follow-up task for a client (made by a rule, or by hand when ``rule_id`` is NULL)."""

    __tablename__ = "followup_task"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[dt.date] = mapped_column(Date)
    assignee: Mapped[str] = mapped_column(String(200), default="")
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_rule.id", ondelete="SET NULL"), nullable=True
    )
    rule_name: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (
        Index("ix_followup_task_open_due", "done", "due"),
        Index("ix_followup_task_client", "client_id"),
    )


class EmailBatch(Base):
    """Emails a rule prepared in one evaluation, waiting for the user to review and send."""

    __tablename__ = "email_batch"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_rule.id", ondelete="SET NULL"), nullable=True
    )
    rule_name: Mapped[str] = mapped_column(String(200))
    subject_template: Mapped[str] = mapped_column(Text)
    body_template: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)


class EmailMessageRow(Base):
    """One client's rendered email in a batch, and where it stands.

    ``status``: ``ready`` (not sent yet), ``sent``, ``failed`` (retryable) or
    ``no_email`` (the client has no address: listed, never sent).
    """

    __tablename__ = "email_message"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("email_batch.id", ondelete="CASCADE"))
    client_id: Mapped[int | None] = mapped_column(
        ForeignKey("client.id", ondelete="SET NULL"), nullable=True
    )
    client_ref: Mapped[str] = mapped_column(String(200))
    client_name: Mapped[str] = mapped_column(String(500))
    recipient: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    __table_args__ = (Index("ix_email_message_batch", "batch_id", "id"),)


class EmailSendLog(Base):
    """Every attempt to send a message: when, to whom, and what the server said."""

    __tablename__ = "email_send_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("email_message.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    recipient: Mapped[str] = mapped_column(String(500))
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_email_send_log_message", "message_id"),)


class RuleTag(Base):
    """Marks a client's tag as set by an automation rule (gone with the tag itself)."""

    __tablename__ = "rule_tag"
    client_id: Mapped[int] = mapped_column(Id, primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("automation_rule.id", ondelete="SET NULL"), nullable=True
    )
    rule_name: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[dt.datetime] = mapped_column(DateTime)
    __table_args__ = (
        ForeignKeyConstraint(
            ["client_id", "tag"],
            ["client_tag.client_id", "client_tag.tag"],
            ondelete="CASCADE",
        ),
    )


AUTOMATION_TABLES = (
    "automation_rule",
    "automation_member",
    "automation_activity",
    "followup_task",
    "email_batch",
    "email_message",
    "email_send_log",
    "rule_tag",
)
"""The tables schema 3 added (created in this order by the upgrade from 2)."""


TABLES = Base.metadata.tables


def table_of(model: type[Base]) -> Table:
    """A model's Table, typed as one (the repositories use Core statements on it)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table

"""The office's frozen records: what the store hands out, free of SQL.

Every class here is a plain frozen dataclass (or an error) that crosses
threads and layers safely: the window and the file formats read them without
importing anything that talks to the database.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from seg_desktop.core.automation import ActionKind, AutomationRule, When
from seg_desktop.core.engine import Override, Trigger
from seg_desktop.core.money import Cents, divide_rounded, format_money, format_plain
from seg_desktop.core.movement import RunComparison
from seg_desktop.core.periods import EffectiveRange, SegmentationSettings
from seg_desktop.core.rules import ClientFacts, SegmentDefinition
from seg_desktop.core.tiers import Strategy, StrategyKind, Tier


@dataclass(frozen=True)
class TierCount:
    """A tier of a run's strategy snapshot with how many it held."""

    name: str
    monthly_lower: Cents
    count: int


@dataclass(frozen=True)
class RunSummary:
    """A saved run as the history, the status bar and `run --json` show it."""

    id: int
    created_at: dt.datetime
    trigger: Trigger
    as_of: dt.date
    range: EffectiveRange
    tiers: dict[StrategyKind, list[TierCount]]

    def strategy(self, kind: StrategyKind) -> Strategy | None:
        """The strategy as it was when the run was made (None if it was not active)."""
        if kind not in self.tiers:
            return None
        return Strategy(kind, tuple(Tier(t.name, t.monthly_lower) for t in self.tiers[kind]))

    def to_json(self) -> dict[str, object]:
        """The run as `run --json` prints it."""
        return {
            "run_id": self.id,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "trigger": self.trigger.value,
            "as_of": self.as_of.isoformat(),
            "range_start": self.range.start.isoformat(),
            "range_end": self.range.end.isoformat(),
            "n": self.range.months,
            "clipped": self.range.clipped,
            "strategies": {
                kind.value: {
                    "tiers": [
                        {
                            "name": tier.name,
                            "monthly_lower": _major(tier.monthly_lower),
                            "effective_lower": _major(tier.monthly_lower * self.range.months),
                            "count": tier.count,
                        }
                        for tier in tiers
                    ]
                }
                for kind, tiers in self.tiers.items()
            },
        }


def _major(cents: Cents) -> str:
    return format_plain(cents)


@dataclass(frozen=True)
class AutomationOutcome:
    """What the rules did in one evaluation (or since a point of the activity log)."""

    tasks_created: int = 0
    tags_added: int = 0
    tags_removed: int = 0
    emails_prepared: int = 0
    without_email: int = 0
    unchanged: int = 0
    """Tag actions that found nothing to do (the tag already there, or not there)."""
    batches: tuple[int, ...] = ()
    broken: tuple[str, ...] = field(default=())
    """Names of active rules that could not run."""

    @property
    def actions(self) -> int:
        """How many actions were recorded."""
        return (
            self.tasks_created
            + self.tags_added
            + self.tags_removed
            + self.emails_prepared
            + self.without_email
            + self.unchanged
        )

    @property
    def tags_changed(self) -> bool:
        """Whether a tag was added or removed (segments built on tags need recomputing)."""
        return bool(self.tags_added or self.tags_removed)

    def merged(self, other: AutomationOutcome) -> AutomationOutcome:
        """Both outcomes added up."""
        return AutomationOutcome(
            self.tasks_created + other.tasks_created,
            self.tags_added + other.tags_added,
            self.tags_removed + other.tags_removed,
            self.emails_prepared + other.emails_prepared,
            self.without_email + other.without_email,
            self.unchanged + other.unchanged,
            self.batches + other.batches,
            tuple(dict.fromkeys(self.broken + other.broken)),
        )

    def describe(self) -> str:
        """One line: "2 tasks created, 1 tag added, 3 emails prepared for review (batch 4)"."""

        def count(number: int, one: str, many: str) -> str:
            return f"{number:,} {one if number == 1 else many}"

        parts = []
        if self.tasks_created:
            parts.append(count(self.tasks_created, "task created", "tasks created"))
        if self.tags_added:
            parts.append(count(self.tags_added, "tag added", "tags added"))
        if self.tags_removed:
            parts.append(count(self.tags_removed, "tag removed", "tags removed"))
        if self.emails_prepared or self.without_email:
            batches = ", ".join(str(b) for b in self.batches)
            label = "batch" if len(self.batches) == 1 else "batches"
            text = count(self.emails_prepared, "email prepared", "emails prepared")
            text += f" for review ({label} {batches}; nothing was sent)"
            if self.without_email:
                text += (
                    f", {count(self.without_email, 'client', 'clients')} without an email address"
                )
            parts.append(text)
        if self.unchanged:
            parts.append(count(self.unchanged, "tag already as wanted", "tags already as wanted"))
        if not parts:
            parts.append("nothing to do")
        if self.broken:
            parts.append(f"broken, not run: {', '.join(self.broken)}")
        return ", ".join(parts)


# --- runs compared, reports, the nightly run (the history room) --------------------


def share_bp(part: Cents, whole: Cents) -> int | None:
    """``part`` as basis points of ``whole`` (12.34 % -> 1234); None when ``whole`` <= 0."""
    if whole <= 0:
        return None
    return divide_rounded(part * 10_000, whole)


def format_share(basis_points: int | None) -> str:
    """'12.34 %' for 1234; an en dash when there is no share."""
    if basis_points is None:
        return "–"
    return f"{format_money(basis_points)} %"


@dataclass(frozen=True)
class SubjectLabel:
    """How a client (ref and name) or a group (name) is shown in lists."""

    subject_id: int
    ref: str
    name: str


@dataclass(frozen=True)
class ComparedRuns:
    """Two runs of one strategy compared, with the names of the subjects in the lists."""

    older: RunSummary
    newer: RunSummary
    kind: StrategyKind
    comparison: RunComparison
    labels: dict[int, SubjectLabel] = field(repr=False)

    def label(self, subject_id: int) -> SubjectLabel:
        """A subject's ref and name ("(deleted)" when it no longer exists)."""
        found = self.labels.get(subject_id)
        return found or SubjectLabel(subject_id, "", f"(deleted, id {subject_id})")


@dataclass(frozen=True)
class TierLine:
    """One tier of a report: how many, how much, its share, the average."""

    position: int
    name: str
    monthly_lower: Cents
    effective_lower: Cents
    clients: int
    revenue: Cents
    share: int | None
    """Basis points of the report's total revenue."""
    average: Cents | None
    """Revenue per client, rounded to the cent (None when the tier is empty)."""


@dataclass(frozen=True)
class TierReport:
    """Clients and revenue per tier in a run, for the office or a segment's members."""

    run: RunSummary
    kind: StrategyKind
    scope: str
    """"Whole office" or the segment's name."""
    segment_id: int | None
    lines: tuple[TierLine, ...]
    office_revenue: Cents
    """The whole office's production in the run (a segment's share is of this)."""

    @property
    def clients(self) -> int:
        """How many clients (or groups) the report covers."""
        return sum(line.clients for line in self.lines)

    @property
    def revenue(self) -> Cents:
        """Their production summed."""
        return sum(line.revenue for line in self.lines)

    @property
    def average(self) -> Cents | None:
        """Average production per client."""
        return divide_rounded(self.revenue, self.clients) if self.clients else None

    @property
    def share_of_office(self) -> int | None:
        """The scope's revenue as basis points of the office's."""
        return share_bp(self.revenue, self.office_revenue)


@dataclass(frozen=True)
class RunTierCounts:
    """How many were in each tier (by position) in one run."""

    run_id: int
    created_at: dt.datetime
    as_of: dt.date
    counts: tuple[int, ...]


@dataclass(frozen=True)
class TierTrend:
    """Tier counts over the last runs, oldest first: the data of the trend chart.

    Series are tier positions named as in the newest run (the rule of
    :mod:`seg_desktop.core.movement`).
    """

    tier_names: tuple[str, ...]
    runs: tuple[RunTierCounts, ...]

    def series(self, position: int) -> list[int]:
        """One tier's count in every run, oldest first (0 where a run had no such tier)."""
        return [r.counts[position] if position < len(r.counts) else 0 for r in self.runs]


@dataclass(frozen=True)
class ClientLine:
    """A client in a list: who, its tier and production in the current run, all-time revenue."""

    client_id: int
    ref: str
    name: str
    tier: str | None
    production: Cents | None
    total_revenue: Cents


@dataclass(frozen=True)
class SegmentStats:
    """One segment's column in the side-by-side comparison."""

    segment_id: int
    name: str
    members: int
    revenue: Cents
    """Members' production in the current run."""
    average: Cents | None
    share: int | None
    """``revenue`` as basis points of the office's production."""
    total_revenue: Cents
    """Members' all-time revenue (the ``total_revenue`` rule field, summed)."""
    tier_mix: tuple[int, ...]
    """Members per tier position of the current run (members without a tier are left out)."""
    recomputed_at: dt.datetime | None


@dataclass(frozen=True)
class SegmentComparison:
    """Two or more segments side by side, against the whole office."""

    run: RunSummary | None
    tier_names: tuple[str, ...]
    office_clients: int
    office_revenue: Cents
    office_total_revenue: Cents
    segments: tuple[SegmentStats, ...]


@dataclass(frozen=True)
class SegmentOverlap:
    """Who is in A and B, in A only, in B only (stored memberships), each by ref."""

    a_id: int
    a_name: str
    b_id: int
    b_name: str
    both: tuple[ClientLine, ...]
    only_a: tuple[ClientLine, ...]
    only_b: tuple[ClientLine, ...]

    def list_of(self, key: str) -> tuple[ClientLine, ...]:
        """One of the three lists by its key: "both", "only_a" or "only_b"."""
        return {"both": self.both, "only_a": self.only_a, "only_b": self.only_b}[key]


@dataclass(frozen=True)
class NightlyFailure:
    """A nightly run that failed, kept until the user has seen it."""

    at: dt.datetime
    message: str


@dataclass(frozen=True)
class OfficeSettings:
    """Every office setting: the segmentation range and the nightly run."""

    segmentation: SegmentationSettings = field(default_factory=SegmentationSettings)
    nightly_enabled: bool = False
    nightly_time: dt.time = dt.time(2, 0)


@dataclass(frozen=True)
class TierReportData:
    """A tier report with its trend over the last runs and its top clients (one read)."""

    report: TierReport
    trend: TierTrend
    top: tuple[ClientLine, ...]


@dataclass(frozen=True)
class NightlyState:
    """What the nightly scheduler and the settings page start from (one read)."""

    settings: OfficeSettings
    last_scheduled_run_at: dt.datetime | None
    """When the latest nightly (or scheduler-started command-line) run was saved."""
    failure: NightlyFailure | None
    """The kept failure of a nightly run, until the user dismisses it."""


@dataclass(frozen=True)
class RuleInfo:
    """A saved rule, whether it can run, and how many members it saw last time."""

    id: int
    rule: AutomationRule
    broken: str | None
    """Why the rule cannot run (its segment was deleted, its tier is gone), else None."""
    segment_id: int | None
    watched: int
    """How many clients the rule saw in its segment or tier the last time it ran."""
    updated_at: dt.datetime

    @property
    def state(self) -> str:
        """'broken', 'paused' or 'active', for lists."""
        if self.broken is not None:
            return "broken"
        return "paused" if self.rule.paused else "active"


@dataclass(frozen=True)
class ActivityEntry:
    """One action a rule took for a client."""

    id: int
    at: dt.datetime
    rule_name: str
    client_id: int | None
    client_ref: str
    client_name: str
    when: When
    subject: str
    action: ActionKind
    result: str
    detail: str
    cause: str


@dataclass(frozen=True)
class ActivityMark:
    """The newest activity entry and email batch at one moment (0 when none)."""

    activity_id: int
    batch_id: int


@dataclass(frozen=True)
class FollowUp:
    """A follow-up task as the Tasks view lists it."""

    id: int
    client_id: int
    client_ref: str
    client_name: str
    title: str
    note: str
    due: dt.date
    assignee: str
    done: bool
    done_at: dt.datetime | None
    created_at: dt.datetime
    rule_name: str


@dataclass(frozen=True)
class TaskCounts:
    """Open tasks, and how many of them are due today or overdue (for the status bar)."""

    open: int
    due_today: int
    overdue: int


@dataclass(frozen=True)
class BatchInfo:
    """A prepared batch of emails and how its messages stand."""

    id: int
    created_at: dt.datetime
    rule_name: str
    cause: str
    ready: int
    sent: int
    failed: int
    no_email: int

    @property
    def total(self) -> int:
        """How many clients the batch lists."""
        return self.ready + self.sent + self.failed + self.no_email

    @property
    def sendable(self) -> int:
        """Messages still to send (ready, or failed and retryable)."""
        return self.ready + self.failed


@dataclass(frozen=True)
class EmailMessage:
    """One client's rendered email in a batch."""

    id: int
    batch_id: int
    client_id: int | None
    client_ref: str
    client_name: str
    recipient: str | None
    subject: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: dt.datetime | None

    @property
    def sendable(self) -> bool:
        """Whether Send would send it: ready, or failed before (retry)."""
        return self.status in ("ready", "failed")


@dataclass(frozen=True)
class SendAttempt:
    """One attempt to send one message, as the per-client log shows it."""

    message_id: int
    at: dt.datetime
    recipient: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SegmentInfo:
    """A saved segment: its definition and its last recomputed membership."""

    id: int
    definition: SegmentDefinition
    member_count: int | None
    recomputed_at: dt.datetime | None
    recomputed_as_of: dt.date | None


BACKUP_REASON_LABELS = {
    "daily": "Daily backup",
    "import": "Before an import",
    "migration": "Before a database upgrade",
    "manual": "Taken by hand",
    "restore": "Before a restore",
}
"""Why a backup was taken, in words, by the reason its file name carries."""


@dataclass(frozen=True)
class BackupInfo:
    """One backup file: when and why it was taken, its size and, if checked, whether it is good."""

    path: Path
    taken_at: dt.datetime
    reason: str
    size: int
    sequence: int = 0
    ok: bool | None = None
    """None: not checked since it was taken (it was checked then); False: see `problem`."""
    problem: str | None = None

    @property
    def reason_label(self) -> str:
        """Why it was taken, in words."""
        return BACKUP_REASON_LABELS.get(self.reason, self.reason.replace("-", " ").capitalize())


@dataclass
class CheckReport:
    """The findings of a check and its verdict."""

    target: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    opened: bool = True

    @property
    def ok(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    @property
    def verdict(self) -> str:
        """One line a user can act on."""
        if self.ok:
            return f"OK: {self.target} passed every check."
        if not self.opened:
            return f"NOT CHECKED: {self.problems[0]}"
        return "DAMAGED: " + "; ".join(self.problems)


# --- the clients room: a client, its log, the tier view's data -----------------------


@dataclass(frozen=True)
class GroupMembership:
    """A group the client belongs to."""

    name: str
    kind: str


@dataclass(frozen=True)
class TierHistoryEntry:
    """The client's individual tier in one saved run."""

    run_id: int
    created_at: dt.datetime
    as_of: dt.date
    tier: str
    production: Cents
    overridden: bool
    computed_tier: str | None
    """The engine's own tier when ``overridden`` (a manual pin decided ``tier``)."""


@dataclass(frozen=True)
class ClientDetail:
    """One client as the detail panel shows it."""

    client_id: int
    ref: str
    name: str
    email: str | None
    status: str | None
    tags: tuple[str, ...]
    groups: tuple[GroupMembership, ...]
    revenue_by_month: tuple[tuple[int, Cents], ...]
    """(month key, cents) for every month with a record, oldest first."""
    tier_history: tuple[TierHistoryEntry, ...]
    """Newest run first; runs in which the client had no assignment are left out."""
    segments: tuple[str, ...]
    """The segments whose stored (last recomputed) membership holds the client, by name."""
    facts: ClientFacts
    """The rule fields, for "why in / why out"."""


@dataclass(frozen=True)
class MembershipLogEntry:
    """A client entering or leaving a segment or a tier, and why."""

    at: dt.datetime
    kind: str
    """'segment' or 'tier'."""
    subject: str
    """As stored: a segment's name, or "<strategy kind>:<tier name>"."""
    entered: bool
    cause: str

    @property
    def label(self) -> str:
        """The subject in words: "Segment Active Clients", "Tier Gold"."""
        if self.kind == "tier":
            kind, _, name = self.subject.partition(":")
            if kind == StrategyKind.INDIVIDUAL.value:
                return f"Tier {name}"
            return f"{kind} tier {name}"
        return f"Segment {self.subject}"


class TierChange(NamedTuple):
    """A client's individual tier in the previous run and in the current one."""

    old_tier: str
    new_tier: str
    moved_up: bool


@dataclass(frozen=True)
class Subject:
    """A client or a group as the override dialog and list name it."""

    kind: StrategyKind
    id: int
    label: str
    """"C000123 · Ada Ames" for a client, "Ames family 4 (family)" for a group."""


@dataclass(frozen=True)
class StrategyProductions:
    """Every subject's production for one strategy over one range, and the pins of that strategy.

    `period` is None when there is not enough data to segment; `insufficient`
    then says why (the SPEC's words), and `productions` is empty.
    """

    kind: StrategyKind
    period: EffectiveRange | None
    productions: Mapping[int, Cents] = field(default_factory=dict)
    overrides: tuple[Override, ...] = ()
    labels: Mapping[int, str] = field(default_factory=dict)
    """Labels of the pinned subjects (for the overrides list)."""
    settings: SegmentationSettings | None = None
    """The settings the range was worked out from (None when the caller gave the range)."""
    as_of: dt.date | None = None
    earliest_record: dt.date | None = None
    insufficient: str | None = None

    def pins_on(self, day: dt.date) -> dict[int, str]:
        """subject id -> pinned tier name, for the pins that stand on `day`."""
        return {o.subject_id: o.tier_name for o in self.overrides if o.applies_on(day)}


@dataclass(frozen=True)
class ClientCard:
    """One client as the detail panel shows it: the detail and which tags rules set (one read)."""

    detail: ClientDetail
    set_by_rules: Mapping[str, str] = field(default_factory=dict)
    """Tag -> the name of the rule that set it."""


@dataclass(frozen=True)
class TierViewState:
    """What the tier view compares its draft with (one read).

    The saved strategy and settings, the current run, and when revenue,
    clients or groups last changed: a run older than that no longer matches
    the data.
    """

    strategy: Strategy
    settings: OfficeSettings
    run: RunSummary | None
    inputs_changed_at: dt.datetime | None = None

    @property
    def data_changed_since_run(self) -> bool:
        """Whether revenue, clients or groups changed after the current run was made."""
        run, changed = self.run, self.inputs_changed_at
        return run is not None and changed is not None and changed > run.created_at


# --- the clients table and the export rows it is built from ---------------------------


EXPORT_COLUMNS = (
    "ref",
    "name",
    "email",
    "status",
    "tags",
    "groups",
    "total_revenue",
    "invoice_count",
    "first_invoice_date",
    "last_invoice_date",
    "average_invoice_amount",
    "production",
    "tier",
    "group_tier",
    "computed_tier",
)
"""The column keys of every export, in order: the SPEC's (section 4), then `computed_tier`,
which is empty unless a manual override decided `tier` (then it is the engine's own tier)."""


@dataclass(frozen=True)
class ExportRow:
    """One client's export line; money in cents, dates as dates, empty as None."""

    client_id: int
    ref: str
    name: str
    email: str | None
    status: str | None
    tags: str
    groups: str
    total_revenue: int
    invoice_count: int
    first_invoice_date: dt.date | None
    last_invoice_date: dt.date | None
    average_invoice_amount: int | None
    production: int | None
    tier: str | None
    group_tier: str | None
    computed_tier: str | None = None
    """The engine's own tier where a manual override decided `tier`."""

    def values(self) -> tuple[object, ...]:
        """The values in EXPORT_COLUMNS order."""
        return tuple(getattr(self, key) for key in EXPORT_COLUMNS)


Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DateArray = npt.NDArray[np.datetime64]
_Array = TypeVar("_Array", bound=npt.NDArray[Any])

TEXT_COLUMNS = (
    "ref",
    "name",
    "email",
    "status",
    "tags",
    "groups",
    "tier",
    "group_tier",
    "computed_tier",
)
"""The text columns of a ClientTable (the others are numbers or dates)."""

_ROWS_PER_CHUNK = 5_000

# numpy's datetime64[D] counts days from 1970-01-01; date ordinals count from year 1.
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _frozen(array: _Array) -> _Array:
    # The table is shared between the worker that built it and the GUI thread, and
    # between the model and an export running on the worker: nobody may write to it.
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ClientTable:
    """Every client's export columns (SPEC section 4), one sequence per column, in ref order.

    Money is integer cents (``int64``), dates are ``datetime64[D]`` with ``NaT``
    for "none", and the two money columns that may be empty carry a ``has_*``
    mask. ``value``/``rows`` give the values back as the export writers take
    them: ``str``, ``int`` cents, ``int``, ``datetime.date`` or ``None``.
    """

    run_id: int | None
    """The run whose production and tiers the table shows (None before the first run)."""
    client_id: Int64Array
    ref: tuple[str, ...]
    name: tuple[str, ...]
    email: tuple[str | None, ...]
    status: tuple[str | None, ...]
    tags: tuple[str, ...]
    """';'-joined, sorted."""
    groups: tuple[str, ...]
    """';'-joined, sorted."""
    total_revenue: Int64Array
    invoice_count: Int64Array
    first_invoice_date: DateArray
    last_invoice_date: DateArray
    average_invoice_amount: Int64Array
    has_average_invoice_amount: BoolArray
    production: Int64Array
    has_production: BoolArray
    tier: tuple[str | None, ...]
    group_tier: tuple[str | None, ...]
    computed_tier: tuple[str | None, ...]
    """The engine's own tier where a manual override decided ``tier``; else None."""

    def __len__(self) -> int:
        return len(self.ref)

    @classmethod
    def empty(cls) -> ClientTable:
        """A table with no clients (what the view shows before the first load)."""
        return client_table_from_rows([], None)

    def value(self, key: str, row: int) -> object:
        """One cell as the export writers take it (``key`` is an EXPORT_COLUMNS key)."""
        if key in TEXT_COLUMNS:
            return getattr(self, key)[row]
        if key in ("first_invoice_date", "last_invoice_date"):
            day: dt.date | None = getattr(self, key)[row].item()
            return day
        if key == "average_invoice_amount":
            return (
                int(self.average_invoice_amount[row])
                if self.has_average_invoice_amount[row]
                else None
            )
        if key == "production":
            return int(self.production[row]) if self.has_production[row] else None
        if key in ("total_revenue", "invoice_count"):
            return int(getattr(self, key)[row])
        raise KeyError(key)

    def column_values(self, key: str, rows: Sequence[int] | npt.NDArray[np.intp]) -> list[object]:
        """A whole column for the given rows (in that order), as Python values."""
        order = np.asarray(rows, dtype=np.intp)
        if key in TEXT_COLUMNS:
            texts: tuple[str | None, ...] = getattr(self, key)
            return [texts[row] for row in order.tolist()]
        if key == "average_invoice_amount":
            return _with_missing(
                self.average_invoice_amount, self.has_average_invoice_amount, order
            )
        if key == "production":
            return _with_missing(self.production, self.has_production, order)
        if key in ("total_revenue", "invoice_count", "first_invoice_date", "last_invoice_date"):
            # tolist() turns int64 into int and datetime64[D] into date (NaT into None).
            values: list[object] = getattr(self, key)[order].tolist()
            return values
        raise KeyError(key)

    def rows(
        self,
        order: Sequence[int] | npt.NDArray[np.intp] | None = None,
        keys: Sequence[str] = EXPORT_COLUMNS,
    ) -> Iterator[tuple[object, ...]]:
        """The rows in ``order`` (default: all, in ref order), each a tuple of ``keys`` values.

        Converted a few thousand rows at a time, so an export of every client
        never holds all of them as Python objects at once.
        """
        chosen = np.arange(len(self)) if order is None else np.asarray(order, dtype=np.intp)
        for start in range(0, len(chosen), _ROWS_PER_CHUNK):
            chunk = chosen[start : start + _ROWS_PER_CHUNK]
            yield from zip(*(self.column_values(key, chunk) for key in keys), strict=True)


def _with_missing(
    values: Int64Array, present: BoolArray, order: npt.NDArray[np.intp]
) -> list[object]:
    return [
        value if has else None
        for value, has in zip(values[order].tolist(), present[order].tolist(), strict=True)
    ]


def client_table_from_rows(rows: Sequence[ExportRow], run_id: int | None = None) -> ClientTable:
    """A ClientTable of export rows, kept in the given order (tests and benchmarks build them)."""
    # Statuses, tiers, tag and group lists repeat across thousands of clients; one
    # shared string per distinct value keeps a 250,000-row table small.
    shared: dict[str, str] = {}

    def same(text: str | None) -> str | None:
        return None if text is None else shared.setdefault(text, text)

    def same_text(text: str) -> str:
        return shared.setdefault(text, text)

    def ints(get: Callable[[ExportRow], int | None]) -> tuple[Int64Array, BoolArray]:
        values = [get(row) for row in rows]
        present = np.fromiter((v is not None for v in values), dtype=np.bool_, count=len(rows))
        array = np.fromiter((v or 0 for v in values), dtype=np.int64, count=len(rows))
        return array, present

    def dates(get: Callable[[ExportRow], dt.date | None]) -> DateArray:
        # Through ordinals: numpy converts date objects one by one and five times slower.
        ordinals = np.fromiter(
            ((day.toordinal() if (day := get(row)) is not None else 0) for row in rows),
            dtype=np.int64,
            count=len(rows),
        )
        days = (ordinals - _EPOCH_ORDINAL).astype("datetime64[D]")
        days[ordinals == 0] = np.datetime64("NaT")
        return days

    average, has_average = ints(lambda row: row.average_invoice_amount)
    production, has_production = ints(lambda row: row.production)
    return ClientTable(
        run_id=run_id,
        client_id=_frozen(np.fromiter((r.client_id for r in rows), np.int64, len(rows))),
        ref=tuple(row.ref for row in rows),
        name=tuple(row.name for row in rows),
        email=tuple(row.email for row in rows),
        status=tuple(same(row.status) for row in rows),
        tags=tuple(same_text(row.tags) for row in rows),
        groups=tuple(same_text(row.groups) for row in rows),
        total_revenue=_frozen(np.fromiter((r.total_revenue for r in rows), np.int64, len(rows))),
        invoice_count=_frozen(np.fromiter((r.invoice_count for r in rows), np.int64, len(rows))),
        first_invoice_date=_frozen(dates(lambda row: row.first_invoice_date)),
        last_invoice_date=_frozen(dates(lambda row: row.last_invoice_date)),
        average_invoice_amount=_frozen(average),
        has_average_invoice_amount=_frozen(has_average),
        production=_frozen(production),
        has_production=_frozen(has_production),
        tier=tuple(same(row.tier) for row in rows),
        group_tier=tuple(same(row.group_tier) for row in rows),
        computed_tier=tuple(same(row.computed_tier) for row in rows),
    )


PROGRAM = "seg-desktop"
"""The program a lock owner names."""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a database's writer lock."""

    pid: int
    host: str
    started_at: dt.datetime
    program: str = PROGRAM

    def describe(self, today: dt.date | None = None) -> str:
        """'seg-desktop (pid 1234) on host X since 14:02' (with the date if not today)."""
        day = today or dt.date.today()
        when = (
            f"{self.started_at:%H:%M}"
            if self.started_at.date() == day
            else f"{self.started_at:%Y-%m-%d %H:%M}"
        )
        place = (
            f"on this computer ({self.host})"
            if self.host == socket.gethostname()
            else f"on another computer ({self.host})"
        )
        return f"{self.program} (pid {self.pid}) {place} since {when}"

    def to_json(self) -> str:
        """The owner as written into the lock file."""
        return json.dumps(
            {
                "program": self.program,
                "pid": self.pid,
                "host": self.host,
                "started_at": self.started_at.isoformat(timespec="seconds"),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LockOwner | None:
        """The owner recorded in a lock file, or None if it cannot be read (half-written)."""
        try:
            facts = json.loads(text)
            return cls(
                pid=int(facts["pid"]),
                host=str(facts["host"]),
                started_at=dt.datetime.fromisoformat(str(facts["started_at"])),
                program=str(facts.get("program", PROGRAM)),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class OfficeIdentity:
    """Which office a database file (or a backup of it) is: its id and what tells it apart."""

    office_id: str | None
    """None for an office made before offices had an identity (and not opened since)."""
    created_at: str | None = None
    clients: int | None = None

    def describe(self) -> str:
        """'office 3f2a9c1e, created 2026-11-02 14:03, 1,234 clients' (what is known)."""
        parts = [f"office {self.office_id[:8]}" if self.office_id else "an office with no id"]
        if self.created_at:
            parts.append(f"created {self.created_at.replace('T', ' ')[:16]}")
        if self.clients is not None:
            parts.append(f"{self.clients:,} client{'' if self.clients == 1 else 's'}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Definitions:
    """What a definitions file carries: any part may be absent (None / empty = keep)."""

    settings: OfficeSettings | None = None
    strategies: Sequence[Strategy] = ()
    segments: Sequence[SegmentDefinition] = ()
    extra: dict[str, object] = field(default_factory=dict)
    automations: Sequence[AutomationRule] = ()


@dataclass
class MergeCounts:
    """What a merge did with the rows it was given."""

    rows_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_clients: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class NewClient:
    """A client to insert."""

    ref: str
    name: str
    email: str | None = None
    status: str | None = None
    tags: frozenset[str] = frozenset()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewRevenue:
    """A revenue record to insert, by client id."""

    client_id: int
    date: dt.date
    amount_cents: Cents
    reference: str | None = None

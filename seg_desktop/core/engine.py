"""The segmentation engine: productions and tiers for every client and group.

A plain function (inputs, progress, cancelled) -> result with no I/O of its
own: the store hands it the data and saves what it returns, so a cancel or an
error before the save leaves the previous run current.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from seg_desktop.core.money import Cents
from seg_desktop.core.periods import EffectiveRange, SegmentationSettings, effective_range
from seg_desktop.core.tiers import Strategy, StrategyKind

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]


class RunCancelled(Exception):
    """The user cancelled the run; nothing was saved."""


class Trigger(enum.StrEnum):
    """What started a run."""

    MANUAL = "manual"
    NIGHTLY = "nightly"
    COMMAND_LINE = "command line"


@dataclass(frozen=True)
class Override:
    """A client or group pinned to a tier of a strategy, until a date or for good."""

    kind: StrategyKind
    subject_id: int
    tier_name: str
    reason: str
    until: dt.date | None = None

    def applies_on(self, day: dt.date) -> bool:
        """Whether the pin still stands on a date (the end date itself included)."""
        return self.until is None or day <= self.until


@dataclass(frozen=True)
class RunInputs:
    """What a run needs besides the productions themselves."""

    as_of: dt.date
    settings: SegmentationSettings
    strategies: Sequence[Strategy]
    earliest_record: dt.date | None
    client_ids: Sequence[int]
    group_members: Mapping[int, Sequence[int]]
    overrides: Sequence[Override] = ()


@dataclass(frozen=True)
class Assignment:
    """One client's or group's production and tier in a run."""

    subject_id: int
    production: Cents
    computed_tier: int
    tier: int
    """The tier that counts: the pinned one where an override stands, else the computed one."""
    overridden: bool = False


@dataclass(frozen=True)
class StrategyResult:
    """A strategy's snapshot and its assignments in one run."""

    strategy: Strategy
    assignments: tuple[Assignment, ...]

    def counts(self) -> list[int]:
        """How many subjects are in each tier (effective tiers), lowest first."""
        counts = [0] * len(self.strategy.tiers)
        for assignment in self.assignments:
            counts[assignment.tier] += 1
        return counts


@dataclass(frozen=True)
class RunResult:
    """Everything a run saves."""

    as_of: dt.date
    range: EffectiveRange
    results: tuple[StrategyResult, ...]

    def result_for(self, kind: StrategyKind) -> StrategyResult | None:
        """The result of the strategy of this kind, if it was active."""
        return next((r for r in self.results if r.strategy.kind is kind), None)


def _never() -> bool:
    return False


def _silent(_fraction: float, _message: str) -> None:
    return None


def compute_run(
    inputs: RunInputs,
    load_productions: Callable[[EffectiveRange], Iterable[tuple[int, Cents]]],
    progress: Progress = _silent,
    cancelled: Cancelled = _never,
) -> RunResult:
    """Compute the range, every production and tier for each active strategy.

    `load_productions(range)` yields (client_id, production) for clients with
    revenue inside the range; every other client's production is 0. Raises
    InsufficientData (nothing to segment) or RunCancelled.
    """
    progress(0.0, "Working out the date range")
    for strategy in inputs.strategies:
        strategy.validate()
    period = effective_range(inputs.as_of, inputs.settings, inputs.earliest_record)
    if cancelled():
        raise RunCancelled()

    progress(0.1, "Summing production")
    production: dict[int, Cents] = dict.fromkeys(inputs.client_ids, 0)
    for client_id, amount in load_productions(period):
        production[client_id] = amount
    if cancelled():
        raise RunCancelled()

    pins = {
        (o.kind, o.subject_id): o.tier_name for o in inputs.overrides if o.applies_on(inputs.as_of)
    }
    results = []
    active = [s for s in inputs.strategies if s.active]
    for position, strategy in enumerate(active):
        progress(
            0.4 + 0.5 * position / max(len(active), 1), f"Tiering {strategy.kind.label.lower()}"
        )
        if strategy.kind is StrategyKind.INDIVIDUAL:
            subjects: Iterable[tuple[int, Cents]] = production.items()
        else:
            subjects = (
                (group_id, sum(production.get(member, 0) for member in members))
                for group_id, members in inputs.group_members.items()
            )
        results.append(_assign(strategy, period.months, subjects, pins))
        if cancelled():
            raise RunCancelled()
    progress(0.9, "Tiers assigned")
    return RunResult(as_of=inputs.as_of, range=period, results=tuple(results))


def _assign(
    strategy: Strategy,
    months: int,
    subjects: Iterable[tuple[int, Cents]],
    pins: Mapping[tuple[StrategyKind, int], str],
) -> StrategyResult:
    lowers = strategy.effective_lowers(months)
    index_of_name = {name: index for index, name in enumerate(strategy.names)}
    assignments = []
    bisect_right = bisect.bisect_right
    for subject_id, amount in subjects:
        computed = max(bisect_right(lowers, amount) - 1, 0)
        pinned = pins.get((strategy.kind, subject_id))
        if pinned is not None and pinned in index_of_name:
            assignments.append(
                Assignment(subject_id, amount, computed, index_of_name[pinned], True)
            )
        else:
            assignments.append(Assignment(subject_id, amount, computed, computed))
    return StrategyResult(strategy, tuple(assignments))

"""Which backups to keep: the thinning rule, as a pure function of when each was taken.

The rule keeps, from the backups taken so far:

* the ``recent`` newest ones, whatever their dates (so the backup taken before
  this morning's second import is still there after the third);
* the newest backup of each of the ``daily`` most recent days that have one;
* the newest of each of the ``weekly`` most recent ISO weeks that have one;
* the newest of each of the ``monthly`` most recent calendar months that have one;
* anything dated after ``now`` (a clock that was wrong: too uncertain to judge);
* whatever the caller protects (the newest backup known to be good).

"Most recent days *that have one*", not "the last 7 calendar days": an office
that does not open the program for a month comes back to its 7 latest daily
backups, not to none. The rule is idempotent, so thinning twice deletes no more
than thinning once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RetentionPolicy:
    """How many backups the thinning keeps, per kind of period."""

    recent: int = 3
    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def __post_init__(self) -> None:
        for name in ("recent", "daily", "weekly", "monthly"):
            if getattr(self, name) < 0:
                raise ValueError(f"retention: {name} must not be negative")

    @property
    def most_kept(self) -> int:
        """The most backups the rule can keep (not counting future-dated or protected ones)."""
        return self.recent + self.daily + self.weekly + self.monthly


DEFAULT_POLICY = RetentionPolicy()
"""7 daily, 4 weekly, 12 monthly, and the 3 newest."""


def _day(taken: dt.datetime) -> Hashable:
    return taken.date()


def _week(taken: dt.datetime) -> Hashable:
    year, week, _ = taken.isocalendar()
    return (year, week)


def _month(taken: dt.datetime) -> Hashable:
    return (taken.year, taken.month)


def _newest_per_period(
    newest_first: Sequence[int],
    taken_at: Sequence[dt.datetime],
    period_of: Callable[[dt.datetime], Hashable],
    periods: int,
) -> set[int]:
    kept: set[int] = set()
    seen: set[Hashable] = set()
    for index in newest_first:
        if len(seen) >= periods:
            break
        period = period_of(taken_at[index])
        if period not in seen:
            seen.add(period)
            kept.add(index)
    return kept


def backups_to_keep(
    taken_at: Sequence[dt.datetime],
    now: dt.datetime,
    policy: RetentionPolicy = DEFAULT_POLICY,
    protected: Collection[int] = (),
) -> set[int]:
    """The indices (into ``taken_at``) of the backups to keep; every other one may go.

    ``taken_at`` may hold equal times (two backups within a second): the one
    listed later counts as the newer. ``protected`` indices are always kept.
    """
    future = {index for index, taken in enumerate(taken_at) if taken > now}
    # Newest first; for equal times the later index first, so the order is total.
    newest_first = sorted(
        (index for index in range(len(taken_at)) if index not in future),
        key=lambda index: (taken_at[index], index),
        reverse=True,
    )
    kept = set(newest_first[: policy.recent])
    kept |= _newest_per_period(newest_first, taken_at, _day, policy.daily)
    kept |= _newest_per_period(newest_first, taken_at, _week, policy.weekly)
    kept |= _newest_per_period(newest_first, taken_at, _month, policy.monthly)
    return kept | future | {index for index in protected if 0 <= index < len(taken_at)}

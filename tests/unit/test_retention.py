"""The thinning rule for backups: 3 newest, 7 daily, 4 weekly, 12 monthly, nothing more."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seg_desktop.core.retention import DEFAULT_POLICY, RetentionPolicy, backups_to_keep

NOW = dt.datetime(2026, 11, 24, 18, 0)


def kept_times(taken: list[dt.datetime], **policy: int) -> list[dt.datetime]:
    rule = RetentionPolicy(**policy) if policy else DEFAULT_POLICY
    return sorted(taken[i] for i in backups_to_keep(taken, NOW, rule))


def test_one_backup_a_day_for_a_year_keeps_26_at_most_and_the_right_ones() -> None:
    taken = [dt.datetime(2026, 11, 24, 9, 0) - dt.timedelta(days=d) for d in range(400)]
    kept = kept_times(taken)
    days = {t.date() for t in kept}
    # The 7 most recent days (which also hold the 3 newest backups).
    assert {NOW.date() - dt.timedelta(days=d) for d in range(7)} <= days
    # Weekly: the newest of each of the last 4 ISO weeks; 2026-11-24 is a Tuesday, so the
    # earlier weeks end on Sunday 11-22, 11-15 and 11-08.
    assert {dt.date(2026, 11, 22), dt.date(2026, 11, 15), dt.date(2026, 11, 8)} <= days
    # Monthly: the newest of each of the last 12 months (this one, then Oct 2026 back to
    # Dec 2025): their last days.
    month_ends = {dt.date(2026, m, 1) - dt.timedelta(days=1) for m in range(2, 12)}
    assert month_ends | {dt.date(2025, 12, 31)} <= days
    assert dt.date(2025, 11, 30) not in days  # the 13th month back is not kept
    # 7 daily (11-18..11-24, holding the weekly 11-22), weekly 11-15 and 11-08, and 11
    # month ends: 20 of 400.
    assert len(kept) == 7 + 2 + 11
    print(f"\n[retention] 400 daily backups -> {len(kept)} kept")


def test_many_backups_in_one_day_keep_the_three_newest_and_the_days_newest() -> None:
    taken = [dt.datetime(2026, 11, 24, 8, 0) + dt.timedelta(minutes=10 * i) for i in range(20)]
    kept = kept_times(taken)
    assert kept == taken[-3:]


def test_an_office_away_for_months_keeps_its_last_seven_daily_backups() -> None:
    # Used daily in March, then not at all until now: the 7 latest days are kept, not none.
    taken = [dt.datetime(2026, 3, day, 9) for day in range(1, 32)]
    kept = kept_times(taken)
    assert [t.day for t in kept][-7:] == list(range(25, 32))


def test_backups_dated_in_the_future_are_kept_and_count_for_nothing() -> None:
    future = NOW + dt.timedelta(days=30)  # a clock set wrong once
    taken = [future] + [dt.datetime(2026, 11, 24, 9) - dt.timedelta(days=d) for d in range(10)]
    kept = backups_to_keep(taken, NOW)
    assert 0 in kept
    # The 7 daily ones are still the 7 latest real days.
    assert {1, 2, 3, 4, 5, 6, 7} <= kept


def test_a_protected_backup_is_kept_whatever_its_age() -> None:
    taken = [dt.datetime(2020, 1, 1)] + [NOW - dt.timedelta(days=d) for d in range(1, 500)]
    assert 0 not in backups_to_keep(taken, NOW)
    assert 0 in backups_to_keep(taken, NOW, protected={0})


def test_equal_times_are_told_apart_by_their_order() -> None:
    same = dt.datetime(2026, 11, 24, 9)
    assert backups_to_keep([same] * 5, NOW, RetentionPolicy(1, 1, 1, 1)) == {4}


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="daily"):
        RetentionPolicy(daily=-1)


def test_zero_everywhere_keeps_only_what_is_protected() -> None:
    taken = [NOW - dt.timedelta(days=d) for d in range(5)]
    assert backups_to_keep(taken, NOW, RetentionPolicy(0, 0, 0, 0), protected={3}) == {3}


moments = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=NOW)


@settings(max_examples=300, deadline=None)
@given(st.lists(moments, max_size=120))
def test_the_rule_keeps_the_newest_stays_bounded_and_is_idempotent(
    taken: list[dt.datetime],
) -> None:
    kept = backups_to_keep(taken, NOW)
    assert len(kept) <= DEFAULT_POLICY.most_kept
    if taken:
        newest = max(range(len(taken)), key=lambda i: (taken[i], i))
        assert newest in kept
    # Thinning what was kept keeps all of it: a second thinning deletes nothing.
    survivors = sorted(kept)
    again = backups_to_keep([taken[i] for i in survivors], NOW)
    assert again == set(range(len(survivors)))


@settings(max_examples=200, deadline=None)
@given(st.lists(moments, min_size=1, max_size=80))
def test_every_one_of_the_seven_latest_days_keeps_its_newest_backup(
    taken: list[dt.datetime],
) -> None:
    kept = backups_to_keep(taken, NOW)
    days = sorted({t.date() for t in taken}, reverse=True)[:7]
    for day in days:
        newest = max(
            (i for i, t in enumerate(taken) if t.date() == day), key=lambda i: (taken[i], i)
        )
        assert newest in kept

"""The nightly run's rules: the next due time, the start-up catch-up, the scheduler command."""

from __future__ import annotations

import datetime as dt

import pytest

from seg_desktop.core.nightly import (
    describe_next,
    is_stale,
    next_due,
    plan_at_startup,
    scheduler_command,
)

T2 = dt.time(2, 0)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (at(10, 1, 59, 59), at(10, 2)),  # one second before: today
        (at(10, 2), at(11, 2)),  # exactly at the time: due now, the next is tomorrow
        (at(10, 2, 0, 1), at(11, 2)),
        (at(10, 23, 59), at(11, 2)),
        (dt.datetime(2026, 12, 31, 3), dt.datetime(2027, 1, 1, 2)),  # over a year end
    ],
)
def test_next_due(now: dt.datetime, due: dt.datetime) -> None:
    assert next_due(now, T2) == due


def test_stale_is_strictly_more_than_a_day() -> None:
    assert is_stale(None, at(10, 9))
    assert not is_stale(at(9, 9), at(10, 9))  # exactly a day
    assert is_stale(at(9, 9), at(10, 9, 0, 1))


def test_catch_up_when_the_last_nightly_run_is_more_than_a_day_old() -> None:
    plan = plan_at_startup(at(10, 9), True, T2, at(9, 2))
    assert plan.run_now and plan.next_at == at(11, 2)
    assert "more than a day old" in plan.reason


def test_no_catch_up_when_recent_or_disabled() -> None:
    recent = plan_at_startup(at(10, 9), True, T2, at(10, 2))
    assert not recent.run_now and recent.next_at == at(11, 2)
    off = plan_at_startup(at(10, 9), False, T2, None)
    assert not off.run_now and off.next_at is None


def test_never_run_catches_up() -> None:
    plan = plan_at_startup(at(10, 9), True, T2, None)
    assert plan.run_now
    assert "no scheduled run yet" in plan.reason


def test_catch_up_waits_for_a_scheduled_time_within_the_hour() -> None:
    plan = plan_at_startup(at(10, 1, 30), True, T2, at(8, 2))
    assert not plan.run_now and plan.next_at == at(10, 2)
    just_over = plan_at_startup(at(10, 0, 59), True, T2, at(8, 2))
    assert just_over.run_now


def test_describe_next() -> None:
    assert describe_next(at(10, 1), at(10, 2)) == "Next nightly run: today at 02:00."
    assert describe_next(at(10, 3), at(11, 2)) == "Next nightly run: tomorrow at 02:00."
    assert describe_next(at(10, 3), None) == "Nightly runs are off."


def test_scheduler_command_posix_quotes_paths() -> None:
    command = scheduler_command(
        ["/opt/seg desktop/bin/seg-desktop"], "/home/ann/My Office.db", dt.time(2, 30), "linux"
    )
    assert command.command == (
        "'/opt/seg desktop/bin/seg-desktop' run --db '/home/ann/My Office.db'"
    )
    assert command.scheduler_line == "30 2 * * * " + command.command
    assert command.scheduler_name == "cron"


def test_scheduler_command_windows() -> None:
    command = scheduler_command(
        [r"C:\Program Files\seg\seg-desktop.exe"], r"C:\Users\ann\office.db", T2, "win32"
    )
    assert command.command == (
        r'"C:\Program Files\seg\seg-desktop.exe" run --db C:\Users\ann\office.db'
    )
    assert command.scheduler_line.startswith("schtasks /Create /SC DAILY /ST 02:00 ")
    assert r'/TR "\"C:\Program Files\seg\seg-desktop.exe\" run' in command.scheduler_line

"""The nightly scheduler on a controllable clock, its catch-up, refusals, failures; the settings.

No test waits for real time: the clock is a fake one, and the timer is either
inspected (its interval) or given a few milliseconds to fire.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from seg_desktop.core.engine import Trigger
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.demo import load_demo
from seg_desktop.gui.nightly import RETRY_MS, NightlyScheduler
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.settings_dialog import SettingsDialog
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store import history
from seg_desktop.store.definitions import OfficeSettings
from seg_desktop.store.office import Office

WAIT_MS = 10_000
T2 = dt.time(2, 0)


class FakeClock:
    """A clock the test sets by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute)


def set_nightly(office: Office, enabled: bool = True, time: dt.time = T2) -> None:
    office.save_settings(
        OfficeSettings(SegmentationSettings(), nightly_enabled=enabled, nightly_time=time)
    )


def last_nightly_run_at(office: Office, moment: dt.datetime) -> None:
    """A nightly run saved at ``moment`` (runs stamp the real time; the test moves it)."""
    run = office.run_segmentation(trigger=Trigger.NIGHTLY)
    with office.database.write() as connection:
        connection.execute(
            text("UPDATE run SET created_at = :at WHERE id = :id"), {"at": moment, "id": run.id}
        )


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened = Office.open(tmp_path / "office.db")
    load_demo(opened, clients=40, months=6)
    set_nightly(opened)
    yield opened
    opened.close()


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    opened = OfficeSession(office, runner, preview)
    yield opened
    assert preview.shutdown(WAIT_MS)
    assert runner.shutdown(WAIT_MS)


@pytest.fixture
def schedulers() -> Iterator[list[NightlyScheduler]]:
    """Every scheduler a test makes is stopped at its end (no timer left running)."""
    made: list[NightlyScheduler] = []
    yield made
    for scheduler in made:
        scheduler.stop()
        assert not scheduler.timer.isActive()


def make_scheduler(
    session: OfficeSession,
    clock: FakeClock,
    schedulers: list[NightlyScheduler],
    **kwargs: int,
) -> NightlyScheduler:
    scheduler = NightlyScheduler(session, clock, **kwargs)
    schedulers.append(scheduler)
    return scheduler


def triggers(office: Office) -> list[str]:
    """The triggers of every run, oldest first."""
    return [run.trigger.value for run in reversed(office.runs())]


def test_the_timer_is_armed_for_the_set_time(
    session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 59))
    scheduler = make_scheduler(session, clock, schedulers)
    plan = scheduler.start()
    assert not plan.run_now  # 23 h 59 min since the last nightly run: nothing to catch up
    assert scheduler.next_due() == at(11, 2)
    assert scheduler.timer.isActive()
    assert scheduler.timer.interval() == 60_000  # one minute to go
    assert scheduler.status() == "Next nightly run: today at 02:00."
    clock.now = at(10, 9)  # far from the time: the timer looks at the clock every 5 minutes
    scheduler.reschedule()
    assert scheduler.timer.interval() == 5 * 60_000


def test_the_timer_fires_on_the_controllable_clock(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 59))
    # The timer looks at the clock every 5 ms, so moving the clock is all it takes.
    scheduler = make_scheduler(session, clock, schedulers, max_wait_ms=5)
    scheduler.start()
    with qtbot.assertNotEmitted(scheduler.run_started, wait=30):
        pass  # 01:59: the timer fires, looks, and sleeps again
    assert scheduler.timer.isActive()
    runs_before = len(office.runs())
    clock.now = at(11, 2)
    with qtbot.waitSignal(scheduler.run_finished, timeout=WAIT_MS) as finished:
        pass
    assert finished.args[0].trigger is Trigger.NIGHTLY
    assert len(office.runs()) == runs_before + 1
    assert scheduler.next_due() == at(12, 2)  # tomorrow's
    with qtbot.assertNotEmitted(scheduler.run_started, wait=30):
        pass  # the same night is not run twice
    assert len(office.runs()) == runs_before + 1


def test_check_now_runs_only_when_due(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 0))
    scheduler = make_scheduler(session, clock, schedulers)
    scheduler.start()
    with qtbot.assertNotEmitted(scheduler.run_started):
        scheduler.check_now()
    clock.now = at(11, 2, 0)
    with qtbot.waitSignal(scheduler.run_finished, timeout=WAIT_MS):
        scheduler.check_now()
    assert triggers(office)[-1] == "nightly"


def test_start_up_catches_up_when_the_last_nightly_run_is_over_a_day_old(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(9, 2))
    clock = FakeClock(at(11, 9))
    scheduler = make_scheduler(session, clock, schedulers)
    with qtbot.waitSignal(scheduler.run_finished, timeout=WAIT_MS):
        plan = scheduler.start()
    assert plan.run_now
    assert triggers(office) == ["nightly", "nightly"]
    assert scheduler.next_due() == at(12, 2)


def test_start_up_does_not_catch_up_after_a_recent_run_or_when_off(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(11, 2))
    scheduler = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
    with qtbot.assertNotEmitted(scheduler.run_started, wait=20):
        assert not scheduler.start().run_now
    set_nightly(office, enabled=False)
    off = make_scheduler(session, FakeClock(at(20, 9)), schedulers)
    with qtbot.assertNotEmitted(off.run_started, wait=20):
        assert not off.start().run_now
    assert not off.timer.isActive()
    assert off.next_due() is None
    # Turned on in the settings: the schedule starts (no catch-up outside start-up).
    set_nightly(office, enabled=True, time=dt.time(3, 30))
    with qtbot.assertNotEmitted(off.run_started, wait=20):
        session.strategies_changed.emit()
    assert off.next_due() == at(21, 3, 30)
    assert off.timer.isActive()


def test_a_command_line_run_counts_as_the_scheduled_run(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    run = office.run_segmentation(trigger=Trigger.COMMAND_LINE)  # cron, while closed
    now = run.created_at + dt.timedelta(hours=3)
    scheduler = make_scheduler(session, FakeClock(now), schedulers)
    with qtbot.assertNotEmitted(scheduler.run_started, wait=20):
        assert not scheduler.start().run_now


def test_a_manual_run_during_a_nightly_run_is_refused(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    scheduler = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
    with qtbot.waitSignal(scheduler.run_finished, timeout=WAIT_MS):
        scheduler.start()  # never run before: catches up at once
        assert session.runner.is_busy()
        assert not session.run_segmentation(Trigger.MANUAL)  # refused, not doubled
    assert triggers(office) == ["nightly"]


def test_a_nightly_run_during_a_manual_run_waits_and_runs_once(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 59))
    scheduler = make_scheduler(session, clock, schedulers, retry_ms=5)
    scheduler.start()
    assert session.run_segmentation(Trigger.MANUAL)
    clock.now = at(11, 2)
    scheduler.check_now()  # due, but the runner is busy with the manual run
    assert scheduler.is_owed()
    assert "waits for" in scheduler.status()
    with qtbot.waitSignal(scheduler.run_finished, timeout=WAIT_MS):
        pass  # retried every 5 ms until the manual run was done
    assert triggers(office) == ["nightly", "manual", "nightly"]
    assert not scheduler.is_owed()
    with qtbot.assertNotEmitted(scheduler.run_started, wait=30):
        pass
    assert len(office.runs()) == 3


def test_retry_waits_a_minute_by_default(
    session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    scheduler = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
    assert session.run_segmentation(Trigger.MANUAL)
    scheduler.start()  # catch-up due, runner busy
    assert scheduler.is_owed()
    assert scheduler.timer.interval() == RETRY_MS == 60_000


def test_a_failed_nightly_run_is_kept_and_shown_at_the_next_start(
    qtbot: QtBot, tmp_path: Path, schedulers: list[NightlyScheduler]
) -> None:
    empty = Office.open(tmp_path / "empty.db")  # no revenue: the run cannot segment
    set_nightly(empty)
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(empty, runner, preview)
    notices: list[str] = []
    session.notice.connect(lambda title, _text: notices.append(title))
    try:
        clock = FakeClock(at(11, 2))
        scheduler = make_scheduler(session, clock, schedulers)
        with qtbot.waitSignal(scheduler.failure_noted, timeout=WAIT_MS) as noted:
            scheduler.start()
        failure = noted.args[0]
        assert failure.at == at(11, 2)
        assert "no revenue records" in failure.message
        scheduler.stop()
        # The program closes and opens again: the failure is announced again.
        restarted = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
        with qtbot.waitSignal(restarted.failure_noted, timeout=WAIT_MS) as again:
            restarted.start()  # (and catches up again, failing again)
        assert again.args[0] == failure
        assert restarted.pending_failure() is not None
        with qtbot.waitSignal(session.runner.busy_changed, timeout=WAIT_MS):
            pass  # the catch-up's second failure has been handled
        restarted.dismiss_failure()
        assert restarted.pending_failure() is None
        assert notices  # the session also said why, as for any run
    finally:
        assert preview.shutdown(WAIT_MS)
        assert runner.shutdown(WAIT_MS)
        empty.close()


# --- the settings dialog ---------------------------------------------------------------------


def test_settings_dialog_saves_and_reschedules(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(11, 2))
    clock = FakeClock(at(11, 9))
    scheduler = make_scheduler(session, clock, schedulers)
    scheduler.start()
    dialog = SettingsDialog(
        session, scheduler=scheduler, program=["/opt/seg/bin/seg-desktop"], platform="linux"
    )
    qtbot.addWidget(dialog)
    assert dialog.max_months.value() == 12 and dialog.buffer_months.value() == 1
    assert dialog.nightly_check.isChecked()
    assert dialog.nightly_status.text() == "Next nightly run: tomorrow at 02:00."
    target = office.target
    assert dialog.command_edit.text() == f"/opt/seg/bin/seg-desktop run --db {target}"
    assert dialog.scheduler_edit.text() == f"0 2 * * * /opt/seg/bin/seg-desktop run --db {target}"
    dialog.max_months.setValue(6)
    dialog.buffer_months.setValue(0)
    dialog.nightly_time.setTime(dialog.nightly_time.time().fromString("03:45", "HH:mm"))
    assert dialog.scheduler_edit.text().startswith("45 3 * * * ")
    with qtbot.waitSignal(dialog.saved, timeout=WAIT_MS):
        dialog.buttons.accepted.emit()
    saved = office.settings()
    assert saved == OfficeSettings(SegmentationSettings(6, 0), True, dt.time(3, 45))
    assert scheduler.next_due() == at(12, 3, 45)  # followed through strategies_changed


def test_settings_dialog_copies_the_command_and_shows_a_kept_failure(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    with office.database.write() as connection:
        history.record_nightly_failure(
            connection, history.NightlyFailure(at(11, 2), "Running segmentation failed: disk full")
        )
    dialog = SettingsDialog(session, program=[r"C:\seg\seg-desktop.exe"], platform="win32")
    qtbot.addWidget(dialog)
    assert dialog.scheduler_edit.text().startswith("schtasks /Create /SC DAILY /ST 02:00 ")
    dialog.copy_command_button.click()
    assert QGuiApplication.clipboard().text() == dialog.command_edit.text()
    assert not dialog.failure_label.isHidden()
    assert dialog.failure_label.text() == (
        "The nightly run of 2026-03-11 02:00 failed: Running segmentation failed: disk full"
    )
    dialog.dismiss_button.click()
    assert dialog.failure_label.isHidden()
    with office.database.read() as connection:
        assert history.nightly_failure(connection) is None

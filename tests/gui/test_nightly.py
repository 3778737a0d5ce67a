"""The nightly scheduler and the midnight roll-over on a controllable clock; the settings.

No test waits for real time: the clock is a fake one, and the timer is either
inspected (its interval) or given a few milliseconds to fire. Every office call
the window makes runs on the session's worker (the autouse fixture
``no_office_calls_on_gui_thread`` fails a test otherwise).
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
from seg_desktop.core.nightly import NightlyPlan
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.demo import load_demo
from seg_desktop.gui.nightly import NightlyScheduler
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.settings_dialog import SettingsDialog
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.store.changes import Changes
from seg_desktop.store.data import NewClient, NewRevenue
from seg_desktop.store.errors import StoreError
from seg_desktop.store.office import Office
from seg_desktop.store.records import NightlyFailure, OfficeSettings

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
    run, _changes = office.run_segmentation(trigger=Trigger.NIGHTLY)
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


def start(qtbot: QtBot, scheduler: NightlyScheduler) -> NightlyPlan:
    """Start the scheduler and wait for its plan (the settings are read on the worker)."""
    with qtbot.waitSignal(scheduler.planned, timeout=WAIT_MS) as planned:
        scheduler.start()
    plan = planned.args[0]
    assert isinstance(plan, NightlyPlan)
    return plan


def idle(qtbot: QtBot, session: OfficeSession) -> None:
    qtbot.waitUntil(lambda: not session.runner.is_busy(), timeout=WAIT_MS)


def test_the_timer_is_armed_for_the_set_time(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 59))
    scheduler = make_scheduler(session, clock, schedulers)
    plan = start(qtbot, scheduler)
    assert not plan.run_now  # 23 h 59 min since the last nightly run: nothing to catch up
    assert scheduler.next_due() == at(11, 2)
    assert scheduler.timer.isActive()
    assert scheduler.timer.interval() == 60_000  # one minute to go
    assert scheduler.status() == "Next nightly run: today at 02:00."
    clock.now = at(10, 9)  # far from the time: the timer looks at the clock every 5 minutes
    scheduler.check_now()
    assert scheduler.timer.interval() == 5 * 60_000


def test_the_timer_fires_on_the_controllable_clock(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 59))
    # The timer looks at the clock every 5 ms, so moving the clock is all it takes.
    scheduler = make_scheduler(session, clock, schedulers, max_wait_ms=5)
    start(qtbot, scheduler)
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
    start(qtbot, scheduler)
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
        plan = start(qtbot, scheduler)
    assert plan.run_now
    assert triggers(office) == ["nightly", "nightly"]
    assert scheduler.next_due() == at(12, 2)


def test_start_up_does_not_catch_up_after_a_recent_run_or_when_off(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(11, 2))
    scheduler = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
    with qtbot.assertNotEmitted(scheduler.run_started, wait=20):
        assert not start(qtbot, scheduler).run_now
    set_nightly(office, enabled=False)
    off = make_scheduler(session, FakeClock(at(20, 9)), schedulers)
    with qtbot.assertNotEmitted(off.run_started, wait=20):
        assert not start(qtbot, off).run_now
    assert not off.timer.isActive()
    assert off.next_due() is None
    # Turned on in the settings (saved through the worker, whose Changes every view
    # follows): the schedule starts (no catch-up outside start-up).
    on = OfficeSettings(SegmentationSettings(), nightly_enabled=True, nightly_time=dt.time(3, 30))

    def save(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
        return office.save_settings(on)

    with qtbot.assertNotEmitted(off.run_started, wait=20):
        session.submit("Saving the settings", save)
        qtbot.waitUntil(lambda: off.next_due() == at(21, 3, 30), timeout=WAIT_MS)
    assert off.timer.isActive()


def test_a_command_line_run_counts_as_the_scheduled_run(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    run, _changes = office.run_segmentation(trigger=Trigger.COMMAND_LINE)  # cron, while closed
    now = run.created_at + dt.timedelta(hours=3)
    scheduler = make_scheduler(session, FakeClock(now), schedulers)
    with qtbot.assertNotEmitted(scheduler.run_started, wait=20):
        assert not start(qtbot, scheduler).run_now


def test_a_manual_run_during_a_nightly_run_waits_its_turn(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    scheduler = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
    with qtbot.waitSignal(scheduler.run_started, timeout=WAIT_MS):
        start(qtbot, scheduler)  # never run before: catches up at once
    assert session.runner.is_busy()
    session.run_segmentation(Trigger.MANUAL)  # never refused: queued behind the nightly run
    assert session.runner.waiting_names() == ["Running segmentation"]
    idle(qtbot, session)
    assert triggers(office) == ["nightly", "manual"]  # one after the other, never at once


def test_a_nightly_run_during_a_manual_run_waits_and_runs_once(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(10, 2))
    clock = FakeClock(at(11, 1, 59))
    scheduler = make_scheduler(session, clock, schedulers, max_wait_ms=5)
    start(qtbot, scheduler)
    session.run_segmentation(Trigger.MANUAL)
    clock.now = at(11, 2)
    with qtbot.waitSignal(scheduler.run_finished, timeout=WAIT_MS):
        scheduler.check_now()  # due, while the manual run runs: queued behind it, once
        assert scheduler.is_owed()
        assert "waits for “Running segmentation”" in scheduler.status()
    assert triggers(office) == ["nightly", "manual", "nightly"]
    assert not scheduler.is_owed()
    assert scheduler.status() == "Next nightly run: tomorrow at 02:00."
    with qtbot.assertNotEmitted(scheduler.run_started, wait=30):
        pass  # the timer keeps looking (every 5 ms): the night is served
    assert len(office.runs()) == 3


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
        assert scheduler.pending_failure() == failure
        scheduler.stop()
        # The program closes and opens again: the failure (kept through the worker) is
        # announced again.
        restarted = make_scheduler(session, FakeClock(at(11, 9)), schedulers)
        with qtbot.waitSignal(restarted.failure_noted, timeout=WAIT_MS) as again:
            restarted.start()  # (and catches up again, failing again)
        assert again.args[0] == failure
        idle(qtbot, session)  # the catch-up's second failure has been kept
        assert restarted.pending_failure() is not None
        with qtbot.waitSignal(restarted.status_changed, timeout=WAIT_MS):
            restarted.dismiss_failure()
        assert restarted.pending_failure() is None
        assert empty.nightly_state().failure is None
        # Nobody is there at night to close a message box: the failure is shown in the
        # status bar (failure_noted), not as the session's notice.
        assert notices == []
    finally:
        idle(qtbot, session)
        assert preview.shutdown(WAIT_MS)
        assert runner.shutdown(WAIT_MS)
        empty.close()


# --- the midnight roll-over ------------------------------------------------------------------


def test_segments_with_relative_dates_are_recomputed_at_midnight(
    qtbot: QtBot, tmp_path: Path, schedulers: list[NightlyScheduler]
) -> None:
    """Issue 13: "Segments with relative dates age until someone recomputes"."""
    evening = dt.datetime(2026, 3, 10, 23, 59)
    aging = Office.open(tmp_path / "aging.db", today=lambda: evening.date())
    aging.fill_empty(
        {},
        [NewClient("A1", "Bought on 1 March"), NewClient("B1", "Bought in January")],
        lambda ids: [
            NewRevenue(ids["A1"], dt.date(2026, 3, 1), 10_000),
            NewRevenue(ids["B1"], dt.date(2026, 1, 5), 10_000),
        ],
    )
    recent = SegmentDefinition(
        "Bought in the last 10 days",
        (Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "10 days ago"),),
    )
    segment_id, _changes = aging.save_segment(recent, as_of=evening.date())

    def stored_count() -> int | None:
        return next(s.member_count for s in aging.segments() if s.id == segment_id)

    assert stored_count() == 1  # on 10 March, 1 March is 9 days ago
    clock = FakeClock(evening)
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(aging, runner, preview, today=lambda: clock().date())
    try:
        # Nightly runs are off in this office: the roll-over does not depend on them.
        scheduler = make_scheduler(session, clock, schedulers, max_wait_ms=5)
        assert not start(qtbot, scheduler).run_now
        with qtbot.assertNotEmitted(session.segments_changed, wait=30):
            pass  # 23:59: the timer looks at the clock, and it is still the same day
        assert scheduler.midnight.timer.isActive()
        clock.now = dt.datetime(2026, 3, 11, 0, 0, 30)
        with qtbot.waitSignal(session.segments_changed, timeout=WAIT_MS):
            pass  # past midnight: the worker brings the segments up to 11 March
        assert stored_count() == 0  # 1 March is now 10 days ago: aged out
        assert [s.recomputed_as_of for s in aging.segments()] == [dt.date(2026, 3, 11)] * len(
            aging.segments()
        )
        with qtbot.assertNotEmitted(scheduler.midnight.rolled_over, wait=30):
            pass  # once a day
        scheduler.stop()
        assert not scheduler.midnight.timer.isActive()
    finally:
        idle(qtbot, session)
        assert preview.shutdown(WAIT_MS)
        assert runner.shutdown(WAIT_MS)
        aging.close()


# --- the settings dialog ---------------------------------------------------------------------


def test_settings_dialog_saves_and_reschedules(
    qtbot: QtBot, session: OfficeSession, office: Office, schedulers: list[NightlyScheduler]
) -> None:
    last_nightly_run_at(office, at(11, 2))
    clock = FakeClock(at(11, 9))
    scheduler = make_scheduler(session, clock, schedulers)
    start(qtbot, scheduler)
    dialog = SettingsDialog(
        session, scheduler=scheduler, program=["/opt/seg/bin/seg-desktop"], platform="linux"
    )
    qtbot.addWidget(dialog)
    assert not dialog.max_months.isEnabled()  # until the settings are read on the worker
    with qtbot.waitSignal(dialog.loaded, timeout=WAIT_MS):
        pass
    assert dialog.max_months.isEnabled()
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
    # The scheduler follows the settings from the write's Changes.
    qtbot.waitUntil(lambda: scheduler.next_due() == at(12, 3, 45), timeout=WAIT_MS)


def test_settings_dialog_copies_the_command_and_shows_a_kept_failure(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    office.record_nightly_failure(
        NightlyFailure(at(11, 2), "Running segmentation failed: disk full")
    )
    dialog = SettingsDialog(session, program=[r"C:\seg\seg-desktop.exe"], platform="win32")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=WAIT_MS):
        pass
    assert dialog.scheduler_edit.text().startswith("schtasks /Create /SC DAILY /ST 02:00 ")
    dialog.copy_command_button.click()
    assert QGuiApplication.clipboard().text() == dialog.command_edit.text()
    assert not dialog.failure_label.isHidden()
    assert dialog.failure_label.text() == (
        "The nightly run of 2026-03-11 02:00 failed: Running segmentation failed: disk full"
    )
    dialog.dismiss_button.click()  # through the worker
    qtbot.waitUntil(dialog.failure_label.isHidden, timeout=WAIT_MS)
    assert office.nightly_state().failure is None


def test_settings_that_cannot_be_saved_say_so_in_the_dialog(
    qtbot: QtBot, session: OfficeSession, office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[str] = []
    session.error.connect(lambda what, _error, _trace: errors.append(what))
    dialog = SettingsDialog(session, program=["seg-desktop"], platform="linux")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=WAIT_MS):
        dialog.show()

    def busy(_settings: OfficeSettings) -> Changes:
        raise StoreError("another program is writing to the office")

    monkeypatch.setattr(office, "save_settings", busy)
    dialog.max_months.setValue(6)
    with qtbot.assertNotEmitted(dialog.saved, wait=50):
        dialog.buttons.accepted.emit()
        qtbot.waitUntil(lambda: dialog.error_label.text().startswith("Not saved"), timeout=WAIT_MS)
    assert "another program is writing" in dialog.error_label.text()
    assert "Nothing was changed" in dialog.error_label.text()
    assert dialog.isVisible() and dialog.buttons.isEnabled()  # the user can try again
    assert errors == []  # shown where the user acted, not in the window's error dialog
    assert office.nightly_state().settings.segmentation.max_months == 12

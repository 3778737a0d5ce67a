"""The nightly run and the midnight roll-over while the program is open: timers on a clock.

:class:`NightlyScheduler` follows the rules of :mod:`seg_desktop.core.nightly`:
at :meth:`~NightlyScheduler.start` it catches up when the last scheduled run
is more than a day old, then runs Run Segmentation (trigger *nightly*) once a
day at the set time. The run is queued on the session's one office worker
(``session.run_segmentation``): it never runs at the same time as a manual
run or an import, it waits its turn behind them, and the worker never refuses
it, so one request per night is all it takes.

A failed nightly run is announced with ``failure_noted`` and written to the
office through the worker (``Office.record_nightly_failure``), so it survives
the program being closed; at the next start the kept failure is announced
again until the user dismisses it.

:class:`MidnightRollOver` (owned and started by the scheduler) asks the
session to bring segments with relative dates ("within the last 90 days") up
to the new day when the clock passes midnight (SPEC section 3a, "Always
current"); the window itself rolls over once when it opens.

The clock is a callable returning a naive local ``datetime`` (tests pass a
fake one). The timers never wait longer than ``max_wait_ms`` before looking
at the clock again, so a suspended computer or a changed clock is noticed.
Every office read and write goes through the session's worker.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from seg_desktop.core.engine import Trigger
from seg_desktop.core.nightly import describe_next, next_due, plan_at_startup
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import NightlyFailure, NightlyState, RunSummary

__all__ = ["MAX_WAIT_MS", "Clock", "MidnightRollOver", "NightlyScheduler"]

_log = logging.getLogger(__name__)

MAX_WAIT_MS = 5 * 60_000
"""The longest a timer sleeps before it looks at the clock again."""

Clock = Callable[[], dt.datetime]

RUN_TASK_NAME = "Running segmentation"
"""The worker's name for a run (``OfficeSession.run_segmentation``)."""


def _wait_ms(now: dt.datetime, until: dt.datetime, longest: int) -> int:
    """Milliseconds from ``now`` to ``until``, between 0 and ``longest``."""
    wait = (until - now).total_seconds() * 1000
    return int(min(max(wait, 0), longest))


class MidnightRollOver(QObject):
    """At midnight, by the clock, asks the session to bring relative dates up to the new day.

    ``rolled_over(date)`` is emitted when the roll-over for a new day was
    queued on the worker (the session broadcasts the recomputed segments).
    """

    rolled_over = Signal(object)

    def __init__(
        self,
        session: OfficeSession,
        clock: Clock = dt.datetime.now,
        parent: QObject | None = None,
        *,
        max_wait_ms: int = MAX_WAIT_MS,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._clock = clock
        self._max_wait_ms = max_wait_ms
        self._day: dt.date | None = None
        self.timer = QTimer(self)
        self.timer.setObjectName("midnight_timer")
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.check_now)

    def start(self) -> None:
        """Watch the clock from today on (the window rolled over once when it opened)."""
        self._day = self._clock().date()
        self._arm()

    def stop(self) -> None:
        """Stop watching (at close)."""
        self._day = None
        self.timer.stop()

    def check_now(self) -> None:
        """Look at the clock: a new day queues the roll-over. The timer calls this."""
        if self._day is None:
            return
        today = self._clock().date()
        if today != self._day:
            self._day = today
            _log.info("A new day (%s): bringing segments up to it", today.isoformat())
            self._session.roll_over()
            self.rolled_over.emit(today)
        self._arm()

    def _arm(self) -> None:
        assert self._day is not None
        midnight = dt.datetime.combine(self._day + dt.timedelta(days=1), dt.time(0, 0))
        self.timer.start(_wait_ms(self._clock(), midnight, self._max_wait_ms))


class NightlyScheduler(QObject):
    """Runs segmentation every night at the set time while the window is open.

    Signals:

    * ``planned(plan)`` — the start-up plan, once the settings were read (a NightlyPlan);
    * ``run_started()`` — a nightly run was queued on the worker;
    * ``run_finished(summary)`` — it was saved (a RunSummary);
    * ``failure_noted(failure)`` — a nightly run failed, now or before the
      program last closed, and the user has not dismissed it (a NightlyFailure);
    * ``status_changed(text)`` — what the scheduler will do next, in words
      (also emitted when the kept failure was dismissed).
    """

    planned = Signal(object)
    run_started = Signal()
    run_finished = Signal(object)
    failure_noted = Signal(object)
    status_changed = Signal(str)

    def __init__(
        self,
        session: OfficeSession,
        clock: Clock = dt.datetime.now,
        parent: QObject | None = None,
        *,
        max_wait_ms: int = MAX_WAIT_MS,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._clock = clock
        self._max_wait_ms = max_wait_ms
        self._enabled = False
        self._time_of_day = dt.time(2, 0)
        self._next_at: dt.datetime | None = None
        self._runs_queued = 0  # our runs waiting on the worker or running
        self._started = False
        self._planned = False  # the start-up plan was made (settings changes are followed after)
        self._failure: NightlyFailure | None = None
        self._status = "Nightly runs are off."
        self.timer = QTimer(self)
        self.timer.setObjectName("nightly_timer")
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.check_now)
        self.midnight = MidnightRollOver(session, clock, self, max_wait_ms=max_wait_ms)
        session.changed.connect(self._office_changed)
        session.runner.cancelled.connect(self._run_cancelled)

    # --- public API -------------------------------------------------------------------------

    def start(self) -> None:
        """Read the settings on the worker; then announce a kept failure, catch up, arm the timer.

        ``planned(plan)`` says what was decided. The midnight roll-over starts at once.
        """
        self._started = True
        self._planned = False
        self.midnight.start()
        self._read_state(self._plan, "nightly-plan")

    def stop(self) -> None:
        """Stop the timers (at close); a run already queued is left to the worker."""
        self._started = False
        self.timer.stop()
        self.midnight.stop()

    def reschedule(self) -> None:
        """Settings changed: follow the new time or on/off (no catch-up; that is at start-up)."""
        # Before the plan is made, its read is still to come (the worker runs in order)
        # and will see the new settings.
        if self._started and self._planned:
            self._read_state(self._follow, "nightly-follow")

    def next_due(self) -> dt.datetime | None:
        """When the next nightly run is due (None when nightly runs are off)."""
        return self._next_at

    def is_owed(self) -> bool:
        """Whether a nightly run waits on the worker (or runs) and has not finished yet."""
        return self._runs_queued > 0

    def status(self) -> str:
        """What the scheduler will do next, in words."""
        return self._status

    def check_now(self) -> None:
        """Look at the clock: queue the run if due, else sleep again. The timer calls this."""
        if not self._started:
            return
        due = self._next_at is not None and self._clock() >= self._next_at
        if self._enabled and due:
            self._run()
        else:
            self._arm()

    def pending_failure(self) -> NightlyFailure | None:
        """The kept failure of a nightly run, as last read or noted (None once dismissed)."""
        return self._failure

    def dismiss_failure(self) -> None:
        """Forget the kept failure (the user has read it), through the worker."""
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return office.dismiss_nightly_failure()

        self._session.submit("Dismissing the nightly run's failure", work)

    # --- internals ------------------------------------------------------------------------

    def _read_state(self, then: Callable[[NightlyState], None], key: str) -> None:
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> NightlyState:
            return office.nightly_state()

        self._session.submit(
            "Reading the nightly run's settings", work, then, background=True, key=key
        )

    def _plan(self, state: NightlyState) -> None:
        if not self._started:
            return
        self._planned = True
        self._enabled = state.settings.nightly_enabled
        self._time_of_day = state.settings.nightly_time
        self._failure = state.failure
        if state.failure is not None:
            self.failure_noted.emit(state.failure)
        plan = plan_at_startup(
            self._clock(), self._enabled, self._time_of_day, state.last_scheduled_run_at
        )
        _log.info("Nightly run at start-up: %s", plan.reason)
        self._next_at = plan.next_at
        self.planned.emit(plan)
        if plan.run_now:
            self._run()
        else:
            self._arm()

    def _follow(self, state: NightlyState) -> None:
        if not self._started:
            return
        settings = state.settings
        changed = (settings.nightly_enabled, settings.nightly_time) != (
            self._enabled,
            self._time_of_day,
        )
        self._enabled = settings.nightly_enabled
        self._time_of_day = settings.nightly_time
        if not self._enabled:
            self._next_at = None
        elif changed or self._next_at is None:
            self._next_at = next_due(self._clock(), self._time_of_day)
        dismissed = self._failure is not None and state.failure is None
        self._failure = state.failure
        self._arm()
        if dismissed:
            self.status_changed.emit(self._status)

    def _office_changed(self, changes: Changes) -> None:
        if changes.touches(Area.SETTINGS):
            self.reschedule()

    def _run(self) -> None:
        if not self._enabled:
            self._arm()
            return
        # The night is served: the next one is tomorrow's (strictly after now).
        self._next_at = next_due(self._clock(), self._time_of_day)
        busy = self._session.runner.current_name()
        self._runs_queued += 1
        self._session.run_segmentation(
            Trigger.NIGHTLY, on_done=self._run_done, on_error=self._run_failed
        )
        self.run_started.emit()
        self._arm()
        if busy is not None:
            self._set_status(f"The nightly run waits for “{busy}” to finish.")

    def _arm(self) -> None:
        self.timer.stop()
        if not self._started or not self._enabled or self._next_at is None:
            self._set_status("Nightly runs are off.")
            return
        now = self._clock()
        self.timer.start(_wait_ms(now, self._next_at, self._max_wait_ms))
        self._set_status(describe_next(now, self._next_at))

    def _set_status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.status_changed.emit(text)

    def _run_done(self, summary: RunSummary) -> None:
        self._runs_queued = max(self._runs_queued - 1, 0)
        self.run_finished.emit(summary)
        self._arm()

    def _run_cancelled(self, name: str) -> None:
        # The user stopped a run (ours, or a manual one: the worker does not say which):
        # nothing to report; ours cannot outnumber the runs still waiting. Start-up
        # catches a cancelled night up.
        if self._runs_queued and name == RUN_TASK_NAME:
            waiting = self._session.runner.waiting_names().count(RUN_TASK_NAME)
            self._runs_queued = min(self._runs_queued, waiting)
            self._arm()

    def _run_failed(self, error: BaseException, _trace: str) -> None:
        self._runs_queued = max(self._runs_queued - 1, 0)
        failure = NightlyFailure(
            self._clock().replace(microsecond=0), f"{RUN_TASK_NAME} failed: {error}"
        )
        self._failure = failure
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return office.record_nightly_failure(failure)

        def not_kept(error: BaseException, _trace: str) -> None:
            # The office cannot be written (the very reason the run failed, perhaps):
            # the failure is still announced now, it just will not survive a restart.
            _log.error("Could not keep the nightly run's failure: %s", error)

        self._session.submit("Keeping the nightly run's failure", work, on_error=not_kept)
        self.failure_noted.emit(failure)
        self._arm()

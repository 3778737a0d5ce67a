"""The nightly run while the program is open: a timer on an injectable clock.

:class:`NightlyScheduler` follows the rules of :mod:`seg_desktop.core.nightly`:
at :meth:`~NightlyScheduler.start` it catches up when the last scheduled run
is more than a day old, then runs Run Segmentation (trigger *nightly*) once a
day at the set time. The run goes through ``session.run_segmentation`` and so
through the session's one task runner: it can never run at the same time as
a manual run. When the runner is busy the scheduler tries again a minute
later, as often as needed, and never starts a second run for the same night.

A failed nightly run is written to the office (``setting`` key
``nightly_last_error``) before anything else, so it survives the program being
closed, and announced with ``failure_noted``; at the next start the stored
failure is announced again until the user dismisses it.

The clock is a callable returning a naive local ``datetime`` (tests pass a
fake one). The timer never waits longer than ``max_wait_ms`` before looking
at the clock again, so a suspended computer or a changed clock is noticed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from seg_desktop.core.engine import Trigger
from seg_desktop.core.nightly import NightlyPlan, describe_next, next_due, plan_at_startup
from seg_desktop.gui.session import OfficeSession
from seg_desktop.store import history
from seg_desktop.store.database import StoreError
from seg_desktop.store.history import NightlyFailure

__all__ = ["MAX_WAIT_MS", "RETRY_MS", "NightlyScheduler"]

_log = logging.getLogger(__name__)

RETRY_MS = 60_000
"""How long to wait before trying again when the runner is busy."""
MAX_WAIT_MS = 5 * 60_000
"""The longest the timer sleeps before it looks at the clock again."""

Clock = Callable[[], dt.datetime]


class NightlyScheduler(QObject):
    """Runs segmentation every night at the set time while the window is open.

    Signals:

    * ``run_started()`` — a nightly run was handed to the runner;
    * ``run_finished(summary)`` — it was saved (a RunSummary);
    * ``failure_noted(failure)`` — a nightly run failed, now or before the
      program last closed, and the user has not dismissed it (a NightlyFailure);
    * ``status_changed(text)`` — what the scheduler will do next, in words.
    """

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
        retry_ms: int = RETRY_MS,
        max_wait_ms: int = MAX_WAIT_MS,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._clock = clock
        self._retry_ms = retry_ms
        self._max_wait_ms = max_wait_ms
        self._enabled = False
        self._time_of_day = dt.time(2, 0)
        self._next_at: dt.datetime | None = None
        self._owed = False  # a run is due and waits for the runner
        self._awaiting_outcome = False  # the runner's current task is our run
        self._started = False
        self._status = "Nightly runs are off."
        self.timer = QTimer(self)
        self.timer.setObjectName("nightly_timer")
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.check_now)
        runner = session.runner
        runner.finished.connect(self._runner_finished)
        runner.failed.connect(self._runner_failed)
        runner.cancelled.connect(self._runner_cancelled)
        session.strategies_changed.connect(self.reschedule)

    # --- public API -------------------------------------------------------------------------

    def start(self) -> NightlyPlan:
        """Read the settings, announce a kept failure, catch up if needed, arm the timer."""
        self._started = True
        office = self._session.office
        settings = office.settings()
        self._enabled = settings.nightly_enabled
        self._time_of_day = settings.nightly_time
        with office.database.read() as connection:
            last = history.last_scheduled_run_at(connection)
            kept = history.nightly_failure(connection)
        if kept is not None:
            self.failure_noted.emit(kept)
        now = self._clock()
        plan = plan_at_startup(now, self._enabled, self._time_of_day, last)
        _log.info("Nightly run at start-up: %s", plan.reason)
        self._next_at = plan.next_at
        if plan.run_now:
            self._owed = True
            self._try_run()
        else:
            self._arm()
        return plan

    def stop(self) -> None:
        """Stop the timer (at close); a run already started is left to the runner."""
        self._started = False
        self._owed = False
        self.timer.stop()

    def reschedule(self) -> None:
        """Settings changed: follow the new time or on/off (no catch-up; that is at start-up)."""
        if not self._started:
            return
        settings = self._session.office.settings()
        changed = (settings.nightly_enabled, settings.nightly_time) != (
            self._enabled,
            self._time_of_day,
        )
        self._enabled = settings.nightly_enabled
        self._time_of_day = settings.nightly_time
        if not self._enabled:
            self._owed = False
            self._next_at = None
        elif changed or self._next_at is None:
            self._next_at = next_due(self._clock(), self._time_of_day)
        self._arm()

    def next_due(self) -> dt.datetime | None:
        """When the next nightly run is due (None when nightly runs are off)."""
        return self._next_at

    def is_owed(self) -> bool:
        """Whether a due run waits for the runner to be free."""
        return self._owed

    def status(self) -> str:
        """What the scheduler will do next, in words."""
        return self._status

    def check_now(self) -> None:
        """Look at the clock: run if due (or owed), else sleep again. The timer calls this."""
        if not self._started:
            return
        due = self._next_at is not None and self._clock() >= self._next_at
        if not self._owed and self._enabled and due:
            self._owed = True
        if self._owed:
            self._try_run()
        else:
            self._arm()

    def pending_failure(self) -> NightlyFailure | None:
        """The kept failure of a nightly run, if the user has not dismissed it."""
        with self._session.office.database.read() as connection:
            return history.nightly_failure(connection)

    def dismiss_failure(self) -> None:
        """Forget the kept failure (the user has read it); StoreError if the office is busy."""
        with self._session.office.database.write() as connection:
            history.clear_nightly_failure(connection)

    # --- internals ------------------------------------------------------------------------

    def _try_run(self) -> None:
        if not self._enabled:
            self._owed = False
            self._arm()
            return
        if self._session.run_segmentation(Trigger.NIGHTLY):
            self._owed = False
            self._awaiting_outcome = True
            # The night is served: the next one is tomorrow's (strictly after now).
            self._next_at = next_due(self._clock(), self._time_of_day)
            self.run_started.emit()
            self._arm()
            return
        # Busy (a manual run, an import): never a second run at once; try again soon.
        busy = self._session.runner.current_name() or "another task"
        self._set_status(f"The nightly run waits for “{busy}” to finish; trying again in a minute.")
        self.timer.start(self._retry_ms)

    def _arm(self) -> None:
        self.timer.stop()
        if not self._started or not self._enabled or self._next_at is None:
            self._set_status("Nightly runs are off.")
            return
        wait_ms = (self._next_at - self._clock()).total_seconds() * 1000
        self.timer.start(int(min(max(wait_ms, 0), self._max_wait_ms)))
        self._set_status(describe_next(self._clock(), self._next_at))

    def _set_status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.status_changed.emit(text)

    def _runner_finished(self, _name: str, result: object) -> None:
        if not self._awaiting_outcome:
            return
        self._awaiting_outcome = False
        self.run_finished.emit(result)

    def _runner_failed(self, name: str, error: BaseException, _trace: str) -> None:
        if not self._awaiting_outcome:
            return
        self._awaiting_outcome = False
        failure = NightlyFailure(self._clock().replace(microsecond=0), f"{name} failed: {error}")
        try:
            with self._session.office.database.write() as connection:
                history.record_nightly_failure(connection, failure)
        except StoreError:
            # The office cannot be written (the very reason the run failed, perhaps):
            # the failure is still announced now, it just will not survive a restart.
            _log.exception("Could not keep the nightly run's failure")
        self.failure_noted.emit(failure)

    def _runner_cancelled(self, _name: str) -> None:
        if self._awaiting_outcome:
            # The user stopped it on purpose: nothing to report; start-up catches up.
            self._awaiting_outcome = False

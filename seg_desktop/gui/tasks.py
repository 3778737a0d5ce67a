"""Run long work off the GUI thread: one task at a time, with progress, cancel and errors.

Long work (segmentation, import, export, recomputing segments) is a plain function
written without Qt::

    def work(progress: ProgressFn, cancelled: CancelledFn) -> Result:
        for i, chunk in enumerate(chunks):
            if cancelled():
                raise TaskCancelled
            ...
            progress(i / len(chunks), "Computing tiers")
        return result

A :class:`TaskRunner` runs it on a worker ``QThread`` and reports back with signals that
are always delivered on the GUI thread, in the style of Orange3's
``ConcurrentWidgetMixin`` and Anki's ``TaskManager``. It never refuses work: a task
submitted while another runs waits its turn, in order (a waiting task with the same
``key`` is replaced by the newer one: a view's reload needs only its latest request).
:class:`LatestOnlyRunner` is the variant for live previews, where only the newest
request matters.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

__all__ = [
    "CancelledFn",
    "ErrorCallback",
    "LatestOnlyRunner",
    "ProgressFn",
    "TaskCancelled",
    "TaskFn",
    "TaskRunner",
]

_log = logging.getLogger(__name__)

T = TypeVar("T")

ProgressFn = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction of the work done (0..1) and a short message."""

CancelledFn = Callable[[], bool]
"""``cancelled()``: True once the user asked to stop; the task should then raise."""

TaskFn = Callable[[ProgressFn, CancelledFn], T]
"""A long-running function: ``fn(progress, cancelled) -> result``."""

ErrorCallback = Callable[[BaseException, str], None]

DEFAULT_PROGRESS_INTERVAL_MS = 33
"""Minimum time between two ``progress`` signals (about 30 a second)."""


class TaskCancelled(Exception):
    """Raised by a task function to stop early after it saw ``cancelled()`` return True.

    Code outside ``gui`` (which must not import Qt) may define its own exception for this
    and list it in the runner's ``cancel_exceptions``.
    """


@dataclass(eq=False)
class _Job:
    """One submission: the function, its callbacks and its cancel flag."""

    task_id: int
    name: str
    fn: Callable[[ProgressFn, CancelledFn], Any]
    on_done: Callable[[Any], None] | None
    on_error: ErrorCallback | None
    background: bool = False
    key: str | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)


class _ProgressMailbox:
    """The newest progress report of the running task, handed from worker to GUI thread.

    The worker only overwrites the slot and pings the GUI thread when the slot was empty,
    so a task calling ``progress()`` a million times posts at most one event per GUI
    delivery instead of flooding the GUI thread's event queue.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: tuple[int, float, str] | None = None

    def put(self, task_id: int, fraction: float, message: str) -> bool:
        """Store a report; return True if the GUI thread needs to be told about it."""
        with self._lock:
            was_empty = self._latest is None
            self._latest = (task_id, fraction, message)
            return was_empty

    def take(self) -> tuple[int, float, str] | None:
        """Remove and return the newest report, if any."""
        with self._lock:
            latest, self._latest = self._latest, None
            return latest


def _clamp_fraction(fraction: float) -> float:
    # A progress bar fed NaN or 1.3 shows nonsense; a bad estimate must not break the GUI.
    if math.isnan(fraction):
        return 0.0
    return min(1.0, max(0.0, float(fraction)))


class _Worker(QObject):
    """Lives on the worker thread and runs one job at a time when asked."""

    progress_posted = Signal()
    succeeded = Signal(int, object)
    failed = Signal(int, object, str)
    cancelled = Signal(int)

    def __init__(
        self,
        mailbox: _ProgressMailbox,
        cancel_exceptions: tuple[type[BaseException], ...],
        orders: _Orders,
    ) -> None:
        super().__init__()
        self._mailbox = mailbox
        self._cancel_exceptions = cancel_exceptions
        self._orders = orders

    @Slot(int)
    def run(self, task_id: int) -> None:
        """Run the task's function here, on the worker thread, and report its outcome.

        Only the task id crosses threads by signal. The worker drops every reference
        it took to the function (and to the frames of a failure's traceback) *before*
        it reports the outcome, so the last reference to the function, and to any
        widget its closure holds, is always released on the GUI thread: a widget
        destroyed on the worker thread crashes Qt.
        """
        order = self._orders.take(task_id)
        if order is None:
            return  # abandoned by shutdown() before it started
        fn, cancel_requested = order
        del order
        mailbox = self._mailbox

        def progress(fraction: float, message: str) -> None:
            if mailbox.put(task_id, _clamp_fraction(fraction), str(message)):
                self.progress_posted.emit()

        outcome: tuple[str, object, str] | None = None
        try:
            outcome = ("succeeded", fn(progress, cancel_requested.is_set), "")
        except self._cancel_exceptions:
            outcome = ("cancelled", None, "")
        # Everything, even SystemExit or KeyboardInterrupt raised inside a task: letting it
        # escape would end the worker's event loop silently and leave the runner busy forever.
        except BaseException as error:
            text = "".join(traceback.format_exception(error))
            _drop_frames(error)
            outcome = ("failed", error, text)
        finally:
            del fn
        kind, value, text = outcome
        del outcome
        if kind == "succeeded":
            self.succeeded.emit(task_id, value)
        elif kind == "cancelled":
            self.cancelled.emit(task_id)
        else:
            self.failed.emit(task_id, value, text)


def _drop_frames(error: BaseException) -> None:
    """Forget the frames of an exception chain (their locals may hold the task's closure)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)
            current.__traceback__ = None
        current = current.__cause__ or current.__context__


class _Orders:
    """Task functions waiting for the worker, by task id (shared by the two threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[
            int, tuple[Callable[[ProgressFn, CancelledFn], Any], threading.Event]
        ] = {}

    def put(self, job: _Job) -> None:
        with self._lock:
            self._waiting[job.task_id] = (job.fn, job.cancel_requested)

    def take(
        self, task_id: int
    ) -> tuple[Callable[[ProgressFn, CancelledFn], Any], threading.Event] | None:
        with self._lock:
            return self._waiting.pop(task_id, None)

    def clear(self) -> None:
        with self._lock:
            self._waiting.clear()


class TaskRunner(QObject):
    """Runs one long task at a time on a worker ``QThread``.

    Signals, all emitted on the GUI thread (the thread the runner lives in):

    * ``started(name)`` when a task starts;
    * ``progress(fraction, message)`` while it runs, at most about 30 a second, and
      always ending with the task's last report;
    * ``finished(name, result)`` when the function returned;
    * ``failed(name, error, traceback_text)`` when it raised;
    * ``cancelled(name)`` when it raised one of ``cancel_exceptions``;
    * ``busy_changed(busy)`` when the runner goes from idle to busy and back;
    * ``queue_changed()`` when a task starts waiting, starts or is dropped while waiting.

    A function that returns normally has *finished*, even if cancel was requested: only
    the function knows whether it stopped before its work took effect (a segmentation run
    may already have been saved), so it says "I stopped" by raising.

    The worker thread starts with the first task and runs until :meth:`shutdown`, which
    the owner must call before the runner is destroyed (e.g. in the main window's
    ``closeEvent``); Qt aborts the process if a running ``QThread`` is destroyed.
    """

    started = Signal(str)
    progress = Signal(float, str)
    finished = Signal(str, object)
    failed = Signal(str, object, str)
    cancelled = Signal(str)
    busy_changed = Signal(bool)
    queue_changed = Signal()

    # Internal: hands a job to the worker; a queued connection because the worker lives
    # on the other thread.
    _run_requested = Signal(int)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        cancel_exceptions: tuple[type[BaseException], ...] = (TaskCancelled,),
        progress_interval_ms: int = DEFAULT_PROGRESS_INTERVAL_MS,
        thread_name: str = "seg_desktop task runner",
    ) -> None:
        super().__init__(parent)
        self._cancel_exceptions = cancel_exceptions
        self._progress_interval_s = progress_interval_ms / 1000.0
        self._thread_name = thread_name
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._mailbox = _ProgressMailbox()
        self._orders = _Orders()
        self._current: _Job | None = None
        self._waiting: deque[_Job] = deque()
        self._busy = False
        self._closed = False
        self._next_id = 0
        self._last_progress_at = -math.inf
        # Delivers a report that arrived too soon after the previous one, so the last
        # message of a burst ("Saving…") is shown even if the task then goes quiet.
        self._progress_timer = QTimer(self)
        self._progress_timer.setObjectName("progress_throttle_timer")
        self._progress_timer.setSingleShot(True)
        self._progress_timer.timeout.connect(self._deliver_progress)

    # -- public API -----------------------------------------------------------------------

    def submit(
        self,
        name: str,
        fn: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None] | None = None,
        on_error: ErrorCallback | None = None,
        *,
        background: bool = False,
        key: str | None = None,
    ) -> bool:
        """Run ``fn`` on the worker thread now, or after the tasks before it.

        ``name`` is shown to the user (e.g. "Running segmentation"). ``on_done(result)``
        and ``on_error(error, traceback_text)`` run on the GUI thread, after the
        ``finished`` / ``failed`` signals. ``background=True`` marks work that only
        reads (loading a view): closing the window may drop it without asking the
        user. A waiting task with the same ``key`` is replaced by this one. Returns
        False only after :meth:`shutdown`.
        """
        self._assert_gui_thread()
        if self._closed:
            return False
        job = self._make_job(name, fn, on_done, on_error, background, key)
        if self._current is None and not self._waiting:
            self._start(job)
            return True
        if key is not None:
            self._waiting = deque(w for w in self._waiting if w.key != key)
        self._waiting.append(job)
        self.queue_changed.emit()
        return True

    def waiting_names(self) -> list[str]:
        """The names of the tasks waiting for their turn, first first."""
        return [job.name for job in self._waiting]

    def cancel(self) -> None:
        """Ask the running task to stop; its ``cancelled()`` returns True from now on."""
        self._assert_gui_thread()
        if self._current is not None:
            self._current.cancel_requested.set()

    def is_busy(self) -> bool:
        """Return True while a task runs (or, for :class:`LatestOnlyRunner`, is queued)."""
        return self._current is not None or bool(self._waiting)

    def current_name(self) -> str | None:
        """Return the name of the running task, or None when idle."""
        return None if self._current is None else self._current.name

    def is_doing_user_work(self) -> bool:
        """True while a task the user asked for runs (not a background load)."""
        jobs = [self._current, *self._waiting]
        return any(job is not None and not job.background for job in jobs)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel the running task and stop the worker thread; call before closing.

        Waits up to ``timeout_ms`` for the task to stop. Returns True when the thread has
        stopped; the outcome of a task that was still running is discarded (no
        ``finished``/``failed``/``cancelled``), and ``busy_changed(False)`` is emitted.
        Returns False if the task did not stop in time: the thread still runs and the
        runner must be kept alive; call ``shutdown`` again to wait longer. After shutdown
        every ``submit`` is refused.
        """
        self._assert_gui_thread()
        self._closed = True
        self._waiting.clear()
        self._progress_timer.stop()
        if self._current is not None:
            self._current.cancel_requested.set()
        if self._thread is not None:
            self._thread.quit()
            if not self._thread.wait(max(0, timeout_ms)):
                return False
            # The thread has ended, so its worker may be deleted from here; the worker's
            # last signals may still be queued for us and are ignored (stale task id).
            self._worker = None
            self._thread = None
        self._mailbox.take()
        self._orders.clear()
        # Dropped here, on the GUI thread, now that the worker has let go of it.
        self._current = None
        self._set_busy(False)
        return True

    # -- internals ------------------------------------------------------------------------

    def _make_job(
        self,
        name: str,
        fn: Callable[[ProgressFn, CancelledFn], Any],
        on_done: Callable[[Any], None] | None,
        on_error: ErrorCallback | None,
        background: bool = False,
        key: str | None = None,
    ) -> _Job:
        self._next_id += 1
        return _Job(self._next_id, name, fn, on_done, on_error, background, key)

    def _assert_gui_thread(self) -> None:
        # Like Orange3: results must be handled where the widgets live, and a call from
        # the worker thread is a bug that would otherwise show up as a rare crash.
        assert QThread.currentThread() is self.thread(), "TaskRunner used off its thread"

    def _ensure_thread(self) -> _Worker:
        if self._worker is None or self._thread is None:
            thread = QThread()
            thread.setObjectName(self._thread_name)
            worker = _Worker(self._mailbox, self._cancel_exceptions, self._orders)
            worker.moveToThread(thread)
            self._run_requested.connect(worker.run)
            worker.progress_posted.connect(self._on_progress_posted)
            worker.succeeded.connect(self._on_succeeded)
            worker.failed.connect(self._on_failed)
            worker.cancelled.connect(self._on_cancelled)
            thread.start()
            self._thread, self._worker = thread, worker
        return self._worker

    def _start(self, job: _Job) -> None:
        self._ensure_thread()
        self._current = job
        self._last_progress_at = -math.inf
        self._set_busy(True)
        self.started.emit(job.name)
        self._orders.put(job)
        self._run_requested.emit(job.task_id)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    @Slot()
    def _on_progress_posted(self) -> None:
        if self._progress_timer.isActive():
            return  # a delivery is already scheduled and will pick up the newest report
        wait_s = self._last_progress_at + self._progress_interval_s - time.monotonic()
        if wait_s <= 0:
            self._deliver_progress()
        else:
            self._progress_timer.start(max(1, math.ceil(wait_s * 1000)))

    @Slot()
    def _deliver_progress(self) -> None:
        report = self._mailbox.take()
        if report is None or self._current is None or report[0] != self._current.task_id:
            return
        self._last_progress_at = time.monotonic()
        self.progress.emit(report[1], report[2])

    def _take_current(self, task_id: int) -> _Job | None:
        """Detach the finished job, or return None for a stale report."""
        self._assert_gui_thread()
        job = self._current
        if job is None or job.task_id != task_id:
            return None  # a task abandoned by shutdown()
        self._progress_timer.stop()
        self._deliver_progress()  # the task's last report, before its outcome
        self._current = None
        if not self._waiting:
            self._set_busy(False)
        return job

    def _after_outcome(self) -> None:
        # Still busy when a queued submission is waiting: start it now, without the
        # busy_changed flicker an idle moment in between would cause.
        if self._current is None and self._waiting and not self._closed:
            self._start(self._waiting.popleft())
            self.queue_changed.emit()
        elif self._current is None:
            self._set_busy(False)

    @Slot(int, object)
    def _on_succeeded(self, task_id: int, result: object) -> None:
        job = self._take_current(task_id)
        if job is None:
            return
        try:
            self.finished.emit(job.name, result)
            if job.on_done is not None:
                job.on_done(result)
        finally:
            self._after_outcome()

    @Slot(int, object, str)
    def _on_failed(self, task_id: int, error: BaseException, traceback_text: str) -> None:
        job = self._take_current(task_id)
        if job is None:
            return
        _log.error("Task %r failed:\n%s", job.name, traceback_text.rstrip())
        try:
            self.failed.emit(job.name, error, traceback_text)
            if job.on_error is not None:
                job.on_error(error, traceback_text)
        finally:
            self._after_outcome()

    @Slot(int)
    def _on_cancelled(self, task_id: int) -> None:
        job = self._take_current(task_id)
        if job is None:
            return
        try:
            self.cancelled.emit(job.name)
        finally:
            self._after_outcome()


class LatestOnlyRunner(TaskRunner):
    """A :class:`TaskRunner` for live previews: a submission while busy waits its turn.

    Only the newest waiting submission is kept; an older waiting one is dropped (never
    run) and reported by ``superseded(name)``. The waiting one starts as soon as the
    running one ends, and the runner stays busy in between (no ``busy_changed``
    flicker). Used for "count matching clients" while the user types a rule.

    With ``cancel_running=True`` a new submission also asks the running task to stop,
    since its answer is already out of date.
    """

    superseded = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        cancel_exceptions: tuple[type[BaseException], ...] = (TaskCancelled,),
        progress_interval_ms: int = DEFAULT_PROGRESS_INTERVAL_MS,
        thread_name: str = "seg_desktop preview runner",
        cancel_running: bool = False,
    ) -> None:
        super().__init__(
            parent,
            cancel_exceptions=cancel_exceptions,
            progress_interval_ms=progress_interval_ms,
            thread_name=thread_name,
        )
        self._cancel_running = cancel_running

    def submit(
        self,
        name: str,
        fn: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None] | None = None,
        on_error: ErrorCallback | None = None,
        *,
        background: bool = False,
        key: str | None = None,
    ) -> bool:
        """Start ``fn`` now, or queue it in place of any waiting submission.

        Returns False only after :meth:`shutdown`.
        """
        self._assert_gui_thread()
        if self._closed:
            return False
        job = self._make_job(name, fn, on_done, on_error, background, key)
        if not self.is_busy():
            self._start(job)
            return True
        dropped = self._waiting.popleft() if self._waiting else None
        self._waiting.append(job)
        if self._cancel_running and self._current is not None:
            self._current.cancel_requested.set()
        if dropped is not None:
            self.superseded.emit(dropped.name)
        return True

    def cancel(self) -> None:
        """Drop the waiting submission and ask the running task to stop."""
        self._assert_gui_thread()
        dropped = self._waiting.popleft() if self._waiting else None
        super().cancel()
        if dropped is not None:
            self.superseded.emit(dropped.name)
        if self._current is None:
            # Cancelling between two tasks (from a result slot) leaves nothing running.
            self._set_busy(False)

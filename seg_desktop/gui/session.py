"""The window's view of one open office: work goes to the task runners, changes go out as signals.

Views never call the database on the GUI thread for anything that can take
long; they ask the session, which runs the work on a worker thread and
announces what changed. Small reads (the segment list, the strategies) are
quick and may be done directly through `office`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from seg_desktop.core.engine import RunCancelled, Trigger
from seg_desktop.core.periods import InsufficientData
from seg_desktop.core.rules import SegmentDefinition
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.io.export import ExportCancelled
from seg_desktop.io.readers import ImportCancelled
from seg_desktop.store.office import Office
from seg_desktop.store.runs import RunSummary

T = TypeVar("T")


class OfficeSession(QObject):
    """One open office, its task runners and the signals the views follow."""

    segments_changed = Signal()
    """Segment definitions or their membership counts changed."""
    run_changed = Signal(object)
    """A new current run (RunSummary) was saved."""
    data_changed = Signal()
    """Clients or revenue changed (an import, the demo)."""
    strategies_changed = Signal()
    """A tier strategy or the settings changed."""
    notice = Signal(str, str)
    """(title, text): something the user should read that is not an error (insufficient data)."""
    error = Signal(str, object, str)
    """(what failed, exception, traceback text): shown in the error dialog."""

    def __init__(
        self,
        office: Office,
        runner: TaskRunner,
        preview_runner: LatestOnlyRunner,
        today: Callable[[], dt.date] = dt.date.today,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.office = office
        self.runner = runner
        self.preview_runner = preview_runner
        self.today = today

    # --- generic ------------------------------------------------------------------------

    def submit(
        self,
        name: str,
        work: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None] | None = None,
        *,
        background: bool = False,
    ) -> bool:
        """Run database work on the worker; failures go to the `error` signal.

        Returns False (and does nothing) while another task runs. ``background``
        marks a read-only load that closing the window may drop without asking.
        """
        return self.runner.submit(
            name,
            work,
            on_done,
            lambda error, trace: self._failed(name, error, trace),
            background=background,
        )

    def _failed(self, name: str, error: BaseException, trace: str) -> None:
        if isinstance(error, InsufficientData):
            self.notice.emit(
                "Not enough data to segment", f"{error}.\n\nThe previous run stays current."
            )
            return
        self.error.emit(name, error, trace)

    # --- runs -----------------------------------------------------------------------------

    def run_segmentation(self, trigger: Trigger = Trigger.MANUAL) -> bool:
        """Start Run Segmentation; False if something else is running."""
        office, as_of = self.office, self.today()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> RunSummary:
            return office.run_segmentation(as_of, trigger, progress, cancelled)

        return self.submit("Running segmentation", work, self._run_done)

    def _run_done(self, summary: RunSummary) -> None:
        self.run_changed.emit(summary)
        self.segments_changed.emit()

    # --- segments ---------------------------------------------------------------------------

    def count_matching(
        self, definition: SegmentDefinition, on_count: Callable[[int], None]
    ) -> None:
        """Count a definition's matches off the GUI thread; only the latest request is answered."""
        office, as_of = self.office, self.today()

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
            return office.count_matching(definition, as_of)

        self.preview_runner.submit(
            "Counting matching clients", work, on_count, self._preview_failed
        )

    def _preview_failed(self, error: BaseException, trace: str) -> None:
        self.error.emit("Counting matching clients", error, trace)

    def save_segment(
        self,
        definition: SegmentDefinition,
        segment_id: int | None,
        on_saved: Callable[[int], None] | None = None,
    ) -> bool:
        """Save a segment and recompute memberships on the worker."""
        office, as_of = self.office, self.today()

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
            return office.save_segment(definition, segment_id, as_of)

        def done(new_id: int) -> None:
            self.segments_changed.emit()
            if on_saved is not None:
                on_saved(new_id)

        return self.submit(f"Saving {definition.name}", work, done)

    def delete_segment(self, segment_id: int) -> bool:
        """Delete a segment on the worker."""
        office = self.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> None:
            office.delete_segment(segment_id)

        return self.submit("Deleting segment", work, lambda _none: self.segments_changed.emit())

    def recompute_segments(self) -> bool:
        """Recompute every segment's membership on the worker."""
        office, as_of = self.office, self.today()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> dict[int, int]:
            return office.recompute_segments(as_of, progress, cancelled)

        return self.submit(
            "Recomputing segments", work, lambda _counts: self.segments_changed.emit()
        )


CANCEL_EXCEPTIONS: tuple[type[BaseException], ...] = (
    RunCancelled,
    ExportCancelled,
    ImportCancelled,
)
"""Exceptions that mean "the user cancelled" for the runners (reported as cancelled, not failed)."""


class RunnerQueue(QObject):
    """Work for the session's worker that waits while it is busy; the newest of each kind wins.

    ``session.submit`` refuses work while another task runs (a run, an
    import). A view's load must be neither lost that way nor piled up: it waits
    here under its kind ("table", "compare", "export-csv"…), replacing an older
    request of that kind, and is submitted as soon as the runner is idle.
    """

    def __init__(self, session: OfficeSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._waiting: dict[
            str, tuple[str, Callable[[ProgressFn, CancelledFn], Any], Any, bool]
        ] = {}
        session.runner.busy_changed.connect(self._busy_changed)

    def request(
        self,
        kind: str,
        name: str,
        work: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None],
        *,
        background: bool = False,
    ) -> None:
        """Submit now if the runner is idle, else when it next is.

        ``background=True`` for loads that only read (see `OfficeSession.submit`).
        """
        self._waiting[kind] = (name, work, on_done, background)
        self._drain()

    def is_waiting(self, kind: str) -> bool:
        """Whether a request of this kind waits for the runner."""
        return kind in self._waiting

    def _busy_changed(self, busy: bool) -> None:
        if not busy:
            self._drain()

    def _drain(self) -> None:
        if not self._waiting:
            return
        kind = next(iter(self._waiting))
        name, work, on_done, background = self._waiting[kind]
        if self._session.submit(name, work, on_done, background=background):
            del self._waiting[kind]

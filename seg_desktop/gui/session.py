"""The office worker: every office call runs off the GUI thread; every change goes out once.

Views never touch the database on the GUI thread. They hand the session a
plain function ``work(progress, cancelled)`` that calls one `Office` method;
the session runs it on its one worker thread, in order, and never refuses (a
task submitted while another runs waits its turn; the status bar says what
waits). When the work returns `Changes` (alone, as the last item of a tuple,
or as a ``changes`` attribute), the session broadcasts them once, through
:attr:`OfficeSession.changed`, before the task's own success hook runs; each
view decides from them what it must reload. A separate latest-only lane
answers live previews and searches. In the manner of Anki's ``CollectionOp``
and ``OpChanges``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

from seg_desktop.core.engine import RunCancelled, Trigger
from seg_desktop.core.periods import InsufficientData
from seg_desktop.core.rules import SegmentDefinition
from seg_desktop.gui.tasks import (
    CancelledFn,
    ErrorCallback,
    LatestOnlyRunner,
    ProgressFn,
    TaskRunner,
)
from seg_desktop.io.export import ExportCancelled
from seg_desktop.io.readers import ImportCancelled
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from seg_desktop.store.records import RunSummary

T = TypeVar("T")


def changes_in(result: object) -> Changes | None:
    """The Changes a task's result carries: itself, a tuple's last item, or ``.changes``."""
    if isinstance(result, Changes):
        return result
    if isinstance(result, tuple) and result and isinstance(result[-1], Changes):
        return result[-1]
    found = getattr(result, "changes", None)
    return found if isinstance(found, Changes) else None


class NoPreviousRun(InsufficientData):
    """Insufficient data, in an office that has no run to keep (said differently)."""


class OfficeSession(QObject):
    """One open office, its worker and the signals the views follow.

    ``changed(Changes)`` is the one broadcast of what a write changed. The
    narrower signals below are derived from it, here and nowhere else, for
    views that follow only one kind of change.
    """

    changed = Signal(object)
    """What a write changed (a Changes), broadcast once per write."""
    segments_changed = Signal()
    """Segment definitions or their membership counts changed."""
    run_changed = Signal(object)
    """A new current run (RunSummary, or None for an office without one) is current."""
    data_changed = Signal()
    """Clients or revenue changed (an import, tags set by a rule, the demo)."""
    strategies_changed = Signal()
    """A tier strategy, the overrides or the settings changed."""
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
        # Writes that recompute segments count relative dates from the window's today.
        office.today = today

    # --- the worker ---------------------------------------------------------------------

    def submit(
        self,
        name: str,
        work: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None] | None = None,
        on_error: ErrorCallback | None = None,
        *,
        background: bool = False,
        key: str | None = None,
    ) -> None:
        """Run office work on the worker, now or when the tasks before it are done.

        Never refused. Changes the work returns are broadcast before ``on_done``
        runs. A failure goes to ``on_error`` (shown where the user acted) or,
        without one, to the `error` signal (the window's error dialog).
        ``background`` marks a read-only load that closing the window may drop
        without asking; a waiting task with the same ``key`` is replaced by this
        one (a view's reload needs only its newest request).
        """

        def done(result: T) -> None:
            changes = changes_in(result)
            if changes:
                self.broadcast(changes)
            if on_done is not None:
                on_done(result)

        def failed(error: BaseException, trace: str) -> None:
            if on_error is not None:
                on_error(error, trace)
            else:
                self._failed(name, error, trace)

        self.runner.submit(name, work, done, failed, background=background, key=key)

    def preview(
        self,
        name: str,
        work: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None],
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Run a read on the latest-only lane (live previews, searches): only the newest counts."""
        self.preview_runner.submit(
            name,
            work,
            on_done,
            on_error or (lambda error, trace: self.error.emit(name, error, trace)),
        )

    def broadcast(self, changes: Changes) -> None:
        """Tell every view what changed: once, and the narrower signals derived from it."""
        self.changed.emit(changes)
        if changes.touches(Area.CLIENTS, Area.REVENUE):
            self.data_changed.emit()
        if changes.touches(Area.STRATEGIES, Area.SETTINGS, Area.OVERRIDES):
            self.strategies_changed.emit()
        if changes.run is not None or Area.OFFICE in changes.areas:
            self.run_changed.emit(changes.run)
        if changes.touches(Area.SEGMENTS):
            self.segments_changed.emit()

    def _failed(self, name: str, error: BaseException, trace: str) -> None:
        if isinstance(error, InsufficientData):
            stays = (
                "Nothing was segmented: there is no run yet."
                if isinstance(error, NoPreviousRun)
                else "The previous run stays current."
            )
            self.notice.emit("Not enough data to segment", f"{error}.\n\n{stays}")
            return
        self.error.emit(name, error, trace)

    # --- runs -----------------------------------------------------------------------------

    def run_segmentation(
        self,
        trigger: Trigger = Trigger.MANUAL,
        on_done: Callable[[RunSummary], None] | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Queue Run Segmentation (the run, its segments and its rules: one transaction)."""
        office, as_of = self.office, self.today()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> tuple[RunSummary, Changes]:
            try:
                return office.run_segmentation(as_of, trigger, progress, cancelled)
            except InsufficientData as error:
                if office.current_run() is None:
                    raise NoPreviousRun(str(error)) from None
                raise

        def done(result: tuple[RunSummary, Changes]) -> None:
            if on_done is not None:
                on_done(result[0])

        # A second press while a run waits replaces the waiting one: one run is enough.
        self.submit("Running segmentation", work, done, on_error, key="run-segmentation")

    # --- segments ---------------------------------------------------------------------------

    def count_matching(
        self, definition: SegmentDefinition, on_count: Callable[[int], None]
    ) -> None:
        """Count a definition's matches off the GUI thread; only the latest request is answered."""
        office, as_of = self.office, self.today()

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
            return office.count_matching(definition, as_of)

        self.preview("Counting matching clients", work, on_count)

    def save_segment(
        self,
        definition: SegmentDefinition,
        segment_id: int | None,
        on_saved: Callable[[int], None] | None = None,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Save a segment and recompute memberships on the worker."""
        office, as_of = self.office, self.today()

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> tuple[int, Changes]:
            return office.save_segment(definition, segment_id, as_of)

        def done(result: tuple[int, Changes]) -> None:
            if on_saved is not None:
                on_saved(result[0])

        self.submit(f"Saving {definition.name}", work, done, on_error)

    def delete_segment(
        self, segment_id: int, on_done: Callable[[Changes], None] | None = None
    ) -> None:
        """Delete a segment on the worker."""
        office = self.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return office.delete_segment(segment_id)

        self.submit("Deleting segment", work, on_done)

    def recompute_segments(self) -> None:
        """Recompute every segment's membership on the worker."""
        office, as_of = self.office, self.today()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> Changes:
            return office.recompute_segments(as_of, progress, cancelled)

        self.submit("Recomputing segments", work)

    def roll_over(self) -> None:
        """Bring relative dates to today (at opening and at midnight), through the worker."""
        office, as_of = self.office, self.today()

        def work(progress: ProgressFn, cancelled: CancelledFn) -> Changes:
            return office.roll_over(as_of)

        self.submit("Bringing segments up to today", work, background=True, key="roll-over")

    def swap_office(self, office: Office) -> None:
        """Show another office in this window: every view reloads from it."""
        self.office = office
        office.today = self.today

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return Changes(frozenset({Area.OFFICE}), None, office.current_run())

        self.submit(f"Opening {office.target}", work)


CANCEL_EXCEPTIONS: tuple[type[BaseException], ...] = (
    RunCancelled,
    ExportCancelled,
    ImportCancelled,
)
"""Exceptions that mean "the user cancelled" for the runners (reported as cancelled, not failed)."""

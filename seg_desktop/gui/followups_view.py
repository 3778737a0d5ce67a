"""The Tasks view: open follow-up tasks by due date, filterable by segment and client.

Done, snooze (to a date) and reassign act on the selected task. Loads and
writes run on the session's worker; ``counts_changed`` carries the open /
due-today / overdue counts for the status bar. (Named "follow-ups" because
``gui.tasks`` is the thread runner.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.row_model import RowListModel
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import FollowUp, SegmentInfo, TaskCounts

Index = QModelIndex | QPersistentModelIndex
TASK_ROLE = Qt.ItemDataRole.UserRole + 1
"""The row's FollowUp."""

HEADERS = ("Due", "Ref", "Client", "Task", "Assigned to", "Rule", "Done")


class FollowUpModel(RowListModel[FollowUp]):
    """The listed tasks, in the order the store gives them (due date, then id)."""

    def __init__(self, today: dt.date, parent: QObject | None = None) -> None:
        super().__init__(HEADERS, parent)
        self.today = today

    def cell(self, task: FollowUp, column: int, role: int) -> Any:
        """The cell's text; overdue due dates in red; the FollowUp under TASK_ROLE."""
        if role == TASK_ROLE:
            return task
        if role == Qt.ItemDataRole.DisplayRole:
            values = (
                task.due.isoformat(),
                task.client_ref,
                task.client_name,
                task.title,
                task.assignee,
                task.rule_name or "(by hand)",
                "done" if task.done else "",
            )
            return values[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 3 and task.note:
            return task.note
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column == 0
            and not task.done
            and task.due < self.today
        ):
            return QBrush(QColor("#b00020"))
        return None


class FollowUpsView(QWidget):
    """Open follow-up tasks with filters and done / snooze / reassign."""

    counts_changed = Signal(object)
    """TaskCounts after every load (for the status bar)."""
    loaded = Signal()
    """The list was (re)loaded."""

    def __init__(self, session: OfficeSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._segments: list[SegmentInfo] = []
        self.model = FollowUpModel(session.today(), self)

        self.segment_filter = QComboBox()
        self.segment_filter.setToolTip("Only the tasks of this segment's current members")
        self.client_filter = QLineEdit()
        self.client_filter.setPlaceholderText("Filter by client ref or name")
        self.client_filter.setClearButtonEnabled(True)
        self.show_done = QCheckBox("Show done")
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Segment:"))
        filters.addWidget(self.segment_filter, 1)
        filters.addWidget(self.client_filter, 2)
        filters.addWidget(self.show_done)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()

        self.done_button = QPushButton("Done")
        self.snooze_date = QDateEdit()
        self.snooze_date.setCalendarPopup(True)
        self.snooze_date.setDisplayFormat("yyyy-MM-dd")
        # Never Qt's 2000-01-01: tomorrow until a task is chosen (then a week past its due).
        tomorrow = session.today() + dt.timedelta(days=1)
        self.snooze_date.setDate(QDate(tomorrow.year, tomorrow.month, tomorrow.day))
        self.snooze_button = QPushButton("Snooze to")
        self.assignee = QLineEdit()
        self.assignee.setPlaceholderText("Someone's name")
        self.reassign_button = QPushButton("Reassign")
        actions = QHBoxLayout()
        actions.addWidget(self.done_button)
        actions.addSpacing(12)
        actions.addWidget(self.snooze_button)
        actions.addWidget(self.snooze_date)
        actions.addSpacing(12)
        actions.addWidget(self.reassign_button)
        actions.addWidget(self.assignee, 1)
        self.summary = QLabel()

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.summary)

        self.segment_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.client_filter.textChanged.connect(lambda _t: self._apply_client_filter())
        self.show_done.toggled.connect(lambda _on: self.refresh())
        self.done_button.clicked.connect(self._done)
        self.snooze_button.clicked.connect(self._snooze)
        self.reassign_button.clicked.connect(self._reassign)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._selection_moved())
        session.changed.connect(self._office_changed)
        self._all: list[FollowUp] = []
        self._reload_segments()
        self._selection_moved()

    # --- loading ----------------------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        if changes.touches(Area.SEGMENTS):
            self._reload_segments()  # then the tasks (a segment filters by its members)
        elif changes.touches(
            Area.TASKS, Area.RUN, Area.AUTOMATION, Area.CLIENTS, Area.REVENUE, Area.DATE
        ):
            self.refresh()

    def _reload_segments(self) -> None:
        office = self._session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> list[SegmentInfo]:
            return office.segments()

        self._session.submit(
            "Loading segments",
            work,
            self._segments_loaded,
            background=True,
            key=f"follow-ups-segments-{id(self)}",
        )

    def _segments_loaded(self, segments: list[SegmentInfo]) -> None:
        chosen = self.segment_filter.currentData()
        self.segment_filter.blockSignals(True)
        self.segment_filter.clear()
        self.segment_filter.addItem("All segments", None)
        for segment in segments:
            self.segment_filter.addItem(segment.definition.name, segment.id)
        found = self.segment_filter.findData(chosen)
        self.segment_filter.setCurrentIndex(max(found, 0))
        self.segment_filter.blockSignals(False)
        self._segments = segments
        self.refresh()

    def refresh(self) -> None:
        """Reload the tasks and the counts on the worker."""
        office, today = self._session.office, self._session.today()
        include_done = self.show_done.isChecked()
        segment_id = self.segment_filter.currentData()

        def work(_p: ProgressFn, _c: CancelledFn) -> tuple[list[FollowUp], TaskCounts]:
            return office.tasks(include_done, segment_id), office.task_counts(today)

        self._session.submit(
            "Loading tasks", work, self._loaded, background=True, key=f"follow-ups-{id(self)}"
        )

    def _loaded(self, result: tuple[list[FollowUp], TaskCounts]) -> None:
        tasks, counts = result
        self._all = tasks
        self.model.today = self._session.today()
        self._apply_client_filter()
        self.summary.setText(
            f"{counts.open:,} open task{'' if counts.open == 1 else 's'}: "
            f"{counts.due_today:,} due today, {counts.overdue:,} overdue"
        )
        self.counts_changed.emit(counts)
        self.loaded.emit()

    def _apply_client_filter(self) -> None:
        words = self.client_filter.text().casefold().split()
        shown = [
            task
            for task in self._all
            if all(w in f"{task.client_ref} {task.client_name}".casefold() for w in words)
        ]
        self.model.set_rows(shown)
        self._selection_moved()

    # --- acting -----------------------------------------------------------------------------

    def selected_task(self) -> FollowUp | None:
        """The selected task, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_row(self, row: int) -> None:
        """Select a row (tests, keyboard users)."""
        self.table.selectRow(row)

    def _selection_moved(self) -> None:
        task = self.selected_task()
        for widget in (self.done_button, self.snooze_button, self.reassign_button):
            widget.setEnabled(task is not None)
        if task is not None:
            self.done_button.setText("Open again" if task.done else "Done")
            start = max(task.due, self._session.today()) + dt.timedelta(days=7)
            self.snooze_date.setDate(QDate(start.year, start.month, start.day))
            self.assignee.setText(task.assignee)

    def _write(self, name: str, action: Callable[[], Changes]) -> None:
        """Queue a task's write; its Changes (tasks) reload the list."""

        def work(_p: ProgressFn, _c: CancelledFn) -> Changes:
            return action()

        self._session.submit(name, work)

    def _done(self) -> None:
        task = self.selected_task()
        if task is not None:
            office = self._session.office
            self._write(
                "Marking the task done", lambda: office.complete_task(task.id, not task.done)
            )

    def _snooze(self) -> None:
        task = self.selected_task()
        if task is not None:
            office, chosen = self._session.office, self.snooze_date.date()
            until = dt.date(chosen.year(), chosen.month(), chosen.day())
            self._write("Snoozing the task", lambda: office.snooze_task(task.id, until))

    def _reassign(self) -> None:
        task = self.selected_task()
        if task is not None:
            office, who = self._session.office, self.assignee.text()
            self._write("Reassigning the task", lambda: office.reassign_task(task.id, who))

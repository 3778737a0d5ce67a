"""A client's membership log: when it entered or left each segment and tier, and why."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import MembershipLogEntry

__all__ = ["MembershipLogView"]

LOG_LIMIT = 500
"""The newest entries shown; a client's log rarely reaches this."""

EMPTY_TEXT = "Nothing logged yet: entries appear after runs and recomputes."

LOG_AREAS = (Area.SEGMENTS, Area.RUN, Area.CLIENTS, Area.REVENUE, Area.DATE)
"""Writes touching these may log a client entering or leaving a segment or tier."""


class MembershipLogView(QWidget):
    """The membership log of one client, newest first: when, what, in or out, why.

    The log is read on the office worker; ``loaded`` fires when it is shown.
    Call :meth:`set_client` when another client is shown; it reloads by itself
    after a write that may have logged something (a run, a recompute).
    """

    loaded = Signal()

    def __init__(
        self, session: OfficeSession, client_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("membership_log")
        self._session = session
        self._client_id = client_id
        self._entries: list[MembershipLogEntry] = []

        self.table = QTableWidget(0, 4)
        self.table.setObjectName("membership_log_table")
        self.table.setHorizontalHeaderLabels(["When", "Segment or tier", "", "Why"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(1, 150)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("membership_log_empty")
        self.empty_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.empty_label)
        session.changed.connect(self._changed)
        self.reload()

    def set_client(self, client_id: int | None) -> None:
        """Show another client's log (None: nothing)."""
        self._client_id = client_id
        self.reload()

    def client_id(self) -> int | None:
        """The client whose log is shown."""
        return self._client_id

    def entries(self) -> list[MembershipLogEntry]:
        """The entries shown, newest first."""
        return list(self._entries)

    def reload(self) -> None:
        """Read the log again, on the worker (the newest request is answered)."""
        client_id = self._client_id
        if client_id is None:
            self._entries = []
            self._fill()
            return
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> list[MembershipLogEntry]:
            return office.membership_log(client_id, LOG_LIMIT)

        def done(entries: list[MembershipLogEntry]) -> None:
            if client_id != self._client_id:
                return  # another client is shown now
            self._entries = entries
            self.empty_label.setText(EMPTY_TEXT)
            self._fill()
            self.loaded.emit()

        def failed(error: BaseException, _trace: str) -> None:
            if client_id != self._client_id:
                return
            self._entries = []
            self._fill()
            self.empty_label.setText(str(error))

        self._session.submit(
            "Loading the membership log",
            work,
            done,
            failed,
            background=True,
            key=f"membership-log-{id(self)}",
        )

    def _changed(self, changes: Changes) -> None:
        if self._client_id is not None and changes.touches(*LOG_AREAS):
            self.reload()

    def _fill(self) -> None:
        table = self.table
        table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            when = QTableWidgetItem(entry.at.strftime("%Y-%m-%d %H:%M"))
            what = QTableWidgetItem(entry.label)
            what.setToolTip(entry.label)
            direction = QTableWidgetItem("entered" if entry.entered else "left")
            why = QTableWidgetItem(entry.cause)
            why.setToolTip(entry.cause)
            for column, item in enumerate((when, what, direction, why)):
                table.setItem(row, column, item)
        self.empty_label.setVisible(not self._entries)
        # As tall as its rows, up to eight; more scroll.
        shown = min(max(len(self._entries), 1), 8)
        table.setFixedHeight(
            table.horizontalHeader().sizeHint().height()
            + shown * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth()
        )

"""A client's membership log: when it entered or left each segment and tier, and why."""

from __future__ import annotations

from PySide6.QtCore import Qt
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
from seg_desktop.store import history
from seg_desktop.store.database import StoreError
from seg_desktop.store.history import MembershipLogEntry

__all__ = ["MembershipLogView"]

LOG_LIMIT = 500
"""The newest entries shown; a client's log rarely reaches this."""


class MembershipLogView(QWidget):
    """The membership log of one client, newest first: when, what, in or out, why.

    One client's log is a few dozen rows read by index, quick enough for the
    GUI thread (like the client detail it sits in). Call :meth:`set_client`
    when another client is shown, :meth:`reload` after a run or a recompute.
    """

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
        self.empty_label = QLabel("Nothing logged yet: entries appear after runs and recomputes.")
        self.empty_label.setObjectName("membership_log_empty")
        self.empty_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.empty_label)
        session.run_changed.connect(self._changed)
        session.segments_changed.connect(self._changed)
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
        """Read the log again."""
        self._entries = []
        if self._client_id is not None:
            try:
                with self._session.office.database.read() as connection:
                    self._entries = history.membership_log(connection, self._client_id, LOG_LIMIT)
            except StoreError as error:
                self.empty_label.setText(str(error))
        self._fill()

    def _changed(self, *_args: object) -> None:
        if self._client_id is not None:
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

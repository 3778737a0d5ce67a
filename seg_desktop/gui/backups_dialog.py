"""File → Backups: the office's backups, "Take backup now" and "Restore…", and two prompts.

The dialog lists the backups beside the office database (newest first) and
restores one after asking. A restore needs the office closed, so the window
passes two callbacks: ``close_office`` (returns False to refuse, e.g. while a
task runs) and ``reopen_office`` (called after the attempt, whatever its
outcome, because the office was closed). Listing, taking and restoring are
Office methods (its files room) run as tasks of the session's office worker,
so a backup of a big office (seconds) never freezes the window.

Also here: the prompt a second instance shows when the database is in use
(open read-only, or quit), and the offer of the newest good backup when the
database cannot be opened because it is damaged.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.row_model import RowListModel
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.errors import LockHeld, OtherOfficeBackup, StoreError
from seg_desktop.store.office import Office
from seg_desktop.store.records import BackupInfo

ModelIndex = QModelIndex | QPersistentModelIndex
T = TypeVar("T")
Ask = Callable[[str, str], bool]
"""(title, question) -> the user said yes."""
Tell = Callable[[str, str], None]
"""(title, text): a result or an error the user reads."""


class BackupColumn(enum.IntEnum):
    """The columns of the backups table."""

    TAKEN = 0
    REASON = 1
    SIZE = 2


_TITLES = {BackupColumn.TAKEN: "Taken", BackupColumn.REASON: "Why", BackupColumn.SIZE: "Size"}


def format_size(size: int) -> str:
    """A file size in words a user reads at a glance: 950 KB, 12.4 MB."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024)):,} KB"
    if size < 1024**3:
        return f"{size / 1024**2:,.1f} MB"
    return f"{size / 1024**3:,.2f} GB"


class BackupsModel(RowListModel[BackupInfo]):
    """The backups of one database, newest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([_TITLES[column] for column in BackupColumn], parent)

    def cell(self, backup: BackupInfo, number: int, role: int) -> object:
        """The cell's text, alignment and tooltip."""
        column = BackupColumn(number)
        if role == Qt.ItemDataRole.DisplayRole:
            if column is BackupColumn.TAKEN:
                return f"{backup.taken_at:%Y-%m-%d %H:%M:%S}"
            if column is BackupColumn.REASON:
                return backup.reason_label
            return format_size(backup.size)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(backup.path)
        if role == Qt.ItemDataRole.TextAlignmentRole and column is BackupColumn.SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _ask_with_box(parent: QWidget) -> Ask:
    def ask(title: str, question: str) -> bool:
        answer = QMessageBox.question(
            parent,
            title,
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    return ask


def _tell_with_box(parent: QWidget) -> Tell:
    def tell(title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    return tell


class BackupsDialog(QDialog):
    """The backups of the session's office file, with "Take backup now" and "Restore…".

    Only for an office kept in a file (a server database is backed up with the
    server's own tools): the window checks ``office.database_file()`` first.
    """

    backup_taken = Signal(object)
    """The new backup's Path."""
    restored = Signal(object)
    """Where the replaced file was kept (a Path, or None if there was none)."""
    failed = Signal(str)
    """A backup or restore did not happen; the message says why."""
    loaded = Signal()
    """The list of backups was (re)read and is shown."""

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        close_office: Callable[[], bool] | None = None,
        reopen_office: Callable[[], None] | None = None,
        ask: Ask | None = None,
        tell: Tell | None = None,
    ) -> None:
        super().__init__(parent)
        path = session.office.database_file()
        if path is None:
            raise ValueError("a server office has no backups here: check database_file() first")
        self.office_path = path
        self._session = session
        self._close_office = close_office
        self._reopen_office = reopen_office
        self._ask = ask or _ask_with_box(self)
        self._tell = tell or _tell_with_box(self)
        self.setWindowTitle("Backups")
        self.setObjectName("backups_dialog")
        self.resize(560, 380)

        folder = Office.backups_folder(self.office_path)
        self.explanation = QLabel(
            f"Backups of <b>{self.office_path.name}</b> are kept in {folder}: the 3 newest, "
            "one a day for 7 days, one a week for 4 weeks and one a month for 12 months. "
            "Each was checked when it was taken; a restore checks it again and keeps the "
            "current file aside."
        )
        self.explanation.setWordWrap(True)
        self.model = BackupsModel(self)
        self.table = QTableView()
        self.table.setObjectName("backups_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            BackupColumn.REASON, QHeaderView.ResizeMode.Stretch
        )
        self.empty_label = QLabel("Reading the backups…")
        self.take_button = QPushButton("Take backup now")
        self.take_button.setObjectName("take_backup_button")
        self.restore_button = QPushButton("Restore…")
        self.restore_button.setObjectName("restore_button")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.take_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addWidget(self.table)
        layout.addWidget(self.empty_label)
        layout.addWidget(buttons)

        self.take_button.clicked.connect(self.take_backup_now)
        self.restore_button.clicked.connect(self.restore_selected)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self._busy = False
        self.refresh()

    # --- list ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the backups folder again, on the worker (names and sizes only: quick)."""
        office = self._session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> list[BackupInfo]:
            return office.backups()

        self._session.submit(
            "Listing the backups", work, self._show, background=True, key=f"backups-{id(self)}"
        )

    def _show(self, backups: list[BackupInfo]) -> None:
        self.model.set_rows(backups)
        self.empty_label.setText("No backups yet.")
        self.empty_label.setVisible(self.model.rowCount() == 0)
        self._update_buttons()
        self.loaded.emit()

    def selected_backup(self) -> BackupInfo | None:
        """The backup selected in the table, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_row(self, row: int) -> None:
        """Select a row (the newest is row 0)."""
        self.table.selectRow(row)

    def _update_buttons(self) -> None:
        self.take_button.setEnabled(not self._busy)
        self.restore_button.setEnabled(not self._busy and self.selected_backup() is not None)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    # --- work -----------------------------------------------------------------------------

    def _run(
        self,
        name: str,
        work: Callable[[], T],
        done: Callable[[T], None],
        error: Callable[[BaseException], None],
    ) -> None:
        """Queue `work` on the office worker; a failure is told here, where the user acted."""

        def task(_progress: ProgressFn, _cancelled: CancelledFn) -> T:
            return work()

        def on_error(failure: BaseException, _trace: str) -> None:
            error(failure)

        self._session.submit(name, task, done, on_error)

    def take_backup_now(self) -> None:
        """Take a backup on the worker and list it."""
        if self._busy:
            return
        self._set_busy(True)
        office = self._session.office

        def take() -> tuple[Path, list[BackupInfo]]:
            return office.take_backup("manual"), office.backups()

        def done(result: tuple[Path, list[BackupInfo]]) -> None:
            made, backups = result
            self._set_busy(False)
            self._show(backups)
            self.backup_taken.emit(made)

        def error(failure: BaseException) -> None:
            self._set_busy(False)
            self._report_failure("No backup was taken", failure)

        self._run("Taking a backup", take, done, error)

    def restore_selected(self) -> None:
        """Ask, close the office, restore the selected backup, reopen, and say what happened."""
        backup = self.selected_backup()
        if backup is None or self._busy:
            return
        aside_name = f"{self.office_path.name}.replaced-…"
        question = (
            f"Restore the backup taken {backup.taken_at:%Y-%m-%d %H:%M} "
            f"({backup.reason_label.lower()})?\n\n"
            f"Work done since then will no longer be in the office. The current file is not "
            f"deleted: it is kept beside it as {aside_name}."
        )
        if not self._ask("Restore a backup", question):
            return
        self._restore(backup, other_office=False)

    def _restore(self, backup: BackupInfo, *, other_office: bool) -> None:
        if self._close_office is not None and not self._close_office():
            self._report_failure(
                "The backup was not restored",
                StoreError("the office is busy; try again when the current task has finished"),
            )
            return
        self._set_busy(True)

        def reopen() -> None:
            if self._reopen_office is not None:
                self._reopen_office()

        def done(aside: object) -> None:
            self._set_busy(False)
            reopen()
            self.refresh()
            kept = f" The file it replaced is kept as {aside}." if isinstance(aside, Path) else ""
            self._tell(
                "Backup restored",
                f"The backup taken {backup.taken_at:%Y-%m-%d %H:%M} is now the office.{kept}",
            )
            self.restored.emit(aside)

        def error(failure: BaseException) -> None:
            self._set_busy(False)
            reopen()
            if isinstance(failure, OtherOfficeBackup) and self._ask(
                "A backup of another office",
                f"This backup is of another office ({failure.origin.describe()}), not of the "
                f"one open here.\n\nRestore it in place of this office anyway? The current "
                f"file is kept beside it as {self.office_path.name}.replaced-….",
            ):
                self._restore(backup, other_office=True)
                return
            self._report_failure("The backup was not restored", failure)

        path, source = self.office_path, backup.path
        # The office is closed: the restore is a static method of the office's files room.
        self._run(
            "Restoring a backup",
            lambda: Office.restore_backup(path, source, other_office=other_office),
            done,
            error,
        )

    def _report_failure(self, title: str, failure: BaseException) -> None:
        message = str(failure) if isinstance(failure, StoreError) else repr(failure)
        self._tell(
            title, message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
        )
        self.failed.emit(message)


# --- prompts ---------------------------------------------------------------------------------


def build_lock_prompt(parent: QWidget | None, held: LockHeld) -> tuple[QMessageBox, QPushButton]:
    """The box a second instance shows: who holds the office; "Open read-only" or "Quit".

    Returns the box and its read-only button; the caller runs ``box.exec()`` and
    opens read-only if ``box.clickedButton() is read_only``.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle("The office is already open")
    box.setText(str(held)[:1].upper() + str(held)[1:] + ".")
    box.setInformativeText(
        "Only one seg-desktop may change an office at a time. You can look at it read-only "
        "(nothing can be changed or run), or quit and use the other window."
    )
    read_only = box.addButton("Open read-only", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(read_only)
    return box, read_only


def build_damage_prompt(
    parent: QWidget | None, db_path: str | Path, problem: str
) -> tuple[QMessageBox, QPushButton | None, BackupInfo | None]:
    """The box shown when the office cannot be opened: the cause, and the newest good backup.

    Returns the box, its "Restore" button (None when there is no good backup)
    and that backup; the caller runs ``box.exec()`` and restores it (with
    ``Office.restore_backup``) if the user clicked it.
    """
    newest = Office.newest_good_backup(db_path)
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("The office cannot be opened")
    box.setText(problem[:1].upper() + problem[1:] + ".")
    restore: QPushButton | None = None
    if newest is not None:
        box.setInformativeText(
            f"The newest good backup was taken {newest.taken_at:%Y-%m-%d %H:%M} "
            f"({newest.reason_label.lower()}). Restoring it keeps the current file aside; "
            "nothing is deleted."
        )
        restore = box.addButton("Restore this backup", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(restore)
    else:
        box.setInformativeText("No good backup of this office was found.")
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    return box, restore, newest

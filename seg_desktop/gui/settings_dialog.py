"""The office settings: the segmentation range (M, B) and the nightly run.

Besides the two numbers and the nightly switch and time, the page shows the
command to put in the system's scheduler (cron, Task Scheduler, launchd) for
the nights the program is closed, with a Copy button, and the last nightly
run's failure, if one is kept, with a button to dismiss it.

Every read and write goes through the session's worker (a run may hold the
database): the dialog opens with its fields disabled until the settings have
been read (``loaded``), and closes once the settings are saved; the session
broadcasts the write's `Changes` (settings), which the views and the nightly
scheduler follow. A change of the settings made elsewhere (a nightly failure
kept or dismissed) updates the failure shown.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QTime, Signal
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.nightly import SchedulerCommand, scheduler_command
from seg_desktop.core.periods import (
    MAX_BUFFER_MONTHS,
    MAX_MAX_MONTHS,
    MIN_BUFFER_MONTHS,
    MIN_MAX_MONTHS,
    SegmentationSettings,
)
from seg_desktop.gui.nightly import NightlyScheduler
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import NightlyFailure, NightlyState, OfficeSettings

__all__ = ["SettingsDialog", "default_program"]


def default_program() -> list[str]:
    """How a scheduler should start seg-desktop: the installed script, by full path if found.

    Schedulers run with a bare PATH, so a full path is given; without the
    script (a source checkout), the interpreter runs the package.
    """
    folder = Path(sys.executable).parent
    for name in ("seg-desktop", "seg-desktop.exe"):
        script = folder / name
        if script.exists():
            return [str(script)]
    return [sys.executable, "-m", "seg_desktop"]


def _month_suffix(spin: QSpinBox, value: int) -> None:
    spin.setSuffix(" month" if value == 1 else " months")


class SettingsDialog(QDialog):
    """Edit M, B and the nightly run; see the scheduler command; dismiss a kept failure.

    ``loaded`` is emitted once the office's settings are shown (the fields are
    disabled until then); ``saved(settings)`` once the new settings are in the office.
    """

    loaded = Signal()
    saved = Signal(object)

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        scheduler: NightlyScheduler | None = None,
        clipboard: QClipboard | None = None,
        program: Sequence[str] | None = None,
        platform: str = sys.platform,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Settings")
        self._session = session
        self._scheduler = scheduler
        self._clipboard = clipboard
        self._program = list(program) if program is not None else default_program()
        self._platform = platform
        self._stored: OfficeSettings | None = None  # as read from the office
        current = OfficeSettings()  # shown (disabled) until the office's settings arrive

        # --- range ---
        self.max_months = QSpinBox()
        self.max_months.setObjectName("max_months_spin")
        self.max_months.setRange(MIN_MAX_MONTHS, MAX_MAX_MONTHS)
        self.max_months.setValue(current.segmentation.max_months)
        self.buffer_months = QSpinBox()
        self.buffer_months.setObjectName("buffer_months_spin")
        self.buffer_months.setRange(MIN_BUFFER_MONTHS, MAX_BUFFER_MONTHS)
        self.buffer_months.setValue(current.segmentation.buffer_months)
        for spin in (self.max_months, self.buffer_months):
            spin.setMaximumWidth(130)
            spin.valueChanged.connect(lambda value, box=spin: _month_suffix(box, value))
            _month_suffix(spin, spin.value())
        range_note = QLabel(
            "Runs sum each client's revenue over the last M whole months, ending B months "
            "before the current one (B = 0: up to the end of this month)."
        )
        range_note.setWordWrap(True)
        range_box = QGroupBox("Segmentation range")
        range_form = QFormLayout(range_box)
        range_form.addRow("Maximum segmentation months (M)", self.max_months)
        range_form.addRow("Buffer months (B)", self.buffer_months)
        range_form.addRow(range_note)

        # --- nightly ---
        self.nightly_check = QCheckBox("Run segmentation every night while the program is open")
        self.nightly_check.setObjectName("nightly_check")
        self.nightly_check.setChecked(current.nightly_enabled)
        self.nightly_time = QTimeEdit()
        self.nightly_time.setObjectName("nightly_time_edit")
        self.nightly_time.setDisplayFormat("HH:mm")
        self.nightly_time.setTime(QTime(current.nightly_time.hour, current.nightly_time.minute))
        self.nightly_status = QLabel()
        self.nightly_status.setObjectName("nightly_status_label")
        self.nightly_status.setWordWrap(True)
        self.failure_label = QLabel()
        self.failure_label.setObjectName("nightly_failure_label")
        self.failure_label.setWordWrap(True)
        self.failure_label.setStyleSheet("color: #b3261e;")
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setObjectName("dismiss_failure_button")
        self.dismiss_button.setToolTip("Forget this failure (a later run will be shown as usual)")
        time_row = QHBoxLayout()
        time_row.addWidget(QLabel("at"))
        time_row.addWidget(self.nightly_time)
        time_row.addStretch(1)
        failure_row = QHBoxLayout()
        failure_row.addWidget(self.failure_label, 1)
        failure_row.addWidget(self.dismiss_button)
        nightly_box = QGroupBox("Nightly run")
        nightly_layout = QVBoxLayout(nightly_box)
        nightly_layout.addWidget(self.nightly_check)
        nightly_layout.addLayout(time_row)
        nightly_layout.addWidget(self.nightly_status)
        nightly_layout.addLayout(failure_row)

        # --- the scheduler command ---
        self.command_edit = QLineEdit()
        self.command_edit.setObjectName("scheduler_command_edit")
        self.command_edit.setReadOnly(True)
        self.copy_command_button = QPushButton("Copy")
        self.copy_command_button.setObjectName("copy_command_button")
        self.scheduler_edit = QLineEdit()
        self.scheduler_edit.setObjectName("scheduler_line_edit")
        self.scheduler_edit.setReadOnly(True)
        self.copy_scheduler_button = QPushButton("Copy")
        self.copy_scheduler_button.setObjectName("copy_scheduler_line_button")
        self.scheduler_note = QLabel()
        self.scheduler_note.setObjectName("scheduler_note")
        self.scheduler_note.setWordWrap(True)
        command_row = QHBoxLayout()
        command_row.addWidget(self.command_edit, 1)
        command_row.addWidget(self.copy_command_button)
        scheduler_row = QHBoxLayout()
        scheduler_row.addWidget(self.scheduler_edit, 1)
        scheduler_row.addWidget(self.copy_scheduler_button)
        closed_box = QGroupBox("When the program is closed")
        closed_layout = QVBoxLayout(closed_box)
        closed_layout.addWidget(QLabel("The command that runs segmentation:"))
        closed_layout.addLayout(command_row)
        self.scheduler_title = QLabel()
        closed_layout.addWidget(self.scheduler_title)
        closed_layout.addLayout(scheduler_row)
        closed_layout.addWidget(self.scheduler_note)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.setObjectName("settings_buttons")
        self._save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self._saving = False
        self.error_label = QLabel()
        self.error_label.setObjectName("settings_error_label")
        self.error_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(range_box)
        layout.addWidget(nightly_box)
        layout.addWidget(closed_box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(720, self.sizeHint().height())

        self.nightly_check.toggled.connect(self._nightly_toggled)
        self.nightly_time.timeChanged.connect(lambda _t: self._update_command())
        self.copy_command_button.clicked.connect(lambda: self._copy(self.command_edit))
        self.copy_scheduler_button.clicked.connect(lambda: self._copy(self.scheduler_edit))
        self.dismiss_button.clicked.connect(self.dismiss_failure)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._nightly_toggled(current.nightly_enabled)
        self._update_command()
        self._show_failure(None)
        self._set_editable(False)
        self.error_label.setText("Reading the settings…")
        session.changed.connect(self._office_changed)
        self._read_state(self._state_arrived)

    # --- public API -------------------------------------------------------------------------

    def chosen_settings(self) -> OfficeSettings:
        """The settings as chosen in the dialog."""
        time = self.nightly_time.time()
        return OfficeSettings(
            segmentation=SegmentationSettings(self.max_months.value(), self.buffer_months.value()),
            nightly_enabled=self.nightly_check.isChecked(),
            nightly_time=dt.time(time.hour(), time.minute()),
        )

    def command(self) -> SchedulerCommand:
        """The scheduler command for this office and the time chosen."""
        return scheduler_command(
            self._program,
            self._session.office.target,
            self.chosen_settings().nightly_time,
            self._platform,
        )

    def save(self) -> None:
        """Save the settings on the worker (now, or when it is free), then close."""
        if self._stored is None:
            return  # the office's settings are not shown yet: nothing was chosen
        try:
            settings = self.chosen_settings()
        except ValueError as error:  # the spin boxes keep to the ranges; kept for safety
            self.error_label.setText(str(error))
            return
        office = self._session.office
        self.buttons.setEnabled(False)
        self._saving = True
        self.error_label.setText("Saving…")

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return office.save_settings(settings)

        def done(_changes: Changes) -> None:
            self._stored = settings
            self.saved.emit(settings)
            self.accept()

        def failed(error: BaseException, _trace: str) -> None:
            self._saving = False
            self.buttons.setEnabled(True)
            self.error_label.setText(f"Not saved: {error}. Nothing was changed.")

        self._session.submit("Saving the settings", work, done, failed)

    def dismiss_failure(self) -> None:
        """Forget the kept nightly failure, through the worker."""
        office = self._session.office
        self.dismiss_button.setEnabled(False)

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
            return office.dismiss_nightly_failure()

        def done(_changes: Changes) -> None:
            self.dismiss_button.setEnabled(True)
            self._show_failure(None)

        def failed(error: BaseException, _trace: str) -> None:
            self.dismiss_button.setEnabled(True)
            self.error_label.setText(f"Not dismissed: {error}")

        self._session.submit("Dismissing the nightly run's failure", work, done, failed)

    # --- internals --------------------------------------------------------------------------

    def _read_state(self, then: Callable[[NightlyState], None]) -> None:
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> NightlyState:
            return office.nightly_state()

        def failed(error: BaseException, _trace: str) -> None:
            self.error_label.setText(f"The settings could not be read: {error}")

        self._session.submit(
            "Reading the settings", work, then, failed, background=True, key="settings-dialog"
        )

    def _state_arrived(self, state: NightlyState) -> None:
        current = self._stored = state.settings
        self.max_months.setValue(current.segmentation.max_months)
        self.buffer_months.setValue(current.segmentation.buffer_months)
        self.nightly_check.setChecked(current.nightly_enabled)
        self.nightly_time.setTime(QTime(current.nightly_time.hour, current.nightly_time.minute))
        self._set_editable(True)
        self._nightly_toggled(current.nightly_enabled)
        self._update_command()
        self._show_failure(state.failure)
        self.error_label.setText("")
        self.loaded.emit()

    def _office_changed(self, changes: Changes) -> None:
        # Settings saved elsewhere or a nightly failure kept or dismissed: show the failure
        # as it now stands (the fields keep what the user is editing).
        if (
            changes.touches(Area.SETTINGS)
            and self.isVisible()
            and self._stored is not None
            and not self._saving
        ):
            self._read_state(lambda state: self._show_failure(state.failure))

    def _set_editable(self, editable: bool) -> None:
        for widget in (self.max_months, self.buffer_months, self.nightly_check, self._save_button):
            widget.setEnabled(editable)
        self.nightly_time.setEnabled(editable and self.nightly_check.isChecked())

    def _nightly_toggled(self, enabled: bool) -> None:
        self.nightly_time.setEnabled(enabled and self._stored is not None)
        if (
            self._scheduler is not None
            and self._stored is not None
            and enabled == self._stored.nightly_enabled
        ):
            self.nightly_status.setText(self._scheduler.status())
        elif enabled:
            self.nightly_status.setText(
                "Segmentation runs every day at this time while the program is open; at "
                "start-up it catches up when the last nightly run is more than a day old."
            )
        else:
            self.nightly_status.setText("Nightly runs are off.")

    def _update_command(self) -> None:
        command = self.command()
        self.command_edit.setText(command.command)
        self.command_edit.setCursorPosition(0)
        self.scheduler_edit.setText(command.scheduler_line)
        self.scheduler_edit.setCursorPosition(0)
        if command.scheduler_name == "Task Scheduler":
            self.scheduler_title.setText("To create a daily task (in a Command Prompt):")
        else:
            self.scheduler_title.setText(
                f"A line for {command.scheduler_name} (crontab -e), at the time above:"
            )
        note = (
            "The scheduler's run is saved with the trigger “command line”; a run it made in "
            "the last day spares the window its catch-up at start-up."
        )
        if self._session.office.on_server:
            note += (
                " The server URL is shown without its password: give the password to the "
                "scheduler's account through PGPASSWORD or a .pgpass file."
            )
        self.scheduler_note.setText(note)

    def _copy(self, edit: QLineEdit) -> None:
        clipboard = self._clipboard if self._clipboard is not None else QGuiApplication.clipboard()
        clipboard.setText(edit.text())
        self.error_label.setText("Copied.")

    def _show_failure(self, failure: NightlyFailure | None) -> None:
        if failure is None:
            self.failure_label.setText("")
            self.failure_label.hide()
            self.dismiss_button.hide()
            return
        when = failure.at.strftime("%Y-%m-%d %H:%M") if failure.at != dt.datetime.min else "?"
        self.failure_label.setText(f"The nightly run of {when} failed: {failure.message}")
        self.failure_label.show()
        self.dismiss_button.show()

"""A status-bar progress indicator for the task runner: bar, message and Cancel button."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from seg_desktop.gui.tasks import TaskRunner

__all__ = ["DEFAULT_SHOW_DELAY_MS", "TaskProgressWidget"]

DEFAULT_SHOW_DELAY_MS = 400
"""Tasks that end sooner than this never show the widget, so quick work does not flash."""

_BAR_STEPS = 1000  # QProgressBar counts in ints; a permille is finer than any bar is wide


class TaskProgressWidget(QWidget):
    """Shows the running task of a :class:`TaskRunner`, with a button to cancel it.

    Hidden while idle. It appears only once a task has run for ``show_delay_ms`` and
    hides when the runner is idle again. Until the task reports progress the bar is a
    busy indicator and the label shows the task's name. Meant for
    ``QStatusBar.addPermanentWidget``; it stays hidden when added, since it hides itself
    explicitly.
    """

    def __init__(
        self,
        runner: TaskRunner,
        parent: QWidget | None = None,
        *,
        show_delay_ms: int = DEFAULT_SHOW_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("task_progress")
        self._runner = runner

        self._message = QLabel()
        self._message.setObjectName("task_message")
        self._bar = QProgressBar()
        self._bar.setObjectName("task_progress_bar")
        self._bar.setMaximumWidth(200)
        self._bar.setTextVisible(False)
        self._cancel_button = QPushButton("Cancel")
        self._cancel_button.setObjectName("cancel_task_button")
        self._cancel_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

        # What waits behind the running task ("then 2 more"), the names in its tooltip.
        self._waiting = QLabel()
        self._waiting.setObjectName("task_waiting")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._message)
        layout.addWidget(self._bar)
        layout.addWidget(self._cancel_button)
        layout.addWidget(self._waiting)

        self._show_timer = QTimer(self)
        self._show_timer.setObjectName("show_delay_timer")
        self._show_timer.setSingleShot(True)
        self._show_timer.setInterval(show_delay_ms)
        self._show_timer.timeout.connect(self._show_if_still_busy)

        self._cancel_button.clicked.connect(self._request_cancel)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.busy_changed.connect(self._on_busy_changed)
        runner.queue_changed.connect(self._show_waiting)

        self.hide()
        self._show_waiting()
        current = runner.current_name()
        if current is not None:
            self._on_started(current)

    @property
    def message(self) -> str:
        """The text shown beside the bar."""
        return self._message.text()

    @property
    def waiting(self) -> str:
        """What the status bar says of the tasks waiting their turn ("" when none)."""
        return self._waiting.text()

    @Slot()
    def _show_waiting(self) -> None:
        names = self._runner.waiting_names()
        self._waiting.setText(f"then {len(names)} more" if names else "")
        self._waiting.setToolTip("Waiting their turn:\n" + "\n".join(names) if names else "")
        self._waiting.setVisible(bool(names))

    @property
    def value(self) -> float | None:
        """The fraction shown on the bar, or None while it is a busy indicator."""
        if self._bar.maximum() == 0:
            return None
        return self._bar.value() / _BAR_STEPS

    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._message.setText(name)
        self._bar.setRange(0, 0)  # busy indicator until the task says how far it is
        self._cancel_button.setEnabled(True)
        # A task that follows another (a queued preview) keeps the widget up, and does
        # not restart a delay that is already counting.
        if self.isHidden() and not self._show_timer.isActive():
            self._show_timer.start()

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        if self._bar.maximum() == 0:
            self._bar.setRange(0, _BAR_STEPS)
        self._bar.setValue(round(fraction * _BAR_STEPS))
        if message and self._cancel_button.isEnabled():  # keep "Cancelling…" once asked
            self._message.setText(message)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if not busy:
            self._show_timer.stop()
            self.hide()

    @Slot()
    def _show_if_still_busy(self) -> None:
        if self._runner.is_busy():
            self.show()

    @Slot()
    def _request_cancel(self) -> None:
        self._cancel_button.setEnabled(False)
        self._message.setText("Cancelling…")
        self._runner.cancel()

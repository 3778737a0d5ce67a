"""TaskProgressWidget: shown only for long tasks, follows progress, cancels."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QMainWindow, QPushButton
from pytestqt.qtbot import QtBot

from seg_desktop.gui.progress import DEFAULT_SHOW_DELAY_MS, TaskProgressWidget
from seg_desktop.gui.tasks import (
    CancelledFn,
    LatestOnlyRunner,
    ProgressFn,
    TaskCancelled,
    TaskRunner,
)

WORKER_TIMEOUT_S = 10.0


class ShowRecorder(QObject):
    """Records when a widget receives Show events (to prove it never appeared)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown_at: list[float] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show:
            self.shown_at.append(time.monotonic())
        return False


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[TaskRunner]:
    task_runner = TaskRunner()
    yield task_runner
    assert task_runner.shutdown(5000)


@dataclass
class StatusBarSetUp:
    """A shown main window with the widget in its status bar, as the app will have it."""

    window: QMainWindow  # held so the window (and with it the widget) stays alive
    widget: TaskProgressWidget
    recorder: ShowRecorder


def in_status_bar(qtbot: QtBot, runner: TaskRunner) -> StatusBarSetUp:
    window = QMainWindow()
    qtbot.addWidget(window)
    widget = TaskProgressWidget(runner)
    window.statusBar().addPermanentWidget(widget)
    recorder = ShowRecorder()
    widget.installEventFilter(recorder)
    window.show()
    qtbot.waitExposed(window)
    return StatusBarSetUp(window, widget, recorder)


def delay_timer(widget: TaskProgressWidget) -> QTimer:
    timer = widget.findChild(QTimer, "show_delay_timer")
    assert timer is not None
    return timer


def test_hidden_while_idle(qtbot: QtBot, runner: TaskRunner) -> None:
    setup = in_status_bar(qtbot, runner)
    widget, recorder = setup.widget, setup.recorder
    assert not widget.isVisible()
    assert recorder.shown_at == []


def test_appears_for_a_long_task_and_hides_when_done(qtbot: QtBot, runner: TaskRunner) -> None:
    setup = in_status_bar(qtbot, runner)
    widget, recorder = setup.widget, setup.recorder
    reported = threading.Event()
    release = threading.Event()

    def segmentation(progress: ProgressFn, cancelled: CancelledFn) -> str:
        progress(0.25, "Computing tiers")
        reported.set()
        if not release.wait(WORKER_TIMEOUT_S):
            raise TimeoutError
        return "run saved"

    submitted_at = time.monotonic()
    runner.submit("Running segmentation", segmentation)
    qtbot.waitUntil(widget.isVisible, timeout=5000)

    # Qt's default (coarse) timers may fire up to 5 % early.
    assert recorder.shown_at[0] - submitted_at >= 0.94 * DEFAULT_SHOW_DELAY_MS / 1000
    qtbot.waitUntil(lambda: widget.message == "Computing tiers", timeout=5000)
    assert widget.value == 0.25

    with qtbot.waitSignal(runner.busy_changed, timeout=5000):
        release.set()
    assert not widget.isVisible()
    assert not delay_timer(widget).isActive()


def test_never_appears_for_a_short_task(qtbot: QtBot, runner: TaskRunner) -> None:
    setup = in_status_bar(qtbot, runner)
    widget, recorder = setup.widget, setup.recorder

    def count_members(progress: ProgressFn, cancelled: CancelledFn) -> int:
        progress(1.0, "Counted")
        return 17

    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit("Counting", count_members)

    assert not delay_timer(widget).isActive()  # so it cannot pop up later either
    assert recorder.shown_at == []
    assert not widget.isVisible()


def test_shows_task_name_and_busy_bar_until_progress(qtbot: QtBot, runner: TaskRunner) -> None:
    widget = TaskProgressWidget(runner, show_delay_ms=0)
    qtbot.addWidget(widget)
    release = threading.Event()
    runner.submit("Importing clients", lambda p, c: release.wait(WORKER_TIMEOUT_S))

    assert widget.message == "Importing clients"
    assert widget.value is None
    with qtbot.waitSignal(runner.finished, timeout=5000):
        release.set()


def test_cancel_button_cancels_the_task(qtbot: QtBot, runner: TaskRunner) -> None:
    setup = in_status_bar(qtbot, runner)
    widget = setup.widget
    saw_cancel: list[bool] = []

    def long_import(progress: ProgressFn, cancelled: CancelledFn) -> None:
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        idle = threading.Event()
        while not cancelled():
            if time.monotonic() > deadline:
                raise TimeoutError
            idle.wait(0.001)  # one "chunk of work"
        saw_cancel.append(True)
        raise TaskCancelled

    runner.submit("Importing", long_import)
    qtbot.waitUntil(widget.isVisible, timeout=5000)
    button = widget.findChild(QPushButton, "cancel_task_button")
    assert button is not None

    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert not button.isEnabled()
        assert widget.message == "Cancelling…"

    assert saw_cancel == [True]
    assert not widget.isVisible()


def test_stays_up_across_queued_preview_tasks(qtbot: QtBot) -> None:
    runner = LatestOnlyRunner()
    widget = TaskProgressWidget(runner, show_delay_ms=0)
    qtbot.addWidget(widget)
    recorder = ShowRecorder()
    widget.installEventFilter(recorder)
    release = threading.Event()
    try:
        runner.submit("first", lambda p, c: release.wait(WORKER_TIMEOUT_S))
        qtbot.waitUntil(lambda: not widget.isHidden(), timeout=5000)
        runner.submit("second", lambda p, c: None)
        with qtbot.waitSignal(runner.busy_changed, timeout=5000):
            release.set()
        assert len(recorder.shown_at) == 1
        assert widget.isHidden()
    finally:
        assert runner.shutdown()


def test_hides_when_runner_shuts_down(qtbot: QtBot) -> None:
    runner = TaskRunner()
    widget = TaskProgressWidget(runner)
    qtbot.addWidget(widget)
    release = threading.Event()

    def stubborn(progress: ProgressFn, cancelled: CancelledFn) -> None:
        release.wait(WORKER_TIMEOUT_S)

    runner.submit("closing", stubborn)
    assert delay_timer(widget).isActive()
    release.set()
    assert runner.shutdown(5000)
    assert not delay_timer(widget).isActive()
    assert widget.isHidden()

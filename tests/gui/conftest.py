"""Shared set-up for the pytest-qt tests: a headless platform and no leaked threads."""

from __future__ import annotations

import os

# Before anything imports Qt: pytest-qt creates the QApplication on first use, and with
# neither a platform nor a display the run dies with "Fatal Python error: Aborted".
# A value set in the environment (e.g. xcb under Xvfb) still wins.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# LC_ALL=C / no locale makes Qt warn about the locale, and warnings fail tests here.
os.environ.setdefault("LANG", "C.UTF-8")

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QThread

# A thread that would not stop is kept referenced here for the rest of the run: dropping
# the last reference to a running QThread makes Qt abort the whole test process.
_UNSTOPPABLE: list[QThread] = []


@pytest.fixture(autouse=True)
def started_qthreads() -> Iterator[list[QThread]]:
    """Record every QThread started during the test; fail it if one still runs at the end.

    Yields the list of started threads, so a test can also check them itself.
    """
    started: list[QThread] = []
    original_start: Callable[..., Any] = QThread.start

    def recording_start(self: QThread, *args: Any, **kwargs: Any) -> Any:
        started.append(self)
        return original_start(self, *args, **kwargs)

    # Its own patcher, so the test's `monkeypatch` is left alone.
    with pytest.MonkeyPatch.context() as patcher:
        patcher.setattr(QThread, "start", recording_start)
        yield started

    leaked = [t for t in started if shiboken6.isValid(t) and t.isRunning()]
    for thread in leaked:
        # Stop it anyway so the next tests run in a clean process.
        thread.quit()
        if not thread.wait(5000):
            _UNSTOPPABLE.append(thread)
    started.clear()
    if leaked:
        names = ", ".join(repr(t.objectName() or type(t).__name__) for t in leaked)
        pytest.fail(f"QThread still running at teardown: {names}", pytrace=False)


@pytest.fixture(autouse=True)
def no_unexpected_message_boxes() -> Iterator[list[str]]:
    """A modal message box nobody answers would hang the run: answer Cancel and fail the test.

    A test that expects a box patches ``QMessageBox``'s function itself (its patch is
    applied after this one, so it wins). Yields the titles of the boxes shown.
    """
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []

    def unexpected(_parent: object, title: str, *_args: Any, **_kwargs: Any) -> Any:
        shown.append(title)
        return QMessageBox.StandardButton.Cancel

    with pytest.MonkeyPatch.context() as patcher:
        for name in ("question", "warning", "critical", "information"):
            patcher.setattr(QMessageBox, name, unexpected)
        yield shown
    if shown:
        pytest.fail(f"unexpected modal message box(es): {shown}")


def _gui_frame_calling() -> str | None:
    """The first frame of window code (seg_desktop.gui) on the stack, as "module:line"."""
    import sys

    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("seg_desktop.gui"):
            return f"{module}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


@pytest.fixture(autouse=True)
def no_office_calls_on_gui_thread() -> Iterator[list[str]]:
    """Fail any GUI test in which window code touches the database on the GUI thread.

    Every read and write of an office goes through ``Database.read`` /
    ``Database.write``; a call of either on the GUI thread whose stack holds
    window code (``seg_desktop.gui``) is recorded and fails the test. Test code
    setting up an office on the GUI thread is not window code and passes.
    Opening an office (at start-up, before the window) is not a read or a write
    through these doors. Yields the list of offending calls.
    """
    from PySide6.QtCore import QCoreApplication

    from seg_desktop.store.database import Database

    offending: list[str] = []
    original_read, original_write = Database.read, Database.write

    def on_gui_thread() -> bool:
        app = QCoreApplication.instance()
        return app is not None and QThread.currentThread() is app.thread()

    def guarded(original: Callable[..., Any], door: str) -> Callable[..., Any]:
        def call(self: Database, *args: Any, **kwargs: Any) -> Any:
            if on_gui_thread():
                where = _gui_frame_calling()
                if where is not None:
                    offending.append(f"Database.{door}() on the GUI thread from {where}")
            return original(self, *args, **kwargs)

        return call

    with pytest.MonkeyPatch.context() as patcher:
        patcher.setattr(Database, "read", guarded(original_read, "read"))
        patcher.setattr(Database, "write", guarded(original_write, "write"))
        yield offending
    if offending:
        unique = list(dict.fromkeys(offending))
        pytest.fail("office calls on the GUI thread:\n  " + "\n  ".join(unique), pytrace=False)

"""Error reports, the error dialog, and the uncaught-exception handler."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPlainTextEdit, QPushButton
from pytestqt.qtbot import QtBot

from seg_desktop.gui.errors import (
    ErrorDialog,
    ExceptionHandler,
    build_report,
    default_log_path,
    install_excepthook,
    setup_logging,
)


class Emitter(QObject):
    """Something with a signal, to call a slot the way Qt does."""

    fire = Signal()


def load_boundaries() -> None:
    raise KeyError("tier 'Gold' has no lower limit")


def caught_error() -> BaseException:
    try:
        load_boundaries()
    except KeyError as error:
        return error
    raise AssertionError("unreachable")


@pytest.fixture
def handler(tmp_path: Path, qtbot: QtBot) -> Iterator[ExceptionHandler]:
    installed = install_excepthook(tmp_path / "logs" / "seg.log", echo_to_stderr=False)
    yield installed
    installed.uninstall()


def test_report_has_message_type_traceback_and_versions() -> None:
    error = caught_error()
    report = build_report("Could not load tiers", error, app_version="9.8.7")
    text = report.as_text()

    assert text.startswith("Could not load tiers\n")
    assert "Exception: KeyError" in text
    assert "seg-desktop: 9.8.7" in text
    assert f"Python: {sys.version.split()[0]}" in text
    assert "Qt: 6." in text and "PySide6 6." in text
    assert "Platform: " in text
    assert "in load_boundaries\n    raise KeyError(\"tier 'Gold' has no lower limit\")" in text
    assert text.rstrip().endswith("KeyError: \"tier 'Gold' has no lower limit\"")


def test_report_names_the_module_of_non_builtin_exceptions() -> None:
    class TierError(Exception):
        pass

    report = build_report("x", TierError("bad"), traceback_text="tb")
    assert (
        report.exception_type
        == f"{__name__}.test_report_names_the_module_of_non_builtin_exceptions.<locals>.TierError"
    )
    assert report.traceback_text == "tb"


def test_dialog_shows_traceback_read_only_and_copies_report(qtbot: QtBot) -> None:
    report = build_report("Export failed <file.xlsx>", caught_error())
    dialog = ErrorDialog(report)
    qtbot.addWidget(dialog)
    dialog.show()

    text_box = dialog.findChild(QPlainTextEdit, "error_report_text")
    assert text_box is not None
    assert text_box.isReadOnly()
    assert "Traceback (most recent call last)" in text_box.toPlainText()
    assert "in load_boundaries" in text_box.toPlainText()

    clipboard = QGuiApplication.clipboard()
    clipboard.setText("something else")
    copy_button = dialog.findChild(QPushButton, "copy_report_button")
    assert copy_button is not None
    with qtbot.waitSignal(dialog.report_copied, timeout=1000):
        qtbot.mouseClick(copy_button, Qt.MouseButton.LeftButton)

    assert clipboard.text() == report.as_text()
    assert "in load_boundaries" in clipboard.text()
    assert dialog.isVisible()  # copying does not close the dialog


def test_exception_in_slot_is_logged_and_shown_and_program_continues(
    qtbot: QtBot, handler: ExceptionHandler, tmp_path: Path
) -> None:
    emitter = Emitter()
    after: list[str] = []

    def broken_slot() -> None:
        raise ZeroDivisionError("average of no invoices")

    emitter.fire.connect(broken_slot)
    with qtbot.waitSignal(handler.exception_reported, timeout=1000) as blocker:
        emitter.fire.emit()
        after.append("still running")

    assert after == ["still running"]
    report = blocker.args[0]
    assert report.exception_type == "ZeroDivisionError"
    assert "broken_slot" in report.traceback_text
    dialog = handler.dialog
    assert dialog is not None and dialog.isVisible()
    assert "average of no invoices" in dialog.report_text()

    log_text = (tmp_path / "logs" / "seg.log").read_text(encoding="utf-8")
    assert "Uncaught exception" in log_text
    assert "ZeroDivisionError: average of no invoices" in log_text
    assert "broken_slot" in log_text


def test_exception_in_timer_slot_reaches_the_handler(
    qtbot: QtBot, handler: ExceptionHandler
) -> None:
    def tick() -> None:
        raise RuntimeError("from the event loop")

    with qtbot.waitSignal(handler.exception_reported, timeout=2000) as blocker:
        QTimer.singleShot(0, tick)
    assert "from the event loop" in blocker.args[0].traceback_text


def test_only_one_dialog_at_a_time(qtbot: QtBot, handler: ExceptionHandler) -> None:
    emitter = Emitter()
    emitter.fire.connect(lambda: 1 / 0)
    with qtbot.waitSignals([handler.exception_reported] * 2, timeout=1000):
        emitter.fire.emit()
        emitter.fire.emit()
    first = handler.dialog
    assert first is not None
    dialogs = [w for w in QGuiApplication.topLevelWindows() if w.isVisible()]
    assert len([w for w in dialogs if w.title() == first.windowTitle()]) == 1

    with qtbot.waitSignal(first.finished, timeout=1000):
        first.reject()
    assert handler.dialog is None


def test_exception_in_python_thread_is_shown_on_gui_thread(
    qtbot: QtBot, handler: ExceptionHandler
) -> None:
    gui_thread = threading.get_ident()
    seen_on: list[int] = []
    handler.exception_reported.connect(lambda report: seen_on.append(threading.get_ident()))

    def background() -> None:
        raise ValueError("in a plain thread")

    thread = threading.Thread(target=background, name="importer")
    with qtbot.waitSignal(handler.exception_reported, timeout=2000) as blocker:
        thread.start()
        thread.join()
    assert "importer" in blocker.args[0].message
    assert seen_on == [gui_thread]


def test_uninstall_restores_hooks_and_closes_log(tmp_path: Path, qtbot: QtBot) -> None:
    before_sys, before_threading = sys.excepthook, threading.excepthook
    root_handlers = list(logging.getLogger().handlers)

    installed = install_excepthook(tmp_path / "a.log", show_dialog=False, echo_to_stderr=False)
    assert sys.excepthook is not before_sys
    assert len(logging.getLogger().handlers) == len(root_handlers) + 1
    installed.uninstall()

    assert sys.excepthook is before_sys
    assert threading.excepthook is before_threading
    assert logging.getLogger().handlers == root_handlers


def test_setup_logging_writes_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "app.log"
    handler = setup_logging(path, max_bytes=200, backup_count=2)
    try:
        logger = logging.getLogger("seg_desktop.test_rotation")
        for i in range(20):
            logger.warning("line %d with some padding to fill the file", i)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert path.exists()
    assert (tmp_path / "nested" / "app.log.1").exists()
    assert not (tmp_path / "nested" / "app.log.3").exists()
    assert "line 19" in path.read_text(encoding="utf-8")


def test_default_log_path_is_in_the_user_log_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # platformdirs honours XDG_STATE_HOME for logs on Linux; keep the test out of $HOME.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = default_log_path()
    assert path.name == "seg-desktop.log"
    assert "seg-desktop" in path.parent.parts
    assert path.parent.is_dir()
    assert tmp_path in path.parents

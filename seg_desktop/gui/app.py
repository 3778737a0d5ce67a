"""Starting the window: the application, the office, the runners, the first-start offer."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from seg_desktop import __version__
from seg_desktop.gui.errors import install_excepthook
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.store.database import StoreError
from seg_desktop.store.office import Office

DEMO_CLIENTS = 2_000


def build_window(
    office: Office, settings: QSettings, today: Callable[[], dt.date] = dt.date.today
) -> MainWindow:
    """The main window over an open office, with its own runners (tests call this too)."""
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(office, runner, preview, today)
    window = MainWindow(session, settings)
    runner.setParent(window)
    preview.setParent(window)
    session.setParent(window)
    return window


def offer_first_start(window: MainWindow, ask: Callable[[QWidget], bool] | None = None) -> bool:
    """On an empty office, offer the demo office; returns whether the demo load was started."""
    session = window.session
    if session.office.client_count() > 0:
        return False
    wants_demo = (ask or _ask_demo)(window)
    if not wants_demo:
        window.statusBar().showMessage(
            "This office is empty: import clients and revenue from your own files to begin.", 10000
        )
        return False
    office = session.office

    def work(progress: ProgressFn, _cancelled: CancelledFn) -> object:
        from seg_desktop.demo import load_demo

        summary = load_demo(office, clients=DEMO_CLIENTS, progress=progress)
        office.run_segmentation(progress=progress)
        return summary

    def done(_summary: object) -> None:
        session.data_changed.emit()
        session.run_changed.emit(office.current_run())
        session.segments_changed.emit()

    return session.submit("Loading the demo office", work, done)


def _ask_demo(parent: QWidget) -> bool:
    box = QMessageBox(parent)
    box.setWindowTitle("Welcome to seg-desktop")
    box.setText("This office has no clients yet.")
    box.setInformativeText(
        f"Load a demo office ({DEMO_CLIENTS:,} clients, 36 months of revenue) to try the "
        "program, or start empty and import your own files."
    )
    demo = box.addButton("Load the demo office", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Start empty", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(demo)
    box.exec()
    return box.clickedButton() is demo


def run_window(db: str, argv: list[str] | None = None) -> int:
    """Open the window on a database and run the event loop; returns the exit code."""
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("seg-desktop")
    app.setOrganizationName("seg-desktop")
    app.setApplicationVersion(__version__)
    handler = install_excepthook()
    try:
        office = Office.open(db)
    except StoreError as error:
        QMessageBox.critical(None, "Cannot open the office database", str(error))
        handler.uninstall()
        return 1
    settings = QSettings()
    window = build_window(office, settings)
    handler.set_dialog_parent(window)
    window.show()
    QTimer.singleShot(0, lambda: offer_first_start(window))
    code = app.exec()
    office.close()
    handler.uninstall()
    return int(code)

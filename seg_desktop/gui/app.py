"""Starting the window: the application, the office, the runners, the first-start offer."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QLibraryInfo, QLocale, QSettings, QTimer, QTranslator
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from seg_desktop import __version__
from seg_desktop.gui.about import app_icon
from seg_desktop.gui.backups_dialog import build_damage_prompt, build_lock_prompt
from seg_desktop.gui.connect_dialog import offer_remembered_server
from seg_desktop.gui.errors import install_excepthook
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.store.changes import Changes
from seg_desktop.store.errors import LockHeld, StoreError
from seg_desktop.store.office import Office


class Releasable(Protocol):
    """A lock the window holds while it is open (the office file's writer lock)."""

    def release(self) -> None:
        """Let go of it."""


DEMO_CLIENTS = 2_000
# Set by packaging/smoke_test.py: print one line once the window is shown, then close
# it after this many milliseconds (and skip the first-start offer, a modal box).
SMOKE_EXIT_VARIABLE = "SEG_DESKTOP_SMOKE_EXIT_MS"


def build_window(
    office: Office, settings: QSettings, today: Callable[[], dt.date] = dt.date.today
) -> MainWindow:
    """The main window over an open office, with its own runners (tests call this too)."""
    runner = TaskRunner(
        cancel_exceptions=CANCEL_EXCEPTIONS, thread_name="seg_desktop office worker"
    )
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(office, runner, preview, today)
    window = MainWindow(session, settings)
    runner.setParent(window)
    preview.setParent(window)
    session.setParent(window)
    return window


def offer_first_start(window: MainWindow, ask: Callable[[QWidget], bool] | None = None) -> None:
    """On an empty office, offer the demo office (the count is read on the worker)."""
    session = window.session
    office = session.office

    def count(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
        return office.client_count()

    def counted(clients: int) -> None:
        if clients > 0:
            return
        if not (ask or _ask_demo)(window):
            window.statusBar().showMessage(
                "This office is empty: import clients and revenue from your own files to begin.",
                10000,
            )
            return
        session.submit("Loading the demo office", load, lambda _changes: None)

    def load(progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
        from seg_desktop.demo import load_demo

        summary = load_demo(office, clients=DEMO_CLIENTS, progress=progress)
        _run, run_changes = office.run_segmentation(progress=progress)
        return summary.changes | run_changes

    session.submit("Looking at the office", count, counted, background=True)


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


def _take_writer_lock(db: str) -> tuple[Releasable | None, bool] | None:
    """(lock, read_only), or None when the user chose to quit.

    A second window on a file in use is offered a read-only look instead.
    """
    if "://" in db:
        return None, False  # a server serialises its writers itself
    try:
        return Office.lock_for_writing(db), False
    except LockHeld as held:
        box, read_only = build_lock_prompt(None, held)
        box.exec()
        return (None, True) if box.clickedButton() is read_only else None


def _open_office(db: str, read_only: bool) -> Office | None:
    """Open the office; a file that fails its check is offered its newest good backup."""
    while True:
        try:
            return Office.open(db, read_only=read_only)
        except StoreError as error:
            if "://" in db or not Path(db).exists() or read_only:
                QMessageBox.critical(None, "Cannot open the office database", str(error))
                return None
            box, restore, backup = build_damage_prompt(None, db, str(error))
            box.exec()
            if restore is None or backup is None or box.clickedButton() is not restore:
                return None
            try:
                Office.restore_backup(db, backup.path)
            except StoreError as failed:
                QMessageBox.critical(None, "The backup could not be restored", str(failed))
                return None


def start_daily_backups(window: MainWindow, every_ms: int = 3_600_000) -> QTimer | None:
    """Take the day's backup now (on the worker, in its turn) and check again every hour."""
    session = window.session
    if session.office.database_file() is None or session.office.read_only:
        return None

    def work(_progress: ProgressFn, _cancelled: CancelledFn) -> object:
        return session.office.daily_backup()

    def failed(error: BaseException, _trace: str) -> None:
        window.statusBar().showMessage(f"No daily backup: {error}", 15_000)

    def due() -> None:
        session.submit("Daily backup", work, None, failed, background=True, key="daily-backup")

    timer = QTimer(window)
    timer.setObjectName("daily_backup_timer")
    timer.timeout.connect(due)
    timer.start(every_ms)
    QTimer.singleShot(2_000, due)
    return timer


def install_qt_translations(app: QApplication) -> str | None:
    """Translate Qt's own dialogs and buttons (qtbase_*.qm) into the user's language.

    Returns the language loaded, or None when there is none for it (English, C).
    """
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    locale = QLocale.system()
    if not translator.load(locale, "qtbase", "_", folder) or not app.installTranslator(translator):
        return None
    return translator.language() or locale.name()


def _report_shown(app: QApplication, translations: str | None) -> None:
    icon = "found" if not app.windowIcon().pixmap(32, 32).isNull() else "missing"
    print(
        f"seg-desktop: window shown; icon {icon}; Qt translations {translations or 'none'}",
        flush=True,
    )


def run_window(db: str, argv: list[str] | None = None, *, db_given: bool = True) -> int:
    """Open the window on a database and run the event loop; returns the exit code.

    Without --db (``db_given`` False), an office last opened on a server is offered
    first, in the Connect dialog; cancelling it opens ``db``, the desktop file.
    """
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("seg-desktop")
    app.setOrganizationName("seg-desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("seg-desktop")  # matches resources/seg-desktop.desktop
    app.setWindowIcon(app_icon())
    translations = install_qt_translations(app)
    handler = install_excepthook()
    settings = QSettings()
    server_office = None
    if not db_given and not os.environ.get(SMOKE_EXIT_VARIABLE):  # --db wins
        server_office = offer_remembered_server(settings)
    taken = (None, False) if server_office is not None else _take_writer_lock(db)
    if taken is None:
        handler.uninstall()
        return 0
    lock, read_only = taken
    try:
        office = server_office or _open_office(db, read_only)
        if office is None:
            return 1
        window = build_window(office, settings)
        handler.set_dialog_parent(window)
        window.show()
        smoke_exit_ms = os.environ.get(SMOKE_EXIT_VARIABLE)
        if smoke_exit_ms:  # packaging/smoke_test.py: say the window is up, then close it
            QTimer.singleShot(0, lambda: _report_shown(app, translations))
            QTimer.singleShot(int(smoke_exit_ms), window.close)
        if not read_only:
            if not smoke_exit_ms:
                QTimer.singleShot(0, lambda: offer_first_start(window))
            start_daily_backups(window)
        # After the first-start offer: a catch-up run waits for the demo load to finish.
        QTimer.singleShot(0, window.start_nightly)
        code = app.exec()
        window.session.office.close()
        return int(code)
    finally:
        if lock is not None:
            lock.release()
        handler.uninstall()

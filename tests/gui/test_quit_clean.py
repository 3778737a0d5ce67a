"""Quit is clean after every dialog of the window was opened and closed (issue 14, defect 2).

The window runs in a child process, as a user runs it: a Qt abort (exit 134) or a
"QThread: Destroyed while thread … is still running" would take the test run down
with it, and only a real process shows what reaches stderr and the exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from PySide6.QtCore import QSettings

from seg_desktop.demo import load_demo
from seg_desktop.store.office import Office

# What the offscreen platform itself may print; anything else on stderr fails the test.
ALLOWED_STDERR = ("propagateSizeHints",)

DRIVER = textwrap.dedent(
    """
    import os
    import sys
    from pathlib import Path

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog

    from seg_desktop.gui.app import build_window, start_daily_backups
    from seg_desktop.gui.errors import install_excepthook
    from seg_desktop.store.office import Office

    office_path, ini_path, clients_csv, revenue_csv, log_path = (Path(a) for a in sys.argv[1:6])
    app = QApplication(sys.argv[:1])
    # As run_window: the log file and the uncaught-exception handler (which echoes to stderr).
    handler = install_excepthook(log_path)
    settings = QSettings(str(ini_path), QSettings.Format.IniFormat)
    window = build_window(Office.open(office_path), settings)
    handler.set_dialog_parent(window)
    window.show()
    # As run_window starts it: the day's backup and the nightly scheduler run too.
    start_daily_backups(window)
    QTimer.singleShot(0, window.start_nightly)
    chosen = {"clients": clients_csv, "revenue": revenue_csv}
    # File → Import asks for a file: answer with the prepared one of its kind.
    QFileDialog.getOpenFileName = staticmethod(
        lambda _parent, title, *_a, **_k: (
            str(chosen["clients" if "clients" in title.lower() else "revenue"]),
            "",
        )
    )
    shown: list[str] = []


    def idle() -> bool:
        return not window.session.runner.is_busy()


    def wait_until(condition, timeout_ms: int = 30_000) -> None:
        # Wait in an event loop woken every 10 ms (no busy spinning, no sleeping).
        loop, waited = QEventLoop(), 0
        while not condition():
            if waited > timeout_ms:
                raise SystemExit(f"timed out waiting; dialogs so far: {shown}")
            QTimer.singleShot(10, loop.quit)
            loop.exec()
            waited += 10


    def close_modal_when_shown(expected_title: str) -> None:
        # A modal dialog runs its own loop inside `trigger()`: close it from a timer.
        def poll() -> None:
            modal = QApplication.activeModalWidget()
            if modal is None or not modal.isVisible():
                QTimer.singleShot(20, poll)
                return
            shown.append(modal.windowTitle())
            assert expected_title.lower() in modal.windowTitle().lower(), modal.windowTitle()
            modal.reject()

        QTimer.singleShot(0, poll)


    def step(number: int) -> None:
        wait_until(idle)
        steps[number]()
        QTimer.singleShot(0, lambda: step(number + 1) if number + 1 < len(steps) else None)


    def import_and_cancel(action) -> None:
        action.trigger()
        dialog = window._import_dialog
        shown.append(dialog.windowTitle())
        wait_until(lambda: dialog.preview_button.isEnabled() or idle())
        wait_until(idle)
        dialog.cancel_button.click()
        assert not dialog.isVisible()


    def backups() -> None:
        window.backups_action.trigger()
        dialog = window._backups_dialog
        shown.append(dialog.windowTitle())
        wait_until(idle)
        dialog.reject()


    def check() -> None:
        close_modal_when_shown("Check database")
        window.check_action.trigger()
        wait_until(lambda: "Check database" in shown)


    def connect() -> None:
        close_modal_when_shown("")
        window.connect_action.trigger()  # returns when the dialog was cancelled


    def settings() -> None:
        window.settings_action.trigger()
        dialog = window._settings_dialog
        shown.append(dialog.windowTitle())
        wait_until(idle)
        dialog.reject()


    def about() -> None:
        close_modal_when_shown("About")
        window.about_action.trigger()


    def error() -> None:
        # A task that fails with no handler of its own: the window's error dialog shows it.
        def fail(_progress, _cancelled):
            raise RuntimeError("a failure shown to the user")

        window._error_dialog = None
        window.session.submit("Trying the error dialog", fail)
        wait_until(lambda: window._error_dialog is not None and window._error_dialog.isVisible())
        shown.append(window._error_dialog.windowTitle())
        window._error_dialog.close()


    def quit_() -> None:
        print("dialogs:", " | ".join(shown), flush=True)
        QTimer.singleShot(15_000, not_ended)  # a modal box may hold the loop: a watchdog
        window.quit_action.trigger()


    def not_ended() -> None:
        # E.g. the error dialog of a failed close: the program would not end by itself.
        left_open = [w.windowTitle() for w in app.topLevelWidgets() if w.isVisible()]
        print(f"File → Quit did not end the program; open: {left_open}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)


    steps = [
        lambda: import_and_cancel(window.import_clients_action),
        lambda: import_and_cancel(window.import_revenue_action),
        backups,
        check,
        connect,
        settings,
        about,
        error,
        quit_,
    ]
    QTimer.singleShot(0, lambda: step(0))
    code = app.exec()
    window.session.office.close()
    handler.uninstall()
    sys.exit(code)
    """
)


def test_quit_is_clean_after_every_dialog_was_opened_and_closed(tmp_path: Path) -> None:
    office_path = tmp_path / "office.db"
    office = Office.open(office_path)
    load_demo(office, clients=40, months=14, seed=3)
    office.run_segmentation()
    office.close()
    clients_csv = tmp_path / "clients.csv"
    clients_csv.write_text("ref,name,email\nN001,Acme Ltd,acme@example.com\n", encoding="utf-8")
    revenue_csv = tmp_path / "revenue.csv"
    revenue_csv.write_text("ref,date,amount\nN001,2024-01-15,120.00\n", encoding="utf-8")
    ini_path = tmp_path / "settings.ini"
    log_path = tmp_path / "seg-desktop.log"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LANG": "C.UTF-8"}
    environment.pop("SEG_DESKTOP_SMOKE_EXIT_MS", None)

    finished = subprocess.run(
        [
            sys.executable,
            str(driver),
            str(office_path),
            str(ini_path),
            str(clients_csv),
            str(revenue_csv),
            str(log_path),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=90,
        check=False,
    )

    stderr = [
        line
        for line in finished.stderr.splitlines()
        if line.strip() and not any(allowed in line for allowed in ALLOWED_STDERR)
    ]
    assert finished.returncode == 0, finished.stderr
    assert stderr == []
    # Every dialog was shown, then the window quit through File → Quit.
    shown = finished.stdout.split("dialogs:", 1)[1].strip().split(" | ")
    assert shown == [
        "Import clients — clients.csv",
        "Import revenue — revenue.csv",
        "Backups",
        "Check database",
        "Connect to Office Server",
        "Settings",
        "About seg-desktop",
        "Something went wrong",
    ]
    # The log holds the one failure the driver made, and no other error.
    errors = [line for line in log_path.read_text().splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Trying the error dialog" in errors[0], errors
    # The layout was saved on the way out.
    saved = QSettings(str(ini_path), QSettings.Format.IniFormat).allKeys()
    assert any("geometry" in key and "main_window" in key for key in saved), saved

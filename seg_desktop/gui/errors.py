"""Unexpected errors: a log file, a dialog with a copyable report, and a safety net.

Two things the user must never see: the window vanishing, and an error they cannot pass
on. :func:`install_excepthook` routes any exception that escapes a slot (or any Python
thread) to the log file and to an :class:`ErrorDialog` whose report can be copied into
an email, and the program keeps running (Anki's and qutebrowser's approach).
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

import PySide6
from platformdirs import user_log_dir
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot, qVersion
from PySide6.QtGui import QClipboard, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from seg_desktop import __version__

__all__ = [
    "APP_NAME",
    "ErrorDialog",
    "ErrorReport",
    "ExceptionHandler",
    "build_report",
    "default_log_path",
    "install_excepthook",
    "setup_logging",
]

APP_NAME = "seg-desktop"
LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

_log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


@dataclass(frozen=True)
class ErrorReport:
    """Everything a developer needs to understand one error, as plain text."""

    message: str
    exception_type: str
    traceback_text: str
    app_version: str
    platform: str
    python_version: str
    qt_version: str
    pyside_version: str
    log_path: Path | None = None

    def as_text(self) -> str:
        """Return the report as it is shown and copied."""
        lines = [
            self.message,
            "",
            f"Exception: {self.exception_type}",
            f"seg-desktop: {self.app_version}",
            f"Platform: {self.platform}",
            f"Python: {self.python_version}",
            f"Qt: {self.qt_version} (PySide6 {self.pyside_version})",
        ]
        if self.log_path is not None:
            lines.append(f"Log file: {self.log_path}")
        lines += ["", self.traceback_text.rstrip(), ""]
        return "\n".join(lines)


def build_report(
    message: str,
    error: BaseException | None = None,
    traceback_text: str | None = None,
    *,
    app_version: str = __version__,
    log_path: Path | None = None,
) -> ErrorReport:
    """Describe ``error`` (and this machine) for the user to copy and send.

    ``traceback_text`` is used when given (e.g. from ``TaskRunner.failed``, where the
    traceback was formatted on the worker thread); otherwise it is formatted from
    ``error``.
    """
    if traceback_text is None:
        traceback_text = "".join(traceback.format_exception(error)) if error is not None else ""
    if error is None:
        exception_type = "(none)"
    else:
        cls = type(error)
        module = "" if cls.__module__ == "builtins" else f"{cls.__module__}."
        exception_type = f"{module}{cls.__qualname__}"
    return ErrorReport(
        message=message,
        exception_type=exception_type,
        traceback_text=traceback_text,
        app_version=app_version,
        platform=platform.platform(),
        python_version=sys.version.replace("\n", " "),
        qt_version=qVersion(),
        pyside_version=PySide6.__version__,
        log_path=log_path,
    )


class ErrorDialog(QDialog):
    """Shows an :class:`ErrorReport` in a read-only text box with a "Copy report" button.

    ``clipboard`` defaults to the application's clipboard; pass one in to redirect it.
    """

    report_copied = Signal()

    def __init__(
        self,
        report: ErrorReport,
        parent: QWidget | None = None,
        *,
        clipboard: QClipboard | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("error_dialog")
        self.setWindowTitle("Something went wrong")
        self._report = report
        self._clipboard = clipboard

        summary = QLabel(
            f"<b>{_escape(report.message)}</b><br>"
            "The program is still running, but the last action may not have completed. "
            "Please copy the report below and send it to whoever supports the program."
        )
        summary.setObjectName("error_summary")
        summary.setWordWrap(True)
        summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self._details = QPlainTextEdit()
        self._details.setObjectName("error_report_text")
        self._details.setReadOnly(True)
        self._details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._details.setPlainText(report.as_text())

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self._copy_button = QPushButton("Copy report")
        self._copy_button.setObjectName("copy_report_button")
        # ActionRole: copying must not close the dialog.
        buttons.addButton(self._copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self._copy_button.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self._details, stretch=1)
        layout.addWidget(buttons)
        self.resize(720, 480)

    @property
    def report(self) -> ErrorReport:
        """The report shown."""
        return self._report

    def report_text(self) -> str:
        """Return the text in the report box."""
        return self._details.toPlainText()

    @Slot()
    def copy_report(self) -> None:
        """Put the whole report on the clipboard."""
        clipboard = self._clipboard if self._clipboard is not None else QGuiApplication.clipboard()
        clipboard.setText(self._report.as_text())
        self._copy_button.setText("Copied")
        self.report_copied.emit()


def _escape(text: str) -> str:
    # The message may contain "<" (e.g. "<lambda>") and the label renders rich text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def default_log_path() -> Path:
    """Return the log file in the user's log folder (created if missing)."""
    folder = Path(user_log_dir(APP_NAME, appauthor=False, ensure_exists=True))
    return folder / f"{APP_NAME}.log"


def setup_logging(
    log_path: Path | None = None,
    *,
    level: int = logging.INFO,
    max_bytes: int = 1_000_000,
    backup_count: int = 5,
) -> RotatingFileHandler:
    """Log to a rotating file (by default in the user's log folder); return the handler.

    The handler goes on the root logger, so warnings from SQLAlchemy and other libraries
    land in the same file; only the ``seg_desktop`` loggers are lowered to ``level``, so
    the libraries' own INFO chatter stays out. Remove and close the handler to undo
    (``ExceptionHandler.uninstall`` does this for the handler it set up).
    """
    path = log_path if log_path is not None else default_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True
    )
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)
    package_logger = logging.getLogger("seg_desktop")
    if package_logger.getEffectiveLevel() > level:
        package_logger.setLevel(level)
    return handler


class ExceptionHandler(QObject):
    """Catches uncaught exceptions: logs them, shows an :class:`ErrorDialog`, carries on.

    Installed as ``sys.excepthook`` (PySide6 reports an exception escaping a slot there
    and then returns to the event loop) and ``threading.excepthook``. Exceptions from
    other threads are logged at once and shown on the GUI thread. While one dialog is
    open, further errors are only logged, so an error in a paint or timer slot cannot
    bury the user under dialogs.

    Signal ``exception_reported(ErrorReport)`` fires on the GUI thread for every error.
    """

    exception_reported = Signal(object)
    _report_requested = Signal(object)

    def __init__(
        self,
        *,
        log_path: Path | None = None,
        show_dialog: bool = True,
        dialog_parent: QWidget | None = None,
        app_version: str = __version__,
        echo_to_stderr: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._log_path = log_path
        self._show_dialog = show_dialog
        self._dialog_parent = dialog_parent
        self._app_version = app_version
        self._echo_to_stderr = echo_to_stderr
        self._dialog: ErrorDialog | None = None
        self._log_handler: RotatingFileHandler | None = None
        self._previous_excepthook: Callable[..., object] | None = None
        self._previous_threading_hook: Callable[[threading.ExceptHookArgs], object] | None = None
        # AutoConnection: direct when the error happens on the GUI thread, queued (so the
        # dialog is built on the GUI thread) when it happens on another thread.
        self._report_requested.connect(self._present)

    @property
    def dialog(self) -> ErrorDialog | None:
        """The error dialog currently open, if any."""
        return self._dialog

    def set_dialog_parent(self, parent: QWidget | None) -> None:
        """Show dialogs over ``parent`` (the main window, once it exists)."""
        self._dialog_parent = parent

    def install(self, log_handler: RotatingFileHandler | None = None) -> None:
        """Become ``sys.excepthook`` and ``threading.excepthook``.

        ``log_handler``, if given, is owned from now on and closed by :meth:`uninstall`.
        """
        self._log_handler = log_handler
        self._previous_excepthook = sys.excepthook
        self._previous_threading_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._threading_excepthook

    def uninstall(self) -> None:
        """Restore the previous hooks, close any open dialog and the log handler."""
        if self._previous_excepthook is not None and sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        if (
            self._previous_threading_hook is not None
            and threading.excepthook == self._threading_excepthook
        ):
            threading.excepthook = self._previous_threading_hook
        self._previous_excepthook = self._previous_threading_hook = None
        if self._dialog is not None:
            self._dialog.close()
            self._dialog = None
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def handle(self, exc_info: ExcInfo, *, message: str | None = None) -> None:
        """Log one uncaught exception and ask for it to be shown (any thread)."""
        exc_type, error, tb = exc_info
        if issubclass(exc_type, KeyboardInterrupt):
            # Ctrl+C in a terminal: the user wants out, not a dialog.
            hook = self._previous_excepthook or sys.__excepthook__
            hook(exc_type, error, tb)
            return
        text = "".join(traceback.format_exception(exc_type, error, tb))
        _log.critical("Uncaught exception:\n%s", text.rstrip())
        if self._echo_to_stderr and sys.stderr is not None:
            # For whoever runs the program from a terminal; windowed builds have no stderr.
            sys.stderr.write(text)
        report = build_report(
            message or f"Unexpected error: {error}",
            error,
            text,
            app_version=self._app_version,
            log_path=self._log_path,
        )
        self._report_requested.emit(report)

    def _excepthook(
        self, exc_type: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        try:
            self.handle((exc_type, error, tb))
        except Exception:  # the safety net must not throw: fall back to plain printing
            sys.__excepthook__(exc_type, error, tb)

    def _threading_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        try:
            self.handle(
                (args.exc_type, args.exc_value, args.exc_traceback),
                message=f"Unexpected error in background thread {name!r}: {args.exc_value}",
            )
        except Exception:
            sys.__excepthook__(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(object)
    def _present(self, report: ErrorReport) -> None:
        assert QThread.currentThread() is self.thread(), "error dialog built off the GUI thread"
        if self._show_dialog and self._dialog is None:
            dialog = ErrorDialog(report, self._dialog_parent)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.finished.connect(self._forget_dialog)
            self._dialog = dialog
            # show(), not exec(): a nested event loop inside the failed slot's call stack
            # is how re-entrancy bugs are born.
            dialog.show()
        self.exception_reported.emit(report)

    @Slot()
    def _forget_dialog(self) -> None:
        self._dialog = None


def install_excepthook(
    log_path: Path | None = None,
    *,
    show_dialog: bool = True,
    dialog_parent: QWidget | None = None,
    app_version: str = __version__,
    echo_to_stderr: bool = True,
) -> ExceptionHandler:
    """Set up file logging at ``log_path`` and install the uncaught-exception handler.

    ``log_path`` defaults to ``default_log_path()``; tests pass a file in ``tmp_path``.
    Call ``uninstall()`` on the returned handler to undo both (the application keeps it
    for its whole life; it needs no global to be found).
    """
    path = log_path if log_path is not None else default_log_path()
    log_handler = setup_logging(path)
    handler = ExceptionHandler(
        log_path=path,
        show_dialog=show_dialog,
        dialog_parent=dialog_parent,
        app_version=app_version,
        echo_to_stderr=echo_to_stderr,
    )
    handler.install(log_handler)
    _log.info("seg-desktop %s started; logging to %s", app_version, path)
    return handler

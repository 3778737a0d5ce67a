"""File → Connect to Office Server…: open an office kept on a PostgreSQL server.

The dialog asks for the server, port, database, user and password. Connecting
runs off the GUI thread (and gives up after the store's connect timeout), so
the window never freezes; a failure is shown as one line inside the dialog,
with everything typed kept. An empty database is set up as a new office only
after the user says so.

From the window (File → Connect to Office Server) the connecting is a task of
the session's office worker, like every other office call. At start-up there
is no session yet (the window is built around the office this dialog opens),
so there, and only there, the dialog runs its own short-lived worker thread.

What is remembered, in the QSettings passed in: the last server, port,
database and user, and the last server office as a URL without its password
(`LAST_DATABASE_KEY`, which start-up reads to offer this dialog again). The
password is kept only in the system keyring, and only when the user ticks the
box; where there is no keyring it is asked each time.

Call :func:`connect_to_office_server`; the pure helpers (:class:`ServerLogin`,
:func:`build_server_url`, :func:`server_login_from_url`) have no Qt in them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ErrorCallback, ProgressFn, TaskRunner
from seg_desktop.io.secrets import (
    delete_password,
    keyring_available,
    load_password,
    save_password,
)
from seg_desktop.store.errors import StoreError
from seg_desktop.store.office import Office

T = TypeVar("T")

__all__ = [
    "DEFAULT_PORT",
    "KEYRING_SERVICE",
    "LAST_DATABASE_KEY",
    "ConnectDialog",
    "ServerLogin",
    "build_server_url",
    "connect_to_office_server",
    "forget_office_server",
    "offer_remembered_server",
    "remembered_server",
    "server_login_from_url",
]

DEFAULT_PORT = 5432
KEYRING_SERVICE = "seg-desktop office server"
LAST_DATABASE_KEY = "office/last_database"
"""The last server office opened, as a URL without password (start-up offers it again)."""
_SERVER_KEYS = "office_server"  # the group holding the dialog's remembered fields


# --- pure helpers (no Qt) ------------------------------------------------------------------


def build_server_url(
    host: str, port: int, database: str, user: str, password: str | None = None
) -> str:
    """The office's URL on a PostgreSQL server (psycopg driver), every part escaped.

    Without a password (None or empty) the URL carries none.
    """
    return Office.server_url(host, port, database, user, password)


@dataclass(frozen=True)
class ServerLogin:
    """Where an office server is and who logs in: everything but the password."""

    host: str
    port: int = DEFAULT_PORT
    database: str = ""
    user: str = ""

    def url(self, password: str | None = None) -> str:
        """The URL to open, with the password if one is given."""
        return build_server_url(self.host, self.port, self.database, self.user, password)

    @property
    def account(self) -> str:
        """The name the password is kept under in the keyring: user@host:port/database."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def problem(self) -> str | None:
        """What is missing before connecting can be tried, or None."""
        if not self.host.strip():
            return "Type the server's name or address."
        if not self.database:
            return "Type the name of the office's database on the server."
        if not self.user:
            return "Type your user name on the server."
        return None


def server_login_from_url(url: str) -> ServerLogin | None:
    """The login of a PostgreSQL URL that carries no password, else None (a SQLite path,
    another kind of URL, or one with a password in it, which is never offered again)."""
    address = Office.server_address(url)
    if address is None:
        return None
    host, port, database, user = address
    return ServerLogin(host, port or DEFAULT_PORT, database, user)


# --- what QSettings remembers -----------------------------------------------------------------


def remembered_server(settings: QSettings) -> ServerLogin | None:
    """The last server office opened (start-up offers it again), if any."""
    value = settings.value(LAST_DATABASE_KEY, "")
    return server_login_from_url(value) if isinstance(value, str) and value else None


def forget_office_server(settings: QSettings) -> None:
    """Stop offering the last server office at start-up (the user went back to a file)."""
    settings.remove(LAST_DATABASE_KEY)


def _last_fields(settings: QSettings) -> tuple[ServerLogin, bool]:
    """The fields as the dialog last left them, and whether the password was remembered."""
    settings.beginGroup(_SERVER_KEYS)
    try:
        port = settings.value("port", DEFAULT_PORT)
        try:
            port_number = int(str(port))
        except ValueError:
            port_number = DEFAULT_PORT
        login = ServerLogin(
            str(settings.value("host", "") or ""),
            port_number if 0 < port_number < 65536 else DEFAULT_PORT,
            str(settings.value("database", "") or ""),
            str(settings.value("user", "") or ""),
        )
        remember = str(settings.value("remember_password", "false")).lower() == "true"
    finally:
        settings.endGroup()
    return login, remember


def _remember(settings: QSettings, login: ServerLogin, remember_password: bool) -> None:
    settings.beginGroup(_SERVER_KEYS)
    try:
        settings.setValue("host", login.host)
        settings.setValue("port", login.port)
        settings.setValue("database", login.database)
        settings.setValue("user", login.user)
        settings.setValue("remember_password", remember_password)
    finally:
        settings.endGroup()
    settings.setValue(LAST_DATABASE_KEY, login.url())  # never with the password


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# --- the dialog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Looked:
    """What the worker found at the server: an empty database, an office, or a failure."""

    empty: bool = False
    failure: str | None = None


@dataclass(frozen=True)
class _Opened:
    office: Office | None = None
    failure: str | None = None


class ConnectDialog(QDialog):
    """The server, port, database, user and password of an office server; connects on OK.

    After ``exec()`` returns Accepted, ``office`` is the open office. With a
    ``session`` (the window's) the connecting runs on its office worker;
    without one (start-up, before any window) on a worker of the dialog's own.
    """

    def __init__(
        self,
        settings: QSettings,
        parent: QWidget | None = None,
        prefill: ServerLogin | None = None,
        *,
        session: OfficeSession | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("connect_dialog")
        self.setWindowTitle("Connect to Office Server")
        self.setModal(True)
        self.office: Office | None = None
        self._settings = settings
        self._session = session
        # Start-up only: no session exists before this dialog has opened an office for
        # the window to be built around, so nothing else could run this work off the
        # GUI thread. From the window the session's office worker runs it.
        self._runner = (
            TaskRunner(self, thread_name="seg_desktop connect") if session is None else None
        )
        self._connecting = False
        self._stop = (
            threading.Event()
        )  # set when the dialog closes: an office opened late is closed
        self._keyring = keyring_available()

        last, remember = _last_fields(settings)
        login = prefill or last

        intro = QLabel(
            "Open the office kept on a PostgreSQL server, shared by everyone in the office."
        )
        intro.setWordWrap(True)

        self.host = QLineEdit(login.host)
        self.host.setObjectName("host")
        self.host.setPlaceholderText("db.office.example or 192.168.1.20")
        self.port = QSpinBox()
        self.port.setObjectName("port")
        self.port.setRange(1, 65535)
        self.port.setGroupSeparatorShown(False)
        self.port.setValue(login.port)
        self.port.setMaximumWidth(self.port.sizeHint().width() + 24)  # five digits, not a line
        self.database = QLineEdit(login.database)
        self.database.setObjectName("database")
        self.database.setPlaceholderText("office")
        self.user = QLineEdit(login.user)
        self.user.setObjectName("user")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)

        self.remember = QCheckBox("Remember password in the system keyring")
        self.remember.setObjectName("remember_password")
        self.keyring_note = QLabel("No system keyring here: the password is asked each time.")
        self.keyring_note.setObjectName("keyring_note")
        self.keyring_note.setEnabled(False)  # greyed: an explanation, not a control
        if self._keyring:
            self.remember.setChecked(remember)
            self.keyring_note.hide()
            if remember:
                self.password.setText(load_password(KEYRING_SERVICE, login.account) or "")
        else:
            self.remember.setEnabled(False)
            self.remember.setToolTip(self.keyring_note.text())

        self.message = QLabel()
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.connect_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.connect_button.setText("Connect")
        self.buttons.accepted.connect(self.connect_to_server)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("&Server:", self.host)
        form.addRow("P&ort:", self.port)
        form.addRow("&Database:", self.database)
        form.addRow("&User:", self.user)
        form.addRow("&Password:", self.password)
        form.addRow("", self.remember)
        form.addRow("", self.keyring_note)

        layout = self._layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

        first_empty = next(
            (w for w in (self.host, self.database, self.user, self.password) if not w.text()),
            self.password,
        )
        first_empty.setFocus()

    # --- what was typed ---------------------------------------------------------------------

    def login(self) -> ServerLogin:
        """The server, port, database and user as typed (the password is apart)."""
        return ServerLogin(
            self.host.text().strip(),
            self.port.value(),
            self.database.text().strip(),
            self.user.text().strip(),
        )

    def is_connecting(self) -> bool:
        """True while the worker is talking to the server (or waiting for its turn)."""
        return self._connecting

    def _submit(
        self,
        name: str,
        work: Callable[[ProgressFn, CancelledFn], T],
        on_done: Callable[[T], None],
    ) -> None:
        """Run ``work`` off the GUI thread; the answer comes back only to a dialog still there."""
        this = weakref.ref(self)

        def done(result: T) -> None:
            dialog = this()
            if dialog is not None and shiboken6.isValid(dialog):
                dialog._connecting = False
                on_done(result)

        def failed(error: BaseException, trace: str) -> None:
            dialog = this()
            if dialog is not None and shiboken6.isValid(dialog):
                dialog._connecting = False
                dialog._crashed(error, trace)

        on_error: ErrorCallback = failed
        self._connecting = True
        if self._session is not None:
            self._session.submit(name, work, done, on_error)
        elif self._runner is not None:
            self._runner.submit(name, work, done, on_error)

    # --- connecting ----------------------------------------------------------------------------

    def connect_to_server(self) -> None:
        """OK: look at the server on the worker; an empty database is set up only if asked."""
        if self.is_connecting():
            return
        login = self.login()
        problem = login.problem()
        if problem is not None:
            self._show_failure(problem)
            return
        url = login.url(self.password.text())

        stop = self._stop

        def look(_progress: ProgressFn, cancelled: CancelledFn) -> _Looked:
            if stop.is_set() or cancelled():
                return _Looked(failure="Closed before connecting.")
            try:
                return _Looked(empty=Office.server_database_is_empty(url))
            except StoreError as error:
                return _Looked(failure=_one_line(error))

        self._busy(f"Connecting to {login.host}…")
        self._submit("Connecting to the office server", look, self._looked)

    def _looked(self, looked: _Looked) -> None:
        if looked.failure is not None:
            self._show_failure(looked.failure)
            return
        login = self.login()
        if looked.empty and not self._set_up_allowed(login):
            self._show_failure(f"Nothing was set up in {login.database}.")
            return
        url = login.url(self.password.text())

        stop = self._stop

        def open_office(_progress: ProgressFn, cancelled: CancelledFn) -> _Opened:
            if stop.is_set() or cancelled():
                return _Opened(failure="Closed before connecting.")
            try:
                office = Office.open(url)
            except StoreError as error:
                return _Opened(failure=_one_line(error))
            if stop.is_set() or cancelled():
                office.close()  # the dialog was closed meanwhile: nobody takes the office
                return _Opened(failure="Closed before connecting.")
            return _Opened(office=office)

        what = "Setting up the new office" if looked.empty else "Opening the office"
        self._busy(f"{what} in {login.database}…")
        self._submit(what, open_office, self._opened)

    def _set_up_allowed(self, login: ServerLogin) -> bool:
        answer = QMessageBox.question(
            self,
            "Set up a new office?",
            f"Set up a new office in {login.database}?\n\n"
            f"The database {login.database} on {login.host} is empty. seg-desktop will create "
            "its tables there, with the default tiers and the example segments.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _opened(self, opened: _Opened) -> None:
        if opened.office is None:
            self._show_failure(opened.failure or "The office could not be opened.")
            return
        login = self.login()
        remember = self._keyring and self.remember.isChecked()
        if remember:
            remember = save_password(KEYRING_SERVICE, login.account, self.password.text())
        elif self._keyring:
            delete_password(KEYRING_SERVICE, login.account)
        _remember(self._settings, login, remember)
        self.office = opened.office
        self.accept()

    def _crashed(self, error: BaseException, _trace: str) -> None:
        # Not a database problem (those come back as a failure): still shown here, in a line.
        self._show_failure(f"Connecting failed unexpectedly: {_one_line(error)}")

    # --- what the dialog shows ---------------------------------------------------------------

    def _busy(self, text: str) -> None:
        self._set_inputs_enabled(False)
        self.message.setStyleSheet("")
        self.message.setText(text)
        self._show_message()

    def _show_failure(self, text: str) -> None:
        self._set_inputs_enabled(True)
        self.message.setStyleSheet("color: #b00020;")
        self.message.setText(text[:1].upper() + text[1:])
        self._show_message()

    def _show_message(self) -> None:
        # A message appearing (two wrapped lines, perhaps) grows the dialog instead of
        # squeezing the rows above it into each other.
        self.message.show()
        needed = self._layout.totalHeightForWidth(self.width())
        if self.height() < needed:
            self.resize(self.width(), needed)

    def _set_inputs_enabled(self, enabled: bool) -> None:
        for widget in (self.host, self.port, self.database, self.user, self.password):
            widget.setEnabled(enabled)
        self.remember.setEnabled(enabled and self._keyring)
        self.connect_button.setEnabled(enabled)

    def done(self, result: int) -> None:
        """Closing stops the connecting (a connect in progress gives up within its timeout)."""
        self._stop.set()
        if self._runner is not None:
            if self._runner.is_busy():
                self._runner.cancel()
            self._runner.shutdown(15_000)
        super().done(result)


def connect_to_office_server(
    parent: QWidget | None,
    settings: QSettings,
    prefill: ServerLogin | None = None,
    *,
    session: OfficeSession | None = None,
) -> Office | None:
    """Ask for an office server and open its office; None when the user cancels.

    ``prefill`` fills the fields (start-up passes the last server office);
    otherwise they show what was last used. The window passes its ``session``:
    the connecting then runs on its office worker. The caller owns the office
    returned.
    """
    dialog = ConnectDialog(settings, parent, prefill, session=session)
    try:
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        return dialog.office if accepted else None
    finally:
        dialog.deleteLater()


def offer_remembered_server(settings: QSettings, parent: QWidget | None = None) -> Office | None:
    """At start-up: when the last office opened was on a server, offer to connect to it again
    (the dialog prefilled, the password from the keyring if kept). None when there was none
    or the user cancelled; the caller then opens the desktop file as usual."""
    login = remembered_server(settings)
    if login is None:
        return None
    return connect_to_office_server(parent, settings, login)

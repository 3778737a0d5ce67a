"""Connect to Office Server…: the URL, what is remembered, failures in the dialog, setting up.

Tests that connect need a server (the `postgres_url` fixture: skipped with a
message without SEG_TEST_POSTGRES_URL, required under CI=true). Every test runs
on its own in-memory keyring (keyring's own `set_keyring`), never the user's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from seg_desktop.gui.connect_dialog import (
    KEYRING_SERVICE,
    LAST_DATABASE_KEY,
    ConnectDialog,
    ServerLogin,
    build_server_url,
    connect_to_office_server,
    forget_office_server,
    offer_remembered_server,
    remembered_server,
    server_login_from_url,
)
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store import runs
from seg_desktop.store.errors import ConnectionLost
from seg_desktop.store.office import Office
from tests.helpers.office import client, db_execute, db_table_names, make_office


class MemoryKeyring(KeyringBackend):
    """A recommended keyring held in a dict."""

    priority = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    before = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(before)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def login_of(url: str) -> ServerLogin:
    parsed = make_url(url)
    assert parsed.host and parsed.port and parsed.database and parsed.username
    return ServerLogin(parsed.host, parsed.port, parsed.database, parsed.username)


@pytest.fixture
def make_dialog(qtbot: QtBot) -> Iterator[Callable[..., ConnectDialog]]:
    """Shows dialogs; any still open at the end is cancelled, which stops its worker."""
    shown: list[ConnectDialog] = []

    def make(settings: QSettings, prefill: ServerLogin | None = None) -> ConnectDialog:
        dialog = ConnectDialog(settings, None, prefill)
        qtbot.addWidget(dialog)
        dialog.show()
        shown.append(dialog)
        return dialog

    yield make
    for dialog in shown:
        if dialog.isVisible():
            dialog.reject()


def type_login(dialog: ConnectDialog, login: ServerLogin, password: str = "") -> None:
    dialog.host.setText(login.host)
    dialog.port.setValue(login.port)
    dialog.database.setText(login.database)
    dialog.user.setText(login.user)
    dialog.password.setText(password)


def connect_and_wait(qtbot: QtBot, dialog: ConnectDialog) -> None:
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: not dialog.is_connecting(), timeout=20_000)


def all_settings(settings: QSettings) -> dict[str, Any]:
    return {key: settings.value(key) for key in settings.allKeys()}


# --- the URL -----------------------------------------------------------------------------------


def test_the_url_escapes_every_part_and_reads_back_the_same() -> None:
    url = build_server_url(
        "db.office.example", 6543, "office/2026?", "anna@hq:x", "p@ss:w/o%rd?#&="
    )
    assert url.startswith("postgresql+psycopg://anna%40hq%3Ax:p%40ss%3Aw%2Fo%25rd%3F%23%26%3D@")
    parsed = make_url(url)
    assert parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg"
    assert (parsed.username, parsed.password) == ("anna@hq:x", "p@ss:w/o%rd?#&=")
    assert (parsed.host, parsed.port, parsed.database) == (
        "db.office.example",
        6543,
        "office/2026?",
    )


def test_without_a_password_the_url_carries_none() -> None:
    url = build_server_url(" db.office.example ", 5432, "office", "anna")
    assert url == "postgresql+psycopg://anna@db.office.example:5432/office"
    assert build_server_url("db", 5432, "office", "anna", "") == url.replace(
        "db.office.example", "db"
    )
    assert ServerLogin("db.office.example", 5432, "office", "anna").url() == url


def test_only_a_server_url_without_password_is_offered_again() -> None:
    assert server_login_from_url("postgresql+psycopg://anna@db:6543/office") == ServerLogin(
        "db", 6543, "office", "anna"
    )
    assert server_login_from_url("postgresql://anna@db/office") == ServerLogin(
        "db", 5432, "office", "anna"
    )
    assert server_login_from_url("postgresql+psycopg://anna:secret@db/office") is None
    assert server_login_from_url("/home/anna/office.db") is None
    assert server_login_from_url("sqlite:////home/anna/office.db") is None
    assert server_login_from_url("mysql://anna@db/office") is None
    assert server_login_from_url("postgresql://") is None


def test_the_keyring_account_names_user_server_and_database() -> None:
    assert ServerLogin("db", 5432, "office", "anna").account == "anna@db:5432/office"


# --- the fields ----------------------------------------------------------------------------------


def test_a_new_dialog_has_the_default_port_and_asks_for_what_is_missing(
    qtbot: QtBot,
    make_dialog: Callable[..., ConnectDialog],
    settings: QSettings,
    started_qthreads: list[Any],
) -> None:
    dialog = make_dialog(settings)
    assert (dialog.host.text(), dialog.port.value(), dialog.database.text()) == ("", 5432, "")
    assert dialog.password.echoMode() == dialog.password.EchoMode.Password
    dialog.connect_button.click()
    assert dialog.message.isVisible()
    assert dialog.message.text() == "Type the server's name or address."
    dialog.host.setText("db")
    dialog.connect_button.click()
    assert dialog.message.text() == "Type the name of the office's database on the server."
    dialog.database.setText("office")
    dialog.connect_button.click()
    assert dialog.message.text() == "Type your user name on the server."
    assert started_qthreads == []  # nothing was tried
    assert dialog.isVisible() and dialog.office is None


def test_the_last_server_is_remembered_but_never_the_password(
    qtbot: QtBot, make_dialog: Callable[..., ConnectDialog], settings: QSettings, postgres_url: str
) -> None:
    Office.open(postgres_url).close()
    login = login_of(postgres_url)
    dialog = make_dialog(settings)
    type_login(dialog, login, "typed-secret")
    dialog.remember.setChecked(False)
    with qtbot.waitSignal(dialog.accepted, timeout=20_000):
        dialog.connect_button.click()
    assert dialog.office is not None
    dialog.office.close()
    stored = all_settings(settings)
    assert "typed-secret" not in repr(stored)
    assert stored[LAST_DATABASE_KEY] == login.url()
    assert remembered_server(settings) == login

    again = make_dialog(settings)
    assert again.login() == login
    assert again.password.text() == ""
    assert again.remember.isChecked() is False

    forget_office_server(settings)
    assert remembered_server(settings) is None


def test_a_prefilled_server_wins_over_the_last_fields(
    qtbot: QtBot, make_dialog: Callable[..., ConnectDialog], settings: QSettings
) -> None:
    settings.setValue("office_server/host", "old-server")
    settings.setValue("office_server/port", 6000)
    dialog = make_dialog(settings, ServerLogin("new-server", 5433, "office", "anna"))
    assert dialog.login() == ServerLogin("new-server", 5433, "office", "anna")
    assert dialog.focusWidget() is dialog.password  # the one field left to type


# --- the keyring -------------------------------------------------------------------------------


def test_a_remembered_password_goes_to_the_keyring_and_comes_back(
    qtbot: QtBot,
    make_dialog: Callable[..., ConnectDialog],
    settings: QSettings,
    postgres_url: str,
    memory_keyring: MemoryKeyring,
) -> None:
    Office.open(postgres_url).close()
    login = login_of(postgres_url)
    dialog = make_dialog(settings)
    assert dialog.remember.isEnabled() and not dialog.keyring_note.isVisible()
    type_login(dialog, login, "kept-secret")  # the test server trusts any password
    dialog.remember.setChecked(True)
    with qtbot.waitSignal(dialog.accepted, timeout=20_000):
        dialog.connect_button.click()
    assert dialog.office is not None
    dialog.office.close()
    assert memory_keyring.passwords == {(KEYRING_SERVICE, login.account): "kept-secret"}
    assert "kept-secret" not in repr(all_settings(settings))

    again = make_dialog(settings)
    assert again.remember.isChecked()
    assert again.password.text() == "kept-secret"

    again.remember.setChecked(False)  # forgetting it takes it out of the keyring
    with qtbot.waitSignal(again.accepted, timeout=20_000):
        again.connect_button.click()
    assert again.office is not None
    again.office.close()
    assert memory_keyring.passwords == {}


def test_without_a_keyring_the_box_is_off_and_says_why(
    qtbot: QtBot, make_dialog: Callable[..., ConnectDialog], settings: QSettings
) -> None:
    keyring.set_keyring(fail.Keyring())  # a headless Linux box
    settings.setValue("office_server/remember_password", True)
    dialog = make_dialog(settings, ServerLogin("db", 5432, "office", "anna"))
    assert not dialog.remember.isEnabled() and not dialog.remember.isChecked()
    assert dialog.keyring_note.isVisible()
    assert "password is asked each time" in dialog.keyring_note.text()
    assert dialog.password.text() == ""


# --- connecting ---------------------------------------------------------------------------------


def test_a_failure_is_one_line_in_the_dialog_and_what_was_typed_stays(
    qtbot: QtBot, make_dialog: Callable[..., ConnectDialog], settings: QSettings, postgres_url: str
) -> None:
    login = login_of(postgres_url)
    unknown = ServerLogin(login.host, login.port, "seg_no_such_office", login.user)
    dialog = make_dialog(settings)
    type_login(dialog, unknown, "typed")
    connect_and_wait(qtbot, dialog)
    assert dialog.isVisible() and dialog.office is None
    assert dialog.message.text().startswith("The server has no database named 'seg_no_such_office'")
    assert "\n" not in dialog.message.text()
    assert dialog.login() == unknown and dialog.password.text() == "typed"
    assert dialog.host.isEnabled() and dialog.connect_button.isEnabled()
    assert all_settings(settings) == {}  # nothing remembered from a failed try

    closed = ServerLogin(login.host, 1, login.database, login.user)
    type_login(dialog, closed)
    connect_and_wait(qtbot, dialog)
    assert dialog.message.text().startswith("No database server answers at")
    assert dialog.office is None and dialog.isVisible()


def test_an_empty_database_is_set_up_only_when_the_user_says_so(
    qtbot: QtBot,
    make_dialog: Callable[..., ConnectDialog],
    settings: QSettings,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login = login_of(postgres_url)
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def question(_parent: QWidget, _title: str, text: str, *_args: Any) -> Any:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    dialog = make_dialog(settings)
    type_login(dialog, login)
    connect_and_wait(qtbot, dialog)
    assert len(asked) == 1
    assert asked[0].startswith(f"Set up a new office in {login.database}?")
    assert dialog.message.text() == f"Nothing was set up in {login.database}."
    assert db_table_names(postgres_url) == set()  # not a table created
    assert dialog.isVisible() and dialog.office is None

    answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(dialog.accepted, timeout=30_000):
        dialog.connect_button.click()
    assert len(asked) == 2
    office = dialog.office
    assert office is not None
    try:
        assert office.client_count() == 0
        assert [s.definition.name for s in office.segments()]  # the example segments
    finally:
        office.close()


def test_a_database_holding_other_tables_is_refused_without_asking(
    qtbot: QtBot, make_dialog: Callable[..., ConnectDialog], settings: QSettings, postgres_url: str
) -> None:
    db_execute(postgres_url, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    dialog = make_dialog(settings)
    type_login(dialog, login_of(postgres_url))
    connect_and_wait(qtbot, dialog)  # an unexpected question box would fail the test
    assert "is not a seg_desktop database (it holds other tables: invoices)" in (
        dialog.message.text()
    )
    assert db_table_names(postgres_url) == {"invoices"}


def test_connect_to_office_server_returns_the_office_or_none(
    qtbot: QtBot, settings: QSettings, postgres_url: str
) -> None:
    Office.open(postgres_url).close()
    parent = QWidget()
    qtbot.addWidget(parent)

    def answer(action: str) -> None:
        dialog = parent.findChild(ConnectDialog)
        assert dialog is not None and dialog.isVisible()
        if action == "cancel":
            dialog.reject()
        else:
            dialog.connect_button.click()

    QTimer.singleShot(0, lambda: answer("cancel"))
    assert connect_to_office_server(parent, settings, login_of(postgres_url)) is None

    QTimer.singleShot(0, lambda: answer("connect"))
    office = connect_to_office_server(parent, settings, login_of(postgres_url))
    assert office is not None
    try:
        assert make_url(office.database.url).database == login_of(postgres_url).database
        assert office.current_run() is None
    finally:
        office.close()


def test_from_the_window_connecting_waits_its_turn_on_the_office_worker(
    qtbot: QtBot,
    settings: QSettings,
    postgres_url: str,
    tmp_path: Path,
    started_qthreads: list[Any],
) -> None:
    """With the window's session, connecting is one more task of its worker: no thread of
    its own, and a connect asked for while another task runs waits for it (never refused)."""
    import threading

    Office.open(postgres_url).close()
    current, _ = make_office(tmp_path, [client("A")])
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(current, runner, preview)
    release = threading.Event()
    try:
        session.submit("Running segmentation", lambda _p, _c: release.wait(20))
        dialog = ConnectDialog(settings, None, session=session)
        qtbot.addWidget(dialog)
        type_login(dialog, login_of(postgres_url))
        dialog.connect_button.click()
        assert dialog.is_connecting()
        assert runner.waiting_names() == ["Connecting to the office server"]
        with qtbot.waitSignal(dialog.accepted, timeout=30_000):
            release.set()
        assert len(started_qthreads) == 1  # the office worker's thread, no other
        office = dialog.office
        assert office is not None
        try:
            assert make_url(office.database.url).database == login_of(postgres_url).database
        finally:
            office.close()
    finally:
        release.set()
        assert preview.shutdown(10_000)
        assert runner.shutdown(10_000)
        current.close()


# --- a connection lost while the window is open ------------------------------------------------


def test_a_run_cut_off_by_a_server_restart_is_reported_and_the_next_try_works(
    qtbot: QtBot, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the window shows (the session's `error`, then its error dialog) and that the
    same session works again without reopening anything."""
    office, _ = make_office(
        postgres_url,
        [client("A"), client("B")],
        [("A", dt.date(2026, 1, 10), 5_000_00), ("B", dt.date(2026, 2, 10), 900_00)],
    )
    first, _changes = office.run_segmentation(dt.date(2026, 3, 15))
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(office, runner, preview, lambda: dt.date(2026, 3, 15))
    save_run = runs.save_run

    def restarted_while_saving(*args: Any) -> int:
        monkeypatch.setattr(runs, "save_run", save_run)  # only the first run is cut off
        engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        engine.dispose()
        return save_run(*args)

    monkeypatch.setattr(runs, "save_run", restarted_while_saving)
    try:
        with qtbot.waitSignal(session.error, timeout=30_000) as failed:
            session.run_segmentation()
        what, error, _trace = failed.args
        assert what == "Running segmentation"
        assert isinstance(error, ConnectionLost)
        assert str(error).startswith("The connection to the office server was lost")
        current = office.current_run()
        assert current is not None and current.id == first.id

        with qtbot.waitSignal(session.run_changed, timeout=30_000) as saved:
            session.run_segmentation()
        assert saved.args[0].id != first.id
    finally:
        runner.shutdown()
        preview.shutdown()
        office.close()


# --- start-up ---------------------------------------------------------------------------------


def test_start_up_offers_the_last_server_office_prefilled(
    qtbot: QtBot, settings: QSettings
) -> None:
    assert offer_remembered_server(settings) is None  # nothing remembered: nothing shown
    settings.setValue(LAST_DATABASE_KEY, "postgresql+psycopg://anna@db.office.example:6543/office")
    shown: list[ServerLogin] = []

    def cancel() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, ConnectDialog)
        shown.append(dialog.login())
        dialog.reject()

    QTimer.singleShot(0, cancel)
    assert offer_remembered_server(settings) is None  # cancelled: the desktop file opens
    assert shown == [ServerLogin("db.office.example", 6543, "office", "anna")]

    settings.setValue(LAST_DATABASE_KEY, "postgresql+psycopg://anna:pw@db.office.example/office")
    assert offer_remembered_server(settings) is None  # a URL with a password is never offered
    settings.setValue(LAST_DATABASE_KEY, "/home/anna/office.db")
    assert offer_remembered_server(settings) is None


def test_the_server_is_offered_only_when_no_db_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    import seg_desktop.gui.app as app_module
    from seg_desktop.cli import main

    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        app_module, "run_window", lambda db, *_a, db_given=True: calls.append((db, db_given)) or 0
    )
    assert main(["--db", "office.db"]) == 0
    assert main([]) == 0
    assert calls[0] == ("office.db", True)
    assert calls[1][1] is False and calls[1][0].endswith("office.db")

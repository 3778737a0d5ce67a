"""The Backups dialog: the list, "Take backup now", "Restore…" with its question; the prompts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtWidgets import QMessageBox
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from seg_desktop.gui.backups_dialog import (
    BackupsDialog,
    BackupsModel,
    build_damage_prompt,
    build_lock_prompt,
    format_size,
)
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store.backup import list_backups, take_backup
from seg_desktop.store.errors import LockHeld
from seg_desktop.store.office import Office
from seg_desktop.store.records import LockOwner
from tests.helpers.office import add_clients, client, make_office

DAY = dt.datetime(2026, 11, 24, 9, 30)
WAIT_MS = 10_000


@pytest.fixture
def office_path(tmp_path: Path) -> Path:
    office, _ = make_office(tmp_path, [client(f"C{n}") for n in range(5)])
    office.close()
    return tmp_path / "office.db"


class Conversation:
    """Stands in for the message boxes: answers questions, records what was said."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.asked: list[str] = []
        self.told: list[tuple[str, str]] = []

    def ask(self, _title: str, question: str) -> bool:
        self.asked.append(question)
        return self.answer

    def tell(self, title: str, text: str) -> None:
        self.told.append((title, text))


@pytest.fixture
def session(qtbot: QtBot, office_path: Path) -> Iterator[OfficeSession]:
    office = Office.open(office_path)
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    opened = OfficeSession(office, runner, preview)
    yield opened
    assert preview.shutdown(WAIT_MS)
    assert runner.shutdown(WAIT_MS)
    opened.office.close()


def make_dialog(
    qtbot: QtBot, session: OfficeSession, talk: Conversation, **callbacks: object
) -> BackupsDialog:
    """The dialog, once it has listed the backups (on the worker)."""
    dialog = BackupsDialog(session, ask=talk.ask, tell=talk.tell, **callbacks)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    qtbot.waitSignal(dialog.loaded, timeout=WAIT_MS).wait()
    return dialog


def test_the_model_passes_the_model_tester(qtmodeltester: ModelTester, office_path: Path) -> None:
    take_backup(office_path, "daily", now=DAY)
    take_backup(office_path, "import", now=DAY + dt.timedelta(hours=1))
    model = BackupsModel()
    model.set_rows(list_backups(office_path))
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    assert model.index(0, 0).data() == "2026-11-24 10:30:00"
    assert model.index(0, 1).data() == "Before an import"
    assert model.index(1, 1).data() == "Daily backup"
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Size"


def test_sizes_read_at_a_glance() -> None:
    assert format_size(300) == "1 KB"
    assert format_size(954_368) == "932 KB"
    assert format_size(493_289_472) == "470.4 MB"


def test_an_office_without_backups_says_so_and_cannot_restore(
    qtbot: QtBot, office_path: Path, session: OfficeSession
) -> None:
    dialog = make_dialog(qtbot, session, Conversation())
    assert dialog.model.rowCount() == 0
    assert not dialog.empty_label.isHidden()
    assert not dialog.restore_button.isEnabled()
    assert dialog.take_button.isEnabled()


def test_take_backup_now_lists_the_new_backup(
    qtbot: QtBot, office_path: Path, session: OfficeSession
) -> None:
    dialog = make_dialog(qtbot, session, Conversation())
    with qtbot.waitSignal(dialog.backup_taken, timeout=WAIT_MS) as taken:
        qtbot.mouseClick(dialog.take_button, Qt.MouseButton.LeftButton)
    made = taken.args[0]
    assert isinstance(made, Path) and made.exists()
    assert dialog.model.rowCount() == 1
    assert dialog.model.index(0, 1).data() == "Taken by hand"
    assert dialog.empty_label.isHidden()


def test_restore_asks_first_and_a_no_changes_nothing(
    qtbot: QtBot, office_path: Path, session: OfficeSession
) -> None:
    take_backup(office_path, "daily", now=DAY)
    talk = Conversation(answer=False)
    closed: list[bool] = []
    dialog = make_dialog(qtbot, session, talk, close_office=lambda: closed.append(True) or True)
    before = office_path.read_bytes()
    dialog.select_row(0)
    assert dialog.restore_button.isEnabled()
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert len(talk.asked) == 1
    assert "2026-11-24 09:30" in talk.asked[0]
    assert "office.db.replaced-" in talk.asked[0]
    assert closed == []
    assert office_path.read_bytes() == before


def test_restore_closes_restores_reopens_and_reports(
    qtbot: QtBot, office_path: Path, session: OfficeSession
) -> None:
    take_backup(office_path, "daily", now=DAY)
    add_clients(session.office, [client("LATER")])
    events: list[str] = []

    def close_office() -> bool:
        session.office.close()
        events.append("closed")
        return True

    talk = Conversation(answer=True)
    dialog = make_dialog(
        qtbot,
        session,
        talk,
        close_office=close_office,
        reopen_office=lambda: events.append("reopened"),
    )
    dialog.select_row(0)
    with qtbot.waitSignal(dialog.restored, timeout=WAIT_MS) as restored:
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    aside = restored.args[0]
    assert events == ["closed", "reopened"]
    assert isinstance(aside, Path) and aside.exists()
    assert talk.told[-1][0] == "Backup restored"
    assert str(aside) in talk.told[-1][1]
    reopened = Office.open(office_path)
    try:
        assert reopened.client_count() == 5
    finally:
        reopened.close()


def test_a_damaged_backup_is_refused_with_the_reason_and_the_office_reopened(
    qtbot: QtBot, office_path: Path, session: OfficeSession
) -> None:
    made = take_backup(office_path, "daily", now=DAY)
    with made.open("r+b") as handle:
        handle.write(b"\x00" * 100)
    events: list[str] = []
    talk = Conversation(answer=True)
    dialog = make_dialog(
        qtbot,
        session,
        talk,
        close_office=lambda: events.append("closed") or True,
        reopen_office=lambda: events.append("reopened"),
    )
    before = office_path.read_bytes()
    dialog.select_row(0)
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as failed:
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert "nothing was changed" in failed.args[0]
    assert events == ["closed", "reopened"]
    assert talk.told[-1][0] == "The backup was not restored"
    assert office_path.read_bytes() == before


def test_a_busy_office_is_not_restored(
    qtbot: QtBot, office_path: Path, session: OfficeSession
) -> None:
    take_backup(office_path, "daily", now=DAY)
    talk = Conversation(answer=True)
    dialog = make_dialog(qtbot, session, talk, close_office=lambda: False)
    dialog.select_row(0)
    with qtbot.waitSignal(dialog.failed):
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert "busy" in talk.told[-1][1]


def test_the_backup_is_taken_off_the_gui_thread(
    qtbot: QtBot, session: OfficeSession, started_qthreads: list[QThread]
) -> None:
    dialog = make_dialog(qtbot, session, Conversation())
    with qtbot.waitSignal(dialog.backup_taken, timeout=WAIT_MS):
        dialog.take_backup_now()
        assert not dialog.take_button.isEnabled()  # busy until it is done
    assert dialog.take_button.isEnabled()
    assert dialog.model.rowCount() == 1
    assert started_qthreads  # the office worker's


def test_the_lock_prompt_names_the_holder_and_offers_read_only() -> None:
    held = LockHeld(
        Path("/office/office.db"),
        LockOwner(pid=1234, host="front-desk", started_at=dt.datetime(2026, 11, 24, 14, 2)),
    )
    box, read_only = build_lock_prompt(None, held)
    try:
        assert "pid 1234" in box.text() and "front-desk" in box.text()
        assert read_only.text() == "Open read-only"
        assert [b.text() for b in box.buttons()] == ["Open read-only", "Quit"]
    finally:
        box.deleteLater()


def test_the_damage_prompt_offers_the_newest_good_backup(office_path: Path) -> None:
    older = take_backup(office_path, "daily", now=DAY)
    newer = take_backup(office_path, "import", now=DAY + dt.timedelta(hours=2))
    with newer.open("r+b") as handle:
        handle.write(b"\x00" * 100)
    box, restore, offered = build_damage_prompt(None, office_path, "office.db is damaged")
    try:
        assert offered is not None and offered.path == older
        assert restore is not None and restore.text() == "Restore this backup"
        assert "2026-11-24 09:30" in box.informativeText()
        assert box.icon() == QMessageBox.Icon.Warning
    finally:
        box.deleteLater()
    older.unlink()
    box, restore, offered = build_damage_prompt(None, office_path, "office.db is damaged")
    try:
        assert restore is None and offered is None
        assert "No good backup" in box.informativeText()
    finally:
        box.deleteLater()


class Answers(Conversation):
    """Answers the questions in turn: the first answer to the first question, and so on."""

    def __init__(self, *answers: bool) -> None:
        super().__init__()
        self.answers = list(answers)

    def ask(self, _title: str, question: str) -> bool:
        self.asked.append(question)
        return self.answers.pop(0)


@pytest.mark.parametrize("knowingly", [True, False])
def test_a_backup_of_another_office_is_restored_only_when_the_user_says_so(
    qtbot: QtBot, office_path: Path, session: OfficeSession, tmp_path: Path, knowingly: bool
) -> None:
    (tmp_path / "elsewhere").mkdir()
    other, _ = make_office(tmp_path / "elsewhere", [client("X1"), client("X2")])
    other.close()
    stray = take_backup(tmp_path / "elsewhere" / "office.db", "daily", now=DAY)
    folder = Office.backups_folder(office_path)
    folder.mkdir(exist_ok=True)
    stray.rename(folder / stray.name)  # another office's backup, filed beside this one's

    def close_office() -> bool:
        session.office.close()
        return True

    talk = Answers(True, knowingly)
    dialog = make_dialog(
        qtbot,
        session,
        talk,
        close_office=close_office,
        reopen_office=lambda: None,
    )
    dialog.select_row(0)
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(talk.told), timeout=WAIT_MS)
    assert len(talk.asked) == 2
    assert "another office" in talk.asked[1] and "2 clients" in talk.asked[1]
    reopened = Office.open(office_path)
    try:
        assert reopened.client_count() == (2 if knowingly else 5)
    finally:
        reopened.close()
    assert talk.told[-1][0] == ("Backup restored" if knowingly else "The backup was not restored")

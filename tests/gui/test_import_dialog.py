"""ImportDialog: inspect a file, map its columns, preview, import; errors and cancel shown in it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import text

from seg_desktop.gui import import_dialog as import_dialog_module
from seg_desktop.gui.import_dialog import (
    BAD_ROWS_TAB,
    SAMPLE_TAB,
    ImportDialog,
    TextTableModel,
    choose_import_file,
)
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.io.importing import ImportResult, import_file
from seg_desktop.io.readers import TICK_ROWS, ImportCancelled, Kind
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from tests.helpers.office import client, make_office, snapshot

WAIT_MS = 10_000
IMPORT_CANCEL_EXCEPTIONS = (*CANCEL_EXCEPTIONS, ImportCancelled)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened, _ = make_office(tmp_path, [client("00017"), client("00018"), client("017")])
    yield opened
    opened.close()


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    runner = TaskRunner(cancel_exceptions=IMPORT_CANCEL_EXCEPTIONS)
    preview_runner = LatestOnlyRunner(cancel_exceptions=IMPORT_CANCEL_EXCEPTIONS)
    opened = OfficeSession(office, runner, preview_runner)
    yield opened
    assert preview_runner.shutdown(WAIT_MS)
    assert runner.shutdown(WAIT_MS)


@pytest.fixture
def errors(session: OfficeSession) -> list[tuple[str, object, str]]:
    """What reached the session's error report (a traceback dialog in the app)."""
    reported: list[tuple[str, object, str]] = []
    session.error.connect(lambda name, error, trace: reported.append((name, error, trace)))
    return reported


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def open_dialog(qtbot: QtBot, session: OfficeSession, kind: Kind, path: Path) -> ImportDialog:
    """The dialog, shown, once it has read the file."""
    with qtbot.waitSignal(session.runner.busy_changed, timeout=WAIT_MS):
        dialog = ImportDialog(session, kind, path)
        qtbot.addWidget(dialog)
        dialog.show()
    qtbot.waitUntil(lambda: dialog.file_layout is not None and not dialog.is_running())
    return dialog


def choose(qtbot: QtBot, combo: QComboBox, data: object) -> None:
    """Pick the item holding `data` as a user would (which emits `activated`)."""
    index = combo.findData(data)
    assert index >= 0, f"{data!r} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def remap(qtbot: QtBot, dialog: ImportDialog, field_name: str, header: str) -> None:
    """Choose another column for a field and wait for the file to be read again."""
    with qtbot.waitSignal(dialog.layout_ready, timeout=WAIT_MS):
        choose(qtbot, dialog.mapping_combo(field_name), header)
    qtbot.waitUntil(lambda: not dialog.is_running())


def preview(qtbot: QtBot, dialog: ImportDialog) -> ImportResult:
    assert dialog.preview_button.isEnabled()
    with qtbot.waitSignal(dialog.preview_ready, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_running())
    result = blocker.args[0]
    assert isinstance(result, ImportResult)
    return result


def do_import(qtbot: QtBot, dialog: ImportDialog, session: OfficeSession) -> ImportResult:
    assert dialog.import_button.isEnabled()
    with (
        qtbot.waitSignal(session.data_changed, timeout=WAIT_MS),
        qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as blocker,
    ):
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_running())
    result = blocker.args[0]
    assert isinstance(result, ImportResult)
    return result


def count(office: Office, table: str) -> int:
    with office.database.read() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def amounts(office: Office) -> list[tuple[str, str, int, str | None]]:
    with office.database.read() as connection:
        rows = connection.execute(
            text(
                "SELECT c.ref, r.date, r.amount_cents, r.reference FROM revenue r"
                " JOIN client c ON c.id = r.client_id ORDER BY c.ref, r.date"
            )
        ).all()
    return [(ref, str(day), cents, reference) for ref, day, cents, reference in rows]


def table_texts(model: TextTableModel) -> list[list[str]]:
    return [
        [model.index(row, column).data() for column in range(model.columnCount())]
        for row in range(model.rowCount())
    ]


def is_red(widget: QWidget) -> bool:
    colour = widget.palette().color(QPalette.ColorRole.WindowText)
    return bool(colour.name() == "#b3261e")


STATEMENT = (
    "Account No;Invoice Date;Net;Total;Invoice Number;Memo\n"  # Net and Total: which amount?
    "00017;2026-03-02;1.234,50;1.500,00;INV-1;first\n"
    "00017;2026-03-03;100,00;121,00;;\n"
    "00099;2026-03-04;5,00;6,05;;unknown client\n"
    "017;2026-03-05;abc;1,00;;bad amount\n"
    "00018;2026-03-06;-20,00;-24,20;INV-2;refund\n"
)


# --------------------------------------------------------------------------- the flow


def test_the_dialog_shows_the_files_layout(
    qtbot: QtBot, session: OfficeSession, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, session, "revenue", write(tmp_path, "march.csv", STATEMENT))
    assert dialog.windowTitle() == "Import revenue — march.csv"
    assert dialog.format_label.text() == "CSV"
    assert dialog.encoding_label.text() == "UTF-8"
    assert dialog.delimiter_label.text() == "Semicolon (;)"
    assert dialog.header_row_label.text() == "1"
    assert dialog.rows_label.text() == "5"
    assert dialog.mapping() == {
        "client_ref": "Account No",
        "date": "Invoice Date",
        "amount": "",  # Net or Total: the user must say
        "reference": "Invoice Number",
    }
    offered = dialog.mapping_combo("amount")
    assert [offered.itemText(i) for i in range(offered.count())] == [
        "(not imported)",
        "Account No",
        "Invoice Date",
        "Net",
        "Total",
        "Invoice Number",
        "Memo",
    ]
    assert "'Net' or 'Total'" in offered.toolTip()
    # The required fields are marked.
    columns = dialog.mapping_combo("amount").parentWidget()
    assert columns is not None
    labels = {label.text(): label.font().bold() for label in columns.findChildren(QLabel)}
    assert labels["Amount *:"] and labels["Client ref *:"] and labels["Date *:"]
    assert not labels["Reference:"]
    # The dates are ISO; no amount column yet, so nothing tells the decimal separator.
    assert dialog.date_format_combo.currentData() == "iso"
    assert dialog.decimal_combo.currentData() == "."
    # The sample rows, numbered as a spreadsheet numbers them.
    model = dialog.sample_model
    assert [model.headerData(i, Qt.Orientation.Vertical) for i in range(model.rowCount())] == [
        "2",
        "3",
        "4",
        "5",
        "6",
    ]
    assert table_texts(model)[0] == [
        "00017",
        "2026-03-02",
        "1.234,50",
        "1.500,00",
        "INV-1",
        "first",
    ]
    assert model.headerData(5, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == (
        "Not imported"
    )
    # Two amount columns: the file cannot be previewed until one is chosen.
    assert not dialog.preview_button.isEnabled()
    assert not dialog.import_button.isEnabled()
    assert is_red(dialog.status_label)
    assert dialog.status_label.text() == (
        "In march.csv, columns 'Net' and 'Total' could each be the amount:"
        " choose one in the column mapping."
    )


def test_map_preview_and_import(
    qtbot: QtBot,
    session: OfficeSession,
    office: Office,
    tmp_path: Path,
    errors: list[tuple[str, object, str]],
) -> None:
    dialog = open_dialog(qtbot, session, "revenue", write(tmp_path, "march.csv", STATEMENT))
    remap(qtbot, dialog, "amount", "Net")
    assert dialog.mapping()["amount"] == "Net"
    assert dialog.decimal_combo.currentData() == ","  # "1.234,50" in the Net column
    assert not is_red(dialog.status_label)
    assert dialog.preview_button.isEnabled()
    assert not dialog.import_button.isEnabled()  # not before a preview

    before = snapshot(office)
    result = preview(qtbot, dialog)
    assert snapshot(office) == before  # a preview changes nothing
    assert (result.added, result.updated, result.unchanged, result.problem_count) == (3, 0, 0, 2)
    assert dialog.status_label.text() == "Will add 3, update 0, 0 already there, 2 bad rows."
    assert dialog.tabs.currentIndex() == BAD_ROWS_TAB
    assert dialog.tabs.tabText(BAD_ROWS_TAB) == "Bad rows (2)"
    assert table_texts(dialog.bad_rows_model) == [
        ["4", "client '00099' does not exist (import the clients first)"],
        ["5", "amount 'abc' is not a number"],
    ]
    assert dialog.import_button.isEnabled()

    assert count(office, "revenue") == 0
    broadcast: list[Changes] = []
    session.changed.connect(broadcast.append)
    with qtbot.waitSignal(session.segments_changed, timeout=WAIT_MS):
        imported = do_import(qtbot, dialog, session)
    assert (imported.added, imported.problem_count) == (3, 2)
    # The import's own Changes, broadcast once by the session (the dialog emits nothing).
    assert broadcast == [imported.changes]
    assert imported.changes.touches(Area.REVENUE, Area.SEGMENTS)
    assert count(office, "revenue") == 3
    assert count(office, "client") == 3
    assert amounts(office) == [
        ("00017", "2026-03-02", 123450, "INV-1"),  # Net, not Total
        ("00017", "2026-03-03", 10000, None),
        ("00018", "2026-03-06", -2000, "INV-2"),
    ]
    assert dialog.status_label.text() == (
        "Imported: added 3 revenue records, updated 0, 0 already there, 2 bad rows skipped."
    )
    assert dialog.cancel_button.text() == "Close"
    assert not dialog.import_button.isEnabled()  # done: a second import needs a new preview
    assert errors == []

    # Previewing the same file again: everything is already there.
    again = preview(qtbot, dialog)
    assert (again.added, again.unchanged, again.problem_count) == (0, 3, 2)
    assert dialog.status_label.text() == (
        "Will add 0, update 0, 3 already there, 2 bad rows:"
        " nothing to change, so nothing to import."
    )
    assert not dialog.import_button.isEnabled()


def test_importing_clients_adds_them(
    qtbot: QtBot, session: OfficeSession, office: Office, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "clients.csv",
        "Customer ID,Company,E-mail,Notes\n"
        "00017,Acme Ltd,info@acme.example,renamed\n"
        "00019,,,no name\n"
        "00020,Newcomer Ltd,hello@new.example,\n"
        "00021,Other Ltd,not-an-email,\n",
    )
    dialog = open_dialog(qtbot, session, "clients", path)
    assert not dialog.values_box.isVisibleTo(dialog)  # no dates or amounts in a clients file
    assert dialog.mapping() == {
        "ref": "Customer ID",
        "name": "Company",
        "email": "E-mail",
        "status": "",
        "tags": "",
        "groups": "",
    }
    # Leave the emails out: the bad one no longer matters.
    remap(qtbot, dialog, "email", "")
    result = preview(qtbot, dialog)
    assert (result.added, result.updated, result.unchanged, result.problem_count) == (2, 1, 0, 1)
    assert dialog.status_label.text() == "Will add 2, update 1, 0 already there, 1 bad row."
    assert table_texts(dialog.bad_rows_model) == [["3", "missing name"]]

    do_import(qtbot, dialog, session)
    assert count(office, "client") == 5
    with office.database.read() as connection:
        stored = connection.execute(text("SELECT ref, name, email FROM client ORDER BY ref")).all()
    assert [tuple(row) for row in stored] == [
        ("00017", "Acme Ltd", None),
        ("00018", "Client 00018", None),
        ("00020", "Newcomer Ltd", None),
        ("00021", "Other Ltd", None),
        ("017", "Client 017", None),
    ]


def test_ambiguous_dates_need_a_date_format_before_preview(
    qtbot: QtBot, session: OfficeSession, office: Office, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "ambiguous.csv",
        "client_ref,date,amount\n00017,03/04/2026,1.00\n00018,05/06/2026,2.00\n",
    )
    dialog = open_dialog(qtbot, session, "revenue", path)
    assert dialog.date_format_required()
    assert dialog.date_format_combo.currentText() == "Choose…"
    assert dialog.date_format_combo.currentData() is None
    assert not dialog.preview_button.isEnabled()
    assert dialog.date_note_label.isVisible()
    assert dialog.date_note_label.text() == (
        "Column 'date' has dates like '03/04/2026' (row 2) that could be day/month"
        " or month/day: choose a date format."
    )
    assert dialog.status_label.text() == "Choose the date format, then Preview."

    choose(qtbot, dialog.date_format_combo, "dmy")
    assert dialog.preview_button.isEnabled()
    result = preview(qtbot, dialog)
    assert (result.added, result.problem_count) == (2, 0)
    do_import(qtbot, dialog, session)
    assert amounts(office) == [
        ("00017", "2026-04-03", 100, None),
        ("00018", "2026-06-05", 200, None),
    ]


def test_changing_a_choice_after_the_preview_needs_a_new_preview(
    qtbot: QtBot, session: OfficeSession, tmp_path: Path
) -> None:
    path = write(tmp_path, "plain.csv", "client_ref,date,amount\n00017,2026-03-02,1.50\n")
    dialog = open_dialog(qtbot, session, "revenue", path)
    preview(qtbot, dialog)
    assert dialog.import_button.isEnabled()

    choose(qtbot, dialog.decimal_combo, ",")
    assert not dialog.import_button.isEnabled()
    assert dialog.status_label.text() == "The choices changed: Preview again before importing."
    choose(qtbot, dialog.decimal_combo, ".")  # back to what was previewed
    assert dialog.import_button.isEnabled()


# --------------------------------------------------------------------------- errors and cancel


def test_a_file_error_is_shown_in_red_without_a_traceback(
    qtbot: QtBot,
    session: OfficeSession,
    office: Office,
    tmp_path: Path,
    errors: list[tuple[str, object, str]],
) -> None:
    path = write(tmp_path, "plain.csv", "client_ref,date,amount\n00017,2026-03-02,1.50\n")
    dialog = open_dialog(qtbot, session, "revenue", path)
    preview(qtbot, dialog)
    path.write_bytes(b"")  # the file changes behind the dialog's back
    before = snapshot(office)
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_running())
    assert blocker.args == ["plain.csv is empty."]
    assert dialog.status_label.text() == "plain.csv is empty."
    assert is_red(dialog.status_label)
    assert "Traceback" not in dialog.status_label.text()
    assert errors == []  # a file the user can fix is not a crash report
    assert snapshot(office) == before
    assert dialog.import_result is None


def test_a_file_that_cannot_be_read_at_all(
    qtbot: QtBot, session: OfficeSession, tmp_path: Path
) -> None:
    path = tmp_path / "old.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with qtbot.waitSignal(session.runner.busy_changed, timeout=WAIT_MS):
        dialog = ImportDialog(session, "clients", path)
        qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.is_running())
    assert dialog.file_layout is None
    assert dialog.status_label.text() == (
        "old.xlsx is an old-style .xls workbook or a password-protected one:"
        " save it as .xlsx or CSV and import that."
    )
    assert is_red(dialog.status_label)
    assert not dialog.preview_button.isEnabled()
    assert not dialog.mapping_combo("ref").isEnabled()


@pytest.fixture
def held_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Holds every import_file call of the dialog until the returned event is set."""
    release = threading.Event()
    real: Callable[..., ImportResult] = import_file

    def held(*args: Any, **kwargs: Any) -> ImportResult:
        assert release.wait(WAIT_MS / 1000)
        return real(*args, **kwargs)

    monkeypatch.setattr(f"{import_dialog_module.__name__}.import_file", held)
    yield release
    release.set()  # never leave the worker waiting


def test_cancelling_the_import_changes_nothing(
    qtbot: QtBot,
    session: OfficeSession,
    office: Office,
    tmp_path: Path,
    held_imports: threading.Event,
) -> None:
    lines = "".join(f"00017,2026-03-{1 + n % 28:02d},{n}.00,R{n}\n" for n in range(2 * TICK_ROWS))
    path = write(tmp_path, "big.csv", "client_ref,date,amount,reference\n" + lines)
    dialog = open_dialog(qtbot, session, "revenue", path)
    held_imports.set()
    preview(qtbot, dialog)
    held_imports.clear()
    before = snapshot(office)

    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert dialog.is_running()
    assert dialog.progress_bar.isVisible()
    assert dialog.cancel_button.text() == "Cancel"
    assert not dialog.preview_button.isEnabled()
    assert not dialog.import_button.isEnabled()
    assert not dialog.mapping_combo("date").isEnabled()
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)  # asks to stop
        held_imports.set()
    qtbot.waitUntil(lambda: not dialog.is_running())
    assert dialog.isVisible()  # the first Cancel stops the import, not the dialog
    assert dialog.status_label.text() == "Import cancelled: nothing was changed."
    assert snapshot(office) == before
    assert not dialog.progress_bar.isVisible()
    assert dialog.import_button.isEnabled()  # the preview still stands

    dialog.reject()
    assert not dialog.isVisible()


def test_a_cancel_is_a_cancel_even_when_the_runner_does_not_know_import_cancelled(
    qtbot: QtBot, office: Office, tmp_path: Path, held_imports: threading.Event
) -> None:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)  # without ImportCancelled
    preview_runner = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    session = OfficeSession(office, runner, preview_runner)
    reported: list[str] = []
    session.error.connect(lambda name, _error, _trace: reported.append(name))
    try:
        path = write(tmp_path, "plain.csv", "client_ref,date,amount\n00017,2026-03-02,1.50\n")
        dialog = open_dialog(qtbot, session, "revenue", path)
        held_imports.set()
        preview(qtbot, dialog)
        held_imports.clear()
        before = snapshot(office)
        with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as blocker:
            qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
            held_imports.set()
        assert blocker.args == ["Import cancelled: nothing was changed."]
        assert reported == []
        assert snapshot(office) == before
    finally:
        assert preview_runner.shutdown(WAIT_MS)
        assert runner.shutdown(WAIT_MS)


def test_the_dialog_waits_for_another_task_to_finish(
    qtbot: QtBot, session: OfficeSession, tmp_path: Path
) -> None:
    release = threading.Event()

    def other_work(_progress: ProgressFn, _cancelled: CancelledFn) -> None:
        assert release.wait(WAIT_MS / 1000)

    assert session.runner.submit("Running segmentation", other_work)
    dialog = ImportDialog(session, "revenue", write(tmp_path, "a.csv", "client_ref,date,amount\n"))
    qtbot.addWidget(dialog)
    assert dialog.is_running()
    assert dialog.progress_message.text() == (
        "Reading the file: waiting for “Running segmentation” to finish…"
    )
    with qtbot.waitSignal(dialog.layout_ready, timeout=WAIT_MS):
        release.set()
    layout = dialog.file_layout
    assert layout is not None and layout.data_rows == 0


def test_choose_import_file(monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> None:
    asked: list[tuple[object, ...]] = []
    answer = ("/data/clients.csv", "Spreadsheets (*.csv *.xlsx)")

    def fake(*args: object) -> tuple[str, str]:
        asked.append(args)
        return answer

    monkeypatch.setattr(QFileDialog, "getOpenFileName", fake)
    assert choose_import_file(None, "clients") == Path("/data/clients.csv")
    assert asked[0][1] == "Import clients"
    assert str(asked[0][3]).startswith("Spreadsheets (*.csv *.xlsx)")
    answer = ("", "")
    assert choose_import_file(None, "revenue") is None
    assert asked[1][1] == "Import revenue"


def test_the_table_models_pass_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = TextTableModel()
    qtmodeltester.check(model)
    model.set_rows(
        ["Account No", "Memo"],
        [("00017", "first"), ("00018", "")],
        ["2", "3"],
        column_tips=["Imported as Client ref", "Not imported"],
        dimmed_columns=frozenset({1}),
    )
    qtmodeltester.check(model)
    assert model.index(0, 1).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole) is None
    model.set_rows(["Row", "Reason"], [("4", "missing name")])
    qtmodeltester.check(model)
    assert model.headerData(0, Qt.Orientation.Vertical) == "1"


def test_sample_tab_counts_only_when_the_sample_is_partial(
    qtbot: QtBot, session: OfficeSession, tmp_path: Path
) -> None:
    lines = "".join(f"00017,2026-03-{1 + n % 28:02d},{n}.00\n" for n in range(25))
    dialog = open_dialog(
        qtbot, session, "revenue", write(tmp_path, "r.csv", "client_ref,date,amount\n" + lines)
    )
    assert dialog.tabs.tabText(SAMPLE_TAB) == "Sample rows (20 of 25)"
    assert dialog.sample_model.rowCount() == 20


def test_cancel_while_waiting_drops_this_dialogs_task_and_never_stops_the_running_one(
    qtbot: QtBot, session: OfficeSession, tmp_path: Path
) -> None:
    release = threading.Event()
    other: list[str] = []

    def other_work(_progress: ProgressFn, cancelled: CancelledFn) -> str:
        assert release.wait(WAIT_MS / 1000)
        return "cancelled" if cancelled() else "done"

    session.submit("Running segmentation", other_work, other.append)
    dialog = ImportDialog(session, "revenue", write(tmp_path, "a.csv", "client_ref,date,amount\n"))
    qtbot.addWidget(dialog)
    assert dialog.is_running()
    with qtbot.waitSignal(dialog.failed, timeout=WAIT_MS) as failed:
        dialog.cancel_button.click()
    assert failed.args == ["Reading the file cancelled."]
    assert not dialog.is_running()
    with qtbot.assertNotEmitted(dialog.layout_ready, wait=200):
        release.set()
        qtbot.waitUntil(lambda: not session.runner.is_busy(), timeout=WAIT_MS)
    assert other == ["done"]  # the other task ran to its end
    assert dialog.file_layout is None

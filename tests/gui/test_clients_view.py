"""ClientsView: loading on the worker, segment filter, search, detail, why in/out, export.

Every read of the view runs on the office worker and the view follows the
Changes each write returns: a tag a rule sets shows in the table at once.
"""

from __future__ import annotations

import csv
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from openpyxl import load_workbook
from PySide6.QtCore import QCoreApplication, QSettings, Qt
from pytestqt.qtbot import QtBot

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.core.engine import Override
from seg_desktop.core.money import format_money
from seg_desktop.core.rules import explain, validate_definition
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.demo import load_demo
from seg_desktop.gui.clients_model import COLUMNS, column_of
from seg_desktop.gui.clients_view import ClientsView
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.gui.window_state import WindowStateStore
from seg_desktop.store import data
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.data import NewRevenue
from seg_desktop.store.export_rows import EXPORT_COLUMNS
from seg_desktop.store.office import Office
from seg_desktop.store.records import SegmentInfo

TODAY = dt.date.today()
WAIT_MS = 10_000


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened = Office.open(tmp_path / "office.db")
    load_demo(opened, clients=60, months=6)
    opened.run_segmentation(TODAY)
    yield opened
    opened.close()


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    opened = OfficeSession(office, runner, preview, today=lambda: TODAY)
    errors: list[tuple[str, object, str]] = []
    opened.error.connect(lambda what, error, trace: errors.append((what, error, trace)))
    yield opened
    assert preview.shutdown(WAIT_MS)
    assert runner.shutdown(WAIT_MS)
    assert errors == []


class SaveDialog:
    """Stands in for QFileDialog.getSaveFileName: answers with a set path."""

    def __init__(self) -> None:
        self.answer = ("", "")
        self.asked: list[str] = []

    def __call__(
        self, parent: object, caption: str, directory: str, filters: str
    ) -> tuple[str, str]:
        self.asked.append(caption)
        return self.answer


@pytest.fixture
def save_dialog() -> SaveDialog:
    return SaveDialog()


@pytest.fixture
def view(qtbot: QtBot, session: OfficeSession, save_dialog: SaveDialog) -> ClientsView:
    widget = ClientsView(session, save_file_dialog=save_dialog, search_delay_ms=10)
    qtbot.addWidget(widget)
    settle(qtbot, session)
    assert widget.is_loaded()
    return widget


def settle(qtbot: QtBot, session: OfficeSession) -> None:
    """Wait until the office worker has done everything asked of it (and what that asked)."""
    qtbot.waitUntil(lambda: not session.runner.is_busy(), timeout=WAIT_MS)


def show_client(qtbot: QtBot, view: ClientsView, client_id: int) -> None:
    """Select a client and wait for its detail, read on the worker."""
    with qtbot.waitSignal(view.detail_loaded, timeout=WAIT_MS):
        assert view.select_client(client_id)


def tags_shown(view: ClientsView, client_id: int) -> str:
    row = view.proxy.row_of_client(client_id)
    assert row is not None
    return str(view.proxy.index(row, column_of("tags")).data() or "")


def csv_cell(kind: str, value: object) -> str:
    """A value as write_csv writes it (the demo has no formula-like text)."""
    if value is None:
        return ""
    if kind == "money":
        assert isinstance(value, int)
        return format_money(value, grouping=False)
    if kind == "date":
        assert isinstance(value, dt.date)
        return value.isoformat()
    return str(value)


def all_ids_by_ref(office: Office) -> list[int]:
    with office.database.read() as connection:
        return [ids for _ref, ids in sorted(data.client_ids_by_ref(connection).items())]


def segment(office: Office, name: str) -> SegmentInfo:
    return next(s for s in office.segments() if s.definition.name == name)


def shown_column(view: ClientsView, key: str) -> list[object]:
    column = column_of(key)
    return [view.proxy.index(r, column).data() for r in range(view.proxy.rowCount())]


def test_loads_every_client_in_ref_order(view: ClientsView, office: Office) -> None:
    assert view.visible_client_ids() == all_ids_by_ref(office)
    assert view.count_label.text() == "60 clients"
    assert view.segment_combo.itemText(0) == "All clients (60)"
    names = [s.definition.name for s in office.segments()]
    assert view.segment_combo.count() == len(names) + 1
    assert view.segment_combo.itemText(1).startswith(f"{names[0]} (")


def test_sorting_by_total_revenue_descending_gives_the_exact_order(
    view: ClientsView, office: Office
) -> None:
    facts = {f.client_id: f for f in office.client_facts()}
    by_ref = all_ids_by_ref(office)
    view.table.sortByColumn(column_of("total_revenue"), Qt.SortOrder.DescendingOrder)
    expected = sorted(by_ref, key=lambda cid: -facts[cid].total_revenue)  # stable: ties by ref
    assert view.visible_client_ids() == expected
    assert shown_column(view, "total_revenue")[0] == format_money(facts[expected[0]].total_revenue)


def test_search_filters_as_you_type(qtbot: QtBot, view: ClientsView, office: Office) -> None:
    facts = office.client_facts()
    with office.database.read() as connection:
        ref_of = {cid: ref for ref, cid in data.client_ids_by_ref(connection).items()}
    word = (facts[7].name or "")[:3].upper()
    expected = {
        f.client_id
        for f in facts
        if any(
            word.casefold() in text.casefold()
            for text in (ref_of[f.client_id], f.name or "", f.email or "")
        )
    }
    view.search_edit.setFocus()
    qtbot.keyClicks(view.search_edit, word)
    qtbot.waitUntil(lambda: set(view.visible_client_ids()) == expected, timeout=WAIT_MS)
    assert view.count_label.text() == f"{len(expected):,} of 60 clients"
    view.search_edit.clear()
    qtbot.waitUntil(lambda: view.proxy.rowCount() == 60, timeout=WAIT_MS)


def test_segment_filter_shows_exactly_the_stored_members(
    qtbot: QtBot, view: ClientsView, office: Office
) -> None:
    for info in office.segments():
        with qtbot.waitSignal(view.members_loaded, timeout=WAIT_MS):
            assert view.set_segment_filter(info.id)
        members = office.segment_member_ids(info.id)
        assert sorted(view.visible_client_ids()) == members
        assert view.count_label.text() == f"{len(members):,} of 60 clients"
        assert view.segment_combo.currentText() == f"{info.definition.name} ({len(members):,})"
    with qtbot.waitSignal(view.members_loaded, timeout=WAIT_MS):
        view.set_segment_filter(None)
    assert view.proxy.rowCount() == 60


def test_detail_explains_why_in_and_why_out_as_the_rules_do(
    qtbot: QtBot, view: ClientsView, office: Office
) -> None:
    active = segment(office, "Active Clients")
    members = set(office.segment_member_ids(active.id))
    criteria = validate_definition(active.definition)
    as_of = active.recomputed_as_of or TODAY
    facts_of = {f.client_id: f for f in office.client_facts()}
    inside = min(members)
    # Out with a last invoice (older than 90 days), so the line gives its age in days.
    outside = min(
        cid
        for cid in set(all_ids_by_ref(office)) - members
        if facts_of[cid].last_invoice_date is not None
    )
    view.detail.set_why_segment(active.id)
    for client_id, verdict in ((inside, "In the segment"), (outside, "Not in the segment")):
        show_client(qtbot, view, client_id)
        assert view.current_client_id() == client_id == view.detail.client_id()
        facts = office.client_facts([client_id])[0]
        expected = [
            ("✓ " if line.passed else "✗ ") + line.explanation
            for line in explain(criteria, facts, as_of)
        ]
        texts = view.detail.why_texts()
        assert texts[0].startswith(verdict)
        assert texts[1:] == expected
        explanation = view.detail.explanation()
        assert explanation is not None and explanation.note is None
    assert "days ago" in view.detail.why_texts()[1]


def test_detail_shows_the_clients_months_history_and_segments(
    qtbot: QtBot, view: ClientsView, office: Office
) -> None:
    client_id = all_ids_by_ref(office)[0]
    show_client(qtbot, view, client_id)
    facts = office.client_facts([client_id])[0]
    assert view.detail.name_label.text() == facts.name
    chart_total = round(sum(view.detail.chart.bar_heights()) * 100)
    assert chart_total == facts.total_revenue
    assert view.detail.revenue_total_label.text().startswith(format_money(facts.total_revenue))
    assert view.detail.history_table.rowCount() == 1
    tier_cell = view.detail.history_table.item(0, 1)
    assert tier_cell is not None and tier_cell.text() == facts.tier
    stored = [
        s.definition.name for s in office.segments() if client_id in office.segment_member_ids(s.id)
    ]
    assert view.detail.segments_label.text() == (", ".join(sorted(stored)) or "none")


def test_export_visible_writes_exactly_the_visible_rows_in_order(
    qtbot: QtBot, view: ClientsView, office: Office, save_dialog: SaveDialog, tmp_path: Path
) -> None:
    repeat = segment(office, "Repeat Customers")
    with qtbot.waitSignal(view.members_loaded, timeout=WAIT_MS):
        view.set_segment_filter(repeat.id)
    view.table.sortByColumn(column_of("production"), Qt.SortOrder.DescendingOrder)
    out = tmp_path / "visible"
    save_dialog.answer = (str(out), "CSV file (*.csv)")
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS) as blocker:
        view.export_button.click()
    assert blocker.args == [str(out.with_suffix(".csv")), view.proxy.rowCount()]
    with out.with_suffix(".csv").open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == list(EXPORT_COLUMNS)
    assert [line[0] for line in lines[1:]] == shown_column(view, "ref")
    assert len(lines) - 1 == len(office.segment_member_ids(repeat.id))
    expected = [
        [csv_cell(column.kind, value) for column, value in zip(COLUMNS, values, strict=True)]
        for values in view.model.table.rows(view.proxy.source_rows())
    ]
    assert lines[1:] == expected


def test_export_visible_to_excel_after_a_search(
    qtbot: QtBot, view: ClientsView, office: Office, tmp_path: Path
) -> None:
    view.set_search_text("c00001")
    assert view.proxy.rowCount() == 10
    out = tmp_path / "visible.xlsx"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS):
        assert view.export_visible(out)
    workbook = load_workbook(out, read_only=True)
    sheet = workbook.worksheets[0]
    refs = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    workbook.close()
    assert refs == shown_column(view, "ref")


def test_export_refuses_other_extensions_and_a_cancelled_dialog(
    view: ClientsView, save_dialog: SaveDialog, tmp_path: Path
) -> None:
    messages: list[str] = []
    view.status_message.connect(messages.append)
    assert not view.export_visible()  # the dialog answers "" (cancelled)
    assert save_dialog.asked == ["Export visible clients"]
    assert not view.export_visible(tmp_path / "clients.pdf")
    assert messages == ["clients.pdf: choose a file ending in .xlsx or .csv"]


def test_view_reloads_after_a_run(
    qtbot: QtBot, view: ClientsView, session: OfficeSession, office: Office
) -> None:
    client_id = all_ids_by_ref(office)[0]
    strategy = office.strategies()[StrategyKind.INDIVIDUAL]
    pinned = next(
        tier.name
        for tier in strategy.tiers
        if tier.name != office.client_facts([client_id])[0].tier
    )
    office.set_override(Override(StrategyKind.INDIVIDUAL, client_id, pinned, "test"))
    show_client(qtbot, view, client_id)
    with qtbot.waitSignal(view.table_loaded, timeout=WAIT_MS):
        session.run_segmentation()
    settle(qtbot, session)
    row = view.proxy.row_of_client(client_id)
    assert row is not None
    assert view.proxy.index(row, column_of("tier")).data() == pinned
    assert view.current_client_id() == client_id
    assert view.table.currentIndex().row() == row
    history = view.detail.history_table
    assert history.rowCount() == 2
    newest = history.item(0, 1)
    assert newest is not None and newest.text().startswith(f"{pinned} (pinned; computed ")


def test_a_reload_waits_for_a_busy_worker_instead_of_being_lost(
    qtbot: QtBot, view: ClientsView, session: OfficeSession, office: Office
) -> None:
    release = threading.Event()

    def blocking(_progress: ProgressFn, _cancelled: CancelledFn) -> None:
        release.wait(WAIT_MS / 1000)

    session.submit("Something long", blocking)
    client_id = all_ids_by_ref(office)[-1]
    with office.database.write() as connection:
        data.insert_revenue(connection, [NewRevenue(client_id, TODAY, 123_456_78)])
        data.refresh_rollups(connection, [client_id])
    after = office.client_facts([client_id])[0].total_revenue
    # What a write of this revenue would broadcast.
    session.broadcast(Changes.of(Area.REVENUE, clients=[client_id]))
    qtbot.waitUntil(view.is_reload_pending, timeout=WAIT_MS)
    row = view.proxy.row_of_client(client_id)
    assert row is not None
    assert view.proxy.index(row, column_of("total_revenue")).data() != format_money(after)
    release.set()
    with qtbot.waitSignal(view.table_loaded, timeout=WAIT_MS):
        pass
    row = view.proxy.row_of_client(client_id)
    assert row is not None
    assert view.proxy.index(row, column_of("total_revenue")).data() == format_money(after)
    assert not view.is_reload_pending()


def test_segments_changed_refreshes_the_combo_and_drops_a_deleted_filter(
    qtbot: QtBot, view: ClientsView, session: OfficeSession, office: Office
) -> None:
    doomed = segment(office, "New Clients")
    with qtbot.waitSignal(view.members_loaded, timeout=WAIT_MS):
        view.set_segment_filter(doomed.id)
    with qtbot.waitSignal(view.members_loaded, timeout=WAIT_MS):
        session.delete_segment(doomed.id)
    assert view.segment_filter() is None
    assert view.segment_combo.findData(doomed.id) == -1
    assert view.proxy.rowCount() == 60
    assert view.detail.why_combo.findData(doomed.id) == -1


def test_run_button_asks_for_a_run(qtbot: QtBot, view: ClientsView) -> None:
    with qtbot.waitSignal(view.run_requested, timeout=WAIT_MS):
        view.run_button.click()


def test_column_layout_is_saved_and_restored(
    qtbot: QtBot, view: ClientsView, session: OfficeSession, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "state.ini"), QSettings.Format.IniFormat)
    store = WindowStateStore(settings)
    header = view.table.horizontalHeader()
    header.resizeSection(column_of("name"), 333)
    header.moveSection(column_of("email"), 0)
    view.save_state(store)

    other = ClientsView(session, search_delay_ms=10)
    qtbot.addWidget(other)
    other.restore_state(store)
    restored = other.table.horizontalHeader()
    assert restored.sectionSize(column_of("name")) == 333
    assert restored.visualIndex(column_of("email")) == 0
    with qtbot.waitSignal(other.table_loaded, timeout=WAIT_MS):
        pass


def test_a_closed_view_no_longer_follows_the_session(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    widget = ClientsView(session)
    with qtbot.waitSignal(widget.table_loaded, timeout=WAIT_MS):
        pass
    widget.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(widget), timeout=WAIT_MS)
    session.broadcast(Changes(frozenset(Area), None, office.current_run()))
    QCoreApplication.processEvents()
    assert not session.runner.is_busy()


# --- following the office's Changes (issue 13) ----------------------------------------------------


def test_tags_set_by_applying_automation_show_in_the_table_without_a_run(
    qtbot: QtBot, view: ClientsView, session: OfficeSession, office: Office, tmp_path: Path
) -> None:
    """Issue 13: "Apply now" tagged clients; the table and Export visible showed the old tags."""
    active = segment(office, "Active Clients")
    members = office.segment_member_ids(active.id)
    assert members and all("spring-offer" not in tags_shown(view, cid) for cid in members)
    office.save_automation_rule(
        AutomationRule(
            "Spring offer",
            When.IS_IN,
            Target.of_segment("Active Clients"),
            Action(ActionKind.ADD_TAG, tag="spring-offer"),
        )
    )
    runs_before = len(office.runs())

    def apply(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
        return office.apply_automations()[1]

    with qtbot.waitSignal(view.table_loaded, timeout=WAIT_MS):
        session.submit("Applying automation", apply)
    assert all("spring-offer" in tags_shown(view, cid).split(";") for cid in members)
    assert len(office.runs()) == runs_before  # no run was needed
    out = tmp_path / "visible.csv"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS):
        assert view.export_visible(out)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    tagged = {row["ref"] for row in rows if "spring-offer" in row["tags"].split(";")}
    assert len(tagged) == len(members)


def test_a_list_made_a_segment_shows_its_tag_and_the_new_segment(
    qtbot: QtBot, view: ClientsView, session: OfficeSession, office: Office
) -> None:
    chosen = all_ids_by_ref(office)[:5]
    show_client(qtbot, view, chosen[0])

    def make_segment(_progress: ProgressFn, _cancelled: CancelledFn) -> tuple[int, int, Changes]:
        return office.segment_from_clients("Call back", chosen, "call-back")

    with qtbot.waitSignals([view.table_loaded, view.segments_loaded], timeout=WAIT_MS):
        session.submit("Making a segment", make_segment)
    assert all("call-back" in tags_shown(view, cid).split(";") for cid in chosen)
    assert view.segment_combo.findText("Call back (5)") > 0
    settle(qtbot, session)
    assert "call-back" in view.detail.tags_label.text()  # the detail follows too


# --- issue 14: no column title is cut; a segment chosen in the Show box offers its definition --


def test_every_column_title_is_shown_whole(view: ClientsView) -> None:
    header = view.table.horizontalHeader()
    metrics = header.fontMetrics()
    for column, spec in enumerate(COLUMNS):
        # the title plus the sort arrow's room: what the header asks for to show it whole
        assert header.sectionSize(column) >= header.sectionSizeHint(column), spec.title
        assert header.sectionSize(column) > metrics.horizontalAdvance(spec.title), spec.title


def test_showing_a_segment_offers_its_definition(
    qtbot: QtBot, view: ClientsView, office: Office
) -> None:
    target = next(s for s in office.segments() if s.member_count)
    view.show()
    assert not view.edit_segment_button.isVisible()
    with qtbot.waitSignal(view.members_loaded, timeout=WAIT_MS):
        view.show_segment(target.id)
    assert set(view.visible_client_ids()) == set(office.segment_member_ids(target.id))
    assert view.edit_segment_button.isVisible()
    with qtbot.waitSignal(view.edit_segment_requested) as asked:
        view.edit_segment_button.click()
    assert asked.args == [target.id]
    view.set_segment_filter(None)
    assert not view.edit_segment_button.isVisible()

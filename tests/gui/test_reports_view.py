"""ReportsView: the tier report (office and segment), segments side by side, the overlap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import QSettings
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from seg_desktop.core.money import format_money
from seg_desktop.core.tiers import StrategyKind, move_boundary
from seg_desktop.demo import load_demo
from seg_desktop.gui.app import build_window
from seg_desktop.gui.reports_view import OVERLAP_NOTE, ReportsView, default_list_tag
from seg_desktop.gui.runs_view import SORT_ROLE
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from seg_desktop.store.records import format_share

TODAY = dt.date.today()
WAIT_MS = 10_000
IND = StrategyKind.INDIVIDUAL


def make_session(office: Office) -> OfficeSession:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    return OfficeSession(office, runner, preview, today=lambda: TODAY)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened = Office.open(tmp_path / "office.db")
    load_demo(opened, clients=80, months=14)
    opened.run_segmentation(TODAY)
    individual = opened.strategies()[IND]
    opened.save_strategy(move_boundary(individual, 1, individual.tiers[1].monthly_lower // 2))
    opened.run_segmentation(TODAY)
    yield opened
    opened.close()


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    opened = make_session(office)
    errors: list[tuple[str, object, str]] = []
    opened.error.connect(lambda what, error, trace: errors.append((what, error, trace)))
    yield opened
    assert opened.preview_runner.shutdown(WAIT_MS)
    assert opened.runner.shutdown(WAIT_MS)
    assert errors == []


def make_view(qtbot: QtBot, session: OfficeSession, **kwargs: object) -> ReportsView:
    """A reports view once it offers the office's segments (read on the worker)."""
    widget = ReportsView(session, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    qtbot.waitUntil(lambda: widget.scope_combo.count() > 1, timeout=WAIT_MS)
    return widget


@pytest.fixture
def view(qtbot: QtBot, session: OfficeSession) -> ReportsView:
    return make_view(qtbot, session)


def segment_id(office: Office, name: str) -> int:
    return next(s.id for s in office.segments() if s.definition.name == name)


def test_the_office_tier_report_equals_the_store(
    qtbot: QtBot, view: ReportsView, office: Office, qtmodeltester: ModelTester
) -> None:
    with qtbot.waitSignal(view.tier_report_loaded, timeout=WAIT_MS):
        view.load_tier_report()
    loaded = office.tier_report()
    assert loaded is not None
    expected, trend, top = loaded.report, loaded.trend, loaded.top
    assert view.tier_report() == expected
    rows = view.tier_table_text()
    assert rows[:-1] == [
        [
            line.name,
            f"{line.clients:,}",
            format_money(line.revenue),
            format_share(line.share),
            format_money(line.average) if line.average is not None else "–",
        ]
        for line in expected.lines
    ]
    assert rows[-1][:3] == ["Total", "80", format_money(expected.revenue)]
    assert [line.clients for line in expected.lines] == [
        t.count
        for t in office.current_run().tiers[IND]  # type: ignore[union-attr]
    ]
    assert view.revenue_chart.heights == [line.revenue / 100 for line in expected.lines]
    assert view.trend_chart.series == {
        name: trend.series(i) for i, name in enumerate(trend.tier_names)
    }
    assert len(next(iter(view.trend_chart.series.values()))) == 2  # two runs
    qtmodeltester.check(view.top_model)
    assert [view.top_model.index(r, 0).data() for r in range(view.top_model.rowCount())] == [
        line.ref for line in top
    ]
    productions = [
        view.top_model.index(r, 3).data(SORT_ROLE) for r in range(view.top_model.rowCount())
    ]
    assert productions == sorted(productions, reverse=True)


def test_a_report_restricted_to_a_segment(qtbot: QtBot, view: ReportsView, office: Office) -> None:
    active = segment_id(office, "Active Clients")
    with qtbot.waitSignal(view.tier_report_loaded, timeout=WAIT_MS):
        view.scope_combo.setCurrentIndex(view.scope_combo.findData(active))
    report = view.tier_report()
    assert report is not None and report.segment_id == active
    members = set(office.segment_member_ids(active))
    assert report.clients == len(members)
    assert "of the office's revenue" in view.tier_summary.text()
    loaded = office.tier_report(active)
    assert loaded is not None
    top = loaded.top
    assert all(line.client_id in members for line in top)
    shown = [view.top_model.index(r, 0).data() for r in range(view.top_model.rowCount())]
    assert shown == [line.ref for line in top]


def test_segments_side_by_side(qtbot: QtBot, view: ReportsView, office: Office) -> None:
    ids = [
        segment_id(office, n) for n in ("Active Clients", "Repeat Customers", "High-Value Clients")
    ]
    with qtbot.waitSignal(view.segments_loaded, timeout=WAIT_MS):
        view.set_checked_segments(ids)
    comparison = view.segment_comparison()
    assert comparison is not None
    assert [s.segment_id for s in comparison.segments] == sorted(
        ids, key=lambda i: [s.id for s in office.segments()].index(i)
    )
    texts = view.segments_table_text()
    header = [
        view.segments_table.horizontalHeaderItem(c).text()  # type: ignore[union-attr]
        for c in range(view.segments_table.columnCount())
    ]
    assert header == [s.name for s in comparison.segments]
    assert texts[0] == [f"{s.members:,}" for s in comparison.segments]
    assert texts[3] == [format_share(s.share) for s in comparison.segments]
    for shares in zip(*view.mix_chart.shares, strict=True):
        assert sum(shares) == pytest.approx(100.0)
    # Fewer than two: nothing to compare.
    view.set_checked_segments(ids[:1])
    assert view.segments_table.columnCount() == 0
    assert not view.export_segments_button.isEnabled()


def test_overlap_lists_export_and_show_in_clients(
    qtbot: QtBot, view: ReportsView, office: Office, tmp_path: Path
) -> None:
    a, b = segment_id(office, "Active Clients"), segment_id(office, "Repeat Customers")
    with qtbot.waitSignal(view.overlap_loaded, timeout=WAIT_MS):
        view.set_overlap_segments(a, b)
    members_a, members_b = set(office.segment_member_ids(a)), set(office.segment_member_ids(b))
    assert view.overlap_models["both"].rowCount() == len(members_a & members_b)
    assert view.overlap_models["only_a"].rowCount() == len(members_a - members_b)
    assert view.overlap_models["only_b"].rowCount() == len(members_b - members_a)
    assert view.overlap_note.text() == OVERLAP_NOTE
    assert "becomes a segment through a tag" in OVERLAP_NOTE
    with qtbot.waitSignal(view.show_clients_requested, timeout=WAIT_MS) as shown:
        assert view.show_overlap_in_clients("only_a")
    ids, what = shown.args
    assert set(ids) == members_a - members_b
    assert what == "In Active Clients, not Repeat Customers"

    path = tmp_path / "overlap.xlsx"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS):
        assert view.export_overlap(path)
    workbook = load_workbook(path, read_only=True)
    try:
        assert len(workbook.sheetnames) == 4
    finally:
        workbook.close()
    one = tmp_path / "both.csv"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS) as done:
        assert view.export_overlap_list("both", one)
    assert done.args == [str(one), len(members_a & members_b)]


def test_tier_report_export(qtbot: QtBot, view: ReportsView, tmp_path: Path) -> None:
    with qtbot.waitSignal(view.tier_report_loaded, timeout=WAIT_MS):
        view.load_tier_report()
    path = tmp_path / "tiers.xlsx"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS):
        assert view.export_tier_report(path)
    workbook = load_workbook(path, read_only=True)
    try:
        assert workbook.sheetnames == [
            "Tiers",
            "Chart - tier counts by run",
            "Top clients",
            "Summary",
        ]
    finally:
        workbook.close()


def test_a_new_run_reloads_the_report_on_screen(
    qtbot: QtBot, view: ReportsView, session: OfficeSession
) -> None:
    view.show()
    with qtbot.waitSignal(view.tier_report_loaded, timeout=WAIT_MS):
        pass  # shown: the report loads
    with qtbot.waitSignal(view.tier_report_loaded, timeout=WAIT_MS):
        session.run_segmentation()
    report = view.tier_report()
    assert report is not None and report.run.id == session.office.runs()[0].id
    assert len(next(iter(view.trend_chart.series.values()))) == 3


def test_an_office_without_a_run(qtbot: QtBot, tmp_path: Path) -> None:
    office = Office.open(tmp_path / "empty.db")
    session = make_session(office)
    try:
        widget = make_view(qtbot, session)
        with qtbot.waitSignal(widget.tier_report_loaded, timeout=WAIT_MS):
            widget.load_tier_report()
        assert widget.tier_report() is None
        assert widget.tier_summary.text().startswith("No run yet")
        assert not widget.export_tier_report(tmp_path / "x.xlsx")
    finally:
        assert session.runner.shutdown(WAIT_MS)
        assert session.preview_runner.shutdown(WAIT_MS)
        office.close()


def test_an_overlap_list_becomes_a_segment_through_a_tag(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    asked: list[tuple[str, int]] = []

    def ask(_parent: object, title: str, count: int) -> tuple[str, str]:
        asked.append((title, count))
        return "Active, not repeat", default_list_tag(title)

    view = make_view(qtbot, session, ask_new_segment=ask)
    a, b = segment_id(office, "Active Clients"), segment_id(office, "Repeat Customers")
    with qtbot.waitSignal(view.overlap_loaded, timeout=WAIT_MS):
        view.set_overlap_segments(a, b)
    expected = set(office.segment_member_ids(a)) - set(office.segment_member_ids(b))
    assert expected, "the demo office has active clients who are not repeat customers"
    assert view.overlap_segment_buttons["only_a"].isEnabled()
    broadcasts: list[object] = []
    session.changed.connect(broadcasts.append)
    with qtbot.waitSignal(view.status_message, timeout=WAIT_MS):
        assert view.segment_from_overlap("only_a")
    # One broadcast, from the session (the view emits nothing by hand): the tags and the
    # new segment.
    (changes,) = broadcasts
    assert isinstance(changes, Changes) and changes.touches(Area.CLIENTS, Area.SEGMENTS)
    assert Area.SEGMENTS in changes.areas and Area.CLIENTS in changes.areas
    assert asked == [("In Active Clients, not Repeat Customers", len(expected))]
    created = office.find_segment("Active, not repeat")
    tag = "in-active-clients-not-repeat-customers"
    assert created.definition.criteria[0].value == tag
    assert set(office.segment_member_ids(created.id)) == expected
    assert created.member_count == len(expected)
    # Cancelling the question does nothing.
    view._ask_new_segment = lambda *_args: None
    before = len(office.segments())
    assert not view.segment_from_overlap("both")
    assert len(office.segments()) == before


# --- issue 14: segment names are never cut in the side-by-side headers ------------------------


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_side_by_side_headers_show_every_segment_name_whole(
    qtbot: QtBot, office: Office, tmp_path: Path, size: tuple[int, int]
) -> None:
    office.close()  # the window opens the office itself
    opened = Office.open(tmp_path / "office.db")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = build_window(opened, settings, today=lambda: TODAY)
    qtbot.addWidget(window)
    try:
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        reports = window.reports
        window.tabs.setCurrentWidget(reports)
        reports.tabs.setCurrentIndex(1)  # "Segments side by side"
        qtbot.waitUntil(lambda: reports.segment_checklist.count() == 5, timeout=WAIT_MS)
        with qtbot.waitSignal(reports.segments_loaded, timeout=WAIT_MS):
            reports.set_checked_segments([s.id for s in opened.segments()])
        table = reports.segments_table
        header = table.horizontalHeader()
        metrics = header.fontMetrics()
        for column in range(table.columnCount()):
            item = table.horizontalHeaderItem(column)
            assert item is not None
            assert header.sectionSize(column) >= metrics.horizontalAdvance(item.text()) + 8, (
                item.text()
            )
            assert item.toolTip() == item.text()
    finally:
        qtbot.waitUntil(lambda: not window.session.runner.is_busy(), timeout=WAIT_MS)
        window.close()
        opened.close()

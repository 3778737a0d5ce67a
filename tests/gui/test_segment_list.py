"""SegmentListPanel and SegmentListModel: what is listed, selection, rename, duplicate, delete."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QToolButton
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from seg_desktop.core.tiers import StrategyKind
from seg_desktop.demo import load_demo
from seg_desktop.gui.app import build_window
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.gui.segment_list import (
    NODE_KIND_ROLE,
    SEGMENT_ID_ROLE,
    STRATEGY_KIND_ROLE,
    SegmentListModel,
    SegmentListPanel,
    copy_name,
)
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office
from seg_desktop.store.records import SegmentInfo

TODAY = dt.date.today()
WAIT_MS = 5000


def make_office(path: Path, *, run: bool = True) -> Office:
    office = Office.open(path)
    load_demo(office, clients=80, months=6)
    if run:
        office.run_segmentation(TODAY)
    return office


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened = make_office(tmp_path / "office.db")
    yield opened
    opened.close()


def open_session(office: Office) -> OfficeSession:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview_runner = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    return OfficeSession(office, runner, preview_runner, today=lambda: TODAY)


def close_session(session: OfficeSession) -> None:
    assert session.preview_runner.shutdown(WAIT_MS)
    assert session.runner.shutdown(WAIT_MS)


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    opened = open_session(office)
    yield opened
    close_session(opened)


class Dialogs:
    """Stands in for the message boxes: records what was asked and answers as told."""

    def __init__(self) -> None:
        self.answer = True
        self.questions: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []

    def confirm(self, title: str, text: str) -> bool:
        self.questions.append((title, text))
        return self.answer

    def warn(self, title: str, text: str) -> None:
        self.warnings.append((title, text))


@pytest.fixture
def dialogs() -> Dialogs:
    return Dialogs()


@pytest.fixture
def panel(qtbot: QtBot, session: OfficeSession, dialogs: Dialogs) -> SegmentListPanel:
    widget = SegmentListPanel(session, confirm=dialogs.confirm, warn=dialogs.warn)
    qtbot.addWidget(widget)
    qtbot.waitUntil(lambda: not widget.loading, timeout=WAIT_MS)
    widget.resize(420, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def segment_named(office: Office, name: str) -> SegmentInfo:
    return next(s for s in office.segments() if s.definition.name == name)


def listed_segments(model: SegmentListModel) -> list[tuple[str, str]]:
    """(name, clients column) of every segment row, top to bottom."""
    section = model.segments_index()
    return [
        (
            str(model.index(row, 0, section).data()),
            str(model.index(row, 1, section).data()),
        )
        for row in range(model.rowCount(section))
    ]


def click_row(qtbot: QtBot, panel: SegmentListPanel, index: QModelIndex) -> None:
    panel.view.scrollTo(index)
    rect = panel.view.visualRect(index)
    assert rect.isValid()
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


# --- the model ------------------------------------------------------------------------------


def test_model_passes_the_model_tester_filled_and_refilled(
    qtmodeltester: ModelTester, office: Office
) -> None:
    model = SegmentListModel()
    model.set_segments(office.segments())
    model.set_run(office.current_run())
    # One check: the tester stays connected and verifies every later change as it happens.
    qtmodeltester.check(model, force_py=True)
    model.set_segments(office.segments()[:2])
    model.set_run(None)
    model.set_segments(office.segments())
    model.set_run(office.current_run())
    assert model.rowCount(model.segments_index()) == len(office.segments())


def test_model_passes_qts_own_model_tester(qtmodeltester: ModelTester, office: Office) -> None:
    model = SegmentListModel()
    model.set_segments(office.segments())
    model.set_run(office.current_run())
    qtmodeltester.check(model)
    model.set_segments(office.segments()[1:])
    model.set_run(None)


def test_lists_every_segment_with_its_count_and_recompute_time(
    panel: SegmentListPanel, office: Office
) -> None:
    segments = office.segments()
    assert listed_segments(panel.model) == [
        (s.definition.name, f"{s.member_count:,}") for s in segments
    ]
    assert panel.model.segments_index().data() == f"Segments ({len(segments)})"
    active = segment_named(office, "Active Clients")
    index = panel.model.index_of_segment(active.id)
    assert active.recomputed_at is not None
    stamp = active.recomputed_at.strftime("%Y-%m-%d %H:%M")
    assert f"recomputed {stamp}" in str(index.data(Qt.ItemDataRole.ToolTipRole))
    when = active.recomputed_at
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    assert index.siblingAtColumn(2).data() == f"{when.day} {months[when.month - 1]} {when:%H:%M}"


def test_lists_both_strategies_with_each_tiers_count_from_the_current_run(
    panel: SegmentListPanel, office: Office
) -> None:
    run = office.current_run()
    assert run is not None
    model = panel.model
    for kind in StrategyKind:
        strategy = model.index_of_strategy(kind)
        assert strategy.data() == kind.label
        tiers = run.tiers[kind]
        assert strategy.siblingAtColumn(1).data() == f"{sum(t.count for t in tiers):,}"
        shown = [
            (model.index(row, 0, strategy).data(), model.index(row, 1, strategy).data())
            for row in range(model.rowCount(strategy))
        ]
        assert shown == [(t.name, f"{t.count:,}") for t in reversed(tiers)]


def test_strategies_say_no_run_yet_until_a_run_and_then_follow_run_changed(
    qtbot: QtBot, tmp_path: Path
) -> None:
    office = make_office(tmp_path / "fresh.db", run=False)
    session = open_session(office)
    try:
        panel = SegmentListPanel(session)
        qtbot.addWidget(panel)
        assert panel.loading  # read on the worker: nothing shown until it arrives
        qtbot.waitSignal(panel.loaded, timeout=WAIT_MS).wait()
        individual = panel.model.index_of_strategy(StrategyKind.INDIVIDUAL)
        assert individual.siblingAtColumn(1).data() == "no run yet"
        assert panel.model.rowCount(individual) == 0

        with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
            session.run_segmentation()
        run = office.current_run()
        assert run is not None
        individual = panel.model.index_of_strategy(StrategyKind.INDIVIDUAL)
        assert individual.siblingAtColumn(1).data() == "80"
        assert panel.model.rowCount(individual) == len(run.tiers[StrategyKind.INDIVIDUAL])
    finally:
        close_session(session)
        office.close()


# --- selection and actions ---------------------------------------------------------------------


def test_clicking_rows_emits_what_was_selected(
    qtbot: QtBot, panel: SegmentListPanel, office: Office
) -> None:
    assert not panel.delete_action.isEnabled()
    repeat = segment_named(office, "Repeat Customers")
    with qtbot.waitSignal(panel.segment_selected) as selected:
        click_row(qtbot, panel, panel.model.index_of_segment(repeat.id))
    assert selected.args == [repeat.id]
    assert panel.selected_segment() == repeat
    assert panel.delete_action.isEnabled()
    assert panel.rename_action.isEnabled()
    assert panel.duplicate_action.isEnabled()

    groups = panel.model.index_of_strategy(StrategyKind.GROUP)
    with qtbot.waitSignal(panel.strategy_selected) as strategy:
        click_row(qtbot, panel, panel.model.index(0, 0, groups))  # a tier of the group strategy
    assert strategy.args == ["group"]
    assert panel.selected_segment_id() is None
    assert not panel.delete_action.isEnabled()

    # A heading selects nothing.
    with qtbot.assertNotEmitted(panel.segment_selected):
        click_row(qtbot, panel, panel.model.segments_index())

    with qtbot.waitSignal(panel.new_requested):
        new_button = panel.findChild(QToolButton, "new_action_button")
        assert isinstance(new_button, QToolButton)
        qtbot.mouseClick(new_button, Qt.MouseButton.LeftButton)


def test_selection_survives_a_refresh_without_signalling_again(
    qtbot: QtBot, panel: SegmentListPanel, office: Office
) -> None:
    active = segment_named(office, "Active Clients")
    panel.select_segment(active.id)
    with qtbot.assertNotEmitted(panel.segment_selected), qtbot.waitSignal(panel.loaded):
        panel.session.broadcast(Changes.of(Area.SEGMENTS))
    assert panel.selected_segment_id() == active.id


# --- delete, duplicate, rename ---------------------------------------------------------------


def test_delete_asks_first_and_never_touches_clients(
    qtbot: QtBot, panel: SegmentListPanel, office: Office, dialogs: Dialogs
) -> None:
    clients = office.client_count()
    inactive = segment_named(office, "Inactive Clients")
    panel.select_segment(inactive.id)

    dialogs.answer = False
    panel.delete_action.trigger()
    assert len(dialogs.questions) == 1
    title, question = dialogs.questions[0]
    assert title == "Delete segment"
    assert "'Inactive Clients'" in question
    assert "No client" in question
    assert segment_named(office, "Inactive Clients") == inactive

    dialogs.answer = True
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        panel.delete_action.trigger()
    assert "Inactive Clients" not in [s.definition.name for s in office.segments()]
    assert "Inactive Clients" not in [name for name, _count in listed_segments(panel.model)]
    assert office.client_count() == clients
    assert panel.selected_segment_id() is None
    assert not panel.delete_action.isEnabled()


def test_duplicate_saves_a_copy_of_under_a_free_name_and_selects_it(
    qtbot: QtBot, panel: SegmentListPanel, office: Office
) -> None:
    repeat = segment_named(office, "Repeat Customers")
    panel.select_segment(repeat.id)
    with qtbot.waitSignal(panel.segment_selected, timeout=WAIT_MS) as selected:
        panel.duplicate_action.trigger()
    copy = segment_named(office, "Copy of Repeat Customers")
    assert selected.args == [copy.id]
    assert copy.definition.criteria == repeat.definition.criteria
    assert copy.definition.description == repeat.definition.description
    assert copy.member_count == repeat.member_count
    assert ("Copy of Repeat Customers", f"{repeat.member_count:,}") in listed_segments(panel.model)

    panel.select_segment(repeat.id)
    with qtbot.waitSignal(panel.segment_selected, timeout=WAIT_MS):
        panel.duplicate_action.trigger()
    assert segment_named(office, "Copy of Repeat Customers (2)").id != copy.id


def test_copy_name_skips_taken_names() -> None:
    assert copy_name("A", []) == "Copy of A"
    assert copy_name("A", ["Copy of A"]) == "Copy of A (2)"
    assert copy_name("A", ["Copy of A", "Copy of A (2)", "Copy of A (3)"]) == "Copy of A (4)"


def test_rename_in_place_saves_the_new_name_and_refuses_a_taken_one(
    qtbot: QtBot, panel: SegmentListPanel, office: Office, dialogs: Dialogs
) -> None:
    new_clients = segment_named(office, "New Clients")
    index = panel.model.index_of_segment(new_clients.id)
    assert index.flags() & Qt.ItemFlag.ItemIsEditable
    assert not panel.model.segments_index().flags() & Qt.ItemFlag.ItemIsEditable

    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        panel.model.setData(index, "Newcomers")
    renamed = next(s for s in office.segments() if s.id == new_clients.id)
    assert renamed.definition.name == "Newcomers"
    assert renamed.definition.criteria == new_clients.definition.criteria
    assert panel.model.index_of_segment(new_clients.id).data() == "Newcomers"

    with qtbot.assertNotEmitted(panel.session.segments_changed, wait=100):
        panel.model.setData(panel.model.index_of_segment(new_clients.id), "Active Clients")
    assert dialogs.warnings == [
        ("Rename segment", "A segment named 'Active Clients' already exists.")
    ]
    assert panel.model.index_of_segment(new_clients.id).data() == "Newcomers"


def test_roles_say_what_each_row_is(panel: SegmentListPanel, office: Office) -> None:
    model = panel.model
    active = segment_named(office, "Active Clients")
    index = model.index_of_segment(active.id)
    assert index.data(NODE_KIND_ROLE) == "segment"
    assert index.data(SEGMENT_ID_ROLE) == active.id
    strategy = model.index_of_strategy(StrategyKind.INDIVIDUAL)
    assert strategy.data(NODE_KIND_ROLE) == "strategy"
    assert model.index(0, 0, strategy).data(NODE_KIND_ROLE) == "tier"
    assert model.index(0, 0, strategy).data(STRATEGY_KIND_ROLE) == "individual"


def test_rename_by_typing_over_the_name_in_the_list(
    qtbot: QtBot, panel: SegmentListPanel, office: Office
) -> None:
    repeat = segment_named(office, "Repeat Customers")
    click_row(qtbot, panel, panel.model.index_of_segment(repeat.id))
    qtbot.keyClick(panel.view, Qt.Key.Key_F2)
    name_box = QApplication.focusWidget()
    assert isinstance(name_box, QLineEdit)
    assert name_box.text() == "Repeat Customers"
    name_box.selectAll()
    qtbot.keyClicks(name_box, "Regulars")
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        qtbot.keyClick(name_box, Qt.Key.Key_Return)
    assert panel.model.index_of_segment(repeat.id).data() == "Regulars"
    assert panel.selected_segment_id() == repeat.id
    assert segment_named(office, "Regulars").id == repeat.id


def test_the_delete_key_in_the_list_asks_before_deleting(
    qtbot: QtBot, panel: SegmentListPanel, office: Office, dialogs: Dialogs
) -> None:
    new_clients = segment_named(office, "New Clients")
    click_row(qtbot, panel, panel.model.index_of_segment(new_clients.id))
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    assert dialogs.questions and "'New Clients'" in dialogs.questions[0][1]
    assert new_clients.id not in [s.id for s in office.segments()]


def test_a_refresh_keeps_what_the_user_collapsed(
    qtbot: QtBot, panel: SegmentListPanel, session: OfficeSession
) -> None:
    view, model = panel.view, panel.model
    assert view.isExpanded(model.segments_index())
    assert view.isExpanded(model.index_of_strategy(StrategyKind.GROUP))
    view.collapse(model.segments_index())
    view.collapse(model.index_of_strategy(StrategyKind.GROUP))
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        session.broadcast(Changes.of(Area.SEGMENTS))
    assert not view.isExpanded(model.segments_index())
    assert view.isExpanded(model.strategies_index())
    assert view.isExpanded(model.index_of_strategy(StrategyKind.INDIVIDUAL))
    assert not view.isExpanded(model.index_of_strategy(StrategyKind.GROUP))


# --- issue 14: a click shows the segment's clients; delete can be undone; names fit ---------


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    office = make_office(tmp_path / "window.db")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    main = build_window(office, settings, today=lambda: TODAY)
    qtbot.addWidget(main)
    main.resize(1280, 800)
    main.show()
    qtbot.waitExposed(main)
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    yield main
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    main.close()
    office.close()


def click_segment_row(qtbot: QtBot, panel: SegmentListPanel, segment_id: int) -> None:
    rect = panel.view.visualRect(panel.model.index_of_segment(segment_id))
    assert rect.isValid()
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_clicking_a_segment_shows_its_members_in_the_clients_tab(
    qtbot: QtBot, window: MainWindow
) -> None:
    office = window.session.office
    segments = window.segment_list.model.segments
    target = next(s for s in segments if s.member_count)
    members = set(office.segment_member_ids(target.id))
    assert 0 < len(members) < office.client_count()

    click_segment_row(qtbot, window.segment_list, target.id)
    qtbot.waitUntil(lambda: set(window.clients.visible_client_ids()) == members, timeout=WAIT_MS)
    assert window.tabs.currentWidget() is window.clients
    assert window.clients.segment_combo.currentText().startswith(target.definition.name)
    # The definition is one click away: the Edit definition button, or the Segment tab.
    button = window.clients.edit_segment_button
    assert button.isVisible()
    assert window.editor.segment_id() == target.id
    window.tabs.setCurrentWidget(window.runs)  # elsewhere; a click on the same row comes back
    click_segment_row(qtbot, window.segment_list, target.id)
    assert window.tabs.currentWidget() is window.clients
    button.click()
    assert window.tabs.currentWidget() is window.editor
    assert window.editor.definition() == target.definition


def test_enter_on_a_segment_opens_its_definition_and_new_opens_a_blank_one(
    qtbot: QtBot, window: MainWindow
) -> None:
    panel = window.segment_list
    first, target = panel.model.segments[0], panel.model.segments[-1]
    click_segment_row(qtbot, panel, target.id)
    assert window.tabs.currentWidget() is window.clients
    qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert window.tabs.currentWidget() is window.editor
    assert window.editor.segment_id() == target.id
    # The context menu's Edit Definition does the same for the selected row.
    assert panel.select_segment(first.id)
    assert panel.edit_action in panel.view.actions()
    panel.edit_action.trigger()
    assert window.tabs.currentWidget() is window.editor
    assert window.editor.segment_id() == first.id
    window.segment_list.new_action.trigger()
    assert window.tabs.currentWidget() is window.editor
    assert window.editor.segment_id() is None


def test_a_deleted_segment_can_be_undone_with_its_definition(
    qtbot: QtBot, panel: SegmentListPanel, office: Office, dialogs: Dialogs
) -> None:
    target = panel.model.segments[0]
    members = set(office.segment_member_ids(target.id))
    assert panel.select_segment(target.id)
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        panel.delete_action.trigger()
    qtbot.waitUntil(panel.undo_bar.isVisible, timeout=WAIT_MS)
    assert target.definition.name in panel.undo_label.text()
    assert target.definition.name not in [name for name, _ in listed_segments(panel.model)]

    button = panel.findChild(QToolButton, "undo_delete_button")
    assert button is not None and button.isEnabled()
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        button.click()
    qtbot.waitUntil(
        lambda: target.definition.name in [name for name, _ in listed_segments(panel.model)],
        timeout=WAIT_MS,
    )
    assert not panel.undo_bar.isVisible()
    back = next(s for s in panel.model.segments if s.definition.name == target.definition.name)
    assert back.definition == target.definition
    qtbot.waitUntil(lambda: panel.selected_segment_id() == back.id, timeout=WAIT_MS)
    assert set(office.segment_member_ids(back.id)) == members


@pytest.mark.parametrize("size", [(1280, 800), (1024, 640)])
def test_every_segment_name_fits_the_list_at_the_default_window_size(
    qtbot: QtBot, window: MainWindow, size: tuple[int, int]
) -> None:
    view = window.segment_list.view
    # A desktop's font is wider than the offscreen one: the names must fit all the same.
    font = window.segment_list.font()
    font.setPointSizeF(font.pointSizeF() * 1.4)
    window.segment_list.setFont(font)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.width() == size[0], timeout=WAIT_MS)
    metrics = view.fontMetrics()
    for info in window.segment_list.model.segments:
        index = window.segment_list.model.index_of_segment(info.id)
        text_room = view.visualRect(index).width() - 8  # the cell's padding
        name = info.definition.name
        assert metrics.horizontalAdvance(name) <= text_room, name

"""The strategy view: table edits, Active, options, range words, pins, draft and Revert, undo.

Every read and write of the view goes through the office worker: a test waits
for the worker (``settle``) or a view signal before it looks at the office.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from seg_desktop.core.distribution import TierTotal
from seg_desktop.core.engine import Override
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.records import RevenueRow, RowProblem
from seg_desktop.core.tiers import Strategy, StrategyKind, Tier
from seg_desktop.demo import load_demo
from seg_desktop.gui.overrides import (
    OverrideColumn,
    OverrideDialog,
    OverrideRow,
    OverridesListModel,
)
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.strategy_view import StrategyView, TiersPanel
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.gui.tier_table import Column, TierTableModel
from seg_desktop.store.changes import Changes
from seg_desktop.store.errors import StoreError
from seg_desktop.store.office import Office
from tests.helpers.office import client, db_execute, make_office

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28, n = 12
IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP
PRODUCTIONS = {
    "A": 1_200_000,  # Silver exactly
    "B": 1_199_999,  # Bronze
    "C": 1_200_001,  # Silver
    "D": 6_000_000,  # Gold exactly
    "E": 0,
    "F": -50_000,
    "G": 300_000,
    "H": 3_000_000,  # Silver
}
GROUPS = {"A": ["Fam"], "B": ["Fam", "Emp"], "C": ["Emp"], "D": ["Emp"]}
WORKER_TIMEOUT_S = 10.0


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    revenue = [(ref, D(2025, 3, 1), cents) for ref, cents in PRODUCTIONS.items() if cents]
    clients = [client(ref, groups=GROUPS.get(ref, ())) for ref in PRODUCTIONS]
    opened, _ids = make_office(tmp_path, clients, revenue)
    opened.run_segmentation(AS_OF)
    yield opened
    opened.close()


def make_session(office: Office, today: dt.date | None = AS_OF) -> OfficeSession:
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    if today is None:
        return OfficeSession(office, runner, preview)
    return OfficeSession(office, runner, preview, today=lambda: today)


@pytest.fixture
def session(qtbot: QtBot, office: Office) -> Iterator[OfficeSession]:
    opened = make_session(office)
    yield opened
    assert opened.runner.shutdown(5000)
    assert opened.preview_runner.shutdown(5000)


def open_view(qtbot: QtBot, session: OfficeSession, kind: StrategyKind = IND) -> StrategyView:
    view = StrategyView(session, kind)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        view.resize(1200, 800)
        view.show()
    return view


@pytest.fixture
def view(qtbot: QtBot, session: OfficeSession) -> StrategyView:
    return open_view(qtbot, session)


def cell(view: StrategyView, row: int, column: Column) -> str:
    return str(view.table_model.index(row, column).data())


def type_into(view: StrategyView, row: int, column: Column, text: str) -> bool:
    model = view.table_model
    return model.setData(model.index(row, column), text)


def settle(qtbot: QtBot, view: StrategyView) -> None:
    """Wait until the worker has saved the view's edits and answered the reloads they caused."""
    qtbot.waitUntil(lambda: not view.session.runner.is_busy(), timeout=10_000)


def saved(office: Office, kind: StrategyKind = IND) -> Strategy:
    return office.strategies()[kind]


def import_revenue(session: OfficeSession, rows: list[tuple[str, dt.date, int]]) -> None:
    """Import revenue rows through the office worker, as the import dialog does."""
    office = session.office
    read = [RevenueRow(n, ref, day, cents, None) for n, (ref, day, cents) in enumerate(rows, 2)]

    def note(problem: RowProblem) -> None:
        raise AssertionError(problem)

    def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Changes:
        return office.import_rows("revenue", read, note, backup=False)[1]

    session.submit("Importing revenue", work)


def select_tier(view: StrategyView, row: int) -> None:
    view.table.selectionModel().select(
        view.table_model.index(row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


# --- models -------------------------------------------------------------------------------------


def test_tier_table_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = TierTableModel()
    model.editor = lambda _strategy, _description: None
    strategy = Strategy(IND, (Tier("Bronze", 0), Tier("Silver", 100_000), Tier("Gold", 500_000)))
    model.show(strategy, 12, [TierTotal(4, 100, 0), TierTotal(3, 200, 1), TierTotal(1, 300)], 600)
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    model.show(Strategy(IND, (), False), None, None, 0)
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_overrides_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = OverridesListModel()
    pin = Override(IND, 3, "Gold", "key account", D(2026, 1, 31))
    model.set_rows([OverrideRow(pin, "C · Client C", 1_200_001, "Silver", False, True)])
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.index(0, OverrideColumn.UNTIL).data() == "2026-01-31 (ended)"


# --- the table ----------------------------------------------------------------------------------


def test_table_shows_limits_effective_limits_counts_and_shares(view: StrategyView) -> None:
    assert [cell(view, 1, c) for c in Column] == [
        "Silver",
        "1,000",
        "5,000",
        "12,000",
        "60,000",
        "3",
        "54,000.01",
        f"{5_400_001 / 12_850_000:.1%}",
    ]
    assert cell(view, 2, Column.MONTHLY_UPPER) == "none"
    header = view.table_model.headerData(Column.EFFECTIVE_LOWER, Qt.Orientation.Horizontal)
    assert header == "Effective\nlower (× 12)"
    lowest = view.table_model.index(0, Column.MONTHLY_LOWER)
    assert not view.table_model.flags(lowest) & Qt.ItemFlag.ItemIsEditable


def test_editing_an_upper_limit_edits_the_next_tiers_lower(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    assert type_into(view, 0, Column.MONTHLY_UPPER, "1,500.50")
    assert cell(view, 1, Column.MONTHLY_LOWER) == "1,500.50"  # shown at once
    assert cell(view, 1, Column.EFFECTIVE_LOWER) == "18,006"
    settle(qtbot, view)
    assert saved(office).tiers[1] == Tier("Silver", 150_050)
    view.undo_stack.undo()
    settle(qtbot, view)
    assert saved(office).tiers[1] == Tier("Silver", 100_000)


def test_typing_a_limit_past_a_neighbour_reorders_the_tiers(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    assert type_into(view, 1, Column.MONTHLY_LOWER, "6000")
    settle(qtbot, view)
    assert [(t.name, t.monthly_lower) for t in saved(office).tiers] == [
        ("Bronze", 0),
        ("Gold", 500_000),
        ("Silver", 600_000),
    ]
    assert view.undo_stack.count() == 1
    view.undo_stack.undo()
    settle(qtbot, view)
    assert saved(office).names == ["Bronze", "Silver", "Gold"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "only the lowest tier starts at 0"),
        ("-5", "must be positive"),
        ("5000", "'gold' already starts at 5,000.00"),
        ("10.005", "more than two decimals"),
        ("lots", "is not an amount"),
    ],
)
def test_a_bad_limit_is_refused_with_a_message(
    view: StrategyView, office: Office, text: str, message: str
) -> None:
    assert not type_into(view, 1, Column.MONTHLY_LOWER, text)
    assert message in view.message_label.text().lower()
    assert view.message_label.isVisibleTo(view)
    assert saved(office).tiers[1].monthly_lower == 100_000
    assert view.undo_stack.count() == 0


def test_rename_in_place_and_duplicate_names_are_refused(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    assert type_into(view, 1, Column.NAME, "  Platinum ")
    settle(qtbot, view)
    assert saved(office).names == ["Bronze", "Platinum", "Gold"]
    assert view.undo_stack.undoText() == "Rename 'Silver' to 'Platinum'"
    assert not type_into(view, 1, Column.NAME, "Gold")
    assert "two tiers are named 'gold'" in view.message_label.text().lower()
    assert not type_into(view, 1, Column.NAME, " ")
    view.undo_stack.undo()
    settle(qtbot, view)
    assert saved(office).names == ["Bronze", "Silver", "Gold"]


def test_add_and_remove_tiers(qtbot: QtBot, view: StrategyView, office: Office) -> None:
    select_tier(view, 1)
    view.add_button.click()
    settle(qtbot, view)
    assert [(t.name, t.monthly_lower) for t in saved(office).tiers] == [
        ("Bronze", 0),
        ("Silver", 100_000),
        ("Tier 4", 300_000),
        ("Gold", 500_000),
    ]
    assert len(view.chart.lines) == 3
    assert view.totals is not None and len(view.totals) == 4
    select_tier(view, 0)
    view.remove_button.click()
    settle(qtbot, view)
    assert [(t.name, t.monthly_lower) for t in saved(office).tiers] == [
        ("Silver", 0),
        ("Tier 4", 300_000),
        ("Gold", 500_000),
    ]
    view.undo_stack.undo()
    view.undo_stack.undo()
    settle(qtbot, view)
    assert saved(office).tiers == (
        Tier("Bronze", 0),
        Tier("Silver", 100_000),
        Tier("Gold", 500_000),
    )
    assert len(view.chart.lines) == 2


# --- Active -------------------------------------------------------------------------------------


def test_activating_an_empty_strategy_shows_the_error(qtbot: QtBot, office: Office) -> None:
    office.save_strategy(Strategy(IND, (), active=False))
    session = make_session(office)
    try:
        view = open_view(qtbot, session)
        assert not view.active_check.isChecked()
        view.active_check.click()
        assert not view.active_check.isChecked()
        assert "a strategy needs at least one tier before it can be active" in (
            view.message_label.text()
        )
        assert view.message_label.isVisibleTo(view)
        assert saved(office) == Strategy(IND, (), active=False)
        assert view.undo_stack.count() == 0
    finally:
        assert session.runner.shutdown(5000)
        assert session.preview_runner.shutdown(5000)


def test_the_last_tier_of_an_active_strategy_cannot_be_removed(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    for _ in range(2):
        select_tier(view, 0)
        view.remove_button.click()
    settle(qtbot, view)
    assert saved(office).names == ["Gold"]
    select_tier(view, 0)
    view.remove_button.click()
    assert "at least one tier" in view.message_label.text().lower()
    settle(qtbot, view)
    assert saved(office).names == ["Gold"]


def test_deactivate_is_one_undoable_edit(qtbot: QtBot, view: StrategyView, office: Office) -> None:
    view.active_check.click()
    assert "made inactive" in view.draft_label.text()
    settle(qtbot, view)
    assert not saved(office).active
    view.undo_stack.undo()
    settle(qtbot, view)
    assert saved(office).active
    assert view.active_check.isChecked()


# --- draft, Revert, Run ---------------------------------------------------------------------------


def test_changes_are_a_draft_until_revert(qtbot: QtBot, view: StrategyView, office: Office) -> None:
    assert "Same as the current run" in view.draft_label.text()
    assert not view.revert_button.isEnabled()
    type_into(view, 2, Column.MONTHLY_LOWER, "4000")
    assert "Changed since the last run" in view.draft_label.text()
    assert "'Gold' 5,000 → 4,000 a month" in view.draft_label.text()
    assert view.revert_button.isEnabled()

    view.revert_button.click()
    settle(qtbot, view)
    assert saved(office).tiers[2] == Tier("Gold", 500_000)
    assert "Same as the current run" in view.draft_label.text()
    view.undo_stack.undo()  # Revert is undoable too
    settle(qtbot, view)
    assert saved(office).tiers[2] == Tier("Gold", 400_000)


def test_run_segmentation_button_asks_the_window(qtbot: QtBot, view: StrategyView) -> None:
    with qtbot.waitSignal(view.run_requested, timeout=1000):
        view.run_button.click()


def test_a_new_run_makes_the_draft_current(
    qtbot: QtBot, view: StrategyView, session: OfficeSession
) -> None:
    type_into(view, 1, Column.MONTHLY_LOWER, "2000")
    assert "Changed since the last run" in view.draft_label.text()
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        session.run_segmentation()
    assert "Same as the current run" in view.draft_label.text()
    assert not view.is_out_of_date()


def test_a_run_in_progress_does_not_block_dragging(
    qtbot: QtBot, view: StrategyView, session: OfficeSession, office: Office
) -> None:
    release = threading.Event()

    def hold(_progress: ProgressFn, _cancelled: CancelledFn) -> None:
        release.wait(WORKER_TIMEOUT_S)

    session.submit("A long run", hold)
    line = view.chart.line_for(1)
    line.setValue(view.chart.x_for_monthly(200_000))
    assert view.totals is not None
    assert [t.count for t in view.totals] == [6, 1, 1]  # counts follow during the run
    line.sigPositionChangeFinished.emit(line)
    assert view.saved_strategy.tiers[1].monthly_lower == 200_000
    assert saved(office).tiers[1].monthly_lower == 100_000  # the write waits for the run
    assert view.is_saving()
    assert "Saving…" in view.draft_label.text()
    # Still editable: a second edit queues behind the first.
    assert type_into(view, 2, Column.NAME, "Platinum")
    with qtbot.waitSignal(view.saved, timeout=10_000):
        release.set()
    assert saved(office).tiers[1].monthly_lower == 200_000
    assert saved(office).names == ["Bronze", "Silver", "Platinum"]
    settle(qtbot, view)
    assert view.strategy == saved(office)
    assert view.undo_stack.count() == 2  # its own writes coming back do not clear the stack
    assert "Saving…" not in view.draft_label.text()


# --- options and the range in words -------------------------------------------------------------


def test_range_in_words(view: StrategyView) -> None:
    words = view.range_label.text()
    assert "01 Mar 2025" in words and "28 Feb 2026" in words
    assert "n = 12" in words and "× 12" in words
    assert "1 month before this month" in words


def test_months_options_reload_the_chart_and_undo(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    view.options_button.click()
    assert view.options_frame.isVisibleTo(view)
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        view.max_months_spin.setValue(6)
    assert office.settings().segmentation == SegmentationSettings(6, 1)
    assert view.months == 6
    assert "n = 6" in view.range_label.text()
    # Every production was dated 2025-03-01: outside the last 6 months.
    assert [t.count for t in view.totals or []] == [8, 0, 0]
    assert cell(view, 1, Column.EFFECTIVE_LOWER) == "6,000"
    assert "the months settings now give" in view.draft_label.text()
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        view.undo_stack.undo()
    assert office.settings().segmentation == SegmentationSettings(12, 1)
    assert view.max_months_spin.value() == 12
    assert [t.count for t in view.totals or []] == [4, 3, 1]


def test_clipped_range_says_why(qtbot: QtBot, office: Office) -> None:
    session = make_session(office, today=D(2025, 6, 15))
    try:
        view = open_view(qtbot, session)
        words = view.range_label.text()
        assert "Clipped" in words and "01 Mar 2025" in words and "n = 3" in words
    finally:
        assert session.runner.shutdown(5000)
        assert session.preview_runner.shutdown(5000)


def test_not_enough_data_says_why(qtbot: QtBot, office: Office) -> None:
    session = make_session(office, today=D(2025, 3, 20))  # B = 1: the range ends in February
    try:
        view = open_view(qtbot, session)
        assert "Not enough data to segment" in view.range_label.text()
        assert "after the end of the range" in view.range_label.text()
        assert view.chart.lines == []
        assert cell(view, 1, Column.EFFECTIVE_LOWER) == "—"
    finally:
        assert session.runner.shutdown(5000)
        assert session.preview_runner.shutdown(5000)


def test_settings_changed_in_one_tab_reload_the_other(qtbot: QtBot, session: OfficeSession) -> None:
    panel = TiersPanel(session)
    qtbot.addWidget(panel)
    groups = panel.views[GRP]
    individual = panel.views[IND]
    with qtbot.waitSignals([individual.data_loaded, groups.data_loaded], timeout=10_000):
        panel.show()
    with qtbot.waitSignals([individual.data_loaded, groups.data_loaded], timeout=10_000):
        individual.buffer_spin.setValue(0)
    assert groups.buffer_spin.value() == 0
    assert groups.months == 12
    assert "live" in groups.range_label.text()


# --- pins ---------------------------------------------------------------------------------------


def test_pin_a_client_review_and_remove_it(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    dialog = view.open_override_dialog()
    with qtbot.waitSignal(dialog.results_shown, timeout=10_000):
        dialog.search_edit.setText("Client B")
    assert dialog.results.count() == 1  # found by name; the only match is chosen
    dialog.tier_combo.setCurrentText("Gold")
    dialog.reason_edit.setText("key account")
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        dialog.accept()
    pins = office.overrides()
    assert [(p.tier_name, p.reason, p.until) for p in pins] == [("Gold", "key account", None)]
    assert [t.count for t in view.totals or []] == [3, 3, 2]
    assert cell(view, 2, Column.COUNT) == "2 (1 pinned)"
    assert "1 pinned" in view.chart.band_text(2)
    listed = view.overrides_panel.model
    assert listed.rowCount() == 1
    assert listed.index(0, OverrideColumn.COMPUTED).data() == "Bronze"  # computed beside pinned
    assert listed.index(0, OverrideColumn.PINNED).data() == "Gold"

    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        view.remove_override(pins[0])
    assert office.overrides() == []
    assert [t.count for t in view.totals or []] == [4, 3, 1]
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        view.undo_stack.undo()
    assert office.overrides() == pins


def test_the_pin_dialog_needs_a_reason_and_takes_an_end_date(
    qtbot: QtBot, view: StrategyView
) -> None:
    dialog = view.open_override_dialog()
    with qtbot.waitSignal(dialog.results_shown, timeout=10_000):
        dialog.search_edit.setText("client")
    assert dialog.results.count() == len(PRODUCTIONS)
    dialog.results.setCurrentRow(2)
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.reason_edit.setText("new contract")
    assert ok.isEnabled()
    dialog.until_check.setChecked(True)
    pin = dialog.override()
    assert pin is not None and pin.until == AS_OF + dt.timedelta(days=90)
    dialog.reject()


def test_groups_view_counts_equal_the_run(qtbot: QtBot, session: OfficeSession) -> None:
    view = open_view(qtbot, session, GRP)
    run = session.office.current_run()
    assert run is not None
    assert [t.count for t in view.totals or []] == [t.count for t in run.tiers[GRP]]
    assert view.table_model.headerData(Column.COUNT, Qt.Orientation.Horizontal) == "Groups"


# --- following the session ------------------------------------------------------------------------


def test_new_revenue_reloads_the_counts(
    qtbot: QtBot, view: StrategyView, session: OfficeSession
) -> None:
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        import_revenue(session, [("G", D(2025, 4, 1), 7_000_000)])
    assert [t.count for t in view.totals or []] == [3, 3, 2]


def test_after_a_revenue_import_the_view_says_the_run_is_out_of_date(
    qtbot: QtBot, view: StrategyView, session: OfficeSession, office: Office
) -> None:
    """Issue 13: after an import the view said "Same as the current run" beside other counts."""
    run = office.current_run()
    assert run is not None
    assert "Same as the current run" in view.draft_label.text()
    assert not view.run_button.isDefault()
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        import_revenue(session, [("G", D(2025, 4, 1), 7_000_000)])
    settle(qtbot, view)
    # The table shows the data's counts; the run still holds the old ones.
    assert [t.count for t in view.totals or []] == [3, 3, 2]
    assert [t.count for t in run.tiers[IND]] == [4, 3, 1]
    words = view.draft_label.text()
    assert "Same as the current run" not in words
    assert "The data changed since the current run" in words
    assert "out of date" in words
    assert view.is_out_of_date()
    assert view.run_button.isDefault()  # Run Segmentation is one click away
    with qtbot.waitSignal(view.run_requested, timeout=1000):
        view.run_button.click()
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        session.run_segmentation()
    settle(qtbot, view)
    assert "Same as the current run" in view.draft_label.text()
    assert not view.is_out_of_date()


def test_an_import_after_the_run_is_out_of_date_even_with_the_same_counts(
    qtbot: QtBot, office: Office, tmp_path: Path
) -> None:
    """The run is compared with when the data changed, not only with its counts."""
    # The run was made an hour ago; the import below comes after it.
    db_execute(
        tmp_path / "office.db", "UPDATE run SET created_at = datetime(created_at, '-1 hour')"
    )
    session = make_session(office)
    try:
        view = open_view(qtbot, session)
        assert "Same as the current run" in view.draft_label.text()
        with qtbot.waitSignal(view.data_loaded, timeout=10_000):
            import_revenue(session, [("E", D(2025, 4, 1), 100)])  # E stays in Bronze
        settle(qtbot, view)
        assert [t.count for t in view.totals or []] == [4, 3, 1]  # the run's counts
        words = view.draft_label.text()
        assert "The data changed since the current run" in words
        assert "revenue or clients imported or changed" in words
        assert "Same as the current run" not in words
    finally:
        assert session.runner.shutdown(5000)
        assert session.preview_runner.shutdown(5000)


def test_a_strategy_replaced_elsewhere_is_adopted(
    qtbot: QtBot, view: StrategyView, session: OfficeSession, office: Office
) -> None:
    type_into(view, 1, Column.NAME, "Platinum")
    settle(qtbot, view)
    assert view.undo_stack.count() == 1
    replaced = Strategy(IND, (Tier("Low", 0), Tier("High", 200_000)))
    with qtbot.waitSignal(view.state_loaded, timeout=10_000):
        session.broadcast(office.save_strategy(replaced))
    assert view.strategy == replaced
    assert view.undo_stack.count() == 0  # its edits no longer describe what is saved
    assert len(view.chart.lines) == 1


def test_tiers_panel_exposes_both_views_and_their_undo_stacks(
    qtbot: QtBot, session: OfficeSession
) -> None:
    panel = TiersPanel(session)
    qtbot.addWidget(panel)
    assert set(panel.views) == {IND, GRP}
    assert panel.undo_stacks == [panel.views[IND].undo_stack, panel.views[GRP].undo_stack]
    assert panel.current_undo_stack() is panel.views[IND].undo_stack
    with qtbot.waitSignal(panel.current_undo_stack_changed) as signal:
        panel.tabs.setCurrentIndex(1)
    assert signal.args == [panel.views[GRP].undo_stack]
    with qtbot.waitSignal(panel.run_requested, timeout=1000):
        panel.views[GRP].run_button.click()
    with qtbot.waitSignals([v.data_loaded for v in panel.views.values()], timeout=10_000):
        pass


def test_demo_office_counts_equal_the_run(qtbot: QtBot, tmp_path: Path) -> None:
    office = Office.open(tmp_path / "demo.db")
    load_demo(office, clients=80, months=14)
    some_client = office.client_facts()[5].client_id
    office.set_override(Override(IND, some_client, "Gold", "key account"))
    run, _changes = office.run_segmentation()
    session = make_session(office, today=None)
    try:
        for kind in StrategyKind:
            view = open_view(qtbot, session, kind)
            assert [t.count for t in view.totals or []] == [t.count for t in run.tiers[kind]]
    finally:
        assert session.runner.shutdown(5000)
        assert session.preview_runner.shutdown(5000)
        office.close()


def test_edit_a_pin_and_undo_the_edit(qtbot: QtBot, office: Office) -> None:
    ids = {f.name: f.client_id for f in office.client_facts()}
    first = Override(IND, ids["Client G"], "Silver", "new contract")
    office.set_override(first)
    session = make_session(office)
    try:
        view = open_view(qtbot, session)
        view.overrides_panel.table.selectRow(0)
        assert "pinned to Silver (computed Bronze" in view.overrides_panel.details_label.text()
        view.overrides_panel.edit_button.click()
        dialogs = view.findChildren(OverrideDialog)
        assert len(dialogs) == 1
        dialog = dialogs[0]
        assert dialog.reason_edit.text() == "new contract"
        dialog.tier_combo.setCurrentText("Gold")
        dialog.until_check.setChecked(True)
        with qtbot.waitSignal(view.data_loaded, timeout=10_000):
            dialog.accept()
        edited = Override(IND, ids["Client G"], "Gold", "new contract", AS_OF + dt.timedelta(90))
        assert office.overrides() == [edited]
        with qtbot.waitSignal(view.data_loaded, timeout=10_000):
            view.undo_stack.undo()
        assert office.overrides() == [first]
    finally:
        assert session.runner.shutdown(5000)
        assert session.preview_runner.shutdown(5000)


def test_a_write_that_fails_is_told_under_the_draft_and_the_saved_strategy_comes_back(
    qtbot: QtBot, view: StrategyView, office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_strategy: Strategy) -> Changes:
        raise StoreError("the office is open read-only")

    monkeypatch.setattr(office, "save_strategy", refuse)
    with qtbot.waitSignal(view.state_loaded, timeout=10_000):
        assert type_into(view, 1, Column.NAME, "Platinum")
    assert "Saving the strategy failed: the office is open read-only" in (view.message_label.text())
    assert view.message_label.isVisibleTo(view)
    assert view.strategy.names == ["Bronze", "Silver", "Gold"]  # what is saved, again
    assert view.undo_stack.count() == 0
    assert not view.is_saving()


# --- issue 14: Remove tier on an inactive strategy works or says why ---------------------------


def test_remove_tier_on_an_inactive_strategy_removes_or_says_why(
    qtbot: QtBot, view: StrategyView, office: Office
) -> None:
    view.active_check.click()
    settle(qtbot, view)
    assert not saved(office).active
    # Nothing chosen: the button says what to do instead of doing nothing.
    view.table.clearSelection()
    view.table.setCurrentIndex(view.table_model.index(-1, 0))
    assert view.remove_button.isEnabled()
    view.remove_button.click()
    assert view.message_label.isVisibleTo(view)
    assert "choose the tier" in view.message_label.text().lower()
    # The row with the focus frame (a reload keeps it, not the selection) is the one removed.
    view.table.setCurrentIndex(view.table_model.index(0, 0))
    view.table.clearSelection()
    view.remove_button.click()
    settle(qtbot, view)
    assert saved(office).names == ["Silver", "Gold"]
    for _ in range(2):
        select_tier(view, 0)
        view.remove_button.click()
        settle(qtbot, view)
    assert saved(office) == Strategy(IND, (), active=False)  # inactive: may have none
    assert not view.remove_button.isEnabled()

"""RunsView: the history, comparing two runs, the matrix and the lists, their exports."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from seg_desktop.core.money import format_money
from seg_desktop.core.tiers import StrategyKind, move_boundary
from seg_desktop.demo import load_demo
from seg_desktop.gui.membership_log import MembershipLogView
from seg_desktop.gui.runs_view import SORT_ROLE, RunsView
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store.office import Office

TODAY = dt.date.today()
WAIT_MS = 10_000
IND = StrategyKind.INDIVIDUAL


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    """The demo office after two runs, the second with Silver's limit halved."""
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
    """Stands in for QFileDialog.getSaveFileName."""

    def __init__(self) -> None:
        self.answer = ("", "")

    def __call__(
        self, parent: object, caption: str, directory: str, filters: str
    ) -> tuple[str, str]:
        return self.answer


@pytest.fixture
def save_dialog() -> SaveDialog:
    return SaveDialog()


@pytest.fixture
def view(qtbot: QtBot, session: OfficeSession, save_dialog: SaveDialog) -> RunsView:
    widget = RunsView(session, save_file_dialog=save_dialog)
    qtbot.addWidget(widget)
    widget.show()  # the latest two runs are compared once the view is on screen
    if widget.comparison() is None:
        with qtbot.waitSignal(widget.comparison_shown, timeout=WAIT_MS):
            pass
    return widget


def test_history_shows_every_run_newest_first(
    view: RunsView, office: Office, qtmodeltester: ModelTester
) -> None:
    qtmodeltester.check(view.history_model)
    runs = office.runs()
    model = view.history_model
    assert model.rowCount() == 2
    assert [model.index(r, 0).data() for r in range(2)] == [str(r.id) for r in runs]
    newest = runs[0]
    assert model.index(0, 2).data() == "manual"
    assert str(model.index(0, 4).data()).startswith(
        f"{newest.range.start.isoformat()} to {newest.range.end.isoformat()}"
    )
    assert model.index(0, 5).data() == str(newest.range.months)
    silver = newest.tiers[IND][1]
    assert (
        f"Silver ≥{format_money(silver.monthly_lower).removesuffix('.00')}: {silver.count:,}"
        in str(model.index(0, 6).data())
    )


def test_the_latest_two_are_compared_and_shown_exactly(view: RunsView, office: Office) -> None:
    runs = office.runs()
    expected = office.compare_runs(runs[1].id, runs[0].id).comparison
    compared = view.comparison()
    assert compared is not None
    assert (compared.older.id, compared.newer.id) == (runs[1].id, runs[0].id)
    assert compared.comparison == expected
    for row, from_key in enumerate(expected.row_keys()):
        for column, to_key in enumerate(expected.column_keys()):
            if from_key is None and to_key is None:
                continue
            assert (
                view.matrix_cell_text(row, column) == f"{expected.cell(from_key, to_key).count:,}"
            )
    assert len(expected.moved_up) > 0  # a lower Silver limit moves clients up
    assert view.list_models["up"].rowCount() == len(expected.moved_up)
    assert view.list_models["down"].rowCount() == len(expected.moved_down)
    assert view.list_tabs.tabText(0) == f"Moved up ({len(expected.moved_up):,})"
    view.show_combo.setCurrentIndex(1)  # production
    assert view.matrix_cell_text(0, 1) == format_money(expected.cell(0, 1).production_after)


def test_list_model_sorts_and_passes_the_model_tester(
    view: RunsView, qtmodeltester: ModelTester
) -> None:
    model = view.list_models["up"]
    qtmodeltester.check(model)
    model.sort(5, Qt.SortOrder.DescendingOrder)
    after = [model.index(r, 5).data(SORT_ROLE) for r in range(model.rowCount())]
    assert after == sorted(after, reverse=True)


def test_compare_two_selected_runs(qtbot: QtBot, view: RunsView, session: OfficeSession) -> None:
    with qtbot.waitSignal(session.run_changed, timeout=WAIT_MS) as saved:
        session.run_segmentation()
    new_run = saved.args[0].id
    # The new run is shown and compared with the one before it.
    qtbot.waitUntil(
        lambda: (compared := view.comparison()) is not None and compared.newer.id == new_run,
        timeout=WAIT_MS,
    )
    runs = session.office.runs()
    assert view.history_model.rowCount() == 3
    compared = view.comparison()
    assert compared is not None and compared.newer.id == runs[0].id
    assert compared.comparison.moved_up == () and compared.comparison.moved_down == ()
    view.select_runs([runs[2].id])
    assert not view.compare_button.isEnabled()
    assert not view.compare_selected()
    view.select_runs([runs[2].id, runs[0].id])
    assert view.compare_button.isEnabled()
    with qtbot.waitSignal(view.comparison_shown, timeout=WAIT_MS):
        assert view.compare_selected()
    compared = view.comparison()
    assert compared is not None and (compared.older.id, compared.newer.id) == (
        runs[2].id,
        runs[0].id,
    )


def test_groups_can_be_compared(qtbot: QtBot, view: RunsView) -> None:
    with qtbot.waitSignal(view.comparison_shown, timeout=WAIT_MS):
        view.strategy_combo.setCurrentIndex(1)
    compared = view.comparison()
    assert compared is not None and compared.kind is StrategyKind.GROUP
    assert compared.comparison.tier_names == ("C Group", "B Group", "A Group")


def test_exports(qtbot: QtBot, view: RunsView, save_dialog: SaveDialog, tmp_path: Path) -> None:
    compared = view.comparison()
    assert compared is not None
    out = tmp_path / "up"
    save_dialog.answer = (str(out), "CSV file (*.csv)")
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS) as done:
        assert view.export_list("up")
    assert done.args == [str(tmp_path / "up.csv"), len(compared.comparison.moved_up)]
    with (tmp_path / "up.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle))) == len(compared.comparison.moved_up) + 1

    workbook_path = tmp_path / "comparison.xlsx"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS):
        assert view.export_comparison(workbook_path)
    workbook = load_workbook(workbook_path, read_only=True)
    try:
        assert workbook.sheetnames[:2] == [
            "Movement matrix (counts)",
            "Movement matrix (production)",
        ]
    finally:
        workbook.close()

    history_path = tmp_path / "history.xlsx"
    with qtbot.waitSignal(view.export_finished, timeout=WAIT_MS):
        assert view.export_history(history_path)
    save_dialog.answer = ("", "")
    assert not view.export_comparison()  # the dialog was cancelled


def test_membership_log_view_shows_a_clients_log(
    qtbot: QtBot, session: OfficeSession, office: Office
) -> None:
    runs = office.runs()
    compared = office.compare_runs(runs[1].id, runs[0].id)
    moved = compared.comparison.moved_up[0].subject_id
    log_view = MembershipLogView(session, moved)
    qtbot.addWidget(log_view)
    qtbot.waitUntil(lambda: len(log_view.entries()) >= 2, timeout=WAIT_MS)
    entries = log_view.entries()
    assert (entries[0].label, entries[0].entered, entries[0].cause) == (
        "Tier Silver",
        True,
        f"run {runs[0].id}: tier limits or range changed",
    )
    assert (entries[1].label, entries[1].entered) == ("Tier Bronze", False)
    table = log_view.table
    assert [table.item(0, c).text() for c in (1, 2, 3)] == [  # type: ignore[union-attr]
        "Tier Silver",
        "entered",
        f"run {runs[0].id}: tier limits or range changed",
    ]
    assert log_view.empty_label.isHidden()
    log_view.set_client(None)
    qtbot.waitUntil(lambda: table.rowCount() == 0, timeout=WAIT_MS)
    assert not log_view.empty_label.isHidden()


def test_a_hidden_view_compares_nothing_until_it_is_shown(
    qtbot: QtBot, session: OfficeSession
) -> None:
    widget = RunsView(session)
    qtbot.addWidget(widget)
    # Nothing is read for a hidden tab, not even the history.
    assert widget.history_model.rowCount() == 0
    assert not session.runner.is_busy() and widget.comparison() is None
    with qtbot.waitSignal(widget.comparison_shown, timeout=WAIT_MS):
        widget.show()
    assert widget.history_model.rowCount() == 2
    comparison = widget.comparison()
    assert comparison is not None and comparison.newer.id > comparison.older.id


def test_a_run_saved_while_hidden_is_shown_when_the_view_shows(
    qtbot: QtBot, view: RunsView, session: OfficeSession
) -> None:
    view.hide()
    with qtbot.waitSignal(session.run_changed, timeout=WAIT_MS) as saved:
        session.run_segmentation()
    qtbot.waitUntil(lambda: not session.runner.is_busy(), timeout=WAIT_MS)
    assert view.history_model.rowCount() == 2  # hidden: not read yet
    with qtbot.waitSignal(view.comparison_shown, timeout=WAIT_MS):
        view.show()
    assert view.history_model.rowCount() == 3
    compared = view.comparison()
    assert compared is not None and compared.newer.id == saved.args[0].id

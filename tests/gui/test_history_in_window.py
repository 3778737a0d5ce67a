"""Runs, reports and the nightly run as the main window shows them.

The views themselves are tested in test_runs_view, test_reports_view and
test_nightly; here: the tabs and shortcuts, the clients who changed tier,
the membership log beside the client, a report's list shown in the Clients
tab, the settings action, and the nightly run from start-up to the status bar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QIcon
from pytestqt.qtbot import QtBot

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.core.engine import Trigger
from seg_desktop.core.tiers import StrategyKind, move_boundary
from seg_desktop.demo import load_demo
from seg_desktop.gui.app import build_window
from seg_desktop.gui.clients_model import column_of
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.settings_dialog import SettingsDialog
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store import history
from seg_desktop.store.office import Office
from seg_desktop.store.records import NightlyFailure

TODAY = dt.date.today()
WAIT_MS = 20_000
IND = StrategyKind.INDIVIDUAL


@pytest.fixture
def office_path(tmp_path: Path) -> Path:
    """The demo office after two runs, the second with Silver's limit halved."""
    path = tmp_path / "office.db"
    office = Office.open(path)
    load_demo(office, clients=80, months=14, seed=5)
    office.run_segmentation(TODAY)
    individual = office.strategies()[IND]
    office.save_strategy(move_boundary(individual, 1, individual.tiers[1].monthly_lower // 2))
    office.run_segmentation(TODAY)
    office.close()
    return path


def _open_window(qtbot: QtBot, office: Office, tmp_path: Path, clock: object = None) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    if clock is None:
        main = build_window(office, settings, today=lambda: TODAY)
    else:
        runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
        preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
        session = OfficeSession(office, runner, preview, lambda: TODAY)
        main = MainWindow(session, settings, clock=clock)  # type: ignore[arg-type]
        runner.setParent(main)
        preview.setParent(main)
        session.setParent(main)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=WAIT_MS)
    return main


@pytest.fixture
def window(qtbot: QtBot, office_path: Path, tmp_path: Path) -> Iterator[MainWindow]:
    office = Office.open(office_path)
    main = _open_window(qtbot, office, tmp_path)
    qtbot.waitUntil(main.clients.is_loaded, timeout=WAIT_MS)
    yield main
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=WAIT_MS)
    main.close()
    office.close()


def test_runs_and_reports_are_tabs_reached_by_ctrl_number(qtbot: QtBot, window: MainWindow) -> None:
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Segment", "Clients", "Tiers", "Runs", "Reports", "Automation", "Tasks"]
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.runs
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.reports
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.clients
    qtbot.keyClick(window, Qt.Key.Key_7, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.followups
    qtbot.waitUntil(lambda: window.tasks_label.text() == "No open tasks", timeout=WAIT_MS)


def test_clients_who_changed_tier_are_marked_with_the_old_tier_in_the_tooltip(
    window: MainWindow,
) -> None:
    office = window.session.office
    with office.database.read() as connection:
        changes = history.changed_since_previous_run(connection)
    # Halving Silver's limit moves some clients up and nobody down.
    assert changes and all(change.moved_up for change in changes.values())
    model, proxy = window.clients.model, window.clients.proxy
    tier = column_of("tier")
    marked = 0
    for row in range(proxy.rowCount()):
        client_id = proxy.client_id_at(row)
        index = proxy.index(row, tier)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        change = changes.get(client_id)
        if change is None:
            assert icon is None
            continue
        marked += 1
        assert isinstance(icon, QIcon) and not icon.isNull()
        assert model.tier_change(client_id) == change
        assert index.data() == change.new_tier  # the text stays the tier alone
        tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
        assert f"Moved up from {change.old_tier} since the previous run" in tooltip
    assert marked == len(changes)
    assert f"{len(changes):,} changed tier since the previous run" in (
        window.clients.count_label.text()
    )


def test_the_client_detail_shows_the_clients_membership_log(
    qtbot: QtBot, window: MainWindow
) -> None:
    office = window.session.office
    with office.database.read() as connection:
        moved = next(iter(history.changed_since_previous_run(connection)))
        expected = history.membership_log(connection, moved, 500)
    assert expected, "a client who changed tier has log entries"
    window.tabs.setCurrentWidget(window.clients)
    log = window.clients.membership_log
    # Both are read on the office worker.
    with qtbot.waitSignals([log.loaded, window.clients.detail_loaded], timeout=WAIT_MS):
        assert window.clients.select_client(moved)
    assert log.client_id() == moved
    assert log.entries() == expected
    assert log.table.rowCount() == len(expected)
    assert log.isVisibleTo(window.clients.detail)


def test_a_reports_list_is_shown_in_the_clients_tab_until_the_segments_change(
    qtbot: QtBot, window: MainWindow
) -> None:
    every = window.clients.visible_client_ids()
    chosen = sorted(every[:7])
    window.reports.show_clients_requested.emit(chosen, "In A but not B")
    assert window.tabs.currentWidget() is window.clients
    assert sorted(window.clients.visible_client_ids()) == chosen
    assert window.clients.segment_combo.currentText() == "In A but not B (7)"
    assert window.clients.segment_filter() is None
    # Another entry and back shows the list again.
    window.clients.segment_combo.setCurrentIndex(0)
    assert len(window.clients.visible_client_ids()) == len(every)
    window.clients.segment_combo.setCurrentIndex(window.clients.segment_combo.count() - 1)
    assert sorted(window.clients.visible_client_ids()) == chosen
    # The segments change (a recompute): the list ends, every client is shown.
    with qtbot.waitSignal(window.session.segments_changed, timeout=WAIT_MS):
        # Views may be loading in the background: ask until the worker takes it.
        qtbot.waitUntil(window.session.recompute_segments, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(window.clients.visible_client_ids()) == len(every), timeout=WAIT_MS)
    assert window.clients.segment_combo.findText("In A but not B (7)") == -1


def test_settings_action_opens_the_settings_with_the_scheduler_command(
    qtbot: QtBot, window: MainWindow
) -> None:
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.reject()


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_start_up_catches_up_a_missed_nightly_run_and_a_failure_shows_in_the_status_bar(
    qtbot: QtBot, office_path: Path, tmp_path: Path
) -> None:
    office = Office.open(office_path)
    office.save_settings(dataclasses.replace(office.settings(), nightly_enabled=True))
    before = len(office.runs())
    clock = FakeClock(dt.datetime.combine(TODAY, dt.time(10, 0)))
    main = _open_window(qtbot, office, tmp_path, clock)
    try:
        with qtbot.waitSignal(main.nightly.run_finished, timeout=WAIT_MS):
            main.start_nightly()  # never a scheduled run before: catch up now
        runs = office.runs()
        assert len(runs) == before + 1 and runs[0].trigger is Trigger.NIGHTLY
        qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=WAIT_MS)
        assert main.nightly_label.text() == "Next nightly run: tomorrow at 02:00."
        # A failed nightly run (kept in the office) shows in the status bar in red.
        failure = NightlyFailure(
            dt.datetime(2026, 11, 2, 2, 0), "Running segmentation failed: disk full"
        )
        main.nightly.failure_noted.emit(failure)
        assert "Nightly run failed 2026-11-02 02:00" in main.nightly_label.text()
        assert "disk full" in main.nightly_label.toolTip()
    finally:
        qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=WAIT_MS)
        main.close()
        office.close()


def test_a_rule_that_creates_tasks_fires_on_a_run_and_the_status_bar_counts_them(
    qtbot: QtBot, window: MainWindow
) -> None:
    office = window.session.office
    gold = office.strategies()[IND].tiers[-1].name
    rule = AutomationRule(
        "Gold follow-up",
        When.IS_IN,
        Target.of_tier(gold),
        Action(ActionKind.CREATE_TASK, title="Call {name}", due_in_days=7),
    )
    office.save_automation_rule(rule)
    current = office.current_run()
    assert current is not None
    run_id = current.id
    with office.database.read() as connection:
        in_gold = sum(
            1 for row in history.run_assignments(connection, run_id, IND) if row.tier_name == gold
        )
    assert in_gold > 0
    with qtbot.waitSignal(window.session.run_changed, timeout=WAIT_MS):
        qtbot.waitUntil(window.session.run_segmentation, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: window.tasks_label.text() == f"Tasks: {in_gold:,} open", timeout=WAIT_MS
    )
    assert office.task_counts().open == in_gold
    # A second run: the clients are still in Gold, so no task is added twice.
    with qtbot.waitSignal(window.session.run_changed, timeout=WAIT_MS):
        qtbot.waitUntil(window.session.run_segmentation, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.session.runner.is_busy(), timeout=WAIT_MS)
    assert office.task_counts().open == in_gold
    assert window.tasks_label.text() == f"Tasks: {in_gold:,} open"


def test_a_tag_set_by_a_rule_is_marked_in_the_client_detail(
    qtbot: QtBot, window: MainWindow
) -> None:
    office = window.session.office
    gold = office.strategies()[IND].tiers[-1].name
    rule = AutomationRule(
        "Gold tag", When.IS_IN, Target.of_tier(gold), Action(ActionKind.ADD_TAG, tag="gold-club")
    )
    office.save_automation_rule(rule)
    with qtbot.waitSignal(window.session.run_changed, timeout=WAIT_MS):
        qtbot.waitUntil(window.session.run_segmentation, timeout=WAIT_MS)
    tagged = next(f.client_id for f in office.client_facts() if "gold-club" in f.tags)
    untagged = next(
        f.client_id for f in office.client_facts() if f.tags and "gold-club" not in f.tags
    )
    qtbot.waitUntil(lambda: not window.clients.is_reload_pending(), timeout=WAIT_MS)
    with qtbot.waitSignal(window.clients.detail_loaded, timeout=WAIT_MS):
        qtbot.waitUntil(lambda: window.clients.select_client(tagged), timeout=WAIT_MS)
    assert "gold-club (set by rule “Gold tag”)" in window.clients.detail.tags_label.text()
    with qtbot.waitSignal(window.clients.detail_loaded, timeout=WAIT_MS):
        assert window.clients.select_client(untagged)
    assert "set by rule" not in window.clients.detail.tags_label.text()

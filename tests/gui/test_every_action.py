"""Every action and push button of the window, pressed through its own signal (issue 14).

The tests press what a person presses (``action.trigger()`` emits ``triggered(bool)``,
``button.click()`` emits ``clicked(bool)``), answer the file dialogs and message boxes
the way a person would, and check what the person then sees: the file written and
readable, the dialog shown, the status text, the tab.

Two tables keep the coverage honest: ``ACTION_TESTS`` maps every QAction of the window
to the test that presses it, and ``BUTTON_TESTS`` every push button of its views.
``test_every_action_has_a_test`` and ``test_every_button_has_a_test`` enumerate the
window and fail when something new has no test of its own. The dialogs' buttons are
checked inside each dialog's test (``assert_pressed_all``).
"""

from __future__ import annotations

import csv
import gc
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from seg_desktop.core.automation import Action, ActionKind, AutomationRule, Target, When
from seg_desktop.core.engine import Override
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.demo import load_demo
from seg_desktop.gui.app import build_window
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.store.changes import Area
from seg_desktop.store.office import Office

WAIT_MS = 20_000


# --- the office, built once per module --------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo office with two runs, a pin, a task rule and an email rule."""
    path = tmp_path_factory.mktemp("every-action") / "template.db"
    office = Office.open(path)
    load_demo(office, clients=60, months=14, seed=3)
    office.save_automation_rule(
        AutomationRule(
            "Call Silver",
            When.IS_IN,
            Target.of_tier("Silver"),
            Action(ActionKind.CREATE_TASK, title="Call {name}"),
        ),
        None,
    )
    office.save_automation_rule(
        AutomationRule(
            "Hello Silver",
            When.IS_IN,
            Target.of_tier("Silver"),
            Action(ActionKind.PREPARE_EMAIL, subject="Hello {name}", body="Thank you."),
        ),
        None,
    )
    office.run_segmentation()
    first_client = office.find_subjects(StrategyKind.INDIVIDUAL, "")[0]
    office.set_override(
        Override(StrategyKind.INDIVIDUAL, first_client.id, "Gold", "A loyal client")
    )
    office.run_segmentation()
    office.close()
    return path


@dataclass
class Answers:
    """How the fixture answers the dialogs the window asks, and what it was asked."""

    save_to: Path | None = None
    open_file: Path | None = None
    question: QMessageBox.StandardButton = QMessageBox.StandardButton.Yes
    asked: list[str] = field(default_factory=list)
    """The titles of the file dialogs and message boxes, in order."""
    told: list[str] = field(default_factory=list)
    """The texts of the message boxes, in order."""

    def save(self, _parent: object, title: str, *_args: Any, **_kwargs: Any) -> tuple[str, str]:
        self.asked.append(title)
        return (str(self.save_to), "") if self.save_to is not None else ("", "")

    def open(self, _parent: object, title: str, *_args: Any, **_kwargs: Any) -> tuple[str, str]:
        self.asked.append(title)
        return (str(self.open_file), "") if self.open_file is not None else ("", "")

    def ask(self, _parent: object, title: str, text: str = "", *_a: Any, **_k: Any) -> Any:
        self.asked.append(title)
        self.told.append(text)
        return self.question

    def tell(self, _parent: object, title: str, text: str = "", *_a: Any, **_k: Any) -> Any:
        self.asked.append(title)
        self.told.append(text)
        return QMessageBox.StandardButton.Ok


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    """File dialogs and message boxes answered without a person (before the window exists,
    so views that keep ``QFileDialog.getSaveFileName`` at construction get the answer too)."""
    given = Answers()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", given.save)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", given.open)
    monkeypatch.setattr(QMessageBox, "question", given.ask)
    for name in ("information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, given.tell)
    return given


@pytest.fixture
def window(qtbot: QtBot, template: Path, tmp_path: Path, answers: Answers) -> Iterator[MainWindow]:
    path = tmp_path / "office.db"
    shutil.copy(template, path)
    office = Office.open(path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    main = build_window(office, settings)
    # The automation view keeps its save dialog from its signature: answer it too.
    main.automation._save_dialog = answers.save  # type: ignore[assignment]
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    wait_idle(qtbot, main)
    yield main
    if shiboken6.isValid(main) and main.isVisible():  # File → Quit closed it already
        wait_idle(qtbot, main)
        for dialog in main.findChildren(QDialog):
            dialog.close()
        wait_idle(qtbot, main)
        main.close()
    office.close()
    # Collect this test's Qt wrappers now, while no worker thread runs: left to a later
    # test, the collection ran while its worker ran and crashed once (see the report).
    gc.collect()


def wait_idle(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.session.runner.is_busy(), timeout=WAIT_MS)


def status(window: MainWindow) -> str:
    return window.statusBar().currentMessage()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


class Modal:
    """Answer a modal dialog from inside its own event loop (``exec()`` blocks the test)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.errors: list[BaseException] = []
        self._handled: list[QWidget] = []

    def answer(self, handler: Callable[[QWidget], None], tries: int = 2000) -> None:
        """Call ``handler`` with the next modal dialog once it shows (polled every 10 ms)."""

        def poll(left: int) -> None:
            modal = QApplication.activeModalWidget()
            if modal is None or not modal.isVisible() or modal in self._handled:
                if left > 0:
                    QTimer.singleShot(10, lambda: poll(left - 1))
                else:
                    self.errors.append(AssertionError("no modal dialog showed"))
                return
            self._handled.append(modal)
            self.seen.append(modal.windowTitle())
            try:
                handler(modal)
            except BaseException as error:  # reported by check(), not lost in Qt
                self.errors.append(error)
                if isinstance(modal, QDialog):
                    modal.reject()

        QTimer.singleShot(0, lambda: poll(tries))

    def check(self) -> None:
        if self.errors:
            raise self.errors[0]


@pytest.fixture
def modal() -> Iterator[Modal]:
    answering = Modal()
    yield answering
    answering.check()


def visible_buttons(dialog: QWidget) -> dict[str, QAbstractButton]:
    """A dialog's push buttons by their text (without '&')."""
    return {
        button.text().replace("&", ""): button
        for button in dialog.findChildren(QPushButton)
        if button.isVisibleTo(dialog)
    }


def assert_pressed_all(dialog: QWidget, pressed: set[str]) -> None:
    """Every push button the dialog shows was pressed by the test."""
    assert set(visible_buttons(dialog)) == pressed


# --- the tables ---------------------------------------------------------------------------------

ACTION_TESTS: dict[str, str] = {
    # File
    "Import Clients…": "test_import_clients_and_revenue_open_the_import_dialog",
    "Import Revenue…": "test_import_clients_and_revenue_open_the_import_dialog",
    "Export Current Tiers…": "test_export_current_tiers_by_toolbar_menu_and_ctrl_e",
    "connect_action": "test_connect_to_office_server_cancelled_keeps_the_office",
    "Backups…": "test_backups_dialog_takes_a_backup_and_asks_before_restoring",
    "Check Database": "test_check_database_shows_its_verdict",
    "Quit": "test_quit_closes_the_window_and_saves_the_layout",
    # Edit
    "Undo": "test_undo_and_redo_of_the_edit_menu_follow_the_segment_editor",
    "Redo": "test_undo_and_redo_of_the_edit_menu_follow_the_segment_editor",
    "settings_action": "test_settings_dialog_buttons",
    # View
    "Segment": "test_view_menu_switches_tabs_by_action_and_shortcut",
    "Clients": "test_view_menu_switches_tabs_by_action_and_shortcut",
    "Tiers": "test_view_menu_switches_tabs_by_action_and_shortcut",
    "Runs": "test_view_menu_switches_tabs_by_action_and_shortcut",
    "Reports": "test_view_menu_switches_tabs_by_action_and_shortcut",
    "Automation": "test_view_menu_switches_tabs_by_action_and_shortcut",
    "Tasks": "test_view_menu_switches_tabs_by_action_and_shortcut",
    # Segment (menu, toolbar, the list's buttons and context menu)
    "new_action": "test_new_segment_opens_a_blank_editor",
    "save_segment_action": "test_save_segment_action_saves_the_edited_segment",
    "rename_action": "test_rename_duplicate_and_delete_from_the_list",
    "duplicate_action": "test_rename_duplicate_and_delete_from_the_list",
    "delete_action": "test_rename_duplicate_and_delete_from_the_list",
    "revert_segment_action": "test_editor_add_criterion_and_revert_from_the_segment_menu",
    "add_criterion_action": "test_editor_add_criterion_and_revert_from_the_segment_menu",
    "edit_definition_action": "test_a_segment_click_shows_its_clients_and_its_definition_is_near",
    "undo_delete_action": "test_rename_duplicate_and_delete_from_the_list",
    # Run
    "run_action": "test_run_and_recompute_from_the_run_menu",
    "Recompute Segments": "test_run_and_recompute_from_the_run_menu",
    "Cancel": "test_cancel_stops_a_running_task",
    # Help
    "About seg-desktop": "test_about_shows_the_about_box",
    # The toolbar's own show/hide action (its context menu).
    "Main": "test_the_toolbar_can_be_hidden_and_shown",
    # pyqtgraph's chart context menu (one per plot).
    "Export...": "test_chart_context_menu_export_opens_the_export_dialog",
}

# Push buttons of the window's views, keyed "View.objectName" (or "View.text").
BUTTON_TESTS: dict[str, str] = {
    "CriteriaEditor.add_criterion_button": "test_editor_buttons",
    "CriteriaEditor.revert_button": "test_editor_buttons",
    "CriteriaEditor.save_button": "test_editor_buttons",
    "CriteriaEditor.✕": "test_editor_buttons",  # a criterion row's Remove
    "ClientsView.clients_export_button": "test_clients_view_buttons",
    "ClientsView.clients_edit_segment_button": (
        "test_a_segment_click_shows_its_clients_and_its_definition_is_near"
    ),
    "ClientsView.clients_run_button": "test_clients_view_buttons",
    "StrategyView.revert_button": "test_strategy_view_buttons",
    "StrategyView.run_button": "test_strategy_view_buttons",
    "StrategyView.more_options_button": "test_strategy_view_buttons",
    "StrategyView.add_tier_button": "test_strategy_view_buttons",
    "StrategyView.remove_tier_button": "test_strategy_view_buttons",
    "StrategyView.Pin…": "test_strategy_view_pin_buttons",
    "StrategyView.Edit…": "test_strategy_view_pin_buttons",
    "StrategyView.Remove": "test_strategy_view_pin_buttons",
    "RunsView.compare_runs_button": "test_runs_view_buttons",
    "RunsView.export_history_button": "test_runs_view_buttons",
    "RunsView.export_comparison_button": "test_runs_view_buttons",
    "RunsView.export_list_left": "test_runs_view_buttons",
    "RunsView.export_list_entered": "test_runs_view_buttons",
    "RunsView.export_list_down": "test_runs_view_buttons",
    "RunsView.export_list_up": "test_runs_view_buttons",
    "ReportsView.export_tier_report_button": "test_reports_view_export_buttons",
    "ReportsView.export_segments_button": "test_reports_view_export_buttons",
    "ReportsView.export_overlap_button": "test_reports_view_overlap_buttons",
    "ReportsView.export_overlap_only_a": "test_reports_view_overlap_buttons",
    "ReportsView.export_overlap_only_b": "test_reports_view_overlap_buttons",
    "ReportsView.export_overlap_both": "test_reports_view_overlap_buttons",
    "ReportsView.show_overlap_only_a": "test_reports_view_overlap_buttons",
    "ReportsView.show_overlap_only_b": "test_reports_view_overlap_buttons",
    "ReportsView.show_overlap_both": "test_reports_view_overlap_buttons",
    "ReportsView.segment_from_overlap_only_a": "test_reports_view_overlap_buttons",
    "ReportsView.segment_from_overlap_only_b": "test_reports_view_overlap_buttons",
    "ReportsView.segment_from_overlap_both": "test_reports_view_overlap_buttons",
    "AutomationView.New rule": "test_automation_rule_buttons",
    "AutomationView.Save rule": "test_automation_rule_buttons",
    "AutomationView.Pause": "test_automation_rule_buttons",
    "AutomationView.Delete": "test_automation_rule_buttons",
    "AutomationView.Apply now": "test_automation_rule_buttons",
    "AutomationView.Export CSV…": "test_automation_activity_export_and_email_review",
    "AutomationView.Review and send…": "test_automation_activity_export_and_email_review",
    "FollowUpsView.Done": "test_tasks_view_buttons",
    "FollowUpsView.Snooze to": "test_tasks_view_buttons",
    "FollowUpsView.Reassign": "test_tasks_view_buttons",
    "TaskProgressWidget.cancel_task_button": "test_cancel_stops_a_running_task",
}

_VIEWS = (
    "CriteriaEditor",
    "ClientsView",
    "StrategyView",
    "RunsView",
    "ReportsView",
    "AutomationView",
    "FollowUpsView",
    "TaskProgressWidget",
    "SegmentListPanel",
    "MainWindow",
)


def action_key(action: QAction) -> str:
    return action.objectName() or action.text().replace("&", "")


def window_actions(window: MainWindow) -> list[QAction]:
    """Every action a person can reach in the window (menus, toolbar, context menus)."""
    found = []
    for action in window.findChildren(QAction):
        if action.isSeparator() or action.menu() is not None:
            continue  # a menu's own title action opens the menu: its actions are tested
        if action.objectName().startswith("_q_"):
            continue  # Qt's line edit clear button (pressed in the clients search test)
        found.append(action)
    return found


def button_key(button: QAbstractButton) -> str:
    owner = button.parentWidget()
    while owner is not None and type(owner).__name__ not in _VIEWS:
        owner = owner.parentWidget()
    where = type(owner).__name__ if owner is not None else "?"
    return f"{where}.{button.objectName() or button.text().replace('&', '')}"


def window_buttons(window: MainWindow) -> list[QAbstractButton]:
    """The push buttons of the window's views (not Qt's own, not an action's tool button)."""
    found: list[QAbstractButton] = []
    for button in window.findChildren(QAbstractButton):
        if button.window() is not window:
            continue  # a dialog's buttons are pressed in the dialog's own test
        if button.objectName().startswith(("qt_", "Scroll")):
            continue  # Qt's corner, tab-scroll and extension buttons
        if isinstance(button, QToolButton) and (
            button.defaultAction() is not None or isinstance(button.parentWidget(), QLineEdit)
        ):
            continue  # shows an action (in ACTION_TESTS) or a line edit's clear button
        if isinstance(button, (QPushButton, QToolButton)):
            found.append(button)
    return found


def test_every_action_has_a_test(window: MainWindow) -> None:
    found = {action_key(action) for action in window_actions(window)}
    assert found == set(ACTION_TESTS), (
        f"without a test: {sorted(found - set(ACTION_TESTS))}; "
        f"gone: {sorted(set(ACTION_TESTS) - found)}"
    )
    assert set(ACTION_TESTS.values()) <= set(globals()), "a test named in the table is missing"


# Shown only in menus Qt or pyqtgraph build when they open (the main window's and the
# chart's context menus): not attached to a widget beforehand.
_BUILT_ON_OPENING = {"Main", "Export..."}


def test_every_action_can_be_reached(window: MainWindow) -> None:
    unreachable = sorted(
        action_key(action)
        for action in window_actions(window)
        if not action.associatedObjects() and action_key(action) not in _BUILT_ON_OPENING
    )
    assert unreachable == []


def test_every_button_has_a_test(qtbot: QtBot, window: MainWindow) -> None:
    # With a segment in the editor, its criterion rows (and their buttons) show too.
    segment_id = select_segment(qtbot, window, "High-Value Clients")
    qtbot.waitUntil(lambda: window.editor.segment_id() == segment_id, timeout=WAIT_MS)
    found = {button_key(button) for button in window_buttons(window)}
    assert found == set(BUTTON_TESTS), (
        f"without a test: {sorted(found - set(BUTTON_TESTS))}; "
        f"gone: {sorted(set(BUTTON_TESTS) - found)}"
    )
    assert set(BUTTON_TESTS.values()) <= set(globals()), "a test named in the table is missing"


# --- helpers for the presses ---------------------------------------------------------------------


def export_through(
    qtbot: QtBot, window: MainWindow, answers: Answers, press: Callable[[], None], out: Path
) -> Path:
    """Press an export, answer its save dialog with ``out``, wait for the file to be written."""
    answers.save_to = out
    asked = len(answers.asked)
    press()
    assert len(answers.asked) == asked + 1, "the save dialog was not shown"
    qtbot.waitUntil(out.exists, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    return out


def workbook_rows(path: Path) -> int:
    """Rows in a workbook's sheets (it opens: the file is readable)."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    return sum(sheet.max_row for sheet in book.worksheets if sheet.cell(1, 1).value is not None)


def show_tab(qtbot: QtBot, window: MainWindow, title: str) -> None:
    action = next(a for a in window.tab_actions if a.text() == title)
    action.trigger()
    assert window.tabs.tabText(window.tabs.currentIndex()) == title
    wait_idle(qtbot, window)


# --- File ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["toolbar", "menu", "ctrl+e"])
def test_export_current_tiers_by_toolbar_menu_and_ctrl_e(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path, how: str
) -> None:
    """Regression (defect 1): ``triggered(bool)`` reached the slot as the path."""
    out = tmp_path / f"tiers-{how}.csv"

    def press() -> None:
        if how == "toolbar":
            toolbar = window.findChild(QWidget, "main_toolbar")
            assert toolbar is not None
            button = toolbar.widgetForAction(window.export_action)  # type: ignore[attr-defined]
            assert isinstance(button, QToolButton)
            button.click()
        elif how == "menu":
            window.export_action.trigger()
        else:
            qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)

    export_through(qtbot, window, answers, press, out)
    rows = read_csv(out)
    assert rows[0][:3] == ["ref", "name", "email"]
    assert len(rows) == 1 + 60
    assert status(window) == f"60 clients written to {out}"
    assert answers.asked == ["Export current tiers"]


def test_import_clients_and_revenue_open_the_import_dialog(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path
) -> None:
    clients = tmp_path / "more-clients.csv"
    clients.write_text("ref,name,email\nZ900,Zeta Ltd,zeta@example.com\n", encoding="utf-8")
    answers.open_file = clients
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    dialog = window._import_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "Import clients — more-clients.csv"
    qtbot.waitUntil(dialog.preview_button.isEnabled, timeout=WAIT_MS)
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: dialog.preview_result is not None, timeout=WAIT_MS)
    assert dialog.import_button.isEnabled()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.import_result is not None, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert window.session.office.client_count() == 61
    assert dialog.cancel_button.text() == "Close"
    assert_pressed_all(dialog, {"Preview", "Import", "Close"})
    dialog.cancel_button.click()
    assert not dialog.isVisible()

    revenue = tmp_path / "revenue.csv"
    revenue.write_text("ref,date,amount\nZ900,2026-01-15,120.00\n", encoding="utf-8")
    answers.open_file = revenue
    window.import_revenue_action.trigger()
    dialog = window._import_dialog
    assert dialog.windowTitle() == "Import revenue — revenue.csv"
    qtbot.waitUntil(dialog.preview_button.isEnabled, timeout=WAIT_MS)
    dialog.cancel_button.click()  # cancelled: nothing imported, the dialog closes
    assert not dialog.isVisible()
    assert answers.asked == ["Import clients", "Import revenue"]

    answers.open_file = None  # the file dialog cancelled: no import dialog
    window.import_clients_action.trigger()
    assert window._import_dialog is dialog and not dialog.isVisible()


def test_connect_to_office_server_cancelled_keeps_the_office(
    qtbot: QtBot, window: MainWindow, modal: Modal
) -> None:
    office = window.session.office

    def cancel(dialog: QWidget) -> None:
        buttons = visible_buttons(dialog)
        assert_pressed_all(dialog, {"Connect", "Cancel"})
        host = dialog.findChild(QLineEdit, "host")
        host.clear()
        buttons["Connect"].click()  # without a server: told so in the dialog, nothing opens
        assert dialog.isVisible()
        assert dialog.message.isVisible() and dialog.message.text()  # type: ignore[attr-defined]
        buttons["Cancel"].click()

    modal.answer(cancel)
    window.connect_action.trigger()  # returns once the dialog is closed
    modal.check()
    assert modal.seen == ["Connect to Office Server"]
    assert window.session.office is office
    assert window.windowTitle() == f"seg-desktop — {office.target}"


def test_backups_dialog_takes_a_backup_and_asks_before_restoring(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    window.backups_action.trigger()
    dialog = window._backups_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "Backups"
    wait_idle(qtbot, window)
    before = dialog.model.rowCount()
    dialog.take_button.click()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == before + 1, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    dialog.select_row(0)
    assert dialog.restore_button.isEnabled()
    answers.question = QMessageBox.StandardButton.No
    dialog.restore_button.click()  # asked first; "No" restores nothing
    assert answers.asked[-1].startswith("Restore")
    wait_idle(qtbot, window)
    assert window.session.office.client_count() == 60
    assert_pressed_all(dialog, {"Take backup now", "Restore…", "Close"})
    visible_buttons(dialog)["Close"].click()
    assert not dialog.isVisible()


def test_check_database_shows_its_verdict(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    window.check_action.trigger()
    qtbot.waitUntil(lambda: answers.asked == ["Check database"], timeout=WAIT_MS)
    office = window.session.office
    report = office.check_database()
    assert answers.told == ["\n".join([*report.lines, "", report.verdict])]
    assert report.ok  # so the box was the information box, not the warning


def test_quit_closes_the_window_and_saves_the_layout(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    with qtbot.waitSignal(window.closed, timeout=WAIT_MS):
        window.quit_action.trigger()
    assert not window.isVisible()
    keys = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).allKeys()
    assert any("main_window" in key and "geometry" in key for key in keys), keys


# --- Edit --------------------------------------------------------------------------------------


def test_settings_dialog_buttons(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = window._settings_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.windowTitle() == "Settings"
    wait_idle(qtbot, window)
    clipboard = QApplication.clipboard()
    dialog.copy_command_button.click()
    assert clipboard.text() == dialog.command_edit.text() != ""
    dialog.copy_scheduler_button.click()
    assert clipboard.text() == dialog.scheduler_edit.text() != ""
    pressed = {"Copy", "Save", "Cancel"}
    if dialog.dismiss_button.isVisibleTo(dialog):  # only with a failed nightly run
        pressed.add("Dismiss")
    assert_pressed_all(dialog, pressed)
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    wait_idle(qtbot, window)
    assert not dialog.isVisible()
    window.settings_action.trigger()
    dialog = window._settings_dialog
    wait_idle(qtbot, window)
    dialog.buttons.button(dialog.buttons.StandardButton.Cancel).click()
    assert not dialog.isVisible()


def test_undo_and_redo_of_the_edit_menu_follow_the_segment_editor(
    qtbot: QtBot, window: MainWindow
) -> None:
    editor = window.editor
    show_tab(qtbot, window, "Segment")
    window.segment_list.new_action.trigger()
    rows = len(editor.rows())
    editor.add_criterion_action.trigger()
    assert len(editor.rows()) == rows + 1
    assert window.undo_action.isEnabled()
    window.undo_action.trigger()
    assert len(editor.rows()) == rows
    assert window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert len(editor.rows()) == rows + 1
    # On a tab that edits nothing, Undo has nothing to undo.
    show_tab(qtbot, window, "Runs")
    assert not window.undo_action.isEnabled()


# --- View ---------------------------------------------------------------------------------------


def test_view_menu_switches_tabs_by_action_and_shortcut(qtbot: QtBot, window: MainWindow) -> None:
    titles = ["Segment", "Clients", "Tiers", "Runs", "Reports", "Automation", "Tasks"]
    for number, action in enumerate(window.tab_actions, 1):
        window.tabs.setCurrentIndex(0 if number > 1 else 1)
        action.trigger()
        assert window.tabs.currentIndex() == number - 1
        assert window.tabs.tabText(number - 1) == titles[number - 1] == action.text()
        wait_idle(qtbot, window)
    for number in range(1, 8):
        qtbot.keyClick(
            window, getattr(Qt.Key, f"Key_{number}"), Qt.KeyboardModifier.ControlModifier
        )
        assert window.tabs.currentIndex() == number - 1
        wait_idle(qtbot, window)


def test_the_toolbar_can_be_hidden_and_shown(window: MainWindow) -> None:
    toolbar = window.findChild(QWidget, "main_toolbar")
    assert toolbar is not None and toolbar.isVisible()
    toggle = next(a for a in window_actions(window) if action_key(a) == "Main")
    toggle.trigger()
    assert not toolbar.isVisible()
    toggle.trigger()
    assert toolbar.isVisible()


# --- Segment ------------------------------------------------------------------------------------


def test_new_segment_opens_a_blank_editor(qtbot: QtBot, window: MainWindow) -> None:
    window.tabs.setCurrentWidget(window.clients)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.editor
    assert window.editor.segment_id() is None
    assert window.editor.definition().name.startswith("New segment")
    toolbar = window.findChild(QWidget, "main_toolbar")
    window.tabs.setCurrentWidget(window.clients)
    toolbar.widgetForAction(window.segment_list.new_action).click()  # type: ignore[attr-defined]
    assert window.tabs.currentWidget() is window.editor


def segment_names(window: MainWindow) -> list[str]:
    return sorted(s.definition.name for s in window.segment_list.model.segments)


def select_segment(qtbot: QtBot, window: MainWindow, name: str) -> int:
    info = next(s for s in window.segment_list.model.segments if s.definition.name == name)
    assert window.segment_list.select_segment(info.id)
    wait_idle(qtbot, window)
    return info.id


def test_save_segment_action_saves_the_edited_segment(qtbot: QtBot, window: MainWindow) -> None:
    window.segment_list.new_action.trigger()
    name = window.editor.definition().name
    qtbot.waitUntil(window.editor.save_action.isEnabled, timeout=WAIT_MS)
    with qtbot.waitSignal(window.editor.saved, timeout=WAIT_MS):
        qtbot.keyClick(window.editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: name in segment_names(window), timeout=WAIT_MS)
    assert window.editor.segment_id() is not None
    assert not window.editor.is_dirty()


def test_rename_duplicate_and_delete_from_the_list(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    panel = window.segment_list
    qtbot.waitUntil(lambda: len(panel.model.segments) == 5, timeout=WAIT_MS)
    select_segment(qtbot, window, "New Clients")
    # Duplicate (Ctrl+D from the list): the copy is saved and listed.
    panel.view.setFocus()
    panel.duplicate_action.trigger()
    qtbot.waitUntil(lambda: "Copy of New Clients" in segment_names(window), timeout=WAIT_MS)
    wait_idle(qtbot, window)
    # Rename (F2): the name opens for editing in place; typing a name saves it.
    select_segment(qtbot, window, "Copy of New Clients")
    panel.rename_action.trigger()
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    editor.setText("Newest Clients")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Newest Clients" in segment_names(window), timeout=WAIT_MS)
    wait_idle(qtbot, window)
    # Delete (after the question is answered Yes): the segment is gone.
    select_segment(qtbot, window, "Newest Clients")
    panel.delete_action.trigger()
    qtbot.waitUntil(lambda: "Newest Clients" not in segment_names(window), timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert len(segment_names(window)) == 5
    # Undo Delete (the button under the list): the segment comes back with its definition.
    undo_button = panel.findChild(QToolButton, "undo_delete_button")
    assert undo_button is not None and undo_button.isVisible()
    undo_button.click()
    qtbot.waitUntil(lambda: "Newest Clients" in segment_names(window), timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert len(segment_names(window)) == 6
    assert not panel.undo_delete_action.isEnabled()


def test_editor_add_criterion_and_revert_from_the_segment_menu(
    qtbot: QtBot, window: MainWindow
) -> None:
    editor = window.editor
    segment_id = select_segment(qtbot, window, "High-Value Clients")
    qtbot.waitUntil(lambda: editor.segment_id() == segment_id, timeout=WAIT_MS)
    window.tabs.setCurrentWidget(editor)
    rows = len(editor.rows())
    editor.add_criterion_action.trigger()  # Segment → Add Criterion
    assert len(editor.rows()) == rows + 1 and editor.is_dirty()
    window.undo_action.trigger()  # Edit → Undo acts on the editor's steps
    assert len(editor.rows()) == rows
    window.redo_action.trigger()
    assert len(editor.rows()) == rows + 1
    editor.revert_action.trigger()  # Segment → Revert Segment
    assert len(editor.rows()) == rows and not editor.is_dirty()


def test_a_segment_click_shows_its_clients_and_its_definition_is_near(
    qtbot: QtBot, window: MainWindow
) -> None:
    panel = window.segment_list
    qtbot.waitUntil(lambda: len(panel.model.segments) == 5, timeout=WAIT_MS)
    info = next(s for s in panel.model.segments if s.definition.name == "Active Clients")
    members = window.session.office.segment_member_ids(info.id)
    index = panel.view.model().index(0, 0)
    for row in range(panel.view.model().rowCount(index)):
        child = panel.view.model().index(row, 0, index)
        if child.data() == "Active Clients":
            rect = panel.view.visualRect(child)
            qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            break
    else:
        raise AssertionError("Active Clients is not in the list")
    clients = window.clients
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is clients, timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: clients.is_loaded() and sorted(clients.visible_client_ids()) == sorted(members),
        timeout=WAIT_MS,
    )
    # The definition is one click away: the Clients tab's button…
    button = clients.findChild(QPushButton, "clients_edit_segment_button")
    assert button is not None and button.isVisible()
    button.click()
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.editor, timeout=WAIT_MS)
    assert window.editor.segment_id() == info.id
    # …and the list's own "Edit Definition…" (Enter, or its context menu).
    window.tabs.setCurrentWidget(clients)
    panel.edit_action.trigger()
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.editor, timeout=WAIT_MS)
    assert window.editor.segment_id() == info.id
    wait_idle(qtbot, window)


def test_editor_buttons(qtbot: QtBot, window: MainWindow) -> None:
    editor = window.editor
    segment_id = select_segment(qtbot, window, "Repeat Customers")
    qtbot.waitUntil(lambda: editor.segment_id() == segment_id, timeout=WAIT_MS)
    rows = len(editor.rows())
    add = editor.findChild(QPushButton, "add_criterion_button")
    revert = editor.findChild(QPushButton, "revert_button")
    save = editor.findChild(QPushButton, "save_button")
    add.click()
    assert len(editor.rows()) == rows + 1
    editor.rows()[-1].remove_button.click()
    assert len(editor.rows()) == rows
    add.click()
    assert len(editor.rows()) == rows + 1
    assert revert.isEnabled()
    revert.click()
    assert len(editor.rows()) == rows and not editor.is_dirty()
    editor.name_edit.selectAll()
    qtbot.keyClicks(editor.name_edit, "Loyal Customers")
    qtbot.waitUntil(save.isEnabled, timeout=WAIT_MS)
    with qtbot.waitSignal(editor.saved, timeout=WAIT_MS):
        save.click()
    wait_idle(qtbot, window)
    assert not editor.is_dirty()
    qtbot.waitUntil(lambda: "Loyal Customers" in segment_names(window), timeout=WAIT_MS)
    assert "Repeat Customers" not in segment_names(window)


# --- Run ---------------------------------------------------------------------------------------


def test_run_and_recompute_from_the_run_menu(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.session.run_changed, timeout=WAIT_MS) as blocker:
        window.run_action.trigger()
    summary = blocker.args[0]
    assert summary.id == 3
    qtbot.waitUntil(lambda: status(window).startswith("Run 3 saved"), timeout=WAIT_MS)
    assert window.run_label.text().startswith("Current run:")
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.session.changed, timeout=WAIT_MS) as changed:
        window.recompute_action.trigger()
    assert changed.args[0].touches(Area.SEGMENTS)
    wait_idle(qtbot, window)


def test_cancel_stops_a_running_task(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel (menu, Ctrl+. and the status bar's button) stops the run; nothing is saved."""
    import threading

    from seg_desktop.store import runs

    entered, gate = threading.Event(), threading.Event()
    original = runs.load_inputs

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert gate.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(runs, "load_inputs", held)
    office = window.session.office
    for press in ("action", "button"):
        entered.clear()
        gate.clear()
        window.run_action.trigger()
        qtbot.waitUntil(entered.is_set, timeout=WAIT_MS)
        assert window.cancel_action.isEnabled()
        with qtbot.waitSignal(window.session.runner.cancelled, timeout=WAIT_MS):
            if press == "action":
                window.cancel_action.trigger()
            else:
                button = window.progress.findChild(QPushButton, "cancel_task_button")
                qtbot.waitUntil(button.isVisible, timeout=WAIT_MS)  # shown after a moment
                button.click()
            gate.set()
        wait_idle(qtbot, window)
        assert len(office.runs()) == 2
    assert not window.cancel_action.isEnabled()


def test_a_failed_task_shows_the_error_dialog_with_copy_and_close(
    qtbot: QtBot, window: MainWindow
) -> None:
    def fail(_progress: object, _cancelled: object) -> None:
        raise RuntimeError("the disk is full")

    window.session.submit("Saving the moon", fail)
    qtbot.waitUntil(
        lambda: window._error_dialog is not None and window._error_dialog.isVisible(),
        timeout=WAIT_MS,
    )
    dialog = window._error_dialog
    assert dialog.windowTitle() == "Something went wrong"
    assert_pressed_all(dialog, {"Copy report", "Close"})
    visible_buttons(dialog)["Copy report"].click()
    assert "Saving the moon failed: the disk is full" in QApplication.clipboard().text()
    assert dialog.isVisible()
    visible_buttons(dialog)["Close"].click()
    assert not dialog.isVisible()


# --- Help ---------------------------------------------------------------------------------------


def test_about_shows_the_about_box(qtbot: QtBot, window: MainWindow, modal: Modal) -> None:
    def close(dialog: QWidget) -> None:
        assert "seg-desktop" in dialog.windowTitle()
        assert_pressed_all(dialog, {"OK"})
        visible_buttons(dialog)["OK"].click()

    modal.answer(close)
    window.about_action.trigger()
    modal.check()
    assert modal.seen == ["About seg-desktop"]


# The offscreen platform cannot raise a window nor pass size hints; it says so.
@pytest.mark.qt_log_ignore("This plugin does not support")
def test_chart_context_menu_export_opens_the_export_dialog(
    qtbot: QtBot, window: MainWindow
) -> None:
    exports = [a for a in window_actions(window) if action_key(a) == "Export..."]
    assert exports
    for action in exports:
        # A right-click records the item clicked on; the action exports that item.
        scene = action.parent()
        scene.contextMenuItem = next(  # type: ignore[attr-defined]
            item for item in scene.items() if type(item).__name__ == "PlotItem"
        )
        action.trigger()
        shown = [
            w
            for w in QApplication.topLevelWidgets()
            if w.isVisible() and "export" in w.windowTitle().lower()
        ]
        assert shown, "pyqtgraph's export dialog did not show"
        for dialog in shown:
            dialog.close()
        # pyqtgraph keeps the dialog (parentless) on the scene: let it go with the scene.
        scene.exportDialog = None  # type: ignore[attr-defined]
        for dialog in shown:
            dialog.deleteLater()


# --- the views' buttons ------------------------------------------------------------------------


def test_clients_view_buttons(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path
) -> None:
    show_tab(qtbot, window, "Clients")
    view = window.clients
    qtbot.waitUntil(view.is_loaded, timeout=WAIT_MS)
    export = view.findChild(QPushButton, "clients_export_button")
    out = export_through(qtbot, window, answers, export.click, tmp_path / "visible.csv")
    rows = read_csv(out)
    assert len(rows) == 1 + len(view.visible_client_ids()) == 61
    assert status(window) == f"60 clients written to {out}"
    with qtbot.waitSignal(window.session.run_changed, timeout=WAIT_MS):
        view.findChild(QPushButton, "clients_run_button").click()
    wait_idle(qtbot, window)
    assert len(window.session.office.runs()) == 3


def test_strategy_view_buttons(qtbot: QtBot, window: MainWindow) -> None:
    show_tab(qtbot, window, "Tiers")
    view = window.tiers.views[StrategyKind.INDIVIDUAL]
    window.tiers.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.table_model.rowCount() == 3, timeout=WAIT_MS)
    more = view.findChild(QToolButton, "more_options_button")
    shown = view.options_frame.isVisible()
    more.click()
    assert view.options_frame.isVisible() is not shown
    more.click()
    assert view.options_frame.isVisible() is shown
    view.table.selectRow(1)
    view.findChild(QPushButton, "add_tier_button").click()
    qtbot.waitUntil(lambda: view.table_model.rowCount() == 4, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.table.selectRow(2)
    view.findChild(QPushButton, "remove_tier_button").click()
    qtbot.waitUntil(lambda: view.table_model.rowCount() == 3, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.table.selectRow(1)
    view.findChild(QPushButton, "add_tier_button").click()
    qtbot.waitUntil(lambda: view.table_model.rowCount() == 4, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    revert = view.findChild(QPushButton, "revert_button")
    assert revert.isEnabled()
    revert.click()  # back to the current run's tiers
    qtbot.waitUntil(lambda: view.table_model.rowCount() == 3, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    with qtbot.waitSignal(window.session.run_changed, timeout=WAIT_MS):
        view.findChild(QPushButton, "run_button").click()
    wait_idle(qtbot, window)


def test_strategy_view_pin_buttons(qtbot: QtBot, window: MainWindow) -> None:
    from seg_desktop.gui.overrides import OverrideDialog

    show_tab(qtbot, window, "Tiers")
    view = window.tiers.views[StrategyKind.INDIVIDUAL]
    panel = view.overrides_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=WAIT_MS)

    def open_dialog(button: QPushButton) -> OverrideDialog:
        button.click()
        dialogs = [d for d in view.findChildren(OverrideDialog) if d.isVisible()]
        assert len(dialogs) == 1
        return dialogs[0]

    buttons = {b.text(): b for b in panel.findChildren(QPushButton)}
    pin = open_dialog(buttons["Pin…"])
    assert pin.windowTitle().startswith("Pin")
    assert_pressed_all(pin, {"Pin", "Cancel"})
    visible_buttons(pin)["Cancel"].click()
    assert not pin.isVisible()
    panel.table.selectRow(0)
    edit = open_dialog(buttons["Edit…"])
    assert edit.windowTitle() == "Edit pin"
    visible_buttons(edit)["Cancel"].click()
    assert not edit.isVisible()
    edit = open_dialog(buttons["Edit…"])
    visible_buttons(edit)["Pin"].click()  # unchanged: saved as it was, still one pin
    assert not edit.isVisible()
    wait_idle(qtbot, window)
    assert panel.model.rowCount() == 1
    panel.table.selectRow(0)
    buttons["Remove"].click()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0, timeout=WAIT_MS)
    wait_idle(qtbot, window)


def test_runs_view_buttons(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path
) -> None:
    show_tab(qtbot, window, "Runs")
    view = window.runs
    qtbot.waitUntil(lambda: view.comparison() is not None, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.select_runs([1, 2])
    view.findChild(QPushButton, "compare_runs_button").click()
    wait_idle(qtbot, window)
    assert view.compare_title.text().startswith("Run 1")
    history = export_through(
        qtbot,
        window,
        answers,
        view.findChild(QPushButton, "export_history_button").click,
        tmp_path / "history.csv",
    )
    history_rows = read_csv(history)
    assert history_rows[0][0] == "run"
    assert {row[0] for row in history_rows[1:]} == {"1", "2"}
    assert status(window) == f"{len(history_rows) - 1} rows written to {history}"
    comparison = export_through(
        qtbot,
        window,
        answers,
        view.findChild(QPushButton, "export_comparison_button").click,
        tmp_path / "comparison.xlsx",
    )
    assert workbook_rows(comparison) > 0
    for key in ("up", "down", "entered", "left"):
        out = export_through(
            qtbot,
            window,
            answers,
            view.findChild(QPushButton, f"export_list_{key}").click,
            tmp_path / f"list-{key}.csv",
        )
        assert read_csv(out)[0], f"the {key} list has no header"
        assert status(window).endswith(f"rows written to {out}")


def test_reports_view_export_buttons(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path
) -> None:
    show_tab(qtbot, window, "Reports")
    view = window.reports
    qtbot.waitUntil(lambda: view.tier_report() is not None, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    report = export_through(
        qtbot,
        window,
        answers,
        view.findChild(QPushButton, "export_tier_report_button").click,
        tmp_path / "tier-report.xlsx",
    )
    assert workbook_rows(report) > 3
    assert status(window).endswith(f"rows written to {report}")
    view.set_checked_segments([1, 2])
    qtbot.waitUntil(lambda: view.segment_comparison() is not None, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    side_by_side = export_through(
        qtbot,
        window,
        answers,
        view.findChild(QPushButton, "export_segments_button").click,
        tmp_path / "segments.xlsx",
    )
    assert workbook_rows(side_by_side) > 1


def test_reports_view_overlap_buttons(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path, modal: Modal
) -> None:
    show_tab(qtbot, window, "Reports")
    view = window.reports
    view.set_overlap_segments(3, 2)  # Active Clients and Repeat Customers
    qtbot.waitUntil(lambda: view.overlap() is not None, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    overlap = view.overlap()
    assert overlap is not None
    everything = export_through(
        qtbot,
        window,
        answers,
        view.findChild(QPushButton, "export_overlap_button").click,
        tmp_path / "overlap.xlsx",
    )
    assert workbook_rows(everything) > 0
    for key in ("both", "only_a", "only_b"):
        lines = overlap.list_of(key)
        out = export_through(
            qtbot,
            window,
            answers,
            view.findChild(QPushButton, f"export_overlap_{key}").click,
            tmp_path / f"overlap-{key}.csv",
        )
        assert len(read_csv(out)) >= 1 + len(lines)
        show = view.findChild(QPushButton, f"show_overlap_{key}")
        window.tabs.setCurrentWidget(window.reports)
        show.click()
        assert window.tabs.currentWidget() is window.clients
        qtbot.waitUntil(
            lambda lines=lines: (
                sorted(window.clients.visible_client_ids())
                == sorted(line.client_id for line in lines)
            ),
            timeout=WAIT_MS,
        )
        wait_idle(qtbot, window)
        window.tabs.setCurrentWidget(window.reports)
        new_segment = view.findChild(QPushButton, f"segment_from_overlap_{key}")
        if not lines:
            assert not new_segment.isEnabled() or not view.segment_from_overlap(key)
            continue

        def accept(dialog: QWidget, key: str = key) -> None:
            assert dialog.windowTitle() == "New segment from a list"
            name = dialog.findChild(QLineEdit, "new_segment_name")
            name.setText(f"Overlap {key}")
            assert_pressed_all(dialog, {"OK", "Cancel"})
            visible_buttons(dialog)["OK"].click()

        modal.answer(accept)
        new_segment.click()
        modal.check()
        qtbot.waitUntil(lambda key=key: f"Overlap {key}" in segment_names(window), timeout=WAIT_MS)
        wait_idle(qtbot, window)


def test_automation_rule_buttons(qtbot: QtBot, window: MainWindow) -> None:
    show_tab(qtbot, window, "Automation")
    view = window.automation
    qtbot.waitUntil(lambda: len(view.rules()) == 2, timeout=WAIT_MS)
    view.select_rule("Call Silver")
    view.pause_button.click()
    qtbot.waitUntil(lambda: view.status.text() == "Rule 'Call Silver' paused.", timeout=WAIT_MS)
    wait_idle(qtbot, window)
    assert next(r for r in view.rules() if r.rule.name == "Call Silver").rule.paused
    view.select_rule("Call Silver")
    view.pause_button.click()
    qtbot.waitUntil(lambda: view.status.text() == "Rule 'Call Silver' resumed.", timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.new_button.click()
    editor = view.editor
    assert editor.name.text() == ""
    editor.name.setText("Tag Gold")
    editor.target_kind.setCurrentIndex(editor.target_kind.findData(Target.of_tier("Gold").kind))
    editor.tier.setCurrentText("Gold")
    editor.title.setText("Call {name}")
    assert view.save_button.isEnabled()
    view.save_button.click()
    qtbot.waitUntil(lambda: len(view.rules()) == 3, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.select_rule("Tag Gold")
    view.delete_button.click()
    qtbot.waitUntil(lambda: len(view.rules()) == 2, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.apply_button.click()
    qtbot.waitUntil(lambda: view.status.text().startswith("Applied:"), timeout=WAIT_MS)
    wait_idle(qtbot, window)


def test_automation_activity_export_and_email_review(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path, modal: Modal
) -> None:
    show_tab(qtbot, window, "Automation")
    view = window.automation
    qtbot.waitUntil(lambda: len(view.rules()) == 2, timeout=WAIT_MS)
    out = export_through(qtbot, window, answers, view.export_button.click, tmp_path / "act.csv")
    rows = read_csv(out)
    assert len(rows) > 1
    qtbot.waitUntil(
        lambda: view.status.text() == f"{len(rows) - 1:,} actions written to {out}.",
        timeout=WAIT_MS,
    )
    merge = tmp_path / "merge.csv"
    eml_folder = tmp_path / "eml"
    eml_folder.mkdir()

    def cancel_server(dialog: QWidget) -> None:
        assert "server" in dialog.windowTitle().lower()
        visible_buttons(dialog)["Cancel"].click()

    def review(dialog: QWidget) -> None:
        assert "batch" in dialog.windowTitle().lower()
        qtbot.waitUntil(lambda: len(dialog.messages()) > 0, timeout=WAIT_MS)  # type: ignore[attr-defined]
        dialog._save_dialog = lambda *_a, **_k: (str(merge), "")  # type: ignore[attr-defined]
        dialog._folder_dialog = lambda *_a, **_k: str(eml_folder)  # type: ignore[attr-defined]
        buttons = visible_buttons(dialog)
        buttons["Export mail-merge CSV…"].click()
        assert merge.exists() and len(read_csv(merge)) == 1 + len(dialog.messages())  # type: ignore[attr-defined]
        buttons["Export .eml files…"].click()
        assert list(eml_folder.glob("*.eml"))
        modal.answer(cancel_server)
        buttons["Mail server…"].click()
        send_text, send = next((t, b) for t, b in buttons.items() if t.startswith("Send"))
        assert send.isEnabled(), "no message is ticked for sending"
        modal.answer(cancel_server)  # no server yet: Send asks for one first (cancelled)
        send.click()
        assert dialog.isVisible()
        pressed = {"Export mail-merge CSV…", "Export .eml files…", "Mail server…", send_text}
        assert_pressed_all(dialog, pressed | {"Close"})
        buttons["Close"].click()

    modal.answer(review)
    view.review_button.click()
    modal.check()
    assert modal.seen[0].startswith("Email batch ") and modal.seen[0].endswith("review and send")
    assert modal.seen[1:] == ["Mail server", "Mail server"]  # Mail server…, then Send


def test_tasks_view_buttons(qtbot: QtBot, window: MainWindow) -> None:
    import datetime as dt

    from PySide6.QtCore import QDate

    show_tab(qtbot, window, "Tasks")
    view = window.followups
    qtbot.waitUntil(lambda: view.model.rowCount() > 0, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    view.select_row(0)
    task = view.selected_task()
    assert task is not None
    view.assignee.setText("Rosa")
    view.reassign_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(
        lambda: any(t.id == task.id and t.assignee == "Rosa" for t in view.model.rows()),
        timeout=WAIT_MS,
    )
    row = next(i for i, t in enumerate(view.model.rows()) if t.id == task.id)
    view.select_row(row)
    until = dt.date.today() + dt.timedelta(days=30)
    view.snooze_date.setDate(QDate(until.year, until.month, until.day))
    view.snooze_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(
        lambda: any(t.id == task.id and t.due == until for t in view.model.rows()),
        timeout=WAIT_MS,
    )
    count = view.model.rowCount()
    row = next(i for i, t in enumerate(view.model.rows()) if t.id == task.id)
    view.select_row(row)
    view.done_button.click()
    qtbot.waitUntil(lambda: view.model.rowCount() == count - 1, timeout=WAIT_MS)
    wait_idle(qtbot, window)

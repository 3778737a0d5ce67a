"""The main window: wires the views, menus, toolbar and status bar; holds no business logic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QShowEvent,
    QUndoGroup,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QToolBar,
)

from seg_desktop.core.engine import Trigger
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.gui.about import show_about
from seg_desktop.gui.automation_view import AutomationView
from seg_desktop.gui.backups_dialog import BackupsDialog
from seg_desktop.gui.clients_view import ClientsView
from seg_desktop.gui.connect_dialog import connect_to_office_server
from seg_desktop.gui.criteria_editor import CriteriaEditor
from seg_desktop.gui.errors import ErrorDialog, build_report
from seg_desktop.gui.followups_view import FollowUpsView
from seg_desktop.gui.import_dialog import ImportDialog, choose_import_file
from seg_desktop.gui.nightly import Clock, NightlyScheduler
from seg_desktop.gui.progress import TaskProgressWidget
from seg_desktop.gui.reports_view import ReportsView
from seg_desktop.gui.runs_view import RunsView
from seg_desktop.gui.segment_list import SegmentListPanel
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.settings_dialog import SettingsDialog
from seg_desktop.gui.strategy_view import TiersPanel
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.gui.window_state import WindowStateStore, fit_to_screen
from seg_desktop.store.office import Office
from seg_desktop.store.records import CheckReport, NightlyFailure, RunSummary, TaskCounts


class MainWindow(QMainWindow):
    """Segments on the left; the criteria editor and the clients in tabs; runs from the toolbar."""

    closed = Signal()

    def __init__(
        self, session: OfficeSession, settings: QSettings, clock: Clock = dt.datetime.now
    ) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.session = session
        self._state = WindowStateStore(settings)
        self._app_settings = settings
        self._error_dialog: ErrorDialog | None = None
        self._import_dialog: ImportDialog | None = None
        self._backups_dialog: BackupsDialog | None = None
        self._settings_dialog: SettingsDialog | None = None
        # Started by `start_nightly` once the window shows (never on a read-only office).
        self.nightly = NightlyScheduler(session, clock, self)
        self.setWindowTitle(f"seg-desktop — {session.office.target}")
        self.setMinimumSize(900, 560)

        self.segment_list = SegmentListPanel(session)
        self.editor = CriteriaEditor(session)
        self.clients = ClientsView(session)
        self.tiers = TiersPanel(session)
        self.runs = RunsView(session)
        self.reports = ReportsView(session)
        self.automation = AutomationView(session)
        self.followups = FollowUpsView(session)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("main_tabs")
        self.tabs.addTab(self.editor, "Segment")
        self.tabs.addTab(self.clients, "Clients")
        self.tabs.addTab(self.tiers, "Tiers")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.reports, "Reports")
        self.tabs.addTab(self.automation, "Automation")
        self.tabs.addTab(self.followups, "Tasks")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(self.segment_list)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 980])
        self.setCentralWidget(self.splitter)

        # One Undo/Redo pair in the Edit menu, acting on what the visible tab edits.
        self.undo_group = QUndoGroup(self)
        self.undo_group.addStack(self.editor.undo_stack)
        for stack in self.tiers.undo_stacks:
            self.undo_group.addStack(stack)
        self.undo_group.setActiveStack(self.editor.undo_stack)

        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._layout_restored = self._state.restore_all(self) > 0
        self._list_sized = False
        screen = self.screen() or QGuiApplication.primaryScreen()
        fit_to_screen(self, screen.availableGeometry(), QSize(1280, 800))
        self._show_run(None, loading=True)
        office = session.office
        session.submit(
            "Reading the current run",
            lambda _p, _c: office.current_run(),
            self._show_run,
            background=True,
            key="current-run",
        )
        if session.office.read_only:
            self.setWindowTitle(f"seg-desktop — {session.office.target} (read-only)")
            for action in (
                self.run_action,
                self.recompute_action,
                self.import_clients_action,
                self.import_revenue_action,
                self.backups_action,
                self.settings_action,
                self.editor.save_action,
                self.segment_list.new_action,
            ):
                action.setEnabled(False)

    # --- construction ------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.run_action = QAction("Run Segmentation", self)
        self.run_action.setObjectName("run_action")
        self.run_action.setShortcut(QKeySequence("Ctrl+R"))
        self.run_action.setStatusTip("Compute every client's production and tier and save a run")
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setShortcut(QKeySequence("Ctrl+."))
        self.cancel_action.setEnabled(False)
        self.recompute_action = QAction("Recompute Segments", self)
        self.import_clients_action = QAction("Import Clients…", self)
        self.import_clients_action.setShortcut(QKeySequence("Ctrl+I"))
        self.import_revenue_action = QAction("Import Revenue…", self)
        self.import_revenue_action.setShortcut(QKeySequence("Ctrl+Shift+I"))
        self.backups_action = QAction("Backups…", self)
        self.check_action = QAction("Check Database", self)
        self.connect_action = QAction("Connect to Office Server…", self)
        self.connect_action.setObjectName("connect_action")
        self.connect_action.setStatusTip("Open a shared office on a PostgreSQL server")
        self.export_action = QAction("Export Current Tiers…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.about_action = QAction("About seg-desktop", self)
        self.settings_action = QAction("Settings…", self)
        self.settings_action.setObjectName("settings_action")
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setStatusTip("The segmentation range (M, B) and the nightly run")
        self.tab_actions: list[QAction] = []
        tab_titles = ("Segment", "Clients", "Tiers", "Runs", "Reports", "Automation", "Tasks")
        for number, title in enumerate(tab_titles, 1):
            action = QAction(title, self)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(
                lambda _checked=False, n=number: self.tabs.setCurrentIndex(n - 1)
            )
            self.tab_actions.append(action)
        self.undo_action = self.undo_group.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_group.createRedoAction(self, "Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.import_clients_action)
        file_menu.addAction(self.import_revenue_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.connect_action)
        file_menu.addAction(self.backups_action)
        file_menu.addAction(self.check_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.settings_action)
        view_menu = bar.addMenu("&View")
        for action in self.tab_actions:
            view_menu.addAction(action)
        segment_menu = bar.addMenu("&Segment")
        segment_menu.addAction(self.segment_list.new_action)
        segment_menu.addAction(self.editor.save_action)
        segment_menu.addAction(self.editor.revert_action)
        segment_menu.addAction(self.editor.add_criterion_action)
        segment_menu.addSeparator()
        segment_menu.addAction(self.segment_list.rename_action)
        segment_menu.addAction(self.segment_list.duplicate_action)
        segment_menu.addAction(self.segment_list.delete_action)
        run_menu = bar.addMenu("&Run")
        run_menu.addAction(self.run_action)
        run_menu.addAction(self.recompute_action)
        run_menu.addAction(self.cancel_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

        toolbar = QToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.segment_list.new_action)
        toolbar.addAction(self.editor.save_action)
        toolbar.addSeparator()
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.cancel_action)
        toolbar.addSeparator()
        toolbar.addAction(self.export_action)
        self.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.database_label = QLabel(self.session.office.target)
        self.database_label.setObjectName("database_label")
        self.run_label = QLabel()
        self.run_label.setObjectName("run_label")
        self.progress = TaskProgressWidget(self.session.runner)
        self.nightly_label = QLabel()
        self.nightly_label.setObjectName("nightly_label")
        self.tasks_label = QLabel()
        self.tasks_label.setObjectName("tasks_label")
        self.tasks_label.setToolTip("Open follow-up tasks (the Tasks tab, Ctrl+7)")
        status.addWidget(self.database_label)
        status.addWidget(self.run_label, 1)
        status.addPermanentWidget(self.tasks_label)
        status.addPermanentWidget(self.nightly_label)
        status.addPermanentWidget(self.progress)

    def _connect(self) -> None:
        session = self.session
        self.run_action.triggered.connect(self.run_segmentation)
        self.clients.run_requested.connect(self.run_segmentation)
        self.tiers.run_requested.connect(self.run_segmentation)
        self.tiers.current_undo_stack_changed.connect(self._follow_undo_stack)
        self.tabs.currentChanged.connect(lambda _index: self._follow_undo_stack())
        self.segment_list.strategy_selected.connect(self._open_strategy)
        self.clients.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.runs.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.reports.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.reports.show_clients_requested.connect(self.show_clients)
        self.followups.counts_changed.connect(self._show_task_counts)
        self.settings_action.triggered.connect(self.show_settings)
        self.nightly.status_changed.connect(self._nightly_status)
        self.nightly.failure_noted.connect(self._nightly_failed)
        self.cancel_action.triggered.connect(session.runner.cancel)
        self.recompute_action.triggered.connect(lambda: session.recompute_segments())
        # triggered(bool) must not reach a slot that takes a path: ask for the file.
        self.export_action.triggered.connect(lambda: self.export_current_tiers())
        self.import_clients_action.triggered.connect(lambda: self.import_file("clients"))
        self.import_revenue_action.triggered.connect(lambda: self.import_file("revenue"))
        self.backups_action.triggered.connect(self.show_backups)
        self.check_action.triggered.connect(self.check_database)
        self.connect_action.triggered.connect(self.connect_to_server)
        self.quit_action.triggered.connect(self.close)
        self.about_action.triggered.connect(lambda: show_about(self, session.office.target))
        session.runner.busy_changed.connect(self._busy_changed)
        session.run_changed.connect(lambda summary: self._show_run(summary))
        session.notice.connect(self._notice)
        session.error.connect(self.show_error)
        self.segment_list.segment_selected.connect(self._open_segment)
        self.segment_list.new_requested.connect(self._new_segment)
        self.editor.saved.connect(self.segment_list.mark_segment)
        self.segment_list.edit_requested.connect(self._edit_segment)
        self.clients.edit_segment_requested.connect(self._edit_segment)

    # --- behaviour ----------------------------------------------------------------------------

    def run_segmentation(self) -> None:
        """Queue a run; while another task runs it waits its turn (the status bar says so)."""
        self.session.run_segmentation(
            Trigger.MANUAL,
            on_done=lambda summary: self.statusBar().showMessage(
                f"Run {summary.id} saved: {summary.range.describe()}", 8000
            ),
        )

    def export_current_tiers(self, *, path: Path | None = None) -> None:
        """Export the current run's tiers for every client to .xlsx or .csv."""
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self,
                "Export current tiers",
                str(Path.home() / f"tiers-{dt.date.today().isoformat()}.xlsx"),
                "Excel workbook (*.xlsx);;CSV file (*.csv)",
            )
            if not chosen:
                return
            path = Path(chosen)
        from seg_desktop.io.exporting import export_clients

        office, out = self.session.office, path

        def work(_progress: ProgressFn, cancelled: CancelledFn) -> int:
            return export_clients(office, out, cancelled=cancelled)

        self.session.submit(
            "Exporting tiers",
            work,
            lambda count: self.statusBar().showMessage(f"{count:,} clients written to {out}", 8000),
        )

    def import_file(self, kind: Literal["clients", "revenue"], path: Path | None = None) -> None:
        """File → Import: choose a file, then preview and import it in the import dialog."""
        chosen = path or choose_import_file(self, kind)
        if chosen is None:
            return
        self._import_dialog = ImportDialog(self.session, kind, chosen, self)
        self._import_dialog.show()

    def show_backups(self) -> None:
        """File → Backups: list the backups, take one now, or restore one."""
        path = self.session.office.database_file()
        if path is None:
            QMessageBox.information(
                self, "Backups", "A server database is backed up with the server's own tools."
            )
            return
        self._backups_dialog = BackupsDialog(
            self.session,
            self,
            close_office=self._close_office_for_restore,
            reopen_office=lambda: self._reopen_office(path),
        )
        self._backups_dialog.show()

    def show_settings(self) -> None:
        """Edit → Settings: M, B and the nightly run, with the scheduler's command."""
        self._settings_dialog = SettingsDialog(self.session, self, scheduler=self.nightly)
        self._settings_dialog.finished.connect(lambda _result: self._nightly_status())
        self._settings_dialog.show()

    def show_clients(self, client_ids: list[int], label: str) -> None:
        """Show a list of clients (from a report) in the Clients tab."""
        self.clients.show_clients(client_ids, label)
        self.tabs.setCurrentWidget(self.clients)

    def start_nightly(self) -> None:
        """Bring segments to today, then start the nightly scheduler; not when read-only.

        Relative dates ("within the last 90 days") are recomputed on opening when the
        office was last recomputed before today (through the worker).
        """
        if self.session.office.read_only:
            self.nightly_label.setText("Nightly runs: read-only")
            return
        self.session.roll_over()
        self.nightly.start()
        self._nightly_status()

    def _show_task_counts(self, counts: TaskCounts) -> None:
        if counts.open == 0:
            self.tasks_label.setText("No open tasks")
            self.tasks_label.setStyleSheet("")
            return
        text = f"Tasks: {counts.open:,} open"
        if counts.due_today:
            text += f", {counts.due_today:,} due today"
        if counts.overdue:
            text += f", {counts.overdue:,} overdue"
        self.tasks_label.setText(text)
        self.tasks_label.setStyleSheet("color: #b00020;" if counts.overdue else "")

    def _nightly_status(self, _text: str = "") -> None:
        failure = self.nightly.pending_failure() if not self.session.office.read_only else None
        if failure is not None:
            self._nightly_failed(failure)
            return
        self.nightly_label.setStyleSheet("")
        self.nightly_label.setText(self.nightly.status())
        self.nightly_label.setToolTip("Change the nightly run in Edit → Settings (Ctrl+,)")

    def _nightly_failed(self, failure: NightlyFailure) -> None:
        self.nightly_label.setText(
            f"⚠ Nightly run failed {failure.at.strftime('%Y-%m-%d %H:%M')} — see Settings"
        )
        self.nightly_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.nightly_label.setToolTip(
            f"{failure.message}\n\nThe previous run stays current. Edit → Settings shows it "
            "and lets you dismiss it."
        )

    def _close_office_for_restore(self) -> bool:
        if self.session.runner.is_busy():
            return False
        self.session.office.close()
        return True

    def _reopen_office(self, path: Path) -> None:
        """Open the office file again after a restore (on the worker: opening checks the file)."""
        today = self.session.today

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> Office:
            return Office.open(path, today=today)

        self.session.submit("Opening the office again", work, self._swap_office)

    def connect_to_server(self) -> None:
        """File → Connect to Office Server: open a shared office in this window."""
        if self.session.runner.is_doing_user_work():
            busy = self.session.runner.current_name() or "another task"
            self.statusBar().showMessage(f"Wait for “{busy}” to finish first.", 5000)
            return
        office = connect_to_office_server(self, self._app_settings, session=self.session)
        if office is None:
            return
        old = self.session.office
        self._swap_office(office)
        self._close_when_idle(old)

    def _close_when_idle(self, office: Office) -> None:
        """Close an office the window no longer shows, once no load of it runs."""
        runner = self.session.runner
        if not runner.is_busy():
            office.close()
            return

        def idle(busy: bool) -> None:
            if not busy:
                runner.busy_changed.disconnect(idle)
                office.close()

        runner.busy_changed.connect(idle)

    def _swap_office(self, office: Office) -> None:
        """Show another office: every view reloads from it (one broadcast, from the worker)."""
        self.setWindowTitle(f"seg-desktop — {office.target}")
        self.database_label.setText(office.target)
        self.session.swap_office(office)

    def check_database(self) -> None:
        """File → Check Database: the full check on the worker, then its verdict."""
        office = self.session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> CheckReport:
            return office.check_database()

        def done(report: CheckReport) -> None:
            text = "\n".join([*report.lines, "", report.verdict])
            if report.ok:
                QMessageBox.information(self, "Check database", text)
            else:
                QMessageBox.warning(self, "Check database", text)

        self.session.submit("Checking the database", work, done)

    def _open_segment(self, segment_id: int) -> None:
        """A segment clicked: its members in the Clients tab, its definition behind "Segment"."""
        info = self.segment_list.segment_info(segment_id)
        if info is None:
            return
        if self.editor.segment_id() != segment_id and not self.editor.is_dirty():
            self.editor.load(info)  # unsaved edits of another segment stay in the editor
        self.clients.show_segment(segment_id)
        self.tabs.setCurrentWidget(self.clients)

    def _edit_segment(self, segment_id: int) -> None:
        """Open a segment's definition in the editor."""
        info = self.segment_list.segment_info(segment_id)
        if info is None:
            return
        if self.editor.segment_id() != segment_id:
            self.editor.load(info)
        self.tabs.setCurrentWidget(self.editor)

    def _follow_undo_stack(self, _stack: object = None) -> None:
        current = self.tabs.currentWidget()
        if current is self.tiers:
            self.undo_group.setActiveStack(self.tiers.current_undo_stack())
        elif current is self.editor:
            self.undo_group.setActiveStack(self.editor.undo_stack)
        else:
            self.undo_group.setActiveStack(None)  # type: ignore[arg-type]  # Qt takes nullptr: no stack

    def _open_strategy(self, kind: str) -> None:
        view = self.tiers.views[StrategyKind(kind)]
        self.tiers.tabs.setCurrentWidget(view)
        self.tabs.setCurrentWidget(self.tiers)

    def _new_segment(self) -> None:
        self.editor.load(None)
        self.tabs.setCurrentWidget(self.editor)

    def _busy_changed(self, busy: bool) -> None:
        # Run stays enabled: pressed while busy, the run waits its turn (never refused).
        self.cancel_action.setEnabled(busy)

    def _show_run(self, summary: RunSummary | None, *, loading: bool = False) -> None:
        if loading:
            self.run_label.setText("Opening the office…")
            return
        if summary is None:
            self.run_label.setText("No run yet: press Run Segmentation (Ctrl+R)")
            return
        self.run_label.setText(
            f"Current run: {summary.range.describe()} · made "
            f"{summary.created_at.strftime('%Y-%m-%d %H:%M')} ({summary.trigger.value})"
        )

    def _notice(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    def show_error(self, what: str, error: BaseException, trace: str) -> None:
        """Show a failure in a dialog with a copyable report; the window keeps running."""
        report = build_report(f"{what} failed: {error}", error, trace)
        self._error_dialog = ErrorDialog(report, self)
        self._error_dialog.show()

    def showEvent(self, event: QShowEvent) -> None:
        """On first show, the segment list takes a quarter of the width (220–300 pixels)."""
        super().showEvent(event)
        if not self._list_sized:
            self._list_sized = True
            if not self._layout_restored:
                total = self.splitter.width()
                left = max(220, min(300, total // 4))
                self.splitter.setSizes([left, total - left])

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the layout, stop the workers (cancelling a running task) and close the office."""
        if self.session.runner.is_doing_user_work():
            answer = QMessageBox.question(
                self,
                "A task is running",
                f"“{self.session.runner.current_name()}” is still running. "
                "Cancel it and quit? Nothing half-done is saved.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self._state.save_all(self)
        self.nightly.stop()
        self.editor.close()
        self.session.runner.shutdown(10_000)
        self.session.preview_runner.shutdown(10_000)
        self.closed.emit()
        super().closeEvent(event)

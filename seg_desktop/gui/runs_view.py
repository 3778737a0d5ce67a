"""The run history and the comparison of two runs.

Top: every saved run (time, trigger, date range, ``n``, each strategy's tiers
with their monthly limits and counts). Select two runs (Ctrl+click) and press
Compare, or let the view compare the latest two. Bottom: the movement matrix
(from tier x to tier, as counts or as production) and the lists of who moved
up, moved down, entered or left, each exportable, as is the whole comparison.

Everything is read on the session's worker (two runs of 50,000 assignments
take a moment to compare); the widgets only show what ``Office.runs`` and
``Office.compare_runs`` return. The view reads when it is on screen, and again
when a write's `Changes` say a run was saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.money import format_money
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.gui.pages import table_page
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.io import reports
from seg_desktop.io.export import Column
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import ComparedRuns, RunSummary

__all__ = [
    "SORT_ROLE",
    "RunHistoryModel",
    "RunsView",
    "SaveFileDialog",
    "ValueTableModel",
    "choose_save_path",
]

T = TypeVar("T")

SaveFileDialog = Callable[[QWidget, str, str, str], tuple[str, str]]
"""``(parent, caption, directory, filter) -> (path, chosen filter)``, as
``QFileDialog.getSaveFileName``; tests pass their own."""

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The raw value of a cell (cents, int, date, text), for tests and sorting."""

EXCEL_OR_CSV = "Excel workbook (*.xlsx);;CSV file (*.csv)"
EXCEL_ONLY = "Excel workbook (*.xlsx)"

Index = QModelIndex | QPersistentModelIndex


def choose_save_path(
    dialog: SaveFileDialog, parent: QWidget, caption: str, default: Path, filters: str
) -> Path | None:
    """Ask for a file to write; adds the extension of the chosen filter when none was typed."""
    chosen, chosen_filter = dialog(parent, caption, str(default), filters)
    if not chosen:
        return None
    path = Path(chosen)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        path = path.with_name(path.name + (".csv" if "csv" in chosen_filter.lower() else ".xlsx"))
    return path


def _display(kind: str, value: object) -> str:
    if value is None:
        return ""
    if kind == "money" and isinstance(value, int):
        return format_money(value)
    if kind == "integer" and isinstance(value, int):
        return f"{value:,}"
    if kind == "date" and hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


class ValueTableModel(QAbstractTableModel):
    """A read-only table of plain rows, shown by column kind (export.Column) and sortable.

    Sorting is a Python sort of the rows here: a QSortFilterProxyModel would
    call back into Python for every comparison, which is seconds at 50,000 rows.
    """

    def __init__(self, columns: Sequence[Column], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[Sequence[object]] = []

    def set_rows(
        self, rows: Sequence[Sequence[object]], columns: Sequence[Column] | None = None
    ) -> None:
        """Replace every row (and, if given, the columns)."""
        self.beginResetModel()
        if columns is not None:
            self._columns = list(columns)
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[Sequence[object]]:
        """The rows in the order shown."""
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """How many rows (none under a parent: it is a table)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """How many columns."""
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The formatted value, its alignment, or the raw value (SORT_ROLE)."""
        if not index.isValid() or not (0 <= index.row() < len(self._rows)):
            return None
        column = self._columns[index.column()]
        value = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(column.kind, value)
        if role == Qt.ItemDataRole.ToolTipRole and column.kind == "text" and value:
            return str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.kind in ("money", "integer"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == SORT_ROLE:
            return value
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles across the top; no row numbers."""
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._columns)
        ):
            return self._columns[section].title
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column; empty cells last either way."""
        if not 0 <= column < len(self._columns):
            return
        self.layoutAboutToBeChanged.emit()
        present = [r for r in self._rows if r[column] is not None]
        empty = [r for r in self._rows if r[column] is None]
        present.sort(
            key=lambda r: _sort_key(r[column]),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )
        self._rows = present + empty
        self.layoutChanged.emit()


def _sort_key(value: object) -> Any:
    if isinstance(value, str):
        return value.casefold()
    return value


def _snapshot_text(run: RunSummary, kind: StrategyKind) -> str:
    tiers = run.tiers.get(kind)
    if tiers is None:
        return "not run"
    parts = []
    for position, tier in enumerate(tiers):
        amount = format_money(tier.monthly_lower)
        amount = amount.removesuffix(".00")
        limit = f" ≥{amount}" if position else ""
        parts.append(f"{tier.name}{limit}: {tier.count:,}")
    return " · ".join(parts)


class RunHistoryModel(QAbstractTableModel):
    """Every saved run, newest first: when, trigger, range, n, each strategy's tiers and counts."""

    TITLES = (
        "Run",
        "Made",
        "Trigger",
        "As of",
        "Date range",
        "n",
        "Individual clients (monthly lower limit: count)",
        "Client groups (monthly lower limit: count)",
    )

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunSummary] = []

    def set_runs(self, runs: Sequence[RunSummary]) -> None:
        """Replace the runs shown (newest first)."""
        self.beginResetModel()
        self._runs = list(runs)
        self.endResetModel()

    def run_at(self, row: int) -> RunSummary:
        """The run shown on a row."""
        return self._runs[row]

    def runs(self) -> list[RunSummary]:
        """The runs shown, newest first."""
        return list(self._runs)

    def row_of(self, run_id: int) -> int | None:
        """The row of a run, if shown."""
        return next((i for i, r in enumerate(self._runs) if r.id == run_id), None)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """How many runs."""
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """How many columns."""
        return 0 if parent.isValid() else len(self.TITLES)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """A run's cell as text; the strategy cells in full as tooltips."""
        if not index.isValid() or not (0 <= index.row() < len(self._runs)):
            return None
        run = self._runs[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (
                str(run.id),
                run.created_at.strftime("%Y-%m-%d %H:%M"),
                run.trigger.value,
                run.as_of.isoformat(),
                f"{run.range.start.isoformat()} to {run.range.end.isoformat()}"
                + (" (clipped)" if run.range.clipped else ""),
                str(run.range.months),
                _snapshot_text(run, StrategyKind.INDIVIDUAL),
                _snapshot_text(run, StrategyKind.GROUP),
            )
            if role == Qt.ItemDataRole.ToolTipRole and column < 6:
                return None
            return values[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == SORT_ROLE:
            return run.id
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles."""
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.TITLES)
        ):
            return self.TITLES[section]
        return None


# Cell tints of the movement matrix: who stayed, moved up, moved down, came or went.
_STAYED = QColor(128, 128, 128, 40)
_UP = QColor(46, 160, 67, 60)
_DOWN = QColor(207, 34, 46, 55)
_IN_OUT = QColor(31, 111, 235, 45)

_LIST_COLUMNS_KEYS = ("up", "down", "entered", "left")

_Loaded = tuple[ComparedRuns, dict[str, reports.ReportTable]]


class RunsView(QWidget):
    """The run history (top) and the comparison of two runs (bottom).

    Signals: ``history_loaded`` (the table shows the saved runs),
    ``comparison_shown`` (a comparison arrived and is shown),
    ``export_finished(path, rows)`` and ``status_message(text)``.
    """

    history_loaded = Signal()
    comparison_shown = Signal()
    export_finished = Signal(str, int)
    status_message = Signal(str)

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        save_file_dialog: SaveFileDialog | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("runs_view")
        self._session = session
        self._save_file_dialog: SaveFileDialog = save_file_dialog or QFileDialog.getSaveFileName
        self._compared: ComparedRuns | None = None
        self._wanted: tuple[int, int] | None = None
        self._stale = True  # the history must be read (again) when the view shows

        # --- the history ---
        self.history_model = RunHistoryModel(self)
        self.history_table = QTableView()
        self.history_table.setObjectName("runs_table")
        self.history_table.setModel(self.history_model)
        self.history_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.history_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.history_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history_table.setAlternatingRowColors(True)
        self.history_table.setWordWrap(False)
        self.history_table.verticalHeader().setVisible(False)
        header = self.history_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        for column, width in enumerate((40, 124, 88, 84, 184, 30, 320)):
            header.resizeSection(column, width)
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setObjectName("compare_runs_button")
        self.compare_button.setToolTip("Compare the two runs selected (Ctrl+click to pick two)")
        self.export_history_button = QPushButton("Export history…")
        self.export_history_button.setObjectName("export_history_button")
        self.history_hint = QLabel(
            "Select two runs (Ctrl+click) and press Compare; the latest two are compared "
            "when the view opens."
        )
        self.history_hint.setObjectName("runs_hint")
        self.history_hint.setWordWrap(True)

        history_bar = QHBoxLayout()
        history_bar.addWidget(self.history_hint, 1)
        history_bar.addWidget(self.compare_button)
        history_bar.addWidget(self.export_history_button)
        history_side = QWidget()
        history_layout = QVBoxLayout(history_side)
        history_layout.setContentsMargins(0, 0, 0, 0)
        history_layout.addLayout(history_bar)
        history_layout.addWidget(self.history_table, 1)

        # --- the comparison ---
        self.compare_title = QLabel("No comparison yet: there must be two runs.")
        self.compare_title.setObjectName("compare_title")
        title_font = self.compare_title.font()
        title_font.setBold(True)
        self.compare_title.setFont(title_font)
        self.compare_title.setWordWrap(True)
        self.strategy_combo = QComboBox()
        self.strategy_combo.setObjectName("compare_strategy_combo")
        for kind in StrategyKind:
            self.strategy_combo.addItem(kind.label, kind.value)
        self.show_combo = QComboBox()
        self.show_combo.setObjectName("matrix_show_combo")
        self.show_combo.addItem("Show counts", "count")
        self.show_combo.addItem("Show production", "production")
        self.export_comparison_button = QPushButton("Export comparison…")
        self.export_comparison_button.setObjectName("export_comparison_button")
        self.export_comparison_button.setToolTip(
            "Write the matrix and the four lists to one Excel workbook"
        )
        self.rule_label = QLabel(
            "Tiers are matched by position, named as in the newer run: renaming a tier moves "
            "nobody. Rows: the tier in the older run; columns: in the newer run."
        )
        self.rule_label.setObjectName("compare_rule_label")
        self.rule_label.setWordWrap(True)

        self.matrix = QTableWidget()
        self.matrix.setObjectName("movement_matrix")
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.matrix.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # Columns as wide as their numbers (production runs to millions), rows as tall
        # as the text: the matrix is sized to its content and the lists get the rest.
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.matrix.horizontalHeader().setMinimumSectionSize(64)
        self.matrix.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.matrix.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.matrix.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.movement_summary = QLabel()
        self.movement_summary.setObjectName("movement_summary")
        self.movement_summary.setWordWrap(True)

        self.list_tabs = QTabWidget()
        self.list_tabs.setObjectName("movement_lists")
        self.list_models: dict[str, ValueTableModel] = {}
        self.list_views: dict[str, QTableView] = {}
        self.list_export_buttons: dict[str, QPushButton] = {}
        for key in _LIST_COLUMNS_KEYS:
            model = ValueTableModel([], self)
            view = QTableView()
            view.setObjectName(f"movement_list_{key}")
            view.setModel(model)
            view.setSortingEnabled(True)
            view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            view.setAlternatingRowColors(True)
            view.setWordWrap(False)
            view.verticalHeader().setVisible(False)
            view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
            button = QPushButton("Export this list…")
            button.setObjectName(f"export_list_{key}")
            button.clicked.connect(lambda _checked=False, k=key: self.export_list(k))
            self.list_tabs.addTab(table_page(view, button, margin=4), reports.LISTS[key])
            self.list_models[key] = model
            self.list_views[key] = view
            self.list_export_buttons[key] = button

        compare_bar = QHBoxLayout()
        compare_bar.addWidget(self.compare_title, 1)
        compare_bar.addWidget(self.strategy_combo)
        compare_bar.addWidget(self.show_combo)
        compare_bar.addWidget(self.export_comparison_button)
        matrix_side = QWidget()
        matrix_layout = QVBoxLayout(matrix_side)
        matrix_layout.setContentsMargins(0, 0, 0, 0)
        matrix_layout.addWidget(self.matrix)
        matrix_layout.addWidget(self.movement_summary)
        matrix_layout.addWidget(self.rule_label)
        matrix_layout.addStretch(1)
        self.lower_splitter = lower = QSplitter(Qt.Orientation.Horizontal)
        lower.setObjectName("runs_compare_splitter")
        lower.addWidget(matrix_side)
        lower.addWidget(self.list_tabs)
        lower.setStretchFactor(0, 2)
        lower.setStretchFactor(1, 3)
        lower.setChildrenCollapsible(False)
        compare_side = QWidget()
        compare_layout = QVBoxLayout(compare_side)
        compare_layout.setContentsMargins(0, 0, 0, 0)
        compare_layout.addLayout(compare_bar)
        compare_layout.addWidget(lower, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("runs_splitter")
        self.splitter.addWidget(history_side)
        self.splitter.addWidget(compare_side)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        self.compare_button.clicked.connect(self.compare_selected)
        self.export_history_button.clicked.connect(lambda: self.export_history())
        self.export_comparison_button.clicked.connect(lambda: self.export_comparison())
        self.strategy_combo.currentIndexChanged.connect(self._strategy_chosen)
        self.show_combo.currentIndexChanged.connect(lambda _i: self._fill_matrix())
        self.history_table.selectionModel().selectionChanged.connect(
            lambda *_args: self._selection_changed()
        )
        session.changed.connect(self._office_changed)
        self._set_comparison_enabled(False)

    # --- public API -------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the saved runs again on the worker; then compare the latest two if none is shown.

        The comparison waits until the view is on screen: comparing two runs of
        50,000 clients is work the worker need not do for a hidden tab.
        """
        self._stale = False
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> list[RunSummary]:
            return office.runs()

        self._session.submit(
            "Reading the run history",
            work,
            self._history_arrived,
            background=True,
            key="runs-history",
        )

    def showEvent(self, event: QShowEvent) -> None:
        """Read the history when the view first shows (or after a new run while hidden)."""
        super().showEvent(event)
        if self._stale:
            self.reload()
        else:
            self._compare_latest_if_shown()

    def _history_arrived(self, runs_list: list[RunSummary]) -> None:
        self.history_model.set_runs(runs_list)
        self._selection_changed()
        self.history_loaded.emit()
        self._compare_latest_if_shown()

    def _compare_latest_if_shown(self) -> None:
        if not self.isVisible() or self._compared is not None or self._wanted is not None:
            return
        runs_list = self.history_model.runs()
        if len(runs_list) >= 2:
            self.compare(runs_list[1].id, runs_list[0].id)

    def selected_run_ids(self) -> list[int]:
        """The ids of the selected runs, oldest first."""
        rows = {index.row() for index in self.history_table.selectionModel().selectedRows()}
        return sorted(self.history_model.run_at(row).id for row in rows)

    def select_runs(self, run_ids: Sequence[int]) -> None:
        """Select these runs in the table (and nothing else)."""
        selection = self.history_table.selectionModel()
        selection.clearSelection()
        for run_id in run_ids:
            row = self.history_model.row_of(run_id)
            if row is not None:
                selection.select(
                    self.history_model.index(row, 0),
                    selection.SelectionFlag.Select | selection.SelectionFlag.Rows,
                )

    def compare_selected(self) -> bool:
        """Compare the two selected runs; False unless exactly two are selected."""
        ids = self.selected_run_ids()
        if len(ids) != 2:
            self.status_message.emit("Select exactly two runs to compare (Ctrl+click).")
            return False
        self.compare(ids[0], ids[1])
        return True

    def compare(self, older_id: int, newer_id: int) -> None:
        """Compare two runs on the worker; the result is shown when it arrives."""
        office, kind = self._session.office, self.strategy()
        pair = (min(older_id, newer_id), max(older_id, newer_id))
        self._wanted = pair
        self.compare_title.setText(f"Comparing run {pair[0]} with run {pair[1]}…")

        def work(progress: ProgressFn, _cancelled: CancelledFn) -> _Loaded:
            progress(0.0, f"Comparing run {pair[0]} with run {pair[1]}")
            compared = office.compare_runs(pair[0], pair[1], kind)
            # The lists' rows are built here too: at 50,000 clients that is worth a thread.
            tables = {key: reports.movement_list_table(compared, key) for key in reports.LISTS}
            return compared, tables

        self._session.submit(
            "Comparing runs",
            work,
            self._comparison_arrived,
            background=True,
            key="runs-compare",
        )

    def comparison(self) -> ComparedRuns | None:
        """The comparison shown."""
        return self._compared

    def strategy(self) -> StrategyKind:
        """The strategy compared."""
        return StrategyKind(self.strategy_combo.currentData())

    def matrix_cell_text(self, row: int, column: int) -> str:
        """The text of a matrix cell as shown (for tests)."""
        item = self.matrix.item(row, column)
        return item.text() if item is not None else ""

    def export_list(self, key: str, path: Path | None = None) -> bool:
        """Export one list ("up", "down", "entered", "left") to .xlsx or .csv on the worker."""
        compared = self._compared
        if compared is None:
            return False
        if path is None:
            default = Path.home() / (f"run-{compared.older.id}-to-{compared.newer.id}-{key}.xlsx")
            path = choose_save_path(
                self._save_file_dialog,
                self,
                f"Export “{reports.LISTS[key]}”",
                default,
                EXCEL_OR_CSV,
            )
            if path is None:
                return False
        out = path

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
            return reports.export_movement_list(out, compared, key)

        self._export("list", work, out)
        return True

    def export_comparison(self, path: Path | None = None) -> bool:
        """Export the whole comparison (matrix and lists) to one workbook on the worker."""
        compared = self._compared
        if compared is None:
            return False
        if path is None:
            default = Path.home() / f"run-{compared.older.id}-to-{compared.newer.id}.xlsx"
            path = choose_save_path(
                self._save_file_dialog, self, "Export comparison", default, EXCEL_ONLY
            )
            if path is None:
                return False
        out = path

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
            return reports.export_comparison(out, compared)

        self._export("comparison", work, out)
        return True

    def export_history(self, path: Path | None = None) -> bool:
        """Export the run history to .xlsx or .csv on the worker."""
        if path is None:
            default = Path.home() / "run-history.xlsx"
            path = choose_save_path(
                self._save_file_dialog, self, "Export run history", default, EXCEL_OR_CSV
            )
            if path is None:
                return False
        out = path
        runs_list = [self.history_model.run_at(r) for r in range(self.history_model.rowCount())]

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> int:
            return reports.export_run_history(out, runs_list)

        self._export("history", work, out)
        return True

    # --- internals -------------------------------------------------------------------------

    def _export(self, kind: str, work: Callable[[ProgressFn, CancelledFn], int], out: Path) -> None:
        def done(count: int) -> None:
            self.status_message.emit(f"{count:,} rows written to {out}")
            self.export_finished.emit(str(out), count)

        self._session.submit(f"Exporting to {out.name}", work, done)

    def _office_changed(self, changes: Changes) -> None:
        if not changes.touches(Area.RUN):
            return
        # A new run (or another office): show it, and compare it with the one before it.
        self._compared = None
        self._wanted = None
        self._stale = True
        if self.isVisible():
            self.reload()

    def _selection_changed(self) -> None:
        self.compare_button.setEnabled(len(self.selected_run_ids()) == 2)

    def _strategy_chosen(self, _position: int) -> None:
        pair = self._wanted or (
            (self._compared.older.id, self._compared.newer.id) if self._compared else None
        )
        if pair is not None:
            self.compare(*pair)

    def _set_comparison_enabled(self, enabled: bool) -> None:
        self.export_comparison_button.setEnabled(enabled)
        for button in self.list_export_buttons.values():
            button.setEnabled(enabled)

    def _comparison_arrived(self, loaded: _Loaded) -> None:
        compared, tables = loaded
        if self._wanted is not None and self._wanted != (compared.older.id, compared.newer.id):
            return  # another pair was asked for meanwhile; its answer is on its way
        if compared.kind is not self.strategy():
            return
        self._wanted = None
        self._compared = compared
        older, newer = compared.older, compared.newer
        self.compare_title.setText(
            f"Run {older.id} ({older.created_at:%Y-%m-%d %H:%M}, {older.trigger.value}) → "
            f"run {newer.id} ({newer.created_at:%Y-%m-%d %H:%M}, {newer.trigger.value})"
        )
        self._fill_matrix()
        self._fill_lists(tables)
        # Show which two runs are compared.
        self.select_runs([older.id, newer.id])
        self._set_comparison_enabled(True)
        self.comparison_shown.emit()

    def _fill_matrix(self) -> None:
        compared = self._compared
        if compared is None:
            return
        result = compared.comparison
        rows, columns = result.row_keys(), result.column_keys()
        show_production = self.show_combo.currentData() == "production"
        self.matrix.clear()
        self.matrix.setRowCount(len(rows))
        self.matrix.setColumnCount(len(columns))
        column_names = [
            result.tier_names[c] if c is not None else f"Not in run {compared.newer.id}"
            for c in columns
        ]
        row_names = [
            result.tier_names[r] if r is not None else f"Not in run {compared.older.id}"
            for r in rows
        ]
        self.matrix.setHorizontalHeaderLabels(column_names)
        self.matrix.setVerticalHeaderLabels(row_names)
        base = self.palette().color(QPalette.ColorRole.Base)
        for row_number, row in enumerate(rows):
            for column_number, column in enumerate(columns):
                cell = result.cell(row, column)
                empty = row is None and column is None
                text = ""
                if not empty:
                    text = (
                        format_money(cell.production_after)
                        if show_production
                        else f"{cell.count:,}"
                    )
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if not empty:
                    item.setToolTip(
                        f"{cell.count:,} from {row_names[row_number]} "
                        f"to {column_names[column_number]}\n"
                        f"Production before: {format_money(cell.production_before)}\n"
                        f"Production after: {format_money(cell.production_after)}"
                    )
                tint = base
                if empty:
                    tint = base
                elif row is None or column is None:
                    tint = _IN_OUT
                elif row == column:
                    tint = _STAYED
                elif column > row:
                    tint = _UP
                else:
                    tint = _DOWN
                item.setBackground(QBrush(tint))
                self.matrix.setItem(row_number, column_number, item)
        self.matrix.resizeColumnsToContents()
        frame = 2 * self.matrix.frameWidth()
        height = self.matrix.horizontalHeader().height() + frame
        height += sum(self.matrix.rowHeight(r) for r in range(len(rows)))
        self.matrix.setFixedHeight(height)
        width = self.matrix.verticalHeader().width() + frame
        width += sum(self.matrix.columnWidth(c) for c in range(len(columns)))
        self.matrix.setMinimumWidth(min(width, 520))
        sizes = self.lower_splitter.sizes()
        total = sum(sizes)
        if total > 0:
            # The matrix as wide as it needs (within reason), the lists the rest.
            wanted = min(width + 4, max(total - 360, total // 3))
            self.lower_splitter.setSizes([wanted, total - wanted])
        self.movement_summary.setText(
            f"{len(result.moved_up):,} moved up, {len(result.moved_down):,} moved down, "
            f"{len(result.entered):,} entered, {len(result.left):,} left, "
            f"{result.stayed:,} stayed in their tier."
        )

    def _fill_lists(self, tables: dict[str, reports.ReportTable]) -> None:
        for key in _LIST_COLUMNS_KEYS:
            table = tables[key]
            model = self.list_models[key]
            model.set_rows(table.rows, table.columns)
            view = self.list_views[key]
            header = view.horizontalHeader()
            for column, width in enumerate((80, 190, 100, 100, 130, 130)):
                header.resizeSection(column, width)
            header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
            header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
            self.list_tabs.setTabText(
                _LIST_COLUMNS_KEYS.index(key), f"{reports.LISTS[key]} ({len(table.rows):,})"
            )

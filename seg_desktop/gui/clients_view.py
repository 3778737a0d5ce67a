"""The Clients view: every client in a sortable, filterable table, and one client in detail.

The table is loaded on the office worker (``Office.client_table`` plus the
sort keys) and swapped in whole. Every read goes through the worker, and the
view follows ``session.changed``: the table reloads when a write touched the
clients, revenue, a run or the segments (tags a rule set show at once), the
Show box when the segments' counts may have moved. Choosing a segment
filters the table to the segment's saved members; the search box narrows it
to the clients whose ref, name or email hold the words typed. "Export
visible…" writes exactly the rows shown, in the order shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.client_detail import ClientDetailPanel
from seg_desktop.gui.clients_model import (
    COLUMNS,
    ClientsProxyModel,
    ClientsTableModel,
    ClientTableKeys,
)
from seg_desktop.gui.membership_log import MembershipLogView
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.gui.window_state import WindowStateStore
from seg_desktop.io.export import SummarySection, write_csv, write_xlsx
from seg_desktop.io.exporting import EXPORT_COLUMNS, export_summary
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import ClientCard, ClientTable, SegmentInfo, TierChange

__all__ = ["ClientsView", "SaveFileDialog"]

TABLE_AREAS = (Area.CLIENTS, Area.REVENUE, Area.RUN, Area.SEGMENTS)
"""A write touching these reloads the table (tags set by a rule are client changes)."""
SEGMENT_AREAS = (Area.SEGMENTS, Area.CLIENTS, Area.REVENUE, Area.RUN, Area.DATE)
"""A write touching these may move the segments' counts in the Show box."""
DETAIL_AREAS = (*TABLE_AREAS, Area.AUTOMATION, Area.DATE)
"""A write touching these reloads the chosen client's detail."""

SaveFileDialog = Callable[[QWidget, str, str, str], tuple[str, str]]
"""``(parent, caption, directory, filter) -> (path, chosen filter)``, as
``QFileDialog.getSaveFileName``; tests pass their own."""

SEARCH_DELAY_MS = 150
"""How long typing must pause before the search filters (each filter is a full pass)."""

_EXPORT_FILTERS = "Excel workbook (*.xlsx);;CSV file (*.csv)"

# Widths that fit the demo office's values at the default font; the user's own
# widths are restored over these (window_state).
_COLUMN_WIDTHS = {
    "ref": 80,
    "name": 170,
    "email": 200,
    "status": 70,
    "tags": 120,
    "groups": 150,
    "total_revenue": 110,
    "invoice_count": 70,
    "first_invoice_date": 95,
    "last_invoice_date": 95,
    "average_invoice_amount": 110,
    "production": 110,
    "tier": 80,
    "group_tier": 90,
}


_LIST = -1
"""The Show box's data for a list of clients handed over by a report."""


class ClientsView(QWidget):
    """Every client, filtered by segment and search, with the chosen client's detail beside.

    Signals: ``run_requested`` (the Run Segmentation button; the main window
    starts the run), ``table_loaded`` (a newly loaded table is shown),
    ``members_loaded`` (a segment's members are applied as the filter),
    ``segments_loaded`` (the Show box was filled again), ``detail_loaded``
    (the chosen client's detail is shown), ``export_finished(path, rows)`` and
    ``status_message(text)`` (for the status bar).
    """

    run_requested = Signal()
    edit_segment_requested = Signal(int)
    """The user asked for the shown segment's definition (the Edit definition button)."""
    table_loaded = Signal()
    members_loaded = Signal()
    segments_loaded = Signal()
    detail_loaded = Signal()
    export_finished = Signal(str, int)
    status_message = Signal(str)

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        save_file_dialog: SaveFileDialog | None = None,
        search_delay_ms: int = SEARCH_DELAY_MS,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("clients_view")
        self._session = session
        self._save_file_dialog: SaveFileDialog = save_file_dialog or QFileDialog.getSaveFileName
        self._table_requested = 0  # requests of the table made / answered (a reload waits
        self._table_answered = 0  # while they differ)
        self._segments: list[SegmentInfo] = []
        self._current_client: int | None = None
        self._loaded = False
        self._dirty: set[str] = set()
        self._list: tuple[list[int], str] | None = None  # a list shown from a report
        self._pending_segment: int | None = None  # asked for before the Show box had it

        self.model = ClientsTableModel(self)
        self.proxy = ClientsProxyModel(self.model, self)

        self.segment_combo = QComboBox()
        self.segment_combo.setObjectName("clients_segment_combo")
        self.segment_combo.setToolTip("Show every client, or only a segment's members")
        self.segment_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.segment_combo.setMinimumContentsLength(18)
        self.edit_segment_button = QPushButton("Edit definition…")
        self.edit_segment_button.setObjectName("clients_edit_segment_button")
        self.edit_segment_button.setToolTip("Open the shown segment's criteria in the editor")
        self.edit_segment_button.setVisible(False)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("clients_search")
        self.search_edit.setPlaceholderText("Search ref, name or email")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(140)
        self.export_button = QPushButton("Export visible…")
        self.export_button.setObjectName("clients_export_button")
        self.export_button.setToolTip("Write the clients shown, in this order, to Excel or CSV")
        self.run_button = QPushButton("Run Segmentation")
        self.run_button.setObjectName("clients_run_button")
        self.run_button.setToolTip("Compute every client's production and tier (Ctrl+R)")
        self.count_label = QLabel("Loading clients…")
        self.count_label.setObjectName("clients_count_label")

        self.table = QTableView()
        self.table.setObjectName("clients_table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        # Fixed row heights: nothing asks 250,000 rows for a size hint.
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        for column, spec in enumerate(COLUMNS):
            # Never narrower than the title with its sort arrow (so after enabling
            # sorting): a cut "puted tier (if pin" tells nobody what the column is.
            width = max(_COLUMN_WIDTHS.get(spec.key, 100), header.sectionSizeHint(column))
            header.resizeSection(column, width)

        self.detail = ClientDetailPanel()
        self.membership_log = MembershipLogView(session)
        self.detail.add_section("Membership log", self.membership_log)

        toolbar = QHBoxLayout()
        toolbar.addWidget(QLabel("Show"))
        toolbar.addWidget(self.segment_combo)
        toolbar.addWidget(self.edit_segment_button)
        toolbar.addWidget(self.search_edit, 1)
        toolbar.addWidget(self.export_button)
        toolbar.addWidget(self.run_button)

        table_side = QWidget()
        table_layout = QVBoxLayout(table_side)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addWidget(self.count_label)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("clients_splitter")
        self.splitter.addWidget(table_side)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        # Proportions (Qt scales them to the width there is): the table gets the larger part.
        self.splitter.setSizes([600, 400])
        table_side.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self.splitter, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setObjectName("clients_search_timer")
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(search_delay_ms)
        self._search_timer.timeout.connect(self._apply_search)
        # Coalesces the changes that arrive together (a run and the recompute it
        # triggers elsewhere) into one reload.
        self._reload_timer = QTimer(self)
        self._reload_timer.setObjectName("clients_reload_timer")
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(0)
        self._reload_timer.timeout.connect(self._reload_now)

        self.search_edit.textChanged.connect(self._search_timer.start)
        self.search_edit.returnPressed.connect(self._apply_search)
        self.segment_combo.currentIndexChanged.connect(self._segment_chosen)
        self.run_button.clicked.connect(self.run_requested)
        self.edit_segment_button.clicked.connect(self._edit_segment_clicked)
        self.export_button.clicked.connect(lambda: self.export_visible())
        selection = self.table.selectionModel()
        selection.currentRowChanged.connect(self._current_row_changed)
        self.proxy.modelReset.connect(self._visible_rows_changed)
        self.proxy.layoutChanged.connect(self._visible_rows_changed)
        # A bound method, not a lambda: Qt disconnects it when the view is destroyed
        # before the session.
        session.changed.connect(self._office_changed)

        self._refresh_segments()
        self._update_count()
        self.reload()

    # --- public API -----------------------------------------------------------------------

    def reload(self) -> None:
        """Load the clients again on the worker (now, or when the current task ends)."""
        office = self._session.office
        self._table_requested += 1
        request = self._table_requested

        def work(
            progress: ProgressFn, _cancelled: CancelledFn
        ) -> tuple[ClientTable, ClientTableKeys, dict[int, TierChange]]:
            progress(0.0, "Loading clients")
            table, changes = office.client_table()
            progress(0.7, "Indexing clients")
            return table, ClientTableKeys(table), changes

        def done(loaded: tuple[ClientTable, ClientTableKeys, dict[int, TierChange]]) -> None:
            self._table_answered = max(self._table_answered, request)
            self._table_arrived(loaded)

        def failed(error: BaseException, _trace: str) -> None:
            self._table_answered = max(self._table_answered, request)
            self.count_label.setText(f"The clients could not be loaded: {error}")

        self._session.submit(
            "Loading clients", work, done, failed, background=True, key=f"clients-table-{id(self)}"
        )

    def is_reload_pending(self) -> bool:
        """Whether a reload of the table waits for the worker (or runs on it)."""
        return self._table_answered < self._table_requested

    def is_loaded(self) -> bool:
        """Whether a table has been loaded at least once."""
        return self._loaded

    def current_client_id(self) -> int | None:
        """The client selected (and shown in the detail)."""
        return self._current_client

    def select_client(self, client_id: int) -> bool:
        """Select a client's row and show its detail; False if it is not visible."""
        row = self.proxy.row_of_client(client_id)
        if row is None:
            return False
        index = self.proxy.index(row, 0)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def segment_filter(self) -> int | None:
        """The segment whose members are shown (None: all clients, or a list from a report)."""
        data = self.segment_combo.currentData()
        return int(data) if data is not None and data != _LIST else None

    def show_clients(self, client_ids: Sequence[int], label: str) -> None:
        """Show only these clients (a list from a report), named in the Show box.

        The list stays in the Show box until the segments change; choosing
        another entry and back shows it again.
        """
        self._list = (list(client_ids), label)
        combo = self.segment_combo
        combo.blockSignals(True)
        position = combo.findData(_LIST)
        if position >= 0:
            combo.removeItem(position)
        combo.addItem(f"{label} ({len(client_ids):,})", _LIST)
        combo.setCurrentIndex(combo.count() - 1)
        combo.blockSignals(False)
        self._segment_chosen()

    def set_segment_filter(self, segment_id: int | None) -> bool:
        """Show a segment's members (None: all clients); False if there is no such segment."""
        position = self.segment_combo.findData(segment_id) if segment_id is not None else 0
        if position < 0:
            return False
        self.segment_combo.setCurrentIndex(position)
        return True

    def show_segment(self, segment_id: int) -> None:
        """Show a segment's members (chosen in the Show box), now or once the box lists it."""
        if self.set_segment_filter(segment_id):
            self._pending_segment = None
        else:
            self._pending_segment = segment_id

    def _edit_segment_clicked(self) -> None:
        segment_id = self.segment_filter()
        if segment_id is not None:
            self.edit_segment_requested.emit(segment_id)

    def set_search_text(self, text: str) -> None:
        """Type into the search box and filter at once (no debounce)."""
        self.search_edit.setText(text)
        self._apply_search()

    def visible_client_ids(self) -> list[int]:
        """The clients shown, in the order shown."""
        return self.proxy.visible_client_ids()

    def export_visible(self, path: Path | None = None) -> bool:
        """Write the visible rows, in the view's order, to .xlsx or .csv on the worker.

        Without ``path`` the user picks one in a save dialog. Returns False if
        nothing was started (dialog cancelled, unknown extension).
        """
        if path is None:
            default = Path.home() / f"clients-{self._session.today().isoformat()}.xlsx"
            chosen, chosen_filter = self._save_file_dialog(
                self, "Export visible clients", str(default), _EXPORT_FILTERS
            )
            if not chosen:
                return False
            path = Path(chosen)
            if path.suffix == "":
                path = path.with_suffix(".csv" if "csv" in chosen_filter.lower() else ".xlsx")
        suffix = path.suffix.lower()
        if suffix not in (".xlsx", ".csv"):
            self.status_message.emit(f"{path.name}: choose a file ending in .xlsx or .csv")
            return False
        office, today, out = self._session.office, self._session.today(), path
        table = self.model.table
        order = self.proxy.source_rows().copy()
        view_section = self._view_summary(len(order), len(table))
        sheet_title = self._filter_name()
        keys = [column.key for column in EXPORT_COLUMNS]

        def work(progress: ProgressFn, cancelled: CancelledFn) -> int:
            total = max(len(order), 1)

            def report(done: int) -> None:
                progress(done / total, f"Exported {done:,} of {len(order):,} clients")

            rows = table.rows(order, keys)
            if suffix == ".csv":
                return write_csv(out, EXPORT_COLUMNS, rows, progress=report, cancelled=cancelled)
            summary = [view_section, *export_summary(office, None, today)]
            return write_xlsx(
                out,
                EXPORT_COLUMNS,
                rows,
                sheet_title=sheet_title,
                summary=summary,
                progress=report,
                cancelled=cancelled,
            )

        def done(count: int) -> None:
            self.status_message.emit(f"{count:,} clients written to {out}")
            self.export_finished.emit(str(out), count)

        self._session.submit(f"Exporting {len(order):,} clients", work, done)
        return True

    def save_state(self, store: WindowStateStore) -> None:
        """Save the column layout and the splitter (the main window's save_all does it too)."""
        store.save_header(self.table.horizontalHeader())
        store.save_splitter(self.splitter)

    def restore_state(self, store: WindowStateStore) -> None:
        """Restore what save_state saved."""
        store.restore_header(self.table.horizontalHeader())
        store.restore_splitter(self.splitter)

    # --- loading -------------------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        """Reload what a write touched: the table, the Show box's counts, the detail."""
        parts = []
        if changes.touches(*TABLE_AREAS):
            parts.append("table")
        if changes.touches(*SEGMENT_AREAS):
            parts.append("segments")
        if changes.touches(*DETAIL_AREAS):
            parts.append("detail")
        if parts:
            self._mark_dirty(*parts)

    def _mark_dirty(self, *parts: str) -> None:
        self._dirty.update(parts)
        self._reload_timer.start()

    def _reload_now(self) -> None:
        dirty, self._dirty = self._dirty, set()
        if "segments" in dirty:
            self._refresh_segments()
        if "table" in dirty:
            self.reload()
        if "detail" in dirty and self._current_client is not None:
            self._show_detail(self._current_client)

    def _table_arrived(
        self, loaded: tuple[ClientTable, ClientTableKeys, dict[int, TierChange]]
    ) -> None:
        table, keys, changes = loaded
        self._loaded = True
        self.model.set_table(table, keys, changes)
        self.segment_combo.setItemText(0, f"All clients ({len(table):,})")
        self.table_loaded.emit()

    def _refresh_segments(self) -> None:
        """Read the segments on the worker, then rebuild the Show box with them."""
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> list[SegmentInfo]:
            return office.segments()

        self._session.submit(
            "Loading segments",
            work,
            self._segments_arrived,
            background=True,
            key=f"clients-segments-{id(self)}",
        )

    def _segments_arrived(self, segments: list[SegmentInfo]) -> None:
        """Rebuild the segment combo (keeping the choice) and reload the chosen members."""
        self._segments = segments
        chosen = self.segment_filter()
        combo = self.segment_combo
        was_list = combo.currentData() == _LIST
        self._list = None  # a report's list ends when the segments change
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(f"All clients ({len(self.model.table):,})", None)
        for segment in self._segments:
            count = segment.member_count
            counted = f"{count:,}" if count is not None else "not computed"
            combo.addItem(f"{segment.definition.name} ({counted})", segment.id)
        pending, self._pending_segment = self._pending_segment, None
        if pending is not None and combo.findData(pending) >= 0:
            chosen, was_list = pending, True  # clicked before the box had it: choose it now
        position = combo.findData(chosen) if chosen is not None else 0
        combo.setCurrentIndex(max(position, 0))
        combo.blockSignals(False)
        self.edit_segment_button.setVisible(self.segment_filter() is not None)
        self.detail.set_segments(self._segments)
        if (chosen is not None and position < 0) or was_list:
            self._segment_chosen()  # the chosen segment was deleted: back to all clients
        elif chosen is not None:
            self._load_members(chosen)
        self.segments_loaded.emit()

    def _segment_chosen(self, _position: int = 0) -> None:
        self.edit_segment_button.setVisible(self.segment_filter() is not None)
        if self.segment_combo.currentData() == _LIST and self._list is not None:
            self.proxy.set_member_filter(self._list[0])
            self.members_loaded.emit()
            return
        segment_id = self.segment_filter()
        if segment_id is None:
            self.proxy.set_member_filter(None)
            self.members_loaded.emit()
            return
        self.detail.set_why_segment(segment_id)
        self._load_members(segment_id)

    def _load_members(self, segment_id: int) -> None:
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> list[int]:
            return office.segment_member_ids(segment_id)

        def done(member_ids: list[int]) -> None:
            if self.segment_filter() != segment_id:
                return  # the user chose another segment meanwhile
            self.proxy.set_member_filter(member_ids)
            self.members_loaded.emit()

        self._session.submit(
            "Loading segment members",
            work,
            done,
            background=True,
            key=f"clients-members-{id(self)}",
        )

    def _apply_search(self) -> None:
        self._search_timer.stop()
        self.proxy.set_search_text(self.search_edit.text())

    # --- selection and detail ------------------------------------------------------------

    def _current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return  # a reset; _visible_rows_changed puts the selection back
        client_id = self.proxy.client_id_at(current.row())
        if client_id != self._current_client:
            self._current_client = client_id
            self._show_detail(client_id)

    def _show_detail(self, client_id: int) -> None:
        """Read one client's detail on the worker (only the newest click is answered)."""
        office = self._session.office
        if self.membership_log.client_id() != client_id:
            self.membership_log.set_client(client_id)

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> ClientCard:
            return office.client_card(client_id)

        def done(card: ClientCard) -> None:
            if self._current_client != client_id:
                return  # another client was chosen meanwhile
            self.detail.show_client(card.detail, self._session.today(), dict(card.set_by_rules))
            self.detail_loaded.emit()

        def failed(error: BaseException, _trace: str) -> None:
            # Most often the client was deleted meanwhile (StoreError says so).
            if self._current_client != client_id:
                return
            self._current_client = None
            self.detail.show_client(None)
            self.membership_log.set_client(None)
            self.status_message.emit(str(error))

        self._session.submit(
            "Loading the client",
            work,
            done,
            failed,
            background=True,
            key=f"client-detail-{id(self)}",
        )

    def _visible_rows_changed(self) -> None:
        self._update_count()
        self.export_button.setEnabled(self.proxy.rowCount() > 0)
        if self._current_client is None:
            return
        row = self.proxy.row_of_client(self._current_client)
        if row is None:
            return  # filtered out: the detail stays until another client is chosen
        index = self.proxy.index(row, max(self.table.currentIndex().column(), 0))
        selection = self.table.selectionModel()
        if selection.currentIndex() != index:
            selection.setCurrentIndex(
                index,
                selection.SelectionFlag.ClearAndSelect | selection.SelectionFlag.Rows,
            )
        self.table.scrollTo(index)

    def _update_count(self) -> None:
        if not self._loaded:
            self.count_label.setText("Loading clients…")
            return
        total, shown = len(self.model.table), self.proxy.rowCount()
        noun = "client" if total == 1 else "clients"
        if self.proxy.has_member_filter() or self.proxy.search_text():
            text = f"{shown:,} of {total:,} {noun}"
        else:
            text = f"{total:,} {noun}"
        changed = self.model.changed_count()
        if changed:
            text += f" · {changed:,} changed tier since the previous run"
        self.count_label.setText(text)
        self.count_label.setToolTip(
            "A green arrow by the tier: moved up since the previous run; red: moved down."
            if changed
            else ""
        )

    def _filter_name(self) -> str:
        segment_id = self.segment_filter()
        if segment_id is None and self.segment_combo.currentData() == _LIST and self._list:
            return self._list[1]
        segment = next((s for s in self._segments if s.id == segment_id), None)
        return segment.definition.name if segment is not None else "All clients"

    def _view_summary(self, shown: int, total: int) -> SummarySection:
        column = self.proxy.sort_column()
        if column >= 0:
            direction = (
                "descending"
                if self.proxy.sort_order() == Qt.SortOrder.DescendingOrder
                else "ascending"
            )
            sorted_by = f"{COLUMNS[column].title}, {direction}"
        else:
            sorted_by = "Ref"
        return SummarySection(
            "Clients view",
            [
                ("Shown", self._filter_name()),
                ("Search", self.proxy.search_text() or "(none)"),
                ("Sorted by", sorted_by),
                ("Clients written", shown),
                ("Clients in the office", total),
            ],
        )

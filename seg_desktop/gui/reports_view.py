"""Reports: tiers for the office or a segment, segments side by side, and their overlap.

Three tabs:

* **Tiers** — for the whole office or one segment's members: clients,
  revenue (production in the current run's range), share and average per
  tier, a bar chart of revenue per tier, a line chart of the tier counts over
  the last runs, and the top clients.
* **Segments side by side** — the ticked segments in columns: members, revenue,
  average, share of the office's revenue, all-time revenue and the tier mix
  (a stacked chart).
* **Overlap** — two segments: who is in both, in A only, in B only. Each
  list exports, and can be shown in the Clients view. It cannot become a
  segment: a segment's members always follow its rules (SPEC section 3,
  "nobody adds or removes members by hand"), so a hand-picked list has no
  rule to keep it. The tab says so.

Every report exports to Excel (a sheet per table, the charts' data with them).
The numbers come from the office (``Office.tier_report``, ``compare_segments``,
``segment_overlap``) on the session's worker; the widgets only show them. The
view reloads what it shows when a write's `Changes` touch runs, segments,
clients or revenue, and only while it is on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
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
from seg_desktop.gui.chart_axes import label_y_axis
from seg_desktop.gui.pages import table_page
from seg_desktop.gui.runs_view import (
    EXCEL_ONLY,
    EXCEL_OR_CSV,
    SaveFileDialog,
    ValueTableModel,
    choose_save_path,
)
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.io import reports
from seg_desktop.io.export import Column
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import (
    ClientLine,
    SegmentComparison,
    SegmentInfo,
    SegmentOverlap,
    TierReport,
    TierReportData,
    TierTrend,
    format_share,
    share_bp,
)

__all__ = ["TIER_COLOURS", "ReportsView", "tier_colour"]

TOP_CLIENTS = 20
TREND_RUNS = 12

TIER_COLOURS = ("#b07a45", "#8c96a3", "#d1a320", "#3f7fbf", "#7a5fb0", "#3a9a7a")
"""Tier colours by position, lowest first (bronze, silver, gold for the default tiers)."""

CLIENT_COLUMNS = (
    Column("ref", "Ref", "text"),
    Column("name", "Name", "text"),
    Column("tier", "Tier", "text"),
    Column("production", "Production", "money"),
    Column("total_revenue", "Total revenue", "money"),
)

OVERLAP_NOTE = (
    "A segment's members always follow its rules, so a list becomes a segment through a "
    "tag: “New segment from this list” tags these clients and creates a segment that "
    "selects the tag. Removing the tag from a client takes it out of the segment."
)

OVERLAP_KEYS = ("both", "only_a", "only_b")
"""The overlap tab's three lists, in tab order (see `SegmentOverlap.list_of`)."""

AskNewSegment = Callable[[QWidget, str, int], tuple[str, str] | None]
"""``(parent, list title, client count) -> (segment name, tag)``, or None when cancelled."""


def ask_new_segment(parent: QWidget, title: str, count: int) -> tuple[str, str] | None:
    """Ask for the new segment's name and the tag that will select its clients."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("New segment from a list")
    name = QLineEdit(title)
    name.setObjectName("new_segment_name")
    tag = QLineEdit(default_list_tag(title))
    tag.setObjectName("new_segment_tag")
    explain = QLabel(
        f"The {count:,} clients of “{title}” get the tag, and the new segment selects "
        "every client with it (Tags has the tag …)."
    )
    explain.setWordWrap(True)
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    form.addRow(explain)
    form.addRow("Segment name", name)
    form.addRow("Tag", tag)
    form.addRow(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return name.text(), tag.text()


def default_list_tag(title: str) -> str:
    """A tag for a list: its title in lower case, words joined by hyphens."""
    words = "".join(c if c.isalnum() else " " for c in title.casefold()).split()
    return "-".join(words) or "list"


def tier_colour(position: int) -> QColor:
    """The colour of a tier position in every chart."""
    return QColor(TIER_COLOURS[position % len(TIER_COLOURS)])


class _Chart(pg.PlotWidget):  # type: ignore[misc]  # pyqtgraph is untyped
    """A read-only plot in the palette's colours, with grouped-number ticks on the left."""

    def __init__(self, title: str, object_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        self._text_colour = palette.color(QPalette.ColorRole.Text)
        for side in ("left", "bottom"):
            axis = self.getAxis(side)
            axis.setTextPen(self._text_colour)
            axis.setPen(palette.color(QPalette.ColorRole.Mid))
        self.setTitle(title, color=self._text_colour.name(), size="10pt")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(y=True, alpha=0.25)
        self.setMinimumHeight(160)
        self._items: list[object] = []

    def clear_items(self) -> None:
        """Remove what the last show_* added."""
        for item in self._items:
            self.removeItem(item)
        self._items = []
        legend = self.getPlotItem().legend
        if legend is not None:
            legend.clear()

    def add(self, item: object) -> None:
        """Add an item that the next clear_items removes."""
        self.addItem(item)
        self._items.append(item)

    def label_y(self, low: float, high: float, suffix: str = "") -> None:
        """Grouped tick labels ("12,000"), never "1.2e+04", on an axis wide enough for them."""
        label_y_axis(self, low, high, suffix)

    def label_x(self, labels: Sequence[str]) -> None:
        """One category label per bar (elided to fit)."""
        axis = self.getAxis("bottom")
        axis.setTicks([[(i, label) for i, label in enumerate(labels)], []])
        span = max(len(labels), 1)
        self.setXRange(-0.6, span - 0.4, padding=0)


class TierRevenueChart(_Chart):
    """Revenue (production) per tier, as bars in the tiers' colours."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Revenue per tier", "tier_revenue_chart", parent)
        self.heights: list[float] = []

    def show_report(self, report: TierReport | None) -> None:
        """Plot a report's revenue per tier (nothing for None)."""
        self.clear_items()
        self.heights = []
        if report is None:
            return
        # Plotting is the one place money becomes a float; the tables stay exact.
        self.heights = [line.revenue / 100 for line in report.lines]
        brushes = [tier_colour(line.position) for line in report.lines]
        self.add(
            pg.BarGraphItem(
                x=list(range(len(self.heights))),
                height=self.heights,
                width=0.6,
                brushes=brushes,
                pens=brushes,
            )
        )
        self.label_x([line.name for line in report.lines])
        self.label_y(min(0.0, *self.heights), max(0.0, *self.heights))


class TierTrendChart(_Chart):
    """How many were in each tier over the last runs, one line per tier."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Clients per tier over the last runs", "tier_trend_chart", parent)
        # One row above the lines (the range leaves room for it), not over them.
        self.addLegend(offset=(60, 2), labelTextColor=self._text_colour, colCount=6)
        self.series: dict[str, list[int]] = {}

    def show_trend(self, trend: TierTrend | None) -> None:
        """Plot the trend (nothing for None or no runs)."""
        self.clear_items()
        self.series = {}
        if trend is None or not trend.runs:
            return
        x = list(range(len(trend.runs)))
        highest = 1
        for position, name in enumerate(trend.tier_names):
            values = trend.series(position)
            self.series[name] = values
            highest = max(highest, *values)
            colour = tier_colour(position)
            self.add(
                pg.PlotDataItem(
                    x,
                    values,
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=6,
                    symbolBrush=colour,
                    symbolPen=colour,
                    name=name,
                )
            )
        axis = self.getAxis("bottom")
        metrics = QFontMetrics(axis.style["tickFont"] or self.font())
        room = max(1, (self.width() - 60) // max(metrics.horizontalAdvance("run 000  "), 1))
        step = max(1, -(-len(trend.runs) // room))
        axis.setTicks(
            [
                [(i, f"run {p.run_id}") for i, p in enumerate(trend.runs) if i % step == 0],
                [(i, "") for i in x],
            ]
        )
        self.setXRange(-0.5, max(len(x) - 0.5, 0.5), padding=0)
        self.label_y(0.0, float(highest))
        self.setYRange(-0.04 * highest, 1.2 * highest, padding=0)


class TierMixChart(_Chart):
    """Each segment's members by tier, stacked to 100 %."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tier mix (% of members)", "tier_mix_chart", parent)
        # One row above the bars (the range leaves room for it), not over them.
        self.addLegend(offset=(60, 2), labelTextColor=self._text_colour, colCount=6)
        self.shares: list[list[float]] = []

    def show_comparison(self, comparison: SegmentComparison | None) -> None:
        """Plot the tier mix of each compared segment."""
        self.clear_items()
        self.shares = []
        if comparison is None or not comparison.segments:
            return
        segments = comparison.segments
        x = list(range(len(segments)))
        totals = [max(sum(s.tier_mix), 1) for s in segments]
        base = [0.0] * len(segments)
        for position, name in enumerate(comparison.tier_names):
            heights = [
                100.0 * s.tier_mix[position] / t for s, t in zip(segments, totals, strict=True)
            ]
            self.shares.append(heights)
            colour = tier_colour(position)
            bars = pg.BarGraphItem(
                x=x,
                y0=list(base),
                height=heights,
                width=0.6,
                brush=colour,
                pen=pg.mkPen(None),
                name=name,
            )
            self.add(bars)  # named: the legend lists it
            base = [b + h for b, h in zip(base, heights, strict=True)]
        self.label_x([s.name for s in segments])
        self.setYRange(-2, 112, padding=0)
        axis = self.getAxis("left")
        axis.setTicks([[(v, f"{v} %") for v in (0, 25, 50, 75, 100)], []])
        metrics = QFontMetrics(axis.style["tickFont"] or self.font())
        axis.setWidth(metrics.horizontalAdvance("100 %") + 16)


def _table_view(name: str, model: ValueTableModel) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    header = view.horizontalHeader()
    # The rows come in the report's order (by production, by ref): no column claims it.
    header.setSortIndicatorClearable(True)
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    for column, width in enumerate((80, 180, 70, 110, 110)):
        header.resizeSection(column, width)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    return view


def _client_rows(lines: Sequence[ClientLine]) -> list[tuple[object, ...]]:
    return [(c.ref, c.name, c.tier, c.production, c.total_revenue) for c in lines]


def _cell(text: str, number: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _fixed_table(name: str) -> QTableWidget:
    table = QTableWidget()
    table.setObjectName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    return table


_TierLoad = TierReportData | None
_OverlapLoad = tuple[SegmentOverlap, dict[str, list[tuple[object, ...]]]]


class ReportsView(QWidget):
    """The three report tabs over the session's office (see the module docstring).

    Signals: ``segment_choices_loaded`` (the office's segments are offered),
    ``tier_report_loaded``, ``segments_loaded``, ``overlap_loaded``
    (a report arrived and is shown), ``export_finished(path, rows)``,
    ``status_message(text)``, and ``show_clients_requested(client_ids, what)``
    when the user asks to see a list in the Clients view.
    """

    segment_choices_loaded = Signal()
    tier_report_loaded = Signal()
    segments_loaded = Signal()
    overlap_loaded = Signal()
    export_finished = Signal(str, int)
    status_message = Signal(str)
    show_clients_requested = Signal(list, str)

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        save_file_dialog: SaveFileDialog | None = None,
        ask_new_segment: AskNewSegment = ask_new_segment,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reports_view")
        self._ask_new_segment = ask_new_segment
        self._session = session
        self._save_file_dialog: SaveFileDialog = save_file_dialog or QFileDialog.getSaveFileName
        self._tier_load: _TierLoad = None
        self._choices_stale = False  # the segments changed while the view was hidden
        self._segments: SegmentComparison | None = None
        self._overlap: SegmentOverlap | None = None
        self._dirty = {"tiers", "segments", "overlap"}

        self.tabs = QTabWidget()
        self.tabs.setObjectName("reports_tabs")
        self.tabs.addTab(self._build_tiers_tab(), "Tiers")
        self.tabs.addTab(self._build_segments_tab(), "Segments side by side")
        self.tabs.addTab(self._build_overlap_tab(), "Overlap")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)

        # Coalesces what arrives together (a change, then the segments offered again)
        # into one reload of what is on screen.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setObjectName("reports_refresh_timer")
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.tabs.currentChanged.connect(lambda _index: self.refresh())
        session.changed.connect(self._office_changed)
        self.load_segment_choices()

    # --- construction -------------------------------------------------------------------------

    def _build_tiers_tab(self) -> QWidget:
        self.scope_combo = QComboBox()
        self.scope_combo.setObjectName("report_scope_combo")
        self.scope_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.scope_combo.setMinimumContentsLength(18)
        self.tier_summary = QLabel("No report yet.")
        self.tier_summary.setObjectName("tier_report_summary")
        self.tier_summary.setWordWrap(True)
        self.export_tiers_button = QPushButton("Export report…")
        self.export_tiers_button.setObjectName("export_tier_report_button")
        self.export_tiers_button.setToolTip(
            "Write the tiers, the chart's data and the top clients to one Excel workbook"
        )
        self.tier_table = _fixed_table("tier_report_table")
        titles = ["Tier", "Clients", "Revenue", "Share", "Average"]
        self.tier_table.setColumnCount(len(titles))
        self.tier_table.setHorizontalHeaderLabels(titles)
        average = self.tier_table.horizontalHeaderItem(4)
        if average is not None:
            average.setToolTip("Average revenue per client")
        self.tier_table.verticalHeader().setVisible(False)
        self.tier_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.tier_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.top_model = ValueTableModel(CLIENT_COLUMNS, self)
        self.top_view = _table_view("top_clients_table", self.top_model)
        self.revenue_chart = TierRevenueChart()
        self.trend_chart = TierTrendChart()

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Report for"))
        bar.addWidget(self.scope_combo)
        bar.addWidget(self.tier_summary, 1)
        bar.addWidget(self.export_tiers_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tier_table)
        top_title = QLabel(f"Top {TOP_CLIENTS} clients by production")
        top_title.setObjectName("top_clients_title")
        left_layout.addWidget(top_title)
        left_layout.addWidget(self.top_view, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("tier_charts_splitter")
        right.addWidget(self.revenue_chart)
        right.addWidget(self.trend_chart)
        right.setChildrenCollapsible(False)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("tier_report_splitter")
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        # Proportions (Qt scales them): the tables need about 540 px for their numbers.
        splitter.setSizes([560, 440])
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        self.scope_combo.currentIndexChanged.connect(lambda _i: self.load_tier_report())
        self.export_tiers_button.clicked.connect(lambda: self.export_tier_report())
        return page

    def _build_segments_tab(self) -> QWidget:
        self.segment_checklist = QListWidget()
        self.segment_checklist.setObjectName("compare_segments_list")
        self.segment_checklist.setMaximumWidth(230)
        self.segment_checklist.setToolTip("Tick two or more segments to compare them")
        self.segments_table = _fixed_table("segments_side_by_side")
        # Each segment's column is as wide as its name and numbers ("High-Value Clients",
        # not "High-Value Client" cut by a squeeze); many columns scroll sideways.
        segments_header = self.segments_table.horizontalHeader()
        segments_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.segments_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.segments_table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.segments_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.segments_hint = QLabel("Tick two or more segments.")
        self.segments_hint.setObjectName("segments_hint")
        self.segments_hint.setWordWrap(True)
        self.export_segments_button = QPushButton("Export…")
        self.export_segments_button.setObjectName("export_segments_button")
        self.mix_chart = TierMixChart()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Segments"))
        left_layout.addWidget(self.segment_checklist, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("segments_splitter")
        right.addWidget(self.segments_table)
        right.addWidget(self.mix_chart)
        right.setChildrenCollapsible(False)
        right.setStretchFactor(0, 0)
        right.setStretchFactor(1, 1)
        bar = QHBoxLayout()
        bar.addWidget(self.segments_hint, 1)
        bar.addWidget(self.export_segments_button)
        right_side = QWidget()
        right_layout = QVBoxLayout(right_side)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(bar)
        right_layout.addWidget(right, 1)
        page = QWidget()
        layout = QHBoxLayout(page)
        layout.addWidget(left)
        layout.addWidget(right_side, 1)
        self.segment_checklist.itemChanged.connect(lambda _item: self.load_segments())
        self.export_segments_button.clicked.connect(lambda: self.export_segments())
        return page

    def _build_overlap_tab(self) -> QWidget:
        self.a_combo = QComboBox()
        self.a_combo.setObjectName("overlap_a_combo")
        self.b_combo = QComboBox()
        self.b_combo.setObjectName("overlap_b_combo")
        for combo in (self.a_combo, self.b_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(16)
        self.export_overlap_button = QPushButton("Export all three…")
        self.export_overlap_button.setObjectName("export_overlap_button")
        self.overlap_note = QLabel(OVERLAP_NOTE)
        self.overlap_note.setObjectName("overlap_note")
        self.overlap_note.setWordWrap(True)
        self.overlap_tabs = QTabWidget()
        self.overlap_tabs.setObjectName("overlap_lists")
        self.overlap_models: dict[str, ValueTableModel] = {}
        self.overlap_export_buttons: dict[str, QPushButton] = {}
        self.overlap_show_buttons: dict[str, QPushButton] = {}
        self.overlap_segment_buttons: dict[str, QPushButton] = {}
        for key in OVERLAP_KEYS:
            model = ValueTableModel(CLIENT_COLUMNS, self)
            view = _table_view(f"overlap_{key}_table", model)
            export = QPushButton("Export this list…")
            export.setObjectName(f"export_overlap_{key}")
            export.clicked.connect(lambda _checked=False, k=key: self.export_overlap_list(k))
            show = QPushButton("Show in Clients view")
            show.setObjectName(f"show_overlap_{key}")
            show.setToolTip("Filter the Clients view to exactly this list")
            show.clicked.connect(lambda _checked=False, k=key: self.show_overlap_in_clients(k))
            new_segment = QPushButton("New segment from this list…")
            new_segment.setObjectName(f"segment_from_overlap_{key}")
            new_segment.setToolTip("Tag these clients and create a segment that selects the tag")
            new_segment.clicked.connect(lambda _checked=False, k=key: self.segment_from_overlap(k))
            self.overlap_tabs.addTab(table_page(view, new_segment, show, export, margin=4), key)
            self.overlap_models[key] = model
            self.overlap_export_buttons[key] = export
            self.overlap_show_buttons[key] = show
            self.overlap_segment_buttons[key] = new_segment

        grid = QGridLayout()
        grid.addWidget(QLabel("Segment A"), 0, 0)
        grid.addWidget(self.a_combo, 0, 1)
        grid.addWidget(QLabel("Segment B"), 0, 2)
        grid.addWidget(self.b_combo, 0, 3)
        grid.setColumnStretch(4, 1)
        grid.addWidget(self.export_overlap_button, 0, 5)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(grid)
        layout.addWidget(self.overlap_tabs, 1)
        layout.addWidget(self.overlap_note)
        self.a_combo.currentIndexChanged.connect(lambda _i: self.load_overlap())
        self.b_combo.currentIndexChanged.connect(lambda _i: self.load_overlap())
        self.export_overlap_button.clicked.connect(lambda: self.export_overlap())
        self._set_overlap_enabled(False)
        return page

    # --- loading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Load again whatever changed on the tab shown (only when the view is on screen)."""
        current = ("tiers", "segments", "overlap")[max(self.tabs.currentIndex(), 0)]
        if current in self._dirty and self.isVisible():
            self._dirty.discard(current)
            {
                "tiers": self.load_tier_report,
                "segments": self.load_segments,
                "overlap": self.load_overlap,
            }[current]()

    def showEvent(self, event: QShowEvent) -> None:
        """Load what changed while the view was hidden."""
        super().showEvent(event)
        if self._choices_stale:
            self.load_segment_choices()
        else:
            self._refresh_timer.start()

    def load_segment_choices(self) -> None:
        """Read the office's segments on the worker and offer them (then reload what is shown)."""
        self._choices_stale = False
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> list[SegmentInfo]:
            return office.segments()

        self._session.submit(
            "Reading the segments",
            work,
            self._segment_choices_arrived,
            background=True,
            key="reports-segments",
        )

    def load_tier_report(self) -> None:
        """Load the tier report for the scope chosen, on the worker."""
        self._dirty.discard("tiers")
        office = self._session.office
        segment_id = self.scope_combo.currentData()

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> _TierLoad:
            return office.tier_report(segment_id, trend_runs=TREND_RUNS, top=TOP_CLIENTS)

        self._session.submit(
            "Building the tier report",
            work,
            self._tier_report_arrived,
            background=True,
            key="reports-tiers",
        )

    def checked_segment_ids(self) -> list[int]:
        """The segments ticked for the side-by-side comparison, in list order."""
        ids = []
        for row in range(self.segment_checklist.count()):
            item = self.segment_checklist.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                ids.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    def set_checked_segments(self, segment_ids: Sequence[int]) -> None:
        """Tick exactly these segments (and compare them)."""
        self.segment_checklist.blockSignals(True)
        for row in range(self.segment_checklist.count()):
            item = self.segment_checklist.item(row)
            wanted = int(item.data(Qt.ItemDataRole.UserRole)) in segment_ids
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
        self.segment_checklist.blockSignals(False)
        self.load_segments()

    def load_segments(self) -> None:
        """Compare the ticked segments on the worker (two or more)."""
        self._dirty.discard("segments")
        ids = self.checked_segment_ids()
        if len(ids) < 2:
            self._segments = None
            self.segments_hint.setText("Tick two or more segments to compare them.")
            self.segments_table.setRowCount(0)
            self.segments_table.setColumnCount(0)
            self.mix_chart.show_comparison(None)
            self.export_segments_button.setEnabled(False)
            return
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> SegmentComparison:
            return office.compare_segments(ids)

        self._session.submit(
            "Comparing segments",
            work,
            self._segments_arrived,
            background=True,
            key="reports-segments-side-by-side",
        )

    def set_overlap_segments(self, a_id: int, b_id: int) -> None:
        """Choose the two segments of the overlap (and load it)."""
        self.a_combo.blockSignals(True)
        self.a_combo.setCurrentIndex(max(self.a_combo.findData(a_id), 0))
        self.a_combo.blockSignals(False)
        self.b_combo.setCurrentIndex(max(self.b_combo.findData(b_id), 0))
        self.load_overlap()

    def load_overlap(self) -> None:
        """Work out the overlap of the two chosen segments on the worker."""
        self._dirty.discard("overlap")
        a_id, b_id = self.a_combo.currentData(), self.b_combo.currentData()
        if a_id is None or b_id is None:
            return
        office = self._session.office

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> _OverlapLoad:
            overlap = office.segment_overlap(int(a_id), int(b_id))
            rows = {key: _client_rows(overlap.list_of(key)) for key in OVERLAP_KEYS}
            return overlap, rows

        self._session.submit(
            "Comparing two segments",
            work,
            self._overlap_arrived,
            background=True,
            key="reports-overlap",
        )

    # --- what is shown (for tests and the main window) ---------------------------------------

    def tier_report(self) -> TierReport | None:
        """The tier report shown."""
        return self._tier_load.report if self._tier_load is not None else None

    def segment_comparison(self) -> SegmentComparison | None:
        """The side-by-side comparison shown."""
        return self._segments

    def overlap(self) -> SegmentOverlap | None:
        """The overlap shown."""
        return self._overlap

    def tier_table_text(self) -> list[list[str]]:
        """The tier table's cells as shown."""
        return _texts(self.tier_table)

    def segments_table_text(self) -> list[list[str]]:
        """The side-by-side table's cells as shown (rows: measures; columns: segments)."""
        return _texts(self.segments_table)

    # --- exports ------------------------------------------------------------------------------

    def export_tier_report(self, path: Path | None = None) -> bool:
        """Export the tier report (tiers, trend data, top clients) to one workbook."""
        loaded = self._tier_load
        if loaded is None:
            return False
        report, trend, top = loaded.report, loaded.trend, loaded.top
        if path is None:
            scope = "office" if report.segment_id is None else report.scope
            default = Path.home() / f"tier-report-{scope}.xlsx"
            path = choose_save_path(
                self._save_file_dialog, self, "Export tier report", default, EXCEL_ONLY
            )
            if path is None:
                return False
        out = path
        self._export(
            "tiers", lambda _p, _c: reports.export_tier_report(out, report, trend, top), out
        )
        return True

    def export_segments(self, path: Path | None = None) -> bool:
        """Export the side-by-side comparison to one workbook."""
        comparison = self._segments
        if comparison is None:
            return False
        if path is None:
            default = Path.home() / "segments-side-by-side.xlsx"
            path = choose_save_path(
                self._save_file_dialog, self, "Export segments side by side", default, EXCEL_ONLY
            )
            if path is None:
                return False
        out = path
        self._export(
            "segments", lambda _p, _c: reports.export_segment_comparison(out, comparison), out
        )
        return True

    def export_overlap(self, path: Path | None = None) -> bool:
        """Export the three overlap lists to one workbook."""
        overlap = self._overlap
        if overlap is None:
            return False
        if path is None:
            default = Path.home() / "segment-overlap.xlsx"
            path = choose_save_path(
                self._save_file_dialog, self, "Export overlap", default, EXCEL_ONLY
            )
            if path is None:
                return False
        out = path
        self._export("overlap", lambda _p, _c: reports.export_overlap(out, overlap), out)
        return True

    def export_overlap_list(self, key: str, path: Path | None = None) -> bool:
        """Export one overlap list ("both", "only_a", "only_b") to .xlsx or .csv."""
        overlap = self._overlap
        if overlap is None:
            return False
        title = reports.overlap_list_titles(overlap)[key]
        lines = overlap.list_of(key)
        if path is None:
            default = Path.home() / "segment-overlap-list.xlsx"
            path = choose_save_path(
                self._save_file_dialog, self, f"Export “{title}”", default, EXCEL_OR_CSV
            )
            if path is None:
                return False
        out = path
        self._export(
            f"overlap-{key}", lambda _p, _c: reports.export_client_lines(out, title, lines), out
        )
        return True

    def show_overlap_in_clients(self, key: str) -> bool:
        """Ask the main window to filter the Clients view to one overlap list."""
        overlap = self._overlap
        if overlap is None:
            return False
        lines = overlap.list_of(key)
        title = reports.overlap_list_titles(overlap)[key]
        self.show_clients_requested.emit([line.client_id for line in lines], title)
        return True

    def segment_from_overlap(self, key: str) -> bool:
        """Tag one overlap list's clients and create a segment selecting the tag (asks first)."""
        overlap = self._overlap
        if overlap is None or self._session.office.read_only:
            return False
        lines = overlap.list_of(key)
        if not lines:
            return False
        title = reports.overlap_list_titles(overlap)[key]
        answer = self._ask_new_segment(self, title, len(lines))
        if answer is None:
            return False
        name, tag = answer
        office, today = self._session.office, self._session.today()
        client_ids = [line.client_id for line in lines]

        def work(_progress: ProgressFn, _cancelled: CancelledFn) -> tuple[int, int, Changes]:
            return office.segment_from_clients(name, client_ids, tag, today)

        def done(result: tuple[int, int, Changes]) -> None:
            # The session has already told every view (the new segment, the tags).
            _segment_id, tagged, _changes = result
            self.status_message.emit(
                f"Segment “{name.strip()}” created: {tagged:,} clients tagged “{tag.strip()}”"
            )

        self._session.submit(f"Creating segment {name.strip()}", work, done)
        return True

    def _export(self, kind: str, work: Callable[[ProgressFn, CancelledFn], int], out: Path) -> None:
        def done(count: int) -> None:
            self.status_message.emit(f"{count:,} rows written to {out}")
            self.export_finished.emit(str(out), count)

        self._session.submit(f"Exporting to {out.name}", work, done)

    # --- results arriving ---------------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        if not changes.touches(Area.RUN, Area.SEGMENTS, Area.CLIENTS, Area.REVENUE):
            return
        if changes.touches(Area.SEGMENTS):
            # Offer the segments again first; their arrival reloads what is shown.
            if self.isVisible():
                self.load_segment_choices()
            else:
                self._choices_stale = True
                self._dirty.update(("tiers", "segments", "overlap"))
            return
        self._changed()

    def _changed(self) -> None:
        self._dirty.update(("tiers", "segments", "overlap"))
        self._refresh_timer.start()

    def _segment_choices_arrived(self, segments: list[SegmentInfo]) -> None:
        self._fill_segment_choices(segments)
        self.segment_choices_loaded.emit()
        self._changed()

    def _fill_segment_choices(self, segments: Sequence[SegmentInfo]) -> None:
        """Offer the office's segments in the scope combo, the checklist and the overlap combos."""
        scope = self.scope_combo.currentData()
        checked = set(self.checked_segment_ids())
        first_fill = self.segment_checklist.count() == 0
        a, b = self.a_combo.currentData(), self.b_combo.currentData()
        for widget in (self.scope_combo, self.segment_checklist, self.a_combo, self.b_combo):
            widget.blockSignals(True)
        self.scope_combo.clear()
        self.scope_combo.addItem("Whole office", None)
        self.segment_checklist.clear()
        self.a_combo.clear()
        self.b_combo.clear()
        for segment in segments:
            name = segment.definition.name
            count = segment.member_count
            counted = f"{count:,}" if count is not None else "not computed"
            self.scope_combo.addItem(f"{name} ({counted})", segment.id)
            item = QListWidgetItem(f"{name} ({counted})")
            item.setData(Qt.ItemDataRole.UserRole, segment.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            wanted = segment.id in checked or (first_fill and len(checked) < 6)
            if first_fill and wanted:
                checked.add(segment.id)
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
            self.segment_checklist.addItem(item)
            self.a_combo.addItem(name, segment.id)
            self.b_combo.addItem(name, segment.id)
        self.scope_combo.setCurrentIndex(max(self.scope_combo.findData(scope), 0))
        self.a_combo.setCurrentIndex(max(self.a_combo.findData(a), 0) if a is not None else 0)
        default_b = 1 if self.b_combo.count() > 1 else 0
        self.b_combo.setCurrentIndex(
            max(self.b_combo.findData(b), 0) if b is not None else default_b
        )
        for widget in (self.scope_combo, self.segment_checklist, self.a_combo, self.b_combo):
            widget.blockSignals(False)

    def _tier_report_arrived(self, loaded: _TierLoad) -> None:
        if loaded is not None and loaded.report.segment_id != self.scope_combo.currentData():
            return  # another scope was chosen meanwhile; its report is on its way
        self._tier_load = loaded
        self.export_tiers_button.setEnabled(loaded is not None)
        if loaded is None:
            self.tier_summary.setText("No run yet: press Run Segmentation to see the report.")
            self.tier_table.setRowCount(0)
            self.top_model.set_rows([])
            self.revenue_chart.show_report(None)
            self.trend_chart.show_trend(None)
            self.tier_report_loaded.emit()
            return
        report, trend, top = loaded.report, loaded.trend, loaded.top
        run = report.run
        share = ""
        if report.segment_id is not None:
            share = f"; {format_share(report.share_of_office)} of the office's revenue"
        self.tier_summary.setText(
            f"{report.scope}: {report.clients:,} clients, revenue {format_money(report.revenue)}"
            f"{share}. Run {run.id}, {run.range.describe()}."
        )
        lines = report.lines
        self.tier_table.setRowCount(len(lines) + 1)
        for row, line in enumerate(lines):
            cells = [
                _cell(line.name),
                _cell(f"{line.clients:,}", True),
                _cell(format_money(line.revenue), True),
                _cell(format_share(line.share), True),
                _cell(format_money(line.average) if line.average is not None else "–", True),
            ]
            cells[0].setToolTip(
                f"From {format_money(line.monthly_lower)} a month "
                f"({format_money(line.effective_lower)} over {run.range.months} months)"
            )
            cells[0].setData(Qt.ItemDataRole.DecorationRole, tier_colour(line.position))
            for column, item in enumerate(cells):
                self.tier_table.setItem(row, column, item)
        total = [
            _cell("Total"),
            _cell(f"{report.clients:,}", True),
            _cell(format_money(report.revenue), True),
            _cell(format_share(10_000 if report.revenue > 0 else None), True),
            _cell(format_money(report.average) if report.average is not None else "–", True),
        ]
        for column, item in enumerate(total):
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            self.tier_table.setItem(len(lines), column, item)
        rows_height = (len(lines) + 1) * self.tier_table.verticalHeader().defaultSectionSize()
        self.tier_table.setFixedHeight(
            self.tier_table.horizontalHeader().sizeHint().height()
            + rows_height
            + 2 * self.tier_table.frameWidth()
        )
        self.top_model.set_rows(_client_rows(top))
        self.revenue_chart.show_report(report)
        self.trend_chart.show_trend(trend)
        self.tier_report_loaded.emit()

    def _segments_arrived(self, comparison: SegmentComparison) -> None:
        if [s.segment_id for s in comparison.segments] != self.checked_segment_ids():
            return  # the ticks changed meanwhile
        self._segments = comparison
        segments = comparison.segments
        measures: list[tuple[str, list[str]]] = [
            ("Members", [f"{s.members:,}" for s in segments]),
            ("Revenue (production)", [format_money(s.revenue) for s in segments]),
            (
                "Average per member",
                [format_money(s.average) if s.average is not None else "–" for s in segments],
            ),
            ("Share of office revenue", [format_share(s.share) for s in segments]),
            ("Total revenue (all time)", [format_money(s.total_revenue) for s in segments]),
        ]
        for position, name in enumerate(comparison.tier_names):
            measures.append(
                (
                    f"In {name}",
                    [_count_and_share(s.tier_mix[position], sum(s.tier_mix)) for s in segments],
                )
            )
        table = self.segments_table
        table.clear()
        table.setRowCount(len(measures))
        table.setColumnCount(len(segments))
        table.setHorizontalHeaderLabels([s.name for s in segments])
        for column, segment in enumerate(segments):
            header_cell = table.horizontalHeaderItem(column)
            if header_cell is not None:
                header_cell.setToolTip(segment.name)
        table.setVerticalHeaderLabels([m for m, _ in measures])
        for row, (_measure, values) in enumerate(measures):
            for column, value in enumerate(values):
                table.setItem(row, column, _cell(value, True))
        tiers_from = len(measures) - len(comparison.tier_names)
        for position in range(len(comparison.tier_names)):
            header_item = table.verticalHeaderItem(tiers_from + position)
            if header_item is not None:
                header_item.setData(Qt.ItemDataRole.DecorationRole, tier_colour(position))
        # As tall as its rows: the chart below gets the rest.
        table.setFixedHeight(
            table.horizontalHeader().sizeHint().height()
            + len(measures) * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth()
        )
        run = comparison.run
        where = f"the current run's range, {run.range.describe()}" if run else "no run yet"
        self.segments_hint.setText(
            f"Revenue: production in {where}. The office: {comparison.office_clients:,} "
            f"clients, {format_money(comparison.office_revenue)}."
        )
        self.mix_chart.show_comparison(comparison)
        self.export_segments_button.setEnabled(True)
        self.segments_loaded.emit()

    def _set_overlap_enabled(self, enabled: bool) -> None:
        self.export_overlap_button.setEnabled(enabled)
        for button in (*self.overlap_export_buttons.values(), *self.overlap_show_buttons.values()):
            button.setEnabled(enabled)

    def _overlap_arrived(self, loaded: _OverlapLoad) -> None:
        overlap, rows = loaded
        if (overlap.a_id, overlap.b_id) != (self.a_combo.currentData(), self.b_combo.currentData()):
            return  # other segments were chosen meanwhile
        self._overlap = overlap
        titles = reports.overlap_list_titles(overlap)
        for position, key in enumerate(OVERLAP_KEYS):
            self.overlap_models[key].set_rows(rows[key])
            self.overlap_tabs.setTabText(position, f"{titles[key]} ({len(rows[key]):,})")
            self.overlap_show_buttons[key].setEnabled(bool(rows[key]))
            self.overlap_segment_buttons[key].setEnabled(
                bool(rows[key]) and not self._session.office.read_only
            )
            self.overlap_export_buttons[key].setEnabled(True)
        self.export_overlap_button.setEnabled(True)
        self.overlap_loaded.emit()


def _count_and_share(count: int, total: int) -> str:
    """'120 (34.50 %)'."""
    return f"{count:,} ({format_share(share_bp(count, total))})"


def _texts(table: QTableWidget) -> list[list[str]]:
    result = []
    for row in range(table.rowCount()):
        cells = []
        for column in range(table.columnCount()):
            item = table.item(row, column)
            cells.append(item.text() if item is not None else "")
        result.append(cells)
    return result

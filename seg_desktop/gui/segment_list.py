"""The segment list: every rule segment with its member count, and the two tier strategies.

The left pane of the main window. It only shows what the office has saved and asks the
session to change it (rename, duplicate, delete); what a segment *is* stays in
``core.rules`` and the store.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Iterable

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QFont,
    QKeySequence,
    QResizeEvent,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QStyle,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.tiers import StrategyKind
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import RunSummary, SegmentInfo

__all__ = [
    "NODE_KIND_ROLE",
    "SEGMENT_ID_ROLE",
    "STRATEGY_KIND_ROLE",
    "ConfirmFn",
    "NodeKind",
    "SegmentListModel",
    "SegmentListPanel",
    "WarnFn",
    "copy_name",
    "format_recomputed",
]

NODE_KIND_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item data role: the :class:`NodeKind` value of a row."""
SEGMENT_ID_ROLE = Qt.ItemDataRole.UserRole + 2
"""Item data role: the segment id of a segment row."""
STRATEGY_KIND_ROLE = Qt.ItemDataRole.UserRole + 3
"""Item data role: the strategy kind value of a strategy or tier row."""

ConfirmFn = Callable[[str, str], bool]
"""``confirm(title, text) -> bool``: ask the user a yes/no question."""
WarnFn = Callable[[str, str], None]
"""``warn(title, text)``: tell the user why something was refused."""


class NodeKind(enum.StrEnum):
    """What a row of the segment list stands for."""

    SECTION = "section"
    SEGMENT = "segment"
    STRATEGY = "strategy"
    TIER = "tier"


class _Column(enum.IntEnum):
    NAME = 0
    CLIENTS = 1
    RECOMPUTED = 2


_HEADERS = ("Name", "Clients", "Recomputed")


def format_recomputed(when: dt.datetime | None) -> str:
    """A recompute time in full ("2026-11-25 14:02"), or "never"."""
    return "never" if when is None else when.strftime("%Y-%m-%d %H:%M")


def _short_time(when: dt.datetime | None) -> str:
    # The column is narrow in a side pane; the tooltip has the full date.
    if when is None:
        return "never"
    return f"{when.day} {_MONTHS[when.month - 1]} {when:%H:%M}"


# Spelt out rather than strftime("%b"), which follows the process locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def copy_name(name: str, taken: Iterable[str]) -> str:
    """The name for a duplicate: "Copy of X", or "Copy of X (2)", ... when that is taken."""
    taken_names = {existing.strip() for existing in taken}
    base = f"Copy of {name.strip()}"
    candidate, number = base, 2
    while candidate in taken_names:
        candidate = f"{base} ({number})"
        number += 1
    return candidate


def _count_text(count: int | None) -> str:
    return "—" if count is None else f"{count:,}"


class SegmentListModel(QStandardItemModel):
    """Two sections: "Segments" (name, member count, recomputed) and "Tier strategies".

    Rows carry their meaning in :data:`NODE_KIND_ROLE`, :data:`SEGMENT_ID_ROLE` and
    :data:`STRATEGY_KIND_ROLE`. Only a segment's name is editable; an edit does not change
    the model but emits :attr:`rename_requested`, and the list shows the new name once the
    office has saved it (the store has the last word on names).
    """

    rename_requested = Signal(int, str)
    """(segment id, new name) typed in place."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(_HEADERS), parent)
        self.setHorizontalHeaderLabels(list(_HEADERS))
        self._segments_section = self._section("Segments")
        self._strategies_section = self._section("Tier strategies")
        self._segments: list[SegmentInfo] = []

    def _section(self, title: str) -> QStandardItem:
        item = QStandardItem(title)
        font = QFont()
        font.setBold(True)
        item.setFont(font)
        item.setData(NodeKind.SECTION.value, NODE_KIND_ROLE)
        # A heading, not something to act on: it can be expanded but never selected.
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.appendRow([item, *self._blank_cells(2)])
        return item

    @staticmethod
    def _blank_cells(count: int) -> list[QStandardItem]:
        cells = []
        for _ in range(count):
            cell = QStandardItem()
            cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
            cells.append(cell)
        return cells

    # --- filling ------------------------------------------------------------------------

    @property
    def segments(self) -> list[SegmentInfo]:
        """The segments shown, in list order."""
        return list(self._segments)

    def set_segments(self, segments: Iterable[SegmentInfo]) -> None:
        """Show these segments (replacing the ones shown)."""
        self._segments = list(segments)
        section = self._segments_section
        section.removeRows(0, section.rowCount())
        for info in self._segments:
            section.appendRow(self._segment_row(info))
        section.setText(f"Segments ({len(self._segments)})")

    def _segment_row(self, info: SegmentInfo) -> list[QStandardItem]:
        recomputed = format_recomputed(info.recomputed_at)
        described = info.definition.description or info.definition.name
        tooltip = f"{described}\n{_count_text(info.member_count)} clients, recomputed {recomputed}"
        name = QStandardItem(info.definition.name)
        name.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable
        )
        count = self._cell(_count_text(info.member_count), align_right=True)
        when = self._cell(_short_time(info.recomputed_at))
        for cell in (name, count, when):
            cell.setData(NodeKind.SEGMENT.value, NODE_KIND_ROLE)
            cell.setData(info.id, SEGMENT_ID_ROLE)
            cell.setToolTip(tooltip)
        return [name, count, when]

    def set_run(self, run: RunSummary | None) -> None:
        """Show each strategy's tier counts from this run ("no run yet" when None)."""
        section = self._strategies_section
        section.removeRows(0, section.rowCount())
        for kind in StrategyKind:
            section.appendRow(self._strategy_rows(kind, run))

    def _strategy_rows(self, kind: StrategyKind, run: RunSummary | None) -> list[QStandardItem]:
        name = self._cell(kind.label)
        tiers = None if run is None else run.tiers.get(kind)
        if run is None:
            status, tooltip = "no run yet", "Run Segmentation to see how many are in each tier"
        elif tiers is None:
            status, tooltip = "not in run", "This strategy was not active in the current run"
        else:
            status = f"{sum(tier.count for tier in tiers):,}"
            tooltip = f"Current run of {format_recomputed(run.created_at)}"
        count = self._cell(status, align_right=True)
        when = self._cell("" if run is None else _short_time(run.created_at))
        for cell in (name, count, when):
            cell.setData(NodeKind.STRATEGY.value, NODE_KIND_ROLE)
            cell.setData(kind.value, STRATEGY_KIND_ROLE)
            cell.setToolTip(tooltip)
        # Highest tier first: the way an office reads a tier table (Gold, Silver, Bronze).
        for tier in reversed(tiers or []):
            tier_cells = [
                self._cell(tier.name),
                self._cell(f"{tier.count:,}", align_right=True),
                self._cell(""),
            ]
            for cell in tier_cells:
                cell.setData(NodeKind.TIER.value, NODE_KIND_ROLE)
                cell.setData(kind.value, STRATEGY_KIND_ROLE)
                cell.setToolTip(tooltip)
            name.appendRow(tier_cells)
        return [name, count, when]

    @staticmethod
    def _cell(text: str, *, align_right: bool = False) -> QStandardItem:
        cell = QStandardItem(text)
        cell.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        if align_right:
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return cell

    # --- lookups ------------------------------------------------------------------------

    def segments_index(self) -> QModelIndex:
        """The index of the "Segments" heading."""
        return self._segments_section.index()

    def strategies_index(self) -> QModelIndex:
        """The index of the "Tier strategies" heading."""
        return self._strategies_section.index()

    def index_of_segment(self, segment_id: int) -> QModelIndex:
        """The name cell of a segment's row (invalid if it is not listed)."""
        section = self._segments_section
        for row in range(section.rowCount()):
            child = section.child(row, _Column.NAME)
            if child is not None and child.data(SEGMENT_ID_ROLE) == segment_id:
                return child.index()
        return QModelIndex()

    def index_of_strategy(self, kind: StrategyKind) -> QModelIndex:
        """The name cell of a strategy's row."""
        section = self._strategies_section
        for row in range(section.rowCount()):
            child = section.child(row, _Column.NAME)
            if child is not None and child.data(STRATEGY_KIND_ROLE) == kind.value:
                return child.index()
        return QModelIndex()

    def segment_info(self, segment_id: int) -> SegmentInfo | None:
        """The shown segment with this id, if any."""
        return next((info for info in self._segments if info.id == segment_id), None)

    # --- editing ------------------------------------------------------------------------

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: object,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        """Turn an in-place edit of a segment name into :attr:`rename_requested`."""
        if (
            role == Qt.ItemDataRole.EditRole
            and index.isValid()
            and index.column() == _Column.NAME
            and index.data(NODE_KIND_ROLE) == NodeKind.SEGMENT.value
        ):
            segment_id = index.data(SEGMENT_ID_ROLE)
            if isinstance(value, str) and value != index.data():
                self.rename_requested.emit(int(segment_id), value)
            # The name changes when the office has saved it and the list refreshes.
            return False
        return super().setData(index, value, role)


def _ask_with_message_box(parent: QWidget) -> ConfirmFn:
    def confirm(title: str, text: str) -> bool:
        answer = QMessageBox.question(
            parent,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    return confirm


def _warn_with_message_box(parent: QWidget) -> WarnFn:
    def warn(title: str, text: str) -> None:
        QMessageBox.warning(parent, title, text)

    return warn


class SegmentListPanel(QWidget):
    """The segment list with New, Rename, Duplicate and Delete.

    ``confirm`` and ``warn`` default to message boxes; tests (or a different front end)
    pass their own. The list re-reads the office whenever the session announces that
    segments, the current run or the strategies changed.
    """

    segment_selected = Signal(int)
    """A segment (by id) was selected or clicked: show its members."""
    edit_requested = Signal(int)
    """The user asked to edit a segment's definition (double-click, Enter, Edit Definition)."""
    strategy_selected = Signal(str)
    """A tier strategy (by kind value, "individual" / "group") or one of its tiers was selected."""
    new_requested = Signal()
    """The user asked for a new segment (the editor should open a blank one)."""
    loaded = Signal()
    """The segments and the current run were (re)read and are shown."""

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        confirm: ConfirmFn | None = None,
        warn: WarnFn | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.confirm: ConfirmFn = confirm or _ask_with_message_box(self)
        self.warn: WarnFn = warn or _warn_with_message_box(self)
        self._refreshing = False
        self._selected: tuple[NodeKind, object] | None = None
        self._pending_select: int | None = None
        self._pending_quiet = False

        self.model = SegmentListModel(self)
        self.model.rename_requested.connect(self._rename_to)

        self.view = QTreeView(self)
        self.view.setObjectName("segment_list_view")
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # A click shows the segment's members, a double-click (or Enter) opens its
        # definition; renaming in place is F2 / Rename, never a double-click.
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.view.setUniformRowHeights(True)
        self.view.setAllColumnsShowFocus(True)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(_Column.NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(_Column.CLIENTS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_Column.RECOMPUTED, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        # Clicking the row already selected shows it again (the user may be on another tab).
        self.view.clicked.connect(self._clicked)
        style = self.view.style()
        single_click = style.styleHint(
            QStyle.StyleHint.SH_ItemView_ActivateItemOnSingleClick, None, self.view
        )
        # Where a single click "activates" (some desktops), only a double-click edits.
        if single_click:
            self.view.doubleClicked.connect(self._activated)
        else:
            self.view.activated.connect(self._activated)

        self.new_action = self._action(
            "new", "&New Segment", "Create a new rule segment", self._new
        )
        self.new_action.setShortcut(QKeySequence.StandardKey.New)
        self.edit_action = self._action(
            "edit_definition",
            "&Edit Definition…",
            "Open the selected segment's criteria in the editor (double-click or Enter)",
            self.edit_selected,
        )
        self.rename_action = self._action(
            "rename", "&Rename", "Rename the selected segment", self.rename
        )
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.duplicate_action = self._action(
            "duplicate", "D&uplicate", "Copy the selected segment under a new name", self.duplicate
        )
        self.duplicate_action.setShortcut(QKeySequence("Ctrl+D"))
        self.delete_action = self._action(
            "delete",
            "&Delete",
            "Delete the selected segment (clients are not touched)",
            self.delete,
        )
        self.delete_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        # New works anywhere in the window; the other three act on the list's selection, so
        # their keys (F2, Delete) must not fire while the user types in another pane.
        self.addAction(self.new_action)
        self.view.addAction(self.edit_action)
        for action in (self.rename_action, self.duplicate_action, self.delete_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
        self.undo_delete_action = self._action(
            "undo_delete",
            "&Undo Delete",
            "Create the deleted segment again with its definition",
            self.undo_delete,
        )
        self.undo_delete_action.setEnabled(False)
        self._deleted: SegmentInfo | None = None
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for action in (
            self.new_action,
            self.rename_action,
            self.duplicate_action,
            self.delete_action,
        ):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setObjectName(f"{action.objectName()}_button")
            buttons.addWidget(button)
        buttons.addStretch(1)

        # After a delete: "Deleted 'X'. [Undo]" until the user undoes or deletes another.
        self.undo_bar = QWidget(self)
        self.undo_bar.setObjectName("segment_undo_bar")
        self.undo_label = QLabel(self.undo_bar)
        self.undo_label.setObjectName("segment_undo_label")
        self.undo_label.setWordWrap(True)
        undo_button = QToolButton(self.undo_bar)
        undo_button.setObjectName("undo_delete_button")
        undo_button.setDefaultAction(self.undo_delete_action)
        undo_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        undo_row = QHBoxLayout(self.undo_bar)
        undo_row.setContentsMargins(0, 0, 0, 0)
        undo_row.addWidget(self.undo_label, 1)
        undo_row.addWidget(undo_button)
        self.undo_bar.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 0, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.undo_bar)

        session.changed.connect(self._office_changed)
        self.loading = True
        """True until the first load has arrived (the list is empty meanwhile)."""
        self.refresh()
        self.view.expandAll()
        self._update_actions()

    def sizeHint(self) -> QSize:
        """Wide enough for the three columns without cutting a segment's name."""
        hint = super().sizeHint()
        return QSize(max(hint.width(), 360, self.needed_width()), hint.height())

    def needed_width(self) -> int:
        """The width that shows every listed name and the two number columns in full."""
        metrics = self.view.fontMetrics()
        indent = self.view.indentation() * 2  # section → segment, strategy → tier
        names = [s.definition.name for s in self.model.segments] + [k.label for k in StrategyKind]
        name_width = max((metrics.horizontalAdvance(n) for n in names), default=0) + indent + 16
        header = self.view.header()
        others = sum(
            max(header.sectionSizeHint(column), self.view.sizeHintForColumn(column))
            for column in (_Column.CLIENTS, _Column.RECOMPUTED)
        )
        frame = self.view.frameWidth() * 2 + self.view.verticalScrollBar().sizeHint().width()
        layout = self.layout()
        margins = None if layout is None else layout.contentsMargins()
        extra = 0 if margins is None else margins.left() + margins.right()
        return name_width + others + frame + extra

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep every name whole when the pane is narrow (see `_fit_columns`)."""
        super().resizeEvent(event)
        self._fit_columns()

    def changeEvent(self, event: QEvent) -> None:
        """A new font changes how wide the names are."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_columns()

    def _fit_columns(self) -> None:
        """Hide the Recomputed column when the names would be cut without its room.

        Names matter more than the time, and each row's tooltip still has it.
        """
        metrics = self.view.fontMetrics()
        names = [s.definition.name for s in self.model.segments] + [k.label for k in StrategyKind]
        # indentation: a segment sits one level in, a tier two; 12 for the cell's padding
        widest = (
            max((metrics.horizontalAdvance(name) for name in names), default=0)
            + self.view.indentation() * 2
            + 12
        )
        header = self.view.header()
        room = self.view.viewport().width() - header.sectionSize(_Column.CLIENTS)
        recomputed_width = max(
            header.sectionSizeHint(_Column.RECOMPUTED),
            self.view.sizeHintForColumn(_Column.RECOMPUTED),
        )
        hide = room - recomputed_width < widest
        if header.isSectionHidden(_Column.RECOMPUTED) != hide:
            header.setSectionHidden(_Column.RECOMPUTED, hide)

    def _action(self, name: str, text: str, tip: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"{name}_action")
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    # --- reading the office ----------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        if changes.touches(Area.SEGMENTS, Area.RUN, Area.STRATEGIES, Area.SETTINGS, Area.DATE):
            self.refresh()

    def refresh(self, *_args: object) -> None:
        """Re-read the segments and the current run on the worker; `loaded` when shown."""
        office = self.session.office

        def work(_p: ProgressFn, _c: CancelledFn) -> tuple[list[SegmentInfo], RunSummary | None]:
            return office.segments(), office.current_run()

        self.session.submit(
            "Loading segments",
            work,
            self._loaded,
            background=True,
            key=f"segment-list-{id(self)}",
        )

    def _loaded(self, result: tuple[list[SegmentInfo], RunSummary | None]) -> None:
        """Show what was read, keeping the selection where it can."""
        segments, run = result
        selected = self._selected
        expanded = self._expanded_strategies()
        first = self.loading
        self.loading = False
        self._refreshing = True
        try:
            self.model.set_segments(segments)
            self.model.set_run(run)
            # The two headings are never rebuilt, so the view keeps them open or closed;
            # the strategy rows are new and take back the state their old rows had.
            for kind in expanded:
                self.view.expand(self.model.index_of_strategy(kind))
            restored = self._index_for(selected)
            if restored.isValid():
                self.view.setCurrentIndex(restored)
            else:
                self.view.clearSelection()
        finally:
            self._refreshing = False
        # A row that vanished (deleted elsewhere) is no longer selected.
        self._selected = self._node_of(self._selected_index())
        if first:
            self.view.expandAll()
        self.updateGeometry()  # a longer name may need a wider pane
        self._fit_columns()
        self._update_actions()
        pending, self._pending_select = self._pending_select, None
        if pending is not None and self._pending_quiet:
            self.mark_segment(pending)  # saved in the editor: select, do not announce
        elif pending is not None and self.model.index_of_segment(pending).isValid():
            self.select_segment(pending)  # saved just now: its row is here at last
        self.loaded.emit()

    def _expanded_strategies(self) -> list[StrategyKind]:
        # Before the first fill there are no strategy rows: open them all.
        return [
            kind
            for kind in StrategyKind
            if not self.model.index_of_strategy(kind).isValid()
            or self.view.isExpanded(self.model.index_of_strategy(kind))
        ]

    def _index_for(self, node: tuple[NodeKind, object] | None) -> QModelIndex:
        if node is None:
            return QModelIndex()
        kind, key = node
        if kind is NodeKind.SEGMENT and isinstance(key, int):
            return self.model.index_of_segment(key)
        if kind is NodeKind.STRATEGY and isinstance(key, str):
            return self.model.index_of_strategy(StrategyKind(key))
        return QModelIndex()

    # --- selection ------------------------------------------------------------------------

    def _selected_index(self) -> QModelIndex:
        rows = self.view.selectionModel().selectedRows(_Column.NAME)
        return rows[0] if rows else QModelIndex()

    @staticmethod
    def _node_of(index: QModelIndex) -> tuple[NodeKind, object] | None:
        if not index.isValid():
            return None
        kind = NodeKind(index.data(NODE_KIND_ROLE))
        if kind is NodeKind.SEGMENT:
            return kind, int(index.data(SEGMENT_ID_ROLE))
        if kind in (NodeKind.STRATEGY, NodeKind.TIER):
            # A tier row selects its strategy: the tier view shows the whole strategy.
            return NodeKind.STRATEGY, str(index.data(STRATEGY_KIND_ROLE))
        return None

    def _clicked(self, index: QModelIndex) -> None:
        node = self._node_of(index.siblingAtColumn(_Column.NAME))
        if node is None or node != self._selected:
            return  # a new row: its selection change has announced it
        kind, key = node
        if kind is NodeKind.SEGMENT and isinstance(key, int):
            self.segment_selected.emit(key)
        elif isinstance(key, str):
            self.strategy_selected.emit(key)

    def _activated(self, index: QModelIndex) -> None:
        node = self._node_of(index.siblingAtColumn(_Column.NAME))
        if node is not None and node[0] is NodeKind.SEGMENT and isinstance(node[1], int):
            self.edit_requested.emit(node[1])

    def edit_selected(self) -> None:
        """Ask for the selected segment's definition in the editor."""
        segment_id = self.selected_segment_id()
        if segment_id is not None:
            self.edit_requested.emit(segment_id)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._update_actions()
        if self._refreshing:
            return
        node = self._node_of(self._selected_index())
        if node == self._selected:
            return
        self._selected = node
        if node is None:
            return
        kind, key = node
        if kind is NodeKind.SEGMENT:
            self.segment_selected.emit(key)
        else:
            self.strategy_selected.emit(key)

    def selected_segment_id(self) -> int | None:
        """The id of the selected segment, or None when no segment is selected."""
        node = self._node_of(self._selected_index())
        if node is None or node[0] is not NodeKind.SEGMENT:
            return None
        key = node[1]
        return key if isinstance(key, int) else None

    def selected_segment(self) -> SegmentInfo | None:
        """The selected segment as the list last read it."""
        segment_id = self.selected_segment_id()
        return None if segment_id is None else self.model.segment_info(segment_id)

    def segment_info(self, segment_id: int) -> SegmentInfo | None:
        """A listed segment by id (as the list last read it)."""
        return self.model.segment_info(segment_id)

    def select_segment(self, segment_id: int) -> bool:
        """Select a segment's row (emits segment_selected if it was not selected).

        A segment not listed yet (saved just now; the list reloads after the
        save's Changes) is selected when the next load shows it.
        """
        index = self.model.index_of_segment(segment_id)
        if not index.isValid():
            self._pending_select, self._pending_quiet = segment_id, False
            return False
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    def mark_segment(self, segment_id: int) -> bool:
        """Select a segment's row without announcing it (the editor just saved it)."""
        if not self.model.index_of_segment(segment_id).isValid():
            self._pending_select, self._pending_quiet = segment_id, True
            return False
        self._selected = (NodeKind.SEGMENT, segment_id)  # so the change announces nothing
        return self.select_segment(segment_id)

    def select_strategy(self, kind: StrategyKind) -> None:
        """Select a strategy's row (emits strategy_selected if it was not selected)."""
        index = self.model.index_of_strategy(kind)
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def _update_actions(self) -> None:
        has_segment = self.selected_segment_id() is not None
        for action in (
            self.edit_action,
            self.rename_action,
            self.duplicate_action,
            self.delete_action,
        ):
            action.setEnabled(has_segment)

    # --- actions --------------------------------------------------------------------------

    def _new(self) -> None:
        self.new_requested.emit()

    def rename(self) -> None:
        """Start editing the selected segment's name in place."""
        index = self.model.index_of_segment(self.selected_segment_id() or -1)
        if index.isValid():
            self.view.setFocus()
            self.view.edit(index)

    def _rename_to(self, segment_id: int, new_name: str) -> None:
        info = self.model.segment_info(segment_id)
        if info is None:
            return
        name = new_name.strip()
        if name == info.definition.name:
            return
        if not name:
            self.warn("Rename segment", "A segment needs a name.")
            return
        if any(s.definition.name == name for s in self.model.segments if s.id != segment_id):
            self.warn("Rename segment", f"A segment named '{name}' already exists.")
            return
        renamed = dataclasses.replace(info.definition, name=name)
        self.session.save_segment(renamed, segment_id, None, self._failed("Rename segment"))

    def duplicate(self) -> None:
        """Save a copy of the selected segment as "Copy of …" and select the copy."""
        info = self.selected_segment()
        if info is None:
            return
        taken = [s.definition.name for s in self.model.segments]
        copy = dataclasses.replace(info.definition, name=copy_name(info.definition.name, taken))
        self.session.save_segment(copy, None, self._select_saved, self._failed("Duplicate segment"))

    def _select_saved(self, segment_id: int) -> None:
        # The save's Changes asked for a reload, which comes after this: select it then.
        self.select_segment(segment_id)

    def delete_message(self, name: str) -> str:
        """The confirmation text for deleting a segment."""
        return (
            f"Delete the segment '{name}'?\n\n"
            "Only the segment's definition and membership list are removed. "
            "No client, tag or revenue record is changed or deleted. "
            "You can undo the delete from the segment list."
        )

    def delete(self) -> None:
        """Delete the selected segment after the user confirms."""
        info = self.selected_segment()
        if info is None:
            return
        if not self.confirm("Delete segment", self.delete_message(info.definition.name)):
            return

        def deleted(_changes: Changes) -> None:
            self._deleted = info
            self.undo_label.setText(f"Deleted '{info.definition.name}'.")
            self.undo_delete_action.setEnabled(True)
            self.undo_bar.setVisible(True)

        self.session.delete_segment(info.id, deleted)

    def undo_delete(self) -> None:
        """Create the segment deleted last again, with its definition (members recomputed)."""
        info, self._deleted = self._deleted, None
        self.undo_bar.setVisible(False)
        self.undo_delete_action.setEnabled(False)
        if info is None:
            return
        if any(s.definition.name == info.definition.name for s in self.model.segments):
            self.warn(
                "Undo delete",
                f"A segment named '{info.definition.name}' exists again; nothing was created.",
            )
            return
        self.session.save_segment(
            info.definition, None, self._select_saved, self._failed("Undo delete")
        )

    def _failed(self, title: str) -> Callable[[BaseException, str], None]:
        """Show a failed rename or copy here, where the user acted."""

        def failed(error: BaseException, _trace: str) -> None:
            self.warn(title, f"Nothing was changed: {error}")

        return failed

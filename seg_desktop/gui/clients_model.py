"""The clients table: a read-only model over a ClientTable and a numpy sort/filter proxy.

At 250,000 clients a ``QSortFilterProxyModel`` calls back into Python for every
comparison (``lessThan``) and every row (``filterAcceptsRow``): seconds per
click. So :class:`ClientsProxyModel` keeps the visible rows as one numpy index
array instead: a sort is one ``np.lexsort`` over a precomputed key array, a
segment filter one ``np.isin``, and only the rows on screen ever reach Python.

The keys (:class:`ClientTableKeys`) are plain numpy and Python, with no Qt, so
the view builds them on the worker thread together with the table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import (
    QAbstractProxyModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap, QPolygonF

from seg_desktop.core.money import format_money
from seg_desktop.io.export import Column
from seg_desktop.io.exporting import EXPORT_COLUMNS
from seg_desktop.store.records import TEXT_COLUMNS, ClientTable, TierChange

__all__ = [
    "CLIENT_ID_ROLE",
    "COLUMNS",
    "SORT_ROLE",
    "ClientTableKeys",
    "ClientsProxyModel",
    "ClientsTableModel",
    "SortKey",
    "column_of",
]

COLUMNS: tuple[Column, ...] = EXPORT_COLUMNS
"""The table's columns: the SPEC's export columns, so the table and its export agree."""

SORT_ROLE = int(Qt.ItemDataRole.UserRole)
"""Item data role: the cell's raw value (cents as int, a date, text, or None)."""
CLIENT_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Item data role: the row's client id."""

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_NUMBER_ALIGNMENT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_TIER_COLUMN = next(i for i, column in enumerate(COLUMNS) if column.key == "tier")

Index = QModelIndex | QPersistentModelIndex
IntArray = npt.NDArray[np.int64]
RowArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


def column_of(key: str) -> int:
    """The column number of an export column key ("total_revenue" -> 6)."""
    for number, column in enumerate(COLUMNS):
        if column.key == key:
            return number
    raise KeyError(key)


# --- keys: plain numpy, built once per table (on the worker) --------------------------------


@dataclass(frozen=True)
class SortKey:
    """A column as numbers that sort like it: ``values`` ascending, ``missing`` rows go last."""

    values: IntArray
    missing: BoolArray


def _text_key(texts: Sequence[str | None]) -> SortKey:
    # Case-insensitive, and equal texts share a rank so that a descending sort keeps
    # them in ref order like an ascending one does (stability both ways).
    folded = [text.casefold() if text else "" for text in texts]
    rank = {text: position for position, text in enumerate(sorted(set(folded)))}
    values = np.fromiter((rank[text] for text in folded), dtype=np.int64, count=len(folded))
    missing = values == rank[""] if "" in rank else np.zeros(len(folded), dtype=np.bool_)
    return SortKey(values, missing)


def _number_key(values: IntArray, present: BoolArray | None = None) -> SortKey:
    if present is None:
        return SortKey(values, np.zeros(len(values), dtype=np.bool_))
    # Zero where missing, so negating for a descending sort never overflows.
    return SortKey(np.where(present, values, 0), ~present)


def _date_key(days: npt.NDArray[np.datetime64]) -> SortKey:
    missing = np.isnat(days)
    return SortKey(np.where(missing, 0, days.view(np.int64)), missing)


class ClientTableKeys:
    """A ClientTable's sort keys and search text, computed once so sorting never waits on Python.

    Build it off the GUI thread (it costs about a second at 250,000 clients, most
    of it ranking names and emails); it holds no Qt object.
    """

    def __init__(self, table: ClientTable) -> None:
        self.table = table
        keys: dict[str, SortKey] = {}
        for key in TEXT_COLUMNS:
            keys[key] = _text_key(getattr(table, key))
        keys["total_revenue"] = _number_key(table.total_revenue)
        keys["invoice_count"] = _number_key(table.invoice_count)
        keys["average_invoice_amount"] = _number_key(
            table.average_invoice_amount, table.has_average_invoice_amount
        )
        keys["production"] = _number_key(table.production, table.has_production)
        keys["first_invoice_date"] = _date_key(table.first_invoice_date)
        keys["last_invoice_date"] = _date_key(table.last_invoice_date)
        self._keys = keys
        # One lowercase text per client; a list rather than a numpy string array,
        # whose fixed width (the longest name) could cost gigabytes.
        self.search_text: list[str] = [
            f"{ref}\n{name}\n{email or ''}".casefold()
            for ref, name, email in zip(table.ref, table.name, table.email, strict=True)
        ]
        self._ids_sorted = np.argsort(table.client_id, kind="stable")

    def sort_key(self, column: int) -> SortKey:
        """The sort key of a column number."""
        return self._keys[COLUMNS[column].key]

    def sorted_rows(self, column: int, order: Qt.SortOrder) -> RowArray:
        """Every row in sort order: stable, empty values last in both directions."""
        key = self.sort_key(column)
        descending = order == Qt.SortOrder.DescendingOrder
        primary = -key.values if descending else key.values
        # lexsort sorts by the last key first: missing-ness, then the value; it is stable.
        rows: RowArray = np.lexsort((primary, key.missing)).astype(np.intp)
        return rows

    def matching(self, words: Sequence[str], rows: RowArray | None = None) -> BoolArray:
        """Which rows hold every word in their ref, name or email (words casefolded).

        Only ``rows`` are tested when given (the others are False): typing narrows
        the previous matches instead of searching everything again.
        """
        texts = self.search_text
        # One word at a time over the rows still in: a plain `in` per row is the
        # fastest test Python has (no per-row generator), and each word shrinks the
        # rows the next one looks at.
        hits: list[int] | None = None if rows is None else rows.tolist()
        for word in words:
            if hits is None:
                hits = [row for row, text in enumerate(texts) if word in text]
            else:
                hits = [row for row in hits if word in texts[row]]
        mask = np.zeros(len(texts), dtype=np.bool_)
        if hits is None:
            mask[:] = True
        else:
            mask[hits] = True
        return mask

    def rows_of_clients(self, client_ids: Collection[int]) -> RowArray:
        """The rows of the given client ids that are in the table."""
        ids = np.fromiter(client_ids, dtype=np.int64, count=len(client_ids))
        rows: RowArray = np.flatnonzero(np.isin(self.table.client_id, ids)).astype(np.intp)
        return rows

    def row_of_client(self, client_id: int) -> int | None:
        """The row of a client id, or None."""
        ids = self.table.client_id
        position = int(np.searchsorted(ids[self._ids_sorted], client_id))
        if position < len(ids) and ids[self._ids_sorted[position]] == client_id:
            return int(self._ids_sorted[position])
        return None


# --- the source model -------------------------------------------------------------------------


_ARROWS: dict[bool, QIcon] = {}


def _arrow_icon(up: bool) -> QIcon:
    """A small green up or red down triangle: the client's tier moved since the previous run."""
    icon = _ARROWS.get(up)
    if icon is None:
        pixmap = QPixmap(12, 12)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#1b873f") if up else QColor("#c62828"))
        points = [QPointF(6, 1), QPointF(11, 10), QPointF(1, 10)]
        if not up:
            points = [QPointF(1, 2), QPointF(11, 2), QPointF(6, 11)]
        painter.drawPolygon(QPolygonF(points))
        painter.end()
        icon = _ARROWS[up] = QIcon(pixmap)
    return icon


class ClientsTableModel(QAbstractTableModel):
    """Every client of a ClientTable, one row each in ref order, with the SPEC's columns.

    Money shows grouped with two decimals and numbers right-aligned; dates are
    ISO; an empty value is a blank cell. ``SORT_ROLE`` gives the raw value and
    ``CLIENT_ID_ROLE`` the client id. A manually pinned tier is italic, with
    the computed tier in its tooltip.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._italic = QFont()
        self._italic.setItalic(True)
        self._changes: dict[int, TierChange] = {}
        self._set(ClientTableKeys(ClientTable.empty()))

    @property
    def table(self) -> ClientTable:
        """The table shown."""
        return self._keys.table

    @property
    def keys(self) -> ClientTableKeys:
        """The table's sort keys and search text."""
        return self._keys

    def set_table(
        self,
        table: ClientTable,
        keys: ClientTableKeys | None = None,
        changes: Mapping[int, TierChange] | None = None,
    ) -> None:
        """Show another table (a reset); ``keys`` are built here when not given.

        ``changes`` marks the clients whose tier moved since the previous run
        (an arrow after the tier, the old tier in the tooltip).
        """
        if keys is None or keys.table is not table:
            keys = ClientTableKeys(table)
        self.beginResetModel()
        self._set(keys)
        self._changes = dict(changes or {})
        self.endResetModel()

    def tier_change(self, client_id: int) -> TierChange | None:
        """How a client's tier moved since the previous run (None: it did not)."""
        return self._changes.get(client_id)

    def changed_count(self) -> int:
        """How many clients changed tier since the previous run."""
        return len(self._changes)

    def _set(self, keys: ClientTableKeys) -> None:
        self._keys = keys
        self._display = [_display_function(keys.table, column) for column in COLUMNS]
        self._numeric = [column.kind != "text" for column in COLUMNS]

    def client_id_at(self, row: int) -> int:
        """The client id of a row."""
        return int(self.table.client_id[row])

    def row_of_client(self, client_id: int) -> int | None:
        """The row of a client id, or None when it is not in the table."""
        return self._keys.row_of_client(client_id)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Number of clients (0 under any item: the table is flat)."""
        return 0 if parent.isValid() else len(self.table)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Selectable, read-only cells."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        """A cell's value for a role."""
        if not index.isValid():
            return None
        return self.cell(index.row(), index.column(), role)

    def cell(self, row: int, column: int, role: int) -> Any:
        """A cell by row and column number (what the proxy calls, without building an index)."""
        if role == _DISPLAY:
            return self._display[column](row)
        if role == _DECORATION:
            if column != _TIER_COLUMN or not self._changes:
                return None
            change = self._changes.get(int(self.table.client_id[row]))
            return None if change is None else _arrow_icon(change.moved_up)
        if role == _ALIGNMENT:
            return _NUMBER_ALIGNMENT if self._numeric[column] else None
        if role == SORT_ROLE:
            return self.table.value(COLUMNS[column].key, row)
        if role == CLIENT_ID_ROLE:
            return int(self.table.client_id[row])
        if column == _TIER_COLUMN and role in (_TOOLTIP, _FONT):
            computed = self.table.computed_tier[row]
            change = self._changes.get(int(self.table.client_id[row])) if self._changes else None
            if role == _FONT:
                return self._italic if computed is not None else None
            notes = []
            if computed is not None:
                notes.append(f"Pinned by hand; the computed tier is {computed}")
            if change is not None:
                way = "Moved up" if change.moved_up else "Moved down"
                notes.append(f"{way} from {change.old_tier} since the previous run")
            return "\n".join(notes) or None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        """Column titles; rows are numbered from 1."""
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(COLUMNS):
                return None
            if role == _DISPLAY:
                return COLUMNS[section].title
            if role == _ALIGNMENT:
                return _NUMBER_ALIGNMENT if self._numeric[section] else None
            return None
        if role == _DISPLAY and 0 <= section < len(self.table):
            return str(section + 1)
        return None


def _display_function(table: ClientTable, column: Column) -> Callable[[int], str]:
    key = column.key
    if column.kind == "text":
        texts: tuple[str | None, ...] = getattr(table, key)
        return lambda row: texts[row] or ""
    if column.kind == "date":
        days: npt.NDArray[np.datetime64] = getattr(table, key)
        # str() of a datetime64[D] is its ISO date; NaT is "no date".
        return lambda row: "" if np.isnat(day := days[row]) else str(day)
    if column.kind == "integer":
        counts: IntArray = getattr(table, key)
        return lambda row: f"{int(counts[row]):,}"
    amounts: IntArray = getattr(table, key)
    present: BoolArray | None = {
        "average_invoice_amount": table.has_average_invoice_amount,
        "production": table.has_production,
    }.get(key)
    if present is None:
        return lambda row: format_money(int(amounts[row]))
    flags = present
    return lambda row: format_money(int(amounts[row])) if flags[row] else ""


# --- the proxy --------------------------------------------------------------------------------


class ClientsProxyModel(QAbstractProxyModel):
    """Sorts and filters a ClientsTableModel with numpy: by segment members and by search text.

    The visible rows are one array of source rows in display order. Sorting is
    stable with empty values last in both directions; "sort column -1" is the
    source's ref order. The filters combine: a set of member client ids (a
    segment) and search words, each of which must occur in the client's ref,
    name or email, ignoring case. A sort keeps the selection (a layout change);
    a filter change is a reset.
    """

    def __init__(self, source: ClientsTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._words: tuple[str, ...] = ()
        self._member_ids: IntArray | None = None
        self._apply_keys()
        super().setSourceModel(source)
        source.modelAboutToBeReset.connect(self.beginResetModel)
        source.modelReset.connect(self._source_reset)

    # -- state -----------------------------------------------------------------------------

    def _apply_keys(self) -> None:
        """Recompute everything from the source's current table (sort, both filters)."""
        keys = self._source.keys
        count = len(keys.table)
        self._order: RowArray = (
            keys.sorted_rows(self._sort_column, self._sort_order)
            if 0 <= self._sort_column < len(COLUMNS)
            else np.arange(count, dtype=np.intp)
        )
        self._member_mask: BoolArray | None = None
        if self._member_ids is not None:
            self._member_mask = np.isin(keys.table.client_id, self._member_ids)
        self._search_mask: BoolArray | None = keys.matching(self._words) if self._words else None
        self._update_visible()

    def _update_visible(self) -> None:
        mask = self._member_mask
        if self._search_mask is not None:
            mask = self._search_mask if mask is None else mask & self._search_mask
        self._visible: RowArray = self._order if mask is None else self._order[mask[self._order]]
        self._position: RowArray = np.full(len(self._source.keys.table), -1, dtype=np.intp)
        self._position[self._visible] = np.arange(len(self._visible), dtype=np.intp)

    def _source_reset(self) -> None:
        self._apply_keys()
        self.endResetModel()

    # -- filters and sorting -----------------------------------------------------------------

    def set_search_text(self, text: str) -> None:
        """Show only the clients whose ref, name or email hold every word of ``text``."""
        words = tuple(dict.fromkeys(text.casefold().split()))
        if words == self._words:
            return
        keys = self._source.keys
        narrowing = bool(self._words) and all(
            any(old in new for new in words) for old in self._words
        )
        self.beginResetModel()
        if not words:
            self._search_mask = None
        elif narrowing and self._search_mask is not None:
            # Every row matching the new words matched the old ones: test only those.
            self._search_mask = keys.matching(words, np.flatnonzero(self._search_mask))
        else:
            self._search_mask = keys.matching(words)
        self._words = words
        self._update_visible()
        self.endResetModel()

    def search_text(self) -> str:
        """The search words in effect, joined by spaces."""
        return " ".join(self._words)

    def set_member_filter(self, client_ids: Collection[int] | None) -> None:
        """Show only these clients (a segment's members), or every client (None)."""
        self.beginResetModel()
        if client_ids is None:
            self._member_ids = None
            self._member_mask = None
        else:
            self._member_ids = np.fromiter(client_ids, dtype=np.int64, count=len(client_ids))
            self._member_mask = np.isin(self._source.keys.table.client_id, self._member_ids)
        self._update_visible()
        self.endResetModel()

    def has_member_filter(self) -> bool:
        """Whether a member filter (segment) is in effect."""
        return self._member_ids is not None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column (-1: back to ref order), keeping the selection."""
        if not 0 <= column < len(COLUMNS):
            column = -1
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        source_cells = [
            (int(self._visible[index.row()]), index.column()) if index.isValid() else None
            for index in persistent
        ]
        self._sort_column, self._sort_order = column, order
        keys = self._source.keys
        self._order = (
            keys.sorted_rows(column, order)
            if column >= 0
            else np.arange(len(keys.table), dtype=np.intp)
        )
        self._update_visible()
        moved = [
            self.createIndex(int(self._position[cell[0]]), cell[1])
            if cell is not None and self._position[cell[0]] >= 0
            else QModelIndex()
            for cell in source_cells
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def sort_column(self) -> int:
        """The column sorted by (-1: ref order)."""
        return self._sort_column

    def sort_order(self) -> Qt.SortOrder:
        """The sort direction."""
        return self._sort_order

    # -- what the view and the export read ---------------------------------------------------

    def source_rows(self) -> RowArray:
        """The visible rows as source rows, in display order (a read-only array)."""
        rows = self._visible.view()
        rows.flags.writeable = False
        return rows

    def visible_client_ids(self) -> list[int]:
        """The visible clients' ids, in display order."""
        ids: list[int] = self._source.table.client_id[self._visible].tolist()
        return ids

    def client_id_at(self, row: int) -> int:
        """The client id shown on a row."""
        return int(self._source.table.client_id[self._visible[row]])

    def row_of_client(self, client_id: int) -> int | None:
        """The row showing a client, or None when it is filtered out or unknown."""
        source_row = self._source.row_of_client(client_id)
        if source_row is None or self._position[source_row] < 0:
            return None
        return int(self._position[source_row])

    # -- QAbstractProxyModel -------------------------------------------------------------------

    def mapToSource(self, proxy_index: Index) -> QModelIndex:
        """The source cell of a visible cell."""
        if not proxy_index.isValid() or proxy_index.row() >= len(self._visible):
            return QModelIndex()
        return self._source.index(int(self._visible[proxy_index.row()]), proxy_index.column())

    def mapFromSource(self, source_index: Index) -> QModelIndex:
        """The visible cell of a source cell (invalid when filtered out)."""
        if not source_index.isValid() or source_index.row() >= len(self._position):
            return QModelIndex()
        row = int(self._position[source_index.row()])
        return self.createIndex(row, source_index.column()) if row >= 0 else QModelIndex()

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        """The cell at (row, column); the model is flat."""
        if parent.isValid() or not (0 <= row < len(self._visible) and 0 <= column < len(COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column)

    @overload
    def parent(self) -> QObject | None: ...
    @overload
    def parent(self, child: Index) -> QModelIndex: ...
    def parent(self, child: Index | None = None) -> QObject | QModelIndex | None:
        """No cell has a parent (with no argument: the QObject parent)."""
        if child is None:
            return super().parent()
        return QModelIndex()

    def sibling(self, row: int, column: int, index: Index) -> QModelIndex:
        """Another cell of the flat table."""
        return self.index(row, column)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Number of visible clients."""
        return 0 if parent.isValid() else len(self._visible)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """Number of columns."""
        return 0 if parent.isValid() else len(COLUMNS)

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        """Only the root has children, when a client is visible."""
        return not parent.isValid() and len(self._visible) > 0

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        """A visible cell's value, straight from the source row."""
        if not index.isValid() or index.row() >= len(self._visible):
            return None
        return self._source.cell(int(self._visible[index.row()]), index.column(), role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        """As the source."""
        return self._source.flags(index) if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        """Column titles from the source; rows are numbered as shown, from 1."""
        if orientation == Qt.Orientation.Horizontal:
            return self._source.headerData(section, orientation, role)
        if role == _DISPLAY and 0 <= section < len(self._visible):
            return str(section + 1)
        return None

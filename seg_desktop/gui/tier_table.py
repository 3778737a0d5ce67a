"""The tier table: names, monthly and effective limits, and who is in each tier.

The model shows a strategy; an edit typed into it becomes a new strategy
(through the pure edit functions below, which use the rules in core.tiers)
and is handed to the owner's `editor` callback, which records it as one
undoable edit and answers with an error message or None. The model changes
only when the owner shows the new strategy, so the table never disagrees with
the chart or the database.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import replace

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont

from seg_desktop.core.distribution import TierTotal, revenue_share
from seg_desktop.core.money import Cents, MoneyError, format_money, format_plain, parse_money
from seg_desktop.core.tiers import Strategy, StrategyError, Tier, snap_amount, validate_tiers
from seg_desktop.gui.boundary_chart import EFFECTIVE_RED, MONTHLY_BLUE, chart_money, tier_colour

ModelIndex = QModelIndex | QPersistentModelIndex
TierEditor = Callable[[Strategy, str], str | None]
"""editor(new strategy, description of the edit) -> error message, or None when recorded."""


class Column(enum.IntEnum):
    """The table's columns, left to right."""

    NAME = 0
    MONTHLY_LOWER = 1
    MONTHLY_UPPER = 2
    EFFECTIVE_LOWER = 3
    EFFECTIVE_UPPER = 4
    COUNT = 5
    REVENUE = 6
    SHARE = 7


# --- pure edits (no Qt): each returns a new, valid strategy or raises StrategyError -----------


def rename_tier(strategy: Strategy, index: int, name: str) -> Strategy:
    """The strategy with tier `index` renamed (names must stay present and unique)."""
    tiers = list(strategy.tiers)
    tiers[index] = replace(tiers[index], name=name.strip())
    validate_tiers(tiers)
    return replace(strategy, tiers=tuple(tiers))


def set_monthly_limit(strategy: Strategy, index: int, monthly: Cents) -> Strategy:
    """The strategy with tier `index`'s monthly lower limit set, tiers re-sorted by limit.

    Typing a limit past a neighbour's reorders the tiers (each name keeps the
    limit it was given) rather than refusing it; the lowest tier stays at 0.
    """
    if index == 0:
        raise StrategyError(
            f"the lowest tier ('{strategy.tiers[0].name}') always starts at 0; "
            "it also holds everything below 0"
        )
    if monthly <= 0:
        raise StrategyError("only the lowest tier starts at 0; a limit above it must be positive")
    clash = next(
        (t for i, t in enumerate(strategy.tiers) if i != index and t.monthly_lower == monthly),
        None,
    )
    if clash is not None:
        raise StrategyError(f"'{clash.name}' already starts at {format_money(monthly)}")
    tiers = list(strategy.tiers)
    tiers[index] = replace(tiers[index], monthly_lower=monthly)
    tiers.sort(key=lambda tier: tier.monthly_lower)
    validate_tiers(tiers)
    return replace(strategy, tiers=tuple(tiers))


def add_tier(strategy: Strategy, above: int | None = None) -> tuple[Strategy, int]:
    """A new tier above tier `above` (default: the top one); returns the strategy and its index.

    Between two tiers it starts half-way (rounded to a round amount); above
    the top tier at twice the top limit (1,000 a month over an empty bottom).
    """
    taken = {tier.name for tier in strategy.tiers}
    number = len(strategy.tiers) + 1
    while f"Tier {number}" in taken:
        number += 1
    name = f"Tier {number}"
    if not strategy.tiers:
        return replace(strategy, tiers=(Tier(name, 0),)), 0
    below = len(strategy.tiers) - 1 if above is None else above
    low = strategy.tiers[below].monthly_lower
    if below + 1 < len(strategy.tiers):
        high = strategy.tiers[below + 1].monthly_lower
        if high - low < 2:
            raise StrategyError(
                f"there is no room for a tier between '{strategy.tiers[below].name}' and "
                f"'{strategy.tiers[below + 1].name}'"
            )
        monthly = snap_amount((low + high) // 2)
        if not low < monthly < high:
            monthly = (low + high) // 2
    else:
        monthly = low * 2 if low > 0 else 100_000
    tiers = list(strategy.tiers)
    tiers.insert(below + 1, Tier(name, monthly))
    validate_tiers(tiers)
    return replace(strategy, tiers=tuple(tiers)), below + 1


def remove_tier(strategy: Strategy, index: int) -> Strategy:
    """The strategy without tier `index`; removing the lowest makes the next one start at 0.

    An active strategy keeps at least one tier (SPEC section 2).
    """
    tiers = list(strategy.tiers)
    del tiers[index]
    if tiers and index == 0:
        tiers[0] = replace(tiers[0], monthly_lower=0)
    result = replace(strategy, tiers=tuple(tiers))
    result.validate()
    return result


# --- the model ---------------------------------------------------------------------------------


class TierTableModel(QAbstractTableModel):
    """One row per tier, lowest first; limits and names editable in place.

    Monthly limits are blue and effective limits (monthly × n) red, as on the
    chart. The monthly upper limit of a tier is the next tier's lower limit:
    editing either edits that one boundary.
    """

    edit_refused = Signal(str)
    """An edit typed into the table broke a rule; the message says which."""

    def __init__(self, subject_noun: str = "Clients", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.subject_noun = subject_noun
        self.editor: TierEditor | None = None
        self._strategy: Strategy | None = None
        self._months: int | None = None
        self._totals: list[TierTotal] = []
        self._total_revenue: Cents = 0

    # --- what the owner shows -------------------------------------------------------------

    @property
    def strategy(self) -> Strategy | None:
        """The strategy shown."""
        return self._strategy

    def show(
        self,
        strategy: Strategy,
        months: int | None,
        totals: Sequence[TierTotal] | None,
        total_revenue: Cents,
    ) -> None:
        """Show a strategy over n = `months` with these per-tier totals (None: not known)."""
        old = self._strategy
        self._months = months
        self._totals = list(totals or [])
        self._total_revenue = total_revenue
        if old is not None and len(old.tiers) == len(strategy.tiers):
            self._strategy = strategy
            self._changed_all()
            return
        self.beginResetModel()
        self._strategy = strategy
        self.endResetModel()

    def _changed_all(self) -> None:
        rows = self.rowCount()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, len(Column) - 1))

    # --- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """One row per tier (none under a valid parent: this is a flat table)."""
        if parent.isValid() or self._strategy is None:
            return 0
        return len(self._strategy.tiers)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """The columns of Column."""
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> object:
        """Column titles; monthly ones blue, effective ones red."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        column = Column(section)
        n = f"× {self._months}" if self._months else "× n"
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                Column.NAME: "Tier",
                Column.MONTHLY_LOWER: "Monthly\nlower",
                Column.MONTHLY_UPPER: "Monthly\nupper",
                Column.EFFECTIVE_LOWER: f"Effective\nlower ({n})",
                Column.EFFECTIVE_UPPER: f"Effective\nupper ({n})",
                Column.COUNT: self.subject_noun,
                Column.REVENUE: "Revenue",
                Column.SHARE: "Share",
            }[column]
        if role == Qt.ItemDataRole.ForegroundRole:
            return _limit_colour(column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column in (Column.EFFECTIVE_LOWER, Column.EFFECTIVE_UPPER):
                return "Monthly limit × the available months n: what production is compared with"
            if column == Column.MONTHLY_UPPER:
                return "The next tier's monthly lower limit: editing it edits that tier"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Name and limits are editable (not the lowest tier's 0, not the top tier's upper)."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        column, row = Column(index.column()), index.row()
        editable = (
            column == Column.NAME
            or (column == Column.MONTHLY_LOWER and row > 0)
            or (column == Column.MONTHLY_UPPER and row + 1 < self.rowCount())
        )
        return flags | Qt.ItemFlag.ItemIsEditable if editable else flags

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """Display text, the edit text, colours, alignment and tool tips."""
        strategy = self._strategy
        if not index.isValid() or strategy is None or not 0 <= index.row() < len(strategy.tiers):
            return None
        row, column = index.row(), Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.EditRole:
            return self._edit_text(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return _limit_colour(column)
        if role == Qt.ItemDataRole.DecorationRole and column == Column.NAME:
            return tier_colour(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and column != Column.NAME:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and column == Column.COUNT and self._pinned(row):
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tool_tip(row, column)
        return None

    def setData(
        self, index: ModelIndex, value: object, role: int = Qt.ItemDataRole.EditRole
    ) -> bool:
        """Turn a typed name or limit into a new strategy and hand it to the editor."""
        strategy = self._strategy
        if (
            role != Qt.ItemDataRole.EditRole
            or strategy is None
            or self.editor is None
            or not index.isValid()
            or not self.flags(index) & Qt.ItemFlag.ItemIsEditable
        ):
            return False
        row, column = index.row(), Column(index.column())
        text = str(value) if value is not None else ""
        try:
            if column == Column.NAME:
                if text.strip() == strategy.tiers[row].name:
                    return False
                new = rename_tier(strategy, row, text)
                description = f"Rename '{strategy.tiers[row].name}' to '{text.strip()}'"
            else:
                target = row if column == Column.MONTHLY_LOWER else row + 1
                monthly = parse_money(text)
                if monthly == strategy.tiers[target].monthly_lower:
                    return False
                new = set_monthly_limit(strategy, target, monthly)
                description = (
                    f"Set '{strategy.tiers[target].name}' to {format_money(monthly)} a month"
                )
        except (StrategyError, MoneyError) as error:
            return self._refuse(str(error))
        problem = self.editor(new, description)
        return self._refuse(problem) if problem is not None else True

    def _refuse(self, message: str) -> bool:
        self.edit_refused.emit(message)
        return False

    # --- cells ------------------------------------------------------------------------------

    def _display(self, row: int, column: Column) -> str:
        assert self._strategy is not None
        tiers = self._strategy.tiers
        months = self._months
        lower = tiers[row].monthly_lower
        upper = tiers[row + 1].monthly_lower if row + 1 < len(tiers) else None
        if column == Column.NAME:
            return tiers[row].name
        if column == Column.MONTHLY_LOWER:
            return chart_money(lower)
        if column == Column.MONTHLY_UPPER:
            return chart_money(upper) if upper is not None else "none"
        if column == Column.EFFECTIVE_LOWER:
            return chart_money(lower * months) if months else "—"
        if column == Column.EFFECTIVE_UPPER:
            if upper is None:
                return "none"
            return chart_money(upper * months) if months else "—"
        total = self._totals[row] if row < len(self._totals) else None
        if total is None:
            return "—"
        if column == Column.COUNT:
            pinned = f" ({total.pinned:,} pinned)" if total.pinned else ""
            return f"{total.count:,}{pinned}"
        if column == Column.REVENUE:
            return format_money(total.revenue)
        share = revenue_share(total.revenue, self._total_revenue)
        return f"{share:.1%}" if share is not None else "—"

    def _edit_text(self, row: int, column: Column) -> str | None:
        assert self._strategy is not None
        tiers = self._strategy.tiers
        if column == Column.NAME:
            return tiers[row].name
        if column == Column.MONTHLY_LOWER:
            return format_plain(tiers[row].monthly_lower)
        if column == Column.MONTHLY_UPPER and row + 1 < len(tiers):
            return format_plain(tiers[row + 1].monthly_lower)
        return self._display(row, column)

    def _pinned(self, row: int) -> int:
        return self._totals[row].pinned if row < len(self._totals) else 0

    def _tool_tip(self, row: int, column: Column) -> str | None:
        if column == Column.MONTHLY_LOWER and row == 0:
            return "The lowest tier starts at 0 and also holds every production below 0"
        if column == Column.COUNT and self._pinned(row):
            return (
                f"{self._pinned(row):,} of them pinned here by a manual override "
                "(see Manual overrides)"
            )
        if column in (Column.MONTHLY_LOWER, Column.MONTHLY_UPPER):
            return "Type a monthly amount (e.g. 1500 or 1,500.50); tiers re-sort by limit"
        return None


def _limit_colour(column: Column) -> QColor | None:
    if column in (Column.MONTHLY_LOWER, Column.MONTHLY_UPPER):
        return QColor(MONTHLY_BLUE)
    if column in (Column.EFFECTIVE_LOWER, Column.EFFECTIVE_UPPER):
        return QColor(EFFECTIVE_RED)
    return None

"""Manual overrides: the dialog that pins a client or group to a tier, and the list to review them.

A pin has a reason and may end on a date; while it stands, runs give the
subject the pinned tier and keep the computed one beside it (SPEC section 2).
The list shows both, so a reviewer sees what the pin changes.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import (
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.engine import Override
from seg_desktop.core.money import Cents, format_money
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.gui.row_model import RowListModel
from seg_desktop.store.records import Subject

ModelIndex = QModelIndex | QPersistentModelIndex
SubjectSearch = Callable[[str, Callable[[Sequence[Subject]], None]], None]
"""``search(text, on_found)``: look the subjects up (off the GUI thread) and hand them over."""


@dataclass(frozen=True)
class OverrideRow:
    """One pin as the list shows it: who, pinned and computed tier, whether it stands."""

    override: Override
    label: str
    production: Cents | None
    computed_tier: str | None
    standing: bool
    """False once its end date has passed (runs then ignore it)."""
    tier_exists: bool
    """False when the pinned tier was removed from the strategy (runs then ignore it)."""


class OverrideColumn(enum.IntEnum):
    """The columns of the overrides list."""

    SUBJECT = 0
    PINNED = 1
    COMPUTED = 2
    PRODUCTION = 3
    REASON = 4
    UNTIL = 5


_TITLES = {
    OverrideColumn.SUBJECT: "Pinned",
    OverrideColumn.PINNED: "Tier",
    OverrideColumn.COMPUTED: "Computed",
    OverrideColumn.PRODUCTION: "Production",
    OverrideColumn.REASON: "Reason",
    OverrideColumn.UNTIL: "Until",
}


class OverridesListModel(RowListModel[OverrideRow]):
    """The pins of one strategy, read-only; removing and editing go through the panel's buttons."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__([_TITLES[column] for column in OverrideColumn], parent)

    def cell(self, row: OverrideRow, number: int, role: int) -> object:
        """Texts, and grey for pins that no longer apply."""
        column = OverrideColumn(number)
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(row, column)
        if role == Qt.ItemDataRole.ForegroundRole and not (row.standing and row.tier_exists):
            return QColor("#888888")
        if role == Qt.ItemDataRole.ToolTipRole:
            if not row.tier_exists:
                return "The pinned tier no longer exists: runs ignore this pin"
            if not row.standing:
                return "The pin has ended: runs ignore it"
            return row.override.reason
        if role == Qt.ItemDataRole.TextAlignmentRole and column == OverrideColumn.PRODUCTION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _cell(row: OverrideRow, column: OverrideColumn) -> str:
    override = row.override
    if column == OverrideColumn.SUBJECT:
        return row.label
    if column == OverrideColumn.PINNED:
        return override.tier_name if row.tier_exists else f"{override.tier_name} (removed)"
    if column == OverrideColumn.COMPUTED:
        return row.computed_tier or "—"
    if column == OverrideColumn.PRODUCTION:
        return format_money(row.production) if row.production is not None else "—"
    if column == OverrideColumn.REASON:
        return override.reason
    if override.until is None:
        return "for good"
    ended = "" if row.standing else " (ended)"
    return f"{override.until.isoformat()}{ended}"


def describe_row(row: OverrideRow) -> str:
    """One pin in a sentence, for the details line under the list."""
    override = row.override
    production = format_money(row.production) if row.production is not None else "unknown"
    computed = row.computed_tier or "unknown"
    until = (
        "for good"
        if override.until is None
        else f"until {override.until.isoformat()}{'' if row.standing else ' (ended)'}"
    )
    note = "" if row.tier_exists else " The tier is gone: runs ignore this pin."
    return (
        f"{row.label}: pinned to {override.tier_name} (computed {computed}, production "
        f"{production}), {until}. Reason: {override.reason}.{note}"
    )


class OverridesPanel(QWidget):
    """The list of pins with Pin…, Edit… and Remove; the owner does the work on request."""

    pin_requested = Signal()
    edit_requested = Signal(object)
    """An Override to edit."""
    remove_requested = Signal(object)
    """An Override to remove."""

    def __init__(self, kind: StrategyKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"overrides_panel_{kind.value}")
        noun = "a client" if kind is StrategyKind.INDIVIDUAL else "a group"
        self.model = OverridesListModel(self)
        self.table = QTableView()
        self.table.setObjectName(f"overrides_table_{kind.value}")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(OverrideColumn.REASON, QHeaderView.ResizeMode.Stretch)
        # The column is narrow: production and end date are in the details line below.
        self.table.setColumnHidden(OverrideColumn.PRODUCTION, True)
        self.table.setColumnHidden(OverrideColumn.UNTIL, True)
        self.details_label = QLabel()
        self.details_label.setObjectName("override_details")
        self.details_label.setWordWrap(True)
        self.table.doubleClicked.connect(lambda _index: self._edit())
        self.pin_button = QPushButton("Pin…")
        self.pin_button.setToolTip(f"Pin {noun} to a tier, with a reason")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove")
        self.pin_button.clicked.connect(self.pin_requested)
        self.edit_button.clicked.connect(self._edit)
        self.remove_button.clicked.connect(self._remove)
        title = QLabel("<b>Manual overrides</b>")
        self.empty_label = QLabel(
            f"No pins. Pin {noun} to a tier when its production does not tell the whole story."
        )
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #666666")
        buttons = QHBoxLayout()
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details_label)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        self.model.modelReset.connect(self._update_buttons)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self._update_buttons()

    def selected(self) -> Override | None:
        """The selected pin, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()).override if rows else None

    def _update_buttons(self, *_args: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        chosen = self.model.row_at(rows[0].row()) if rows else None
        self.edit_button.setEnabled(chosen is not None)
        self.remove_button.setEnabled(chosen is not None)
        self.empty_label.setVisible(self.model.rowCount() == 0)
        self.details_label.setText(describe_row(chosen) if chosen is not None else "")
        self.details_label.setVisible(chosen is not None)

    def _edit(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.edit_requested.emit(chosen)

    def _remove(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.remove_requested.emit(chosen)


class OverrideDialog(QDialog):
    """Pin a client (found by ref or name) or a group (by name) to a tier, with a reason.

    `search(text, on_found)` looks the matching subjects up (on the office
    worker's preview lane) and calls ``on_found(subjects)``; only the answer to
    the text still typed is shown. `results_shown` fires when an answer is
    shown. With `initial`, the dialog edits that pin (its subject fixed).
    """

    results_shown = Signal()

    def __init__(
        self,
        kind: StrategyKind,
        tier_names: Sequence[str],
        search: SubjectSearch,
        today: dt.date,
        parent: QWidget | None = None,
        initial: Override | None = None,
        initial_label: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("override_dialog")
        self.kind = kind
        self._search = search
        self._fixed: Subject | None = (
            Subject(kind, initial.subject_id, initial_label) if initial is not None else None
        )
        noun = "client" if kind is StrategyKind.INDIVIDUAL else "group"
        self.setWindowTitle(f"Pin a {noun} to a tier" if initial is None else "Edit pin")

        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("subject_search")
        self.search_edit.setPlaceholderText(
            "Ref or name, e.g. C000123 or Ames" if kind is StrategyKind.INDIVIDUAL else "Name"
        )
        self.results = QListWidget()
        self.results.setObjectName("subject_results")
        self.results.setMinimumHeight(120)
        self.tier_combo = QComboBox()
        self.tier_combo.addItems(list(tier_names))
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("reason")
        self.reason_edit.setPlaceholderText("Why, e.g. 'key account, contract renewal in June'")
        self.until_check = QCheckBox("Until")
        self.until_edit = QDateEdit()
        self.until_edit.setCalendarPopup(True)
        self.until_edit.setDisplayFormat("yyyy-MM-dd")
        default_end = today + dt.timedelta(days=90)
        self.until_edit.setDate(QDate(default_end.year, default_end.month, default_end.day))
        self.until_edit.setMinimumDate(QDate(today.year, today.month, today.day))
        self.until_edit.setEnabled(False)
        self.until_check.toggled.connect(self.until_edit.setEnabled)
        until_row = QHBoxLayout()
        until_row.addWidget(self.until_check)
        until_row.addWidget(self.until_edit, 1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Pin")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        if self._fixed is None:
            form.addRow(f"Find {noun}:", self.search_edit)
            form.addRow("", self.results)
        else:
            form.addRow(f"{noun.capitalize()}:", QLabel(initial_label))
        form.addRow("Tier:", self.tier_combo)
        form.addRow("Reason:", self.reason_edit)
        form.addRow("End date:", until_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            QLabel(
                "The pin stands in every later run until its end date; the computed tier "
                "is kept beside it."
            )
        )
        layout.addWidget(self.buttons)

        if initial is not None:
            self.tier_combo.setCurrentText(initial.tier_name)
            self.reason_edit.setText(initial.reason)
            if initial.until is not None:
                self.until_check.setChecked(True)
                until = initial.until
                self.until_edit.setDate(QDate(until.year, until.month, until.day))
        self.search_edit.textChanged.connect(self._find)
        self.results.currentItemChanged.connect(lambda *_: self._update_ok())
        self.reason_edit.textChanged.connect(lambda _text: self._update_ok())
        self._update_ok()

    def subject(self) -> Subject | None:
        """The chosen client or group."""
        if self._fixed is not None:
            return self._fixed
        item = self.results.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None  # type: ignore[no-any-return]

    def override(self) -> Override | None:
        """The pin as entered (None until a subject and a reason are given)."""
        subject = self.subject()
        reason = self.reason_edit.text().strip()
        if subject is None or not reason or self.tier_combo.currentIndex() < 0:
            return None
        until = self.until_edit.date().toPython() if self.until_check.isChecked() else None
        return Override(
            self.kind,
            subject.id,
            self.tier_combo.currentText(),
            reason,
            until if isinstance(until, dt.date) else None,
        )

    def _find(self, text: str) -> None:
        if not text.strip():
            self.results.clear()
            self._update_ok()
            return
        self._search(text, lambda subjects: self._found(text, subjects))

    def _found(self, text: str, subjects: Sequence[Subject]) -> None:
        if not shiboken6.isValid(self) or text != self.search_edit.text():
            return  # an answer to what was typed before
        self.results.clear()
        for subject in subjects:
            item = QListWidgetItem(subject.label)
            item.setData(Qt.ItemDataRole.UserRole, subject)
            self.results.addItem(item)
        if self.results.count() == 1:
            self.results.setCurrentRow(0)
        self._update_ok()
        self.results_shown.emit()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            self.override() is not None
        )

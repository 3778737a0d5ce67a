"""The criteria editor: a rule segment's name, match mode and criteria, with a live count.

What a criterion means, whether its value fits and how it reads in plain words all come
from ``core.rules``; counting comes from the session (off the GUI thread). This module
only turns those into widgets, and every edit into one step on an undo stack.

The editor keeps the definition being edited as a plain immutable value
(:class:`_EditorState`); the widgets show it. An edit builds the next state and pushes
a command holding (before, after), so undo and redo are exact: they put back the very
definition that was there, and the widgets follow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QDate, QEvent, QObject, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QButtonGroup,
    QComboBox,
    QCompleter,
    QDateEdit,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.rules import (
    Criterion,
    FieldType,
    MatchMode,
    Operator,
    ParsedCriterion,
    RelativeDays,
    RuleField,
    RuleValueError,
    SegmentDefinition,
    describe,
    describe_definition,
    effective_date_operator,
    operator_words,
    operators_for,
    parse_criterion,
    parse_value,
    resolve_date,
    validate_definition,
)
from seg_desktop.gui.session import OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.records import SegmentInfo

__all__ = [
    "NEW_SEGMENT_NAME",
    "PREVIEW_DEBOUNCE_MS",
    "CriteriaEditor",
    "CriterionRowWidget",
    "DateValueEditor",
    "IntegerValueEditor",
    "LineValueEditor",
    "TagValueEditor",
    "ValueEditor",
]

PREVIEW_DEBOUNCE_MS = 120
"""How long the editor waits after the last change before it asks for a new count."""

NEW_SEGMENT_NAME = "New segment"

_ERROR_COLOUR = "#c62828"
_INVALID_STYLE = f"border: 1px solid {_ERROR_COLOUR}; border-radius: 2px; padding: 1px 2px;"

# A relative date compares the field's age, so "less than 90 days ago" is what the user
# must see in the operator list, not the absolute "is before" (which would mean the
# opposite); the plain-words reading under the row then says "within the last 90 days".
_RELATIVE_OPERATOR_WORDS = {
    Operator.EQUALS: "exactly",
    Operator.NOT_EQUALS: "not exactly",
    Operator.GREATER_THAN: "more than",
    Operator.LESS_THAN: "less than",
    Operator.IS_EMPTY: "is empty",
    Operator.IS_NOT_EMPTY: "is not empty",
}

_DEFAULT_RELATIVE_DAYS = 30

_SHRINKABLE = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
_WHOLE = QComboBox.SizeAdjustPolicy.AdjustToContents


# --- the edited definition, as a value ------------------------------------------------------


@dataclass(frozen=True)
class _RowState:
    """One criterion row. `key` identifies the row's widgets across undo and redo."""

    key: int
    field: RuleField
    operator: Operator
    # Kept even while the operator takes no value, so switching "is empty" back to
    # "equals" gives back what was typed.
    value: str

    def criterion(self) -> Criterion:
        return Criterion(
            self.field, self.operator, self.value if self.operator.takes_value else None
        )


@dataclass(frozen=True)
class _EditorState:
    name: str
    description: str
    match: MatchMode
    rows: tuple[_RowState, ...]

    def definition(self) -> SegmentDefinition:
        return SegmentDefinition(
            name=self.name.strip(),
            criteria=tuple(row.criterion() for row in self.rows),
            match=self.match,
            description=self.description,
        )

    def row(self, key: int) -> _RowState | None:
        return next((row for row in self.rows if row.key == key), None)

    def with_row(self, new: _RowState) -> _EditorState:
        return dataclasses.replace(
            self, rows=tuple(new if row.key == new.key else row for row in self.rows)
        )


def _default_value(field: RuleField) -> str:
    """What a value box starts with when a field is chosen (valid where one exists)."""
    kind = field.type
    if kind in (FieldType.MONEY, FieldType.INTEGER):
        return "0"
    if kind is FieldType.DATE:
        return f"{_DEFAULT_RELATIVE_DAYS} days ago"
    return ""  # no text is a sensible default; the row asks for one


def _is_relative(field: RuleField, value: str) -> bool:
    if field.type is not FieldType.DATE:
        return False
    try:
        return isinstance(parse_value(field, value), RelativeDays)
    except RuleValueError:
        return False


def _comparable(definition: SegmentDefinition) -> SegmentDefinition:
    """The definition with values in canonical form, so "1,000" and "1000" are not a change."""
    try:
        parsed = validate_definition(definition)
    except RuleValueError:
        return definition
    return dataclasses.replace(
        definition, name=definition.name.strip(), criteria=tuple(p.source for p in parsed)
    )


class _EditCommand(QUndoCommand):
    """One edit of the definition: the state before and after it."""

    _MERGE_ID = 0x5E6

    def __init__(
        self,
        editor: CriteriaEditor,
        before: _EditorState,
        after: _EditorState,
        text: str,
        merge_key: str | None,
    ) -> None:
        super().__init__(text)
        self._editor = editor
        self.before = before
        self.after = after
        self.merge_key = merge_key

    def id(self) -> int:
        """Commands typed into the same box share an id so consecutive ones merge."""
        return self._MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """Absorb the next keystroke in the same box into this one step."""
        if not isinstance(other, _EditCommand) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        # Typed and then erased again: no step at all.
        self.setObsolete(self.after == self.before)
        return True

    def redo(self) -> None:
        """Apply the edit."""
        self._editor._apply_state(self.after)

    def undo(self) -> None:
        """Put back the definition as it was before the edit."""
        self._editor._apply_state(self.before)


class _UndoKeys(QObject):
    """Ctrl+Z / Ctrl+Shift+Z in the editor's fields: the field's own typing first, then the
    editor's steps.

    A line edit takes Ctrl+Z for itself (so the window's Undo never sees it), and its own
    history is empty after the editor put a value in: without this the keys did nothing.
    """

    def __init__(self, stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stack = stack

    def watch(self, widget: QWidget) -> None:
        """Handle the undo keys in this widget and every widget inside it."""
        for watched in [widget, *widget.findChildren(QWidget)]:
            watched.installEventFilter(self)

    @staticmethod
    def _own_line_edit(widget: QObject) -> QLineEdit | None:
        if isinstance(widget, QLineEdit):
            return widget
        if isinstance(widget, QAbstractSpinBox):
            return widget.findChild(QLineEdit)
        if isinstance(widget, QComboBox) and widget.isEditable():
            return widget.lineEdit()
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Route the undo and redo keys (see the class)."""
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        assert isinstance(event, QKeyEvent)
        undo = event.matches(QKeySequence.StandardKey.Undo)
        redo = event.matches(QKeySequence.StandardKey.Redo)
        if not (undo or redo):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the key comes to the field (the window's Undo does not take it)
            return True
        line_edit = self._own_line_edit(watched)
        if line_edit is not None and (
            line_edit.isUndoAvailable() if undo else line_edit.isRedoAvailable()
        ):
            return False  # the field undoes its own typing (and reports it as an edit)
        if undo:
            self._stack.undo()
        else:
            self._stack.redo()
        return True


# --- value editors ------------------------------------------------------------------------------


class ValueEditor(QWidget):
    """Edits a criterion's value as text (the form ``core.rules.parse_value`` reads)."""

    edited = Signal(str, str)
    """(new value text, which part of the editor): the part keeps undo steps apart."""

    def set_value(self, field: RuleField, text: str) -> None:
        """Show a value (without emitting `edited`)."""
        raise NotImplementedError

    def input_widget(self) -> QWidget:
        """The widget that takes the keyboard (and shows the red border)."""
        raise NotImplementedError

    def set_invalid(self, reason: str | None) -> None:
        """Mark the value as wrong (red border, reason as tooltip) or clear the mark."""
        widget = self.input_widget()
        widget.setStyleSheet(_INVALID_STYLE if reason else "")
        widget.setToolTip(reason or "")
        widget.setProperty("invalid", bool(reason))


class LineValueEditor(ValueEditor):
    """A line of text: for text fields and for money (checked by the core parser)."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line_edit = QLineEdit(self)
        self.line_edit.setPlaceholderText(placeholder)
        self.line_edit.setClearButtonEnabled(True)
        self.line_edit.textEdited.connect(lambda text: self.edited.emit(text, "text"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line_edit)

    def set_value(self, field: RuleField, text: str) -> None:
        """Show the text (the cursor stays put when it is already there)."""
        if self.line_edit.text() != text:
            self.line_edit.setText(text)

    def input_widget(self) -> QWidget:
        """The line edit."""
        return self.line_edit


class TagValueEditor(ValueEditor):
    """A tag: typed, or picked from the tags the office's clients have."""

    def __init__(self, tags: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizeAdjustPolicy(_SHRINKABLE)
        self.combo.setMinimumContentsLength(8)
        line_edit = self.combo.lineEdit()
        assert line_edit is not None
        line_edit.setPlaceholderText("tag")
        self._tags: list[str] = []
        self.set_tags(tags)
        # Tags compare case-sensitively, and inline completion would silently turn a
        # typed "ea" (for "contains") into "east": offer completions, never insert them.
        completer = QCompleter(self.combo.model(), self.combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.combo.setCompleter(completer)
        self.combo.editTextChanged.connect(lambda text: self.edited.emit(text, "text"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)

    def set_tags(self, tags: list[str]) -> None:
        """Offer these tags in the list (keeping the typed text)."""
        if tags == self._tags:
            return
        self._tags = list(tags)
        with QSignalBlocker(self.combo):
            text = self.combo.currentText()
            self.combo.clear()
            self.combo.addItems(self._tags)
            self.combo.setEditText(text)

    def set_value(self, field: RuleField, text: str) -> None:
        """Show the tag text."""
        if self.combo.currentText() != text:
            with QSignalBlocker(self.combo):
                self.combo.setEditText(text)

    def input_widget(self) -> QWidget:
        """The combo's line edit (a border on the combo itself would hide its arrow)."""
        line_edit = self.combo.lineEdit()
        assert line_edit is not None
        return line_edit


class IntegerValueEditor(ValueEditor):
    """A whole number (invoice count)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin_box = QSpinBox(self)
        self.spin_box.setRange(-999_999_999, 999_999_999)
        self.spin_box.setGroupSeparatorShown(True)
        self.spin_box.setAccelerated(True)
        self.spin_box.valueChanged.connect(lambda value: self.edited.emit(str(value), "number"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin_box)
        layout.addStretch(1)

    def set_value(self, field: RuleField, text: str) -> None:
        """Show the number (a text that is not one leaves the box as it is)."""
        try:
            value = parse_value(field, text)
        except RuleValueError:
            return
        if isinstance(value, int) and self.spin_box.value() != value:
            with QSignalBlocker(self.spin_box):
                self.spin_box.setValue(value)

    def input_widget(self) -> QWidget:
        """The spin box."""
        return self.spin_box


class DateValueEditor(ValueEditor):
    """A date: a number of days ago, or a calendar date, chosen with a mode box."""

    mode_requested = Signal(bool)
    """The user switched the mode: True for "days ago", False for a calendar date."""

    RELATIVE, ABSOLUTE = 0, 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.days_spin = QSpinBox(self)
        self.days_spin.setRange(0, 99_999)
        self.days_spin.setGroupSeparatorShown(True)
        self.days_spin.valueChanged.connect(
            lambda days: self.edited.emit(f"{days} days ago", "days")
        )
        self.date_edit = QDateEdit(self)
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setDateRange(QDate(1900, 1, 1), QDate(9999, 12, 31))
        self.date_edit.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        self.date_edit.dateChanged.connect(
            lambda date: self.edited.emit(date.toString(Qt.DateFormat.ISODate), "date")
        )
        self.stack = QStackedWidget(self)
        self.stack.insertWidget(self.RELATIVE, self.days_spin)
        self.stack.insertWidget(self.ABSOLUTE, self.date_edit)
        self.mode_combo = QComboBox(self)
        self.mode_combo.insertItem(self.RELATIVE, "days ago")
        self.mode_combo.insertItem(self.ABSOLUTE, "calendar date")
        # Two short entries: always shown whole ("calendar date", not "calendar da").
        self.mode_combo.setSizeAdjustPolicy(_WHOLE)
        self.mode_combo.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.mode_combo.setToolTip("Count days back from the as-of date, or pick a fixed date")
        self.mode_combo.currentIndexChanged.connect(
            lambda index: self.mode_requested.emit(index == self.RELATIVE)
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        layout.addWidget(self.mode_combo)
        layout.addStretch(1)

    def is_relative(self) -> bool:
        """Whether the editor shows "N days ago"."""
        return self.mode_combo.currentIndex() == self.RELATIVE

    def set_value(self, field: RuleField, text: str) -> None:
        """Show "N days ago" in the days box, or a date in the calendar box."""
        try:
            value = parse_value(field, text)
        except RuleValueError:
            return
        with (
            QSignalBlocker(self.mode_combo),
            QSignalBlocker(self.days_spin),
            QSignalBlocker(self.date_edit),
        ):
            if isinstance(value, RelativeDays):
                self.mode_combo.setCurrentIndex(self.RELATIVE)
                self.stack.setCurrentIndex(self.RELATIVE)
                self.days_spin.setValue(value.days)
            elif isinstance(value, dt.date):
                self.mode_combo.setCurrentIndex(self.ABSOLUTE)
                self.stack.setCurrentIndex(self.ABSOLUTE)
                self.date_edit.setDate(QDate(value.year, value.month, value.day))

    def input_widget(self) -> QWidget:
        """The box that is showing."""
        return self.days_spin if self.is_relative() else self.date_edit


def _colour_text(label: QLabel, *, error: bool) -> None:
    """Red for an error, the placeholder grey for a reading that only echoes the row."""
    palette = label.palette()
    colour = QColor(_ERROR_COLOUR) if error else palette.color(QPalette.ColorRole.PlaceholderText)
    palette.setColor(QPalette.ColorRole.WindowText, colour)
    label.setPalette(palette)


def _value_editor_for(field: RuleField, tags: list[str]) -> ValueEditor:
    kind = field.type
    if kind is FieldType.TAGS:
        return TagValueEditor(tags)
    if kind is FieldType.MONEY:
        return LineValueEditor("amount, e.g. 50000 or 1234.50")
    if kind is FieldType.INTEGER:
        return IntegerValueEditor()
    if kind is FieldType.DATE:
        return DateValueEditor()
    return LineValueEditor("text (exact, case-sensitive)")


# --- one criterion row --------------------------------------------------------------------------


class CriterionRowWidget(QFrame):
    """field → operator → value, a remove button, and the row read back in plain words."""

    field_chosen = Signal(int, str)
    """(row key, field value)"""
    operator_chosen = Signal(int, str)
    """(row key, operator value)"""
    value_edited = Signal(int, str, str)
    """(row key, value text, editor part)"""
    date_mode_chosen = Signal(int, bool)
    """(row key, relative?)"""
    remove_requested = Signal(int)
    """(row key)"""

    def __init__(self, key: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"criterion_row_{key}")
        self._field: RuleField | None = None
        self._relative: bool | None = None
        self.value_editor: ValueEditor | None = None
        self.undo_keys: _UndoKeys | None = None  # set by the editor

        self.field_combo = QComboBox(self)
        for field in RuleField:
            self.field_combo.addItem(field.label, field.value)
        # The field and the operator are read together as a sentence: both are shown
        # whole (at most "Average invoice amount" / "does not have the tag"); the value
        # box takes the width that is left.
        self.field_combo.setSizeAdjustPolicy(_WHOLE)
        self.field_combo.currentIndexChanged.connect(self._field_index_changed)
        self.operator_combo = QComboBox(self)
        self.operator_combo.setSizeAdjustPolicy(_WHOLE)
        for combo in (self.field_combo, self.operator_combo):
            combo.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.operator_combo.currentIndexChanged.connect(self._operator_index_changed)
        self.value_holder = QWidget(self)
        self.value_holder.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._value_layout = QHBoxLayout(self.value_holder)
        self._value_layout.setContentsMargins(0, 0, 0, 0)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Remove this criterion")
        self.remove_button.setAccessibleName("Remove criterion")
        self.remove_button.clicked.connect(lambda: self.remove_requested.emit(self.key))
        self.reading_label = QLabel(self)
        self.reading_label.setWordWrap(True)
        self.reading_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.field_combo)
        top.addWidget(self.operator_combo)
        top.addWidget(self.value_holder, 1)
        top.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.reading_label)

    def sync(self, row: _RowState, tags: list[str]) -> None:
        """Show a row's state; emits nothing."""
        with QSignalBlocker(self.field_combo), QSignalBlocker(self.operator_combo):
            self.field_combo.setCurrentIndex(self.field_combo.findData(row.field.value))
            relative = _is_relative(row.field, row.value)
            if row.field != self._field or relative != self._relative:
                self._fill_operators(row.field, relative)
            self.operator_combo.setCurrentIndex(self.operator_combo.findData(row.operator.value))
        if row.field.type != (self._field.type if self._field is not None else None):
            self._replace_value_editor(row.field, tags)
        self._field, self._relative = row.field, relative
        editor = self.value_editor
        assert editor is not None
        if isinstance(editor, TagValueEditor):
            editor.set_tags(tags)
        editor.set_value(row.field, row.value)
        editor.setVisible(row.operator.takes_value)

    def _fill_operators(self, field: RuleField, relative: bool) -> None:
        self.operator_combo.clear()
        for operator in operators_for(field):
            words = (
                _RELATIVE_OPERATOR_WORDS[operator] if relative else operator_words(field, operator)
            )
            self.operator_combo.addItem(words, operator.value)

    def _replace_value_editor(self, field: RuleField, tags: list[str]) -> None:
        if self.value_editor is not None:
            self._value_layout.removeWidget(self.value_editor)
            self.value_editor.hide()
            self.value_editor.deleteLater()
        editor = _value_editor_for(field, tags)
        editor.setParent(self.value_holder)
        editor.edited.connect(lambda text, part: self.value_edited.emit(self.key, text, part))
        if isinstance(editor, DateValueEditor):
            editor.mode_requested.connect(
                lambda relative: self.date_mode_chosen.emit(self.key, relative)
            )
        self._value_layout.addWidget(editor)
        self.value_editor = editor
        if self.undo_keys is not None:
            self.undo_keys.watch(editor)

    def show_reading(self, reading: str, error: str | None) -> None:
        """Show the row in plain words, or (in red) why its value is wrong."""
        self.reading_label.setText(error if error is not None else reading)
        _colour_text(self.reading_label, error=error is not None)
        self.reading_label.setProperty("error", error is not None)
        if self.value_editor is not None:
            self.value_editor.set_invalid(error)

    def _field_index_changed(self, index: int) -> None:
        if index >= 0:
            self.field_chosen.emit(self.key, str(self.field_combo.itemData(index)))

    def _operator_index_changed(self, index: int) -> None:
        if index >= 0:
            self.operator_chosen.emit(self.key, str(self.operator_combo.itemData(index)))


# --- the editor ---------------------------------------------------------------------------------


def _count_words(count: int) -> str:
    return "1 client matches" if count == 1 else f"{count:,} clients match"


_SAVED = "Saved"
_UNSAVED = "Unsaved changes"


class CriteriaEditor(QWidget):
    """Edits one rule segment: name, description, match mode and criteria, with undo.

    ``load(info)`` shows a saved segment (``None`` starts a new one); Save hands the
    definition to ``session.save_segment``. While the user edits, the number of
    matching clients is counted off the GUI thread (``session.preview``) about
    :data:`PREVIEW_DEBOUNCE_MS` after the last change.

    The names of the saved segments (a name must be free) and the office's tags
    (the tag picker) are read on the worker when the editor opens and again when
    a broadcast says segments or clients changed; ``loaded`` says they arrived.
    ``tags`` (tests) returns the tags to offer instead of the office's.
    """

    saved = Signal(int)
    """The segment was saved (its id, new for a new segment)."""
    dirty_changed = Signal(bool)
    """Whether the editor holds unsaved changes."""
    preview_counted = Signal(int)
    """A live-preview count arrived and is shown."""
    loaded = Signal()
    """The saved segments' names and the office's tags were read."""

    def __init__(
        self,
        session: OfficeSession,
        parent: QWidget | None = None,
        *,
        tags: Callable[[], list[str]] | None = None,
        debounce_ms: int = PREVIEW_DEBOUNCE_MS,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._given_tags = tags
        self._tags: list[str] = tags() if tags is not None else []
        self._segment_id: int | None = None
        self._segment_names: dict[int, str] = {}
        # What "not dirty" means: the saved definition, or the blank one a new segment
        # starts from; None when what is shown is saved nowhere (deleted meanwhile).
        self._baseline: SegmentDefinition | None = SegmentDefinition(NEW_SEGMENT_NAME, ())
        self._load_generation = 0
        self._state = _EditorState(NEW_SEGMENT_NAME, "", MatchMode.ALL, ())
        self._next_key = 0
        self._syncing = False
        self._saving = False
        self._dirty = False
        self._row_widgets: dict[int, CriterionRowWidget] = {}
        # Preview bookkeeping: each request carries the generation it was made in, and an
        # answer from an older generation (a definition since changed) is dropped.
        self._preview_generation = 0
        self._preview_key: tuple[tuple[Criterion, ...], MatchMode] | None = None
        self._preview_count: int | None = None

        self.undo_stack = QUndoStack(self)
        self._undo_keys = _UndoKeys(self.undo_stack, self)
        self._build_widgets()
        for field in (self.name_edit, self.description_edit):
            self._undo_keys.watch(field)
        self._build_actions()

        self._preview_timer = QTimer(self)
        self._preview_timer.setObjectName("preview_debounce_timer")
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(debounce_ms)
        self._preview_timer.timeout.connect(self._request_count)

        session.changed.connect(self._office_changed)
        self.load(None)
        self._read_office()

    # --- building ------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("segment_name_edit")
        self.name_edit.setMaxLength(200)  # the store's column width
        self.name_edit.textEdited.connect(self._name_edited)
        self.name_error_label = QLabel(self)
        _colour_text(self.name_error_label, error=True)
        self.name_error_label.setVisible(False)
        self.description_edit = QLineEdit(self)
        self.description_edit.setObjectName("segment_description_edit")
        self.description_edit.setPlaceholderText("optional: what the segment is for")
        self.description_edit.textEdited.connect(self._description_edited)

        self.match_all_radio = QRadioButton("all criteria (and)", self)
        self.match_any_radio = QRadioButton("any criterion (or)", self)
        self.match_group = QButtonGroup(self)
        self.match_group.addButton(self.match_all_radio)
        self.match_group.addButton(self.match_any_radio)
        self.match_group.buttonClicked.connect(self._match_clicked)
        match_row = QHBoxLayout()
        match_row.setContentsMargins(0, 0, 0, 0)
        match_row.addWidget(self.match_all_radio)
        match_row.addWidget(self.match_any_radio)
        match_row.addStretch(1)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Name:", self.name_edit)
        form.addRow("", self.name_error_label)
        form.addRow("&Description:", self.description_edit)
        form.addRow("Clients must match:", match_row)

        self.rows_container = QWidget()
        self.rows_container.setObjectName("criteria_rows")
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(0)
        self.empty_hint = QLabel(
            "No criteria yet: every client matches. Add a criterion to narrow it down."
        )
        self.empty_hint.setWordWrap(True)
        _colour_text(self.empty_hint, error=False)
        self.add_button = QPushButton("&Add criterion")
        self.add_button.setObjectName("add_criterion_button")
        self.add_button.clicked.connect(self.add_criterion)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        container_layout = QVBoxLayout(self.rows_container)
        container_layout.setContentsMargins(6, 6, 6, 6)
        container_layout.addLayout(self._rows_layout)
        container_layout.addWidget(self.empty_hint)
        container_layout.addLayout(add_row)
        container_layout.addStretch(1)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self.rows_container)
        criteria_box = QGroupBox("Criteria", self)
        box_layout = QVBoxLayout(criteria_box)
        box_layout.setContentsMargins(4, 4, 4, 4)
        box_layout.addWidget(self.scroll_area)

        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_label = QLabel("—", self)
        self.preview_label.setObjectName("preview_label")
        font = self.preview_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.preview_label.setFont(font)
        self.preview_label.setToolTip("Clients matching the definition as it stands now")
        self.status_label = QLabel(self)
        self.revert_button = QPushButton("&Revert", self)
        self.revert_button.setObjectName("revert_button")
        self.revert_button.setToolTip("Go back to the saved definition")
        self.revert_button.clicked.connect(self.revert)
        self.save_button = QPushButton("&Save", self)
        self.save_button.setObjectName("save_button")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Live preview:", self))
        bottom.addWidget(self.preview_label)
        bottom.addStretch(1)
        bottom.addWidget(self.status_label)
        bottom.addWidget(self.revert_button)
        bottom.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(criteria_box, 1)
        layout.addWidget(self.summary_label)
        layout.addLayout(bottom)

    def _build_actions(self) -> None:
        self.save_action = QAction("&Save Segment", self)
        self.save_action.setObjectName("save_segment_action")
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save)
        self.revert_action = QAction("Re&vert Segment", self)
        self.revert_action.setObjectName("revert_segment_action")
        self.revert_action.triggered.connect(self.revert)
        self.add_criterion_action = QAction("Add &Criterion", self)
        self.add_criterion_action.setObjectName("add_criterion_action")
        self.add_criterion_action.triggered.connect(self.add_criterion)
        # Ctrl+S works wherever the editor is shown; the main window puts the same
        # actions in its Segment menu (one action each, so no ambiguous shortcut).
        self.addAction(self.save_action)
        # Undo and redo of the editor's steps are the window's Edit → Undo / Redo (a
        # QUndoGroup over this stack), and Ctrl+Z / Ctrl+Shift+Z in a field (the field's
        # own typing first): two Ctrl+Z actions in one window would be ambiguous.

    # --- public API ----------------------------------------------------------------------

    def load(self, info: SegmentInfo | None) -> None:
        """Edit a saved segment, or (None) a new one named "New segment"; clears undo."""
        self._load_generation += 1
        self._segment_id = None if info is None else info.id
        definition = (
            SegmentDefinition(self._free_new_name(), ()) if info is None else info.definition
        )
        self._baseline = definition
        self.status_label.clear()
        self.undo_stack.clear()
        self._apply_state(self._state_of(definition))
        self.undo_stack.setClean()

    def segment_id(self) -> int | None:
        """The id of the segment being edited (None until a new one is saved)."""
        return self._segment_id

    def definition(self) -> SegmentDefinition:
        """The definition as it stands in the editor (possibly not valid)."""
        return self._state.definition()

    def is_dirty(self) -> bool:
        """Whether the editor holds changes that are not saved."""
        return self._dirty

    def is_valid(self) -> bool:
        """Whether the definition could be saved as it stands."""
        return self._problem() is None

    def rows(self) -> list[CriterionRowWidget]:
        """The criterion rows, top to bottom."""
        return [self._row_widgets[row.key] for row in self._state.rows]

    def add_criterion(self) -> None:
        """Add a row (Company name is …) at the end, as one undoable step."""
        row = _RowState(self._new_key(), RuleField.COMPANY_NAME, Operator.EQUALS, "")
        state = dataclasses.replace(self._state, rows=(*self._state.rows, row))
        self._edit(state, "Add criterion")
        widget = self._row_widgets.get(row.key)
        if widget is not None:
            widget.field_combo.setFocus()
            self.scroll_area.ensureWidgetVisible(widget)

    def remove_criterion(self, index: int) -> None:
        """Remove the row at this position, as one undoable step."""
        rows = list(self._state.rows)
        del rows[index]
        self._edit(dataclasses.replace(self._state, rows=tuple(rows)), "Remove criterion")

    def save(self) -> bool:
        """Save the definition (on the worker); False if it cannot be saved now."""
        if self._saving or self._problem() is not None:
            return False
        definition = self.definition()
        generation = self._load_generation

        def saved(new_id: int) -> None:
            if not shiboken6.isValid(self):
                return
            self._saving = False
            if generation == self._load_generation:
                self._saved_as(new_id, definition)
            else:
                # Another segment was loaded while this one was saving: it is saved all
                # the same, but the editor's state now belongs to the other one.
                self._segment_names[new_id] = definition.name.strip()
                self._update_save_state()
                self.saved.emit(new_id)

        def failed(error: BaseException, _trace: str) -> None:
            if shiboken6.isValid(self):
                self._save_failed(error)

        # Queued behind whatever runs (never refused); the Changes are broadcast first.
        self.session.save_segment(definition, self._segment_id, saved, failed)
        self._saving = True
        self.status_label.setText("Saving…")
        self._update_save_state()
        return True

    def revert(self) -> None:
        """Go back to the saved definition (an undoable step)."""
        if self._baseline is None:
            return
        saved = self._state_of(self._baseline, keep_keys=self._state)
        self._edit(saved, "Revert to saved")

    # --- edits -----------------------------------------------------------------------------

    def _new_key(self) -> int:
        self._next_key += 1
        return self._next_key

    def _state_of(
        self, definition: SegmentDefinition, keep_keys: _EditorState | None = None
    ) -> _EditorState:
        old_keys = [row.key for row in keep_keys.rows] if keep_keys is not None else []
        rows = []
        for position, criterion in enumerate(definition.criteria):
            # Reverting keeps existing rows' widgets where it can (less flicker).
            key = old_keys[position] if position < len(old_keys) else self._new_key()
            value = criterion.value
            if value is None:
                value = _default_value(criterion.field)
            rows.append(_RowState(key, criterion.field, criterion.operator, value))
        return _EditorState(definition.name, definition.description, definition.match, tuple(rows))

    def _edit(self, state: _EditorState, text: str, merge_key: str | None = None) -> None:
        if self._syncing or state == self._state:
            return
        self.undo_stack.push(_EditCommand(self, self._state, state, text, merge_key))

    def _name_edited(self, text: str) -> None:
        self._edit(dataclasses.replace(self._state, name=text), "Edit name", "name")

    def _description_edited(self, text: str) -> None:
        self._edit(
            dataclasses.replace(self._state, description=text), "Edit description", "description"
        )

    def _match_clicked(self) -> None:
        match = MatchMode.ALL if self.match_all_radio.isChecked() else MatchMode.ANY
        self._edit(dataclasses.replace(self._state, match=match), "Change match mode")

    def _field_chosen(self, key: int, field_value: str) -> None:
        row = self._state.row(key)
        if row is None:
            return
        field = RuleField(field_value)
        operator = row.operator if row.operator in operators_for(field) else operators_for(field)[0]
        same_kind = field.type == row.field.type or {field.type, row.field.type} == {
            FieldType.TEXT,
            FieldType.TAGS,
        }
        value = row.value if same_kind else _default_value(field)
        new = dataclasses.replace(row, field=field, operator=operator, value=value)
        self._edit(self._state.with_row(new), "Change field")

    def _operator_chosen(self, key: int, operator_value: str) -> None:
        row = self._state.row(key)
        if row is None:
            return
        new = dataclasses.replace(row, operator=Operator(operator_value))
        self._edit(self._state.with_row(new), "Change operator")

    def _value_edited(self, key: int, text: str, part: str) -> None:
        row = self._state.row(key)
        if row is None:
            return
        new = dataclasses.replace(row, value=text)
        self._edit(self._state.with_row(new), "Edit value", f"value:{key}:{part}")

    def _date_mode_chosen(self, key: int, relative: bool) -> None:
        row = self._state.row(key)
        if row is None:
            return
        today = self.session.today()
        try:
            current = parse_value(row.field, row.value)
        except RuleValueError:
            current = None
        if relative:
            days = (
                max(0, (today - current).days)
                if isinstance(current, dt.date)
                else _DEFAULT_RELATIVE_DAYS
            )
            value = f"{days} days ago"
        else:
            cutoff = resolve_date(current, today)[0] if isinstance(current, RelativeDays) else today
            value = cutoff.isoformat()
        # The same cutoff means the opposite operator ("less than 90 days ago" is "after
        # the date 90 days ago"); the core's mapping keeps the same clients matching.
        probe = ParsedCriterion(row.field, row.operator, RelativeDays(0))
        new = dataclasses.replace(row, operator=effective_date_operator(probe), value=value)
        self._edit(self._state.with_row(new), "Change date mode")

    def _remove_row(self, key: int) -> None:
        rows = tuple(row for row in self._state.rows if row.key != key)
        self._edit(dataclasses.replace(self._state, rows=rows), "Remove criterion")

    # --- showing a state ---------------------------------------------------------------------

    @contextmanager
    def _sync(self) -> Iterator[None]:
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _apply_state(self, state: _EditorState) -> None:
        """Show a state in the widgets (called by load and by the undo commands)."""
        self._state = state
        with self._sync():
            if self.name_edit.text() != state.name:
                self.name_edit.setText(state.name)
            if self.description_edit.text() != state.description:
                self.description_edit.setText(state.description)
            radio = self.match_all_radio if state.match is MatchMode.ALL else self.match_any_radio
            radio.setChecked(True)
            self._sync_rows()
        self._after_change()

    def _current_tags(self) -> list[str]:
        return self._tags

    def _sync_rows(self) -> None:
        wanted = [row.key for row in self._state.rows]
        for key in [k for k in self._row_widgets if k not in wanted]:
            gone = self._row_widgets.pop(key)
            self._rows_layout.removeWidget(gone)
            gone.hide()
            gone.deleteLater()
        needs_tags = any(row.field.type is FieldType.TAGS for row in self._state.rows)
        tags = self._current_tags() if needs_tags else []
        for row in self._state.rows:
            widget = self._row_widgets.get(row.key)
            if widget is None:
                widget = self._new_row_widget(row.key)
            widget.sync(row, tags)
        items = (self._rows_layout.itemAt(i) for i in range(self._rows_layout.count()))
        shown = [item.widget() for item in items if item is not None]
        ordered = [self._row_widgets[key] for key in wanted]
        if shown != ordered:
            for widget in ordered:
                self._rows_layout.removeWidget(widget)
            for widget in ordered:
                self._rows_layout.addWidget(widget)
        self.empty_hint.setVisible(not wanted)

    def _new_row_widget(self, key: int) -> CriterionRowWidget:
        widget = CriterionRowWidget(key, self.rows_container)
        widget.undo_keys = self._undo_keys
        self._undo_keys.watch(widget)
        widget.field_chosen.connect(self._field_chosen)
        widget.operator_chosen.connect(self._operator_chosen)
        widget.value_edited.connect(self._value_edited)
        widget.date_mode_chosen.connect(self._date_mode_chosen)
        widget.remove_requested.connect(self._remove_row)
        self._row_widgets[key] = widget
        return widget

    def _after_change(self) -> None:
        for row in self._state.rows:
            widget = self._row_widgets[row.key]
            try:
                widget.show_reading(describe(parse_criterion(row.criterion())), None)
            except RuleValueError as error:
                widget.show_reading("", str(error))
        name_problem = self._name_problem()
        self.name_error_label.setText(name_problem or "")
        self.name_error_label.setVisible(name_problem is not None)
        self.name_edit.setStyleSheet(_INVALID_STYLE if name_problem else "")
        definition = self.definition()
        try:
            validate_definition(dataclasses.replace(definition, name="-"))
        except RuleValueError:
            self.summary_label.clear()
        else:
            words = describe_definition(dataclasses.replace(definition, name="-"))
            self.summary_label.setText(f"Matches: {words}")
        dirty = self._baseline is None or _comparable(definition) != _comparable(self._baseline)
        # "Saved" describes what is shown: an undo or an edit after saving makes it untrue.
        if dirty and self.status_label.text() == _SAVED:
            self.status_label.setText(_UNSAVED)
        elif not dirty and self.status_label.text() == _UNSAVED:
            self.status_label.setText(_SAVED)
        self._update_save_state(dirty)
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)
        self._schedule_preview()

    def _name_problem(self) -> str | None:
        name = self._state.name.strip()
        if not name:
            return "A segment needs a name."
        taken = any(
            other == name
            for segment_id, other in self._segment_names.items()
            if segment_id != self._segment_id
        )
        return f"A segment named '{name}' already exists." if taken else None

    def _problem(self) -> str | None:
        name_problem = self._name_problem()
        if name_problem is not None:
            return name_problem
        try:
            validate_definition(self.definition())
        except RuleValueError as error:
            message = str(error)
            return message[0].upper() + message[1:]
        return None

    def _update_save_state(self, dirty: bool | None = None) -> None:
        dirty = self._dirty if dirty is None else dirty
        problem = self._problem()
        unsaved = dirty or self._segment_id is None
        read_only = self.session.office.read_only  # another window writes to this office
        can_save = problem is None and unsaved and not self._saving and not read_only
        self.save_action.setEnabled(can_save)
        self.save_button.setEnabled(can_save)
        tip = problem or ("Save the segment and recompute its members" if unsaved else "Saved")
        if read_only:
            tip = "This office is open read-only: another window is writing to it"
        self.save_button.setToolTip(tip)
        self.save_action.setToolTip(tip)
        can_revert = dirty and self._segment_id is not None and not self._saving
        self.revert_button.setEnabled(can_revert)
        self.revert_action.setEnabled(can_revert)

    # --- live preview ------------------------------------------------------------------------

    def _schedule_preview(self) -> None:
        definition = self.definition()
        key = (definition.criteria, definition.match)
        if key == self._preview_key:
            return  # only the name or description changed: the count stands
        self._preview_key = key
        self._preview_generation += 1
        self._preview_count = None
        try:
            # The name does not change the count, so a missing one does not stop it.
            validate_definition(dataclasses.replace(definition, name="-"))
        except RuleValueError:
            self._preview_timer.stop()
            self.preview_label.setText("—")
            self.preview_label.setToolTip("The definition is not valid yet")
            return
        self.preview_label.setText("…")
        self.preview_label.setToolTip("Counting matching clients")
        self._preview_timer.start()

    def _request_count(self) -> None:
        generation = self._preview_generation
        definition = dataclasses.replace(self.definition(), name="preview")
        office, as_of = self.session.office, self.session.today()

        def work(_p: ProgressFn, _c: CancelledFn) -> int:
            return office.count_matching(definition, as_of)

        def counted(count: int) -> None:
            # The editor may have been deleted while the count ran on the worker.
            if shiboken6.isValid(self) and generation == self._preview_generation:
                self._show_count(count)

        def failed(_error: BaseException, _trace: str) -> None:
            if shiboken6.isValid(self) and generation == self._preview_generation:
                self._preview_failed()

        self.session.preview("Counting matching clients", work, counted, failed)

    def _show_count(self, count: int) -> None:
        self._preview_count = count
        self.preview_label.setText(_count_words(count))
        self.preview_label.setToolTip(f"As of {self.session.today().isoformat()}")
        self.preview_counted.emit(count)

    def preview_count(self) -> int | None:
        """The count shown by the live preview (None while counting or invalid)."""
        return self._preview_count

    def _preview_failed(self) -> None:
        if self._preview_count is None and self.preview_label.text() == "…":
            self.preview_label.setText("count failed")
        # Counting the same definition again would fail again; the next edit retries.
        self._preview_key = None

    # --- session events ----------------------------------------------------------------------

    def _office_changed(self, changes: Changes) -> None:
        if changes.touches(Area.SEGMENTS, Area.CLIENTS):
            self._read_office()
        if changes.touches(Area.RUN, Area.CLIENTS, Area.REVENUE, Area.DATE):
            # A new run changes who is in which tier; new data or a new day may change
            # who matches the same definition.
            self._preview_key = None
            self._after_change()

    def _read_office(self) -> None:
        """Read the saved segments' names and the office's tags on the worker."""
        office, read_tags = self.session.office, self._given_tags is None

        def work(_p: ProgressFn, _c: CancelledFn) -> tuple[list[SegmentInfo], list[str] | None]:
            return office.segments(), office.all_tags() if read_tags else None

        def done(result: tuple[list[SegmentInfo], list[str] | None]) -> None:
            if shiboken6.isValid(self):
                self._office_read(*result)

        self.session.submit(
            "Reading segments and tags", work, done, background=True, key=f"editor-{id(self)}"
        )

    def _office_read(self, segments: list[SegmentInfo], tags: list[str] | None) -> None:
        self._segment_names = {info.id: info.definition.name for info in segments}
        if tags is None and self._given_tags is not None:
            tags = self._given_tags()
        if tags is not None and tags != self._tags:
            self._tags = tags
            with self._sync():
                self._sync_rows()
        self._segments_changed()
        self.loaded.emit()

    def _segments_changed(self) -> None:
        if (
            self._segment_id is None
            and not self._saving
            and self._baseline is not None
            and self.undo_stack.count() == 0
            and self._state.name == self._baseline.name
            and self._baseline.name in self._segment_names.values()
        ):
            # A new, untouched segment named before the names arrived: give it a free name.
            fresh = dataclasses.replace(self._baseline, name=self._free_new_name())
            self._baseline = fresh
            self._apply_state(dataclasses.replace(self._state, name=fresh.name))
            return
        if (
            self._segment_id is not None
            and self._segment_id not in self._segment_names
            and not self._saving
        ):
            # Deleted (from the list) while shown here: Save would create it anew.
            self._segment_id = None
            self._baseline = None
            self.status_label.setText("Deleted; Save creates it again")
        self._after_change()

    def _save_failed(self, error: BaseException) -> None:
        self._saving = False
        message = str(error) or type(error).__name__
        self.status_label.setText(f"Not saved: {message[:1].upper()}{message[1:]}")
        self._update_save_state()

    def _saved_as(self, segment_id: int, definition: SegmentDefinition) -> None:
        self._segment_id = segment_id
        self._baseline = definition
        self._segment_names[segment_id] = definition.name.strip()
        self.undo_stack.setClean()
        self.status_label.setText(_SAVED)
        self._after_change()
        self.saved.emit(segment_id)

    def _free_new_name(self) -> str:
        taken = set(self._segment_names.values())
        name, number = NEW_SEGMENT_NAME, 2
        while name in taken:
            name = f"{NEW_SEGMENT_NAME} {number}"
            number += 1
        return name

    # --- closing -----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop the preview timer and drop any count still on its way."""
        self._preview_timer.stop()
        self._preview_generation += 1
        self._preview_key = None
        super().closeEvent(event)

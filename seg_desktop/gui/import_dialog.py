"""File → Import clients…/revenue…: inspect the file, map its columns, preview, then import.

The dialog only gathers choices and shows results. Reading the file is
`seg_desktop.io.readers.inspect_file`; previewing and importing are
`seg_desktop.io.importing.import_file` (a dry run, then the real one). All three
are tasks of the session's office worker (queued behind whatever runs, never
refused), so the window never freezes on a large file; the import's Changes
are broadcast by the session to every view.

The flow (SPEC section 4): the file is inspected as soon as the dialog opens and
again whenever the column mapping changes (the layout, its problems and the date
evidence depend on which column is which). Preview is possible once every
required field has a column and, when the dates could be read two ways, a date
format was chosen. Import is possible only after a preview of exactly the
current choices, and applies the file in one transaction.
"""

from __future__ import annotations

import dataclasses
import html
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import CancelledFn, ProgressFn, TaskCancelled
from seg_desktop.io.amounts import DecimalSeparator
from seg_desktop.io.dates import DateFormat
from seg_desktop.io.importing import ImportResult, import_file
from seg_desktop.io.readers import (
    CLIENT_FIELDS,
    REQUIRED_FIELDS,
    REVENUE_FIELDS,
    FileLayout,
    ImportFileError,
    ImportOptions,
    Kind,
    inspect_file,
)
from seg_desktop.store.errors import StoreError

__all__ = [
    "BAD_ROWS_TAB",
    "SAMPLE_TAB",
    "ImportDialog",
    "TextTableModel",
    "choose_import_file",
    "import_summary",
    "preview_summary",
]

ModelIndex = QModelIndex | QPersistentModelIndex
Work = Callable[[ProgressFn, CancelledFn], Any]
Done = Callable[["ImportDialog", Any], None]
"""What to do with a task's result, given the dialog (never a closure over it: see _start)."""


class _Cancelled:
    """What a task of the dialog returns when it stopped because the user cancelled."""


_CANCELLED: Final = _Cancelled()
_STOPPED: Final[tuple[type[BaseException], ...]] = (*CANCEL_EXCEPTIONS, TaskCancelled)
"""What a task raises when it stopped because it was asked to."""

FILE_FILTER: Final = "Spreadsheets (*.csv *.xlsx);;All files (*)"
SAMPLE_TAB: Final = 0
BAD_ROWS_TAB: Final = 1

_ERROR_COLOUR: Final = "#b3261e"
_NOTE_COLOUR: Final = "#8a5a00"
_DIMMED_COLOUR: Final = "#8a8a8a"
_BAR_STEPS: Final = 1000

_FIELDS: Final[dict[Kind, tuple[str, ...]]] = {"clients": CLIENT_FIELDS, "revenue": REVENUE_FIELDS}
_FIELD_LABELS: Final = {
    "ref": "Ref",
    "name": "Name",
    "email": "Email",
    "status": "Status",
    "tags": "Tags",
    "groups": "Groups",
    "client_ref": "Client ref",
    "date": "Date",
    "amount": "Amount",
    "reference": "Reference",
}
_NOT_IMPORTED: Final = "(not imported)"
# (text, value, example): examples go in tooltips so the combo stays narrow.
_DATE_FORMATS: Final[tuple[tuple[str, DateFormat | None, str], ...]] = (
    ("Choose…", None, "The file's dates can be read more than one way: choose how."),
    ("ISO", "iso", "Year-month-day, e.g. 2026-03-31"),
    ("day/month/year", "dmy", "e.g. 31/03/2026 or 31.3.2026"),
    ("month/day/year", "mdy", "e.g. 03/31/2026"),
)
_DECIMALS: Final[tuple[tuple[str, DecimalSeparator], ...]] = (
    ("Point (1,234.50)", "."),
    ("Comma (1.234,50)", ","),
)
_ENCODINGS: Final = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "cp1252": "Windows-1252",
    "utf-16": "UTF-16",
}
_DELIMITERS: Final = {",": "Comma (,)", ";": "Semicolon (;)", "\t": "Tab"}
# The readers phrase date advice for the command line; in the dialog the choice is a combo.
_CLI_WORDS: Final = (
    ("choose --date-format dmy or mdy", "choose a date format"),
    ("choose --date-format dmy", "choose day/month/year as the date format"),
    ("choose --date-format mdy", "choose month/day/year as the date format"),
)


def choose_import_file(parent: QWidget | None, kind: Kind) -> Path | None:
    """Ask for the clients or revenue file to import; None when the user cancels."""
    title = "Import clients" if kind == "clients" else "Import revenue"
    chosen, _filter = QFileDialog.getOpenFileName(parent, title, "", FILE_FILTER)
    return Path(chosen) if chosen else None


def _dialog_words(message: str) -> str:
    for cli, dialog in _CLI_WORDS:
        message = message.replace(cli, dialog)
    return message


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def preview_summary(result: ImportResult) -> str:
    """The preview's one line: "Will add N, update M, N already there, K bad rows"."""
    return (
        f"Will add {result.added:,}, update {result.updated:,},"
        f" {result.unchanged:,} already there, {_plural(result.problem_count, 'bad row')}"
    )


def import_summary(result: ImportResult) -> str:
    """What the import did, in the preview's words."""
    what = "clients" if result.kind == "clients" else "revenue records"
    return (
        f"Imported: added {result.added:,} {what}, updated {result.updated:,},"
        f" {result.unchanged:,} already there, {_plural(result.problem_count, 'bad row')}"
        " skipped"
    )


class TextTableModel(QAbstractTableModel):
    """A read-only table of texts with row labels: the sample rows, or the bad rows.

    A model rather than a QTableWidget because a preview may report up to
    100,000 bad rows, which a view over a list shows at once. Columns can be
    dimmed (the file's columns that are not imported) and carry a tooltip.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers: tuple[str, ...] = ()
        self._row_labels: tuple[str, ...] = ()
        self._rows: tuple[tuple[str, ...], ...] = ()
        self._column_tips: tuple[str, ...] = ()
        self._dimmed: frozenset[int] = frozenset()

    def set_rows(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        row_labels: Sequence[str] = (),
        *,
        column_tips: Sequence[str] = (),
        dimmed_columns: frozenset[int] = frozenset(),
    ) -> None:
        """Replace the table: column titles, the rows, a label per row (e.g. its number)."""
        self.beginResetModel()
        self._headers = tuple(headers)
        self._rows = tuple(tuple(row) for row in rows)
        self._row_labels = tuple(row_labels)
        self._column_tips = tuple(column_tips)
        self._dimmed = dimmed_columns
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """One per row given."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        """One per header."""
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The cell's text (also its tooltip, for long reasons); grey in a dimmed column."""
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            row = self._rows[index.row()]
            return row[index.column()] if index.column() < len(row) else ""
        if role == Qt.ItemDataRole.ForegroundRole and index.column() in self._dimmed:
            return QColor(_DIMMED_COLOUR)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles (and tips) across the top, row labels down the side."""
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._headers):
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return self._headers[section]
            if role == Qt.ItemDataRole.ToolTipRole and section < len(self._column_tips):
                return self._column_tips[section]
            if role == Qt.ItemDataRole.ForegroundRole and section in self._dimmed:
                return QColor(_DIMMED_COLOUR)
            return None
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if 0 <= section < len(self._row_labels):
            return self._row_labels[section]
        return str(section + 1)


class ImportDialog(QDialog):
    """Import a clients or revenue file into the session's office, preview first.

    The caller chooses the file (`choose_import_file`) and opens the dialog; the
    dialog inspects the file on the session's task runner at once.

    Signals:

    * ``layout_ready(FileLayout)`` each time the file has been inspected;
    * ``preview_ready(ImportResult)`` when a preview (dry run) has finished;
    * ``imported(ImportResult)`` when the import has been applied (after the
      session broadcast its Changes to every view);
    * ``failed(str)`` with the sentence shown in red when reading, previewing or
      importing failed or was cancelled.
    """

    layout_ready = Signal(object)
    preview_ready = Signal(object)
    imported = Signal(object)
    failed = Signal(str)

    def __init__(
        self, session: OfficeSession, kind: Kind, path: Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("import_dialog")
        self._session = session
        self._kind: Kind = kind
        self._path = Path(path)
        self._layout: FileLayout | None = None
        self._task: str | None = None  # the name of this dialog's task (waiting or running)
        self._stop: threading.Event | None = None  # the task's own cancel flag
        self._began: threading.Event | None = None  # set by the task when its turn came
        self._previewed: ImportOptions | None = None  # the options of the last good preview
        self._preview: ImportResult | None = None
        self._result: ImportResult | None = None
        self._closing = False
        self._date_format_chosen = False  # by the user: a new layout keeps it
        self._decimal_chosen = False

        noun = "clients" if kind == "clients" else "revenue"
        self.setWindowTitle(f"Import {noun} — {self._path.name}")
        self._build()
        self.resize(860, 620)

        session.runner.progress.connect(self._on_progress)
        self._inspect()

    # --- building -------------------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel(
            f"Import {'clients' if self._kind == 'clients' else 'revenue records'}"
            f" from <b>{html.escape(self._path.name)}</b>"
        )
        title.setObjectName("title_label")
        title.setToolTip(str(self._path))

        self.format_label = QLabel("…")
        self.encoding_label = QLabel("…")
        self.delimiter_label = QLabel("…")
        self.header_row_label = QLabel("…")
        self.rows_label = QLabel("…")
        for name, label in (
            ("format_label", self.format_label),
            ("encoding_label", self.encoding_label),
            ("delimiter_label", self.delimiter_label),
            ("header_row_label", self.header_row_label),
            ("rows_label", self.rows_label),
        ):
            label.setObjectName(name)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        file_box = QGroupBox("File")
        file_form = QFormLayout(file_box)
        file_form.addRow("Format:", self.format_label)
        self._encoding_row_label = QLabel("Encoding:")
        file_form.addRow(self._encoding_row_label, self.encoding_label)
        self._delimiter_row_label = QLabel("Delimiter:")
        file_form.addRow(self._delimiter_row_label, self.delimiter_label)
        file_form.addRow("Header row:", self.header_row_label)
        file_form.addRow("Data rows:", self.rows_label)

        columns_box = QGroupBox("Columns")
        columns_form = QFormLayout(columns_box)
        columns_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._mapping_combos: dict[str, QComboBox] = {}
        required = REQUIRED_FIELDS[self._kind]
        for field_name in _FIELDS[self._kind]:
            combo = QComboBox()
            combo.setObjectName(f"mapping_{field_name}")
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
            combo.setEnabled(False)
            combo.activated.connect(self._mapping_changed)
            label = QLabel(f"{_FIELD_LABELS[field_name]}{' *' if field_name in required else ''}:")
            if field_name in required:
                font = QFont(label.font())
                font.setBold(True)
                label.setFont(font)
                label.setToolTip("Required: every row needs this column.")
            label.setBuddy(combo)
            columns_form.addRow(label, combo)
            self._mapping_combos[field_name] = combo
        required_note = QLabel("* required")
        required_note.setEnabled(False)
        columns_form.addRow(required_note)

        self.date_format_combo = QComboBox()
        self.date_format_combo.setObjectName("date_format_combo")
        for text, value, example in _DATE_FORMATS:
            self.date_format_combo.addItem(text, value)
            self.date_format_combo.setItemData(
                self.date_format_combo.count() - 1, example, Qt.ItemDataRole.ToolTipRole
            )
        self.date_format_combo.activated.connect(self._date_format_chosen_now)
        self.decimal_combo = QComboBox()
        self.decimal_combo.setObjectName("decimal_combo")
        for text, decimal in _DECIMALS:
            self.decimal_combo.addItem(text, decimal)
        self.decimal_combo.activated.connect(self._decimal_chosen_now)
        self.values_box = QGroupBox("Values")
        values_form = QFormLayout(self.values_box)
        values_form.addRow("Date format:", self.date_format_combo)
        values_form.addRow("Decimal separator:", self.decimal_combo)
        # Client files have no dates or amounts.
        self.values_box.setVisible(self._kind == "revenue")

        self.date_note_label = QLabel()
        self.date_note_label.setObjectName("date_note_label")
        self.date_note_label.setWordWrap(True)
        _set_colour(self.date_note_label, _NOTE_COLOUR)
        self.date_note_label.hide()
        values_form.addRow(self.date_note_label)

        boxes = QHBoxLayout()
        boxes.addWidget(file_box, 2)
        boxes.addWidget(columns_box, 3)
        boxes.addWidget(self.values_box, 3)

        self.status_label = QLabel("Reading the file…")
        self.status_label.setObjectName("status_label")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setSizePolicy(
            QSizePolicy.Policy.Preferred, QSizePolicy.Policy.MinimumExpanding
        )

        self.sample_model = TextTableModel(self)
        self.sample_view = _table_view(self.sample_model, "sample_view")
        self.bad_rows_model = TextTableModel(self)
        self.bad_rows_view = _table_view(self.bad_rows_model, "bad_rows_view")
        self.bad_rows_view.horizontalHeader().setStretchLastSection(True)
        self.bad_rows_view.verticalHeader().hide()  # the row number is a column
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.addTab(self.sample_view, "Sample rows")
        self.tabs.addTab(self.bad_rows_view, "Bad rows")
        self.tabs.setTabEnabled(BAD_ROWS_TAB, False)

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progress_bar")
        self.progress_bar.setTextVisible(False)
        self.progress_message = QLabel()
        self.progress_message.setObjectName("progress_message")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_message, 1)
        progress_row.addWidget(self.progress_bar, 2)

        self.preview_button = QPushButton("Preview")
        self.preview_button.setObjectName("preview_button")
        self.preview_button.setToolTip("Read every row and show what importing would do.")
        self.preview_button.clicked.connect(self.preview)
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("import_button")
        self.import_button.setToolTip("Apply the previewed rows, all of them or none.")
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel_button")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        self.preview_button.setDefault(True)
        # For the platform's spacing and Cancel's place; Preview then Import, in that order.
        # Every button is wired by hand: the box's own accepted/rejected are not used.
        button_box = QDialogButtonBox()
        button_box.addButton(self.preview_button, QDialogButtonBox.ButtonRole.ActionRole)
        button_box.addButton(self.import_button, QDialogButtonBox.ButtonRole.ActionRole)
        button_box.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        buttons = QHBoxLayout()
        buttons.addLayout(progress_row, 1)
        buttons.addWidget(button_box)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(boxes)
        layout.addWidget(self.status_label)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self._update_controls()

    # --- what the user sees -----------------------------------------------------------------

    @property
    def kind(self) -> Kind:
        """ "clients" or "revenue"."""
        return self._kind

    @property
    def path(self) -> Path:
        """The file being imported."""
        return self._path

    @property
    def file_layout(self) -> FileLayout | None:
        """The latest inspection of the file (None until the first one has finished)."""
        return self._layout

    @property
    def preview_result(self) -> ImportResult | None:
        """The latest successful preview, for the current choices or earlier ones."""
        return self._preview

    @property
    def import_result(self) -> ImportResult | None:
        """What the import did, once it has been applied."""
        return self._result

    def mapping_combo(self, field_name: str) -> QComboBox:
        """The combo choosing the file column of a canonical field (e.g. "client_ref")."""
        return self._mapping_combos[field_name]

    def mapping(self) -> dict[str, str]:
        """Field → header text as chosen; "" for a field left out."""
        return {
            field_name: str(combo.currentData() or "")
            for field_name, combo in self._mapping_combos.items()
        }

    def date_format_required(self) -> bool:
        """Whether the file's dates can be read more than one way, so a format must be chosen."""
        layout = self._layout
        return (
            self._kind == "revenue"
            and layout is not None
            and (layout.dates_ambiguous or layout.dates_contradictory)
        )

    def options(self) -> ImportOptions | None:
        """The options the dialog's choices make (None before the file was inspected)."""
        if self._layout is None:
            return None
        date_format: DateFormat | None = self.date_format_combo.currentData()
        decimal: DecimalSeparator = self.decimal_combo.currentData()
        return dataclasses.replace(
            # encoding, delimiter, header row and sheet as detected...
            self._layout.resolved_options(ImportOptions()),
            # ...and the columns and values as chosen here.
            mapping=self.mapping(),
            date_format=date_format,
            decimal=decimal,
        )

    def is_running(self) -> bool:
        """Whether this dialog's own task (reading, preview or import) is running or waiting."""
        return self._task is not None

    # --- actions ------------------------------------------------------------------------------

    @Slot()
    def preview(self) -> None:
        """Preview the import with the current choices: a dry run on the worker."""
        options = self.options()
        if options is None or not self.preview_button.isEnabled():
            return
        office, kind, path = self._session.office, self._kind, self._path

        def work(progress: ProgressFn, cancelled: CancelledFn) -> ImportResult:
            return import_file(
                office, kind, path, options, dry_run=True, progress=progress, cancelled=cancelled
            )

        def done(dialog: ImportDialog, result: ImportResult) -> None:
            dialog._preview_finished(options, result)

        self._start("Previewing the import", work, done)

    @Slot()
    def start_import(self) -> None:
        """Import the previewed file in one transaction, on the worker."""
        options = self.options()
        if options is None or not self.import_button.isEnabled():
            return
        office, kind, path = self._session.office, self._kind, self._path

        def work(progress: ProgressFn, cancelled: CancelledFn) -> ImportResult:
            return import_file(
                office, kind, path, options, dry_run=False, progress=progress, cancelled=cancelled
            )

        self._start("Importing", work, ImportDialog._import_finished)

    def _preview_finished(self, options: ImportOptions, result: ImportResult) -> None:
        self._preview = result
        self._previewed = options
        self._show_problems(result)
        if result.added or result.updated:
            self._set_status(preview_summary(result) + ".")
        elif result.rows_read:
            self._set_status(preview_summary(result) + ": nothing to change, so nothing to import.")
        else:
            self._set_status("The file has no data rows to import.")
        self.preview_ready.emit(result)

    def _import_finished(self, result: ImportResult) -> None:
        self._result = result
        self._previewed = None  # imported: a second import needs a fresh preview
        self._show_problems(result)
        self._set_status(import_summary(result) + ".")
        self.cancel_button.setText("Close")
        self.imported.emit(result)

    @Slot()
    def _cancel_clicked(self) -> None:
        """Cancel stops the running task and leaves the dialog open; otherwise it closes."""
        if self._task is not None:
            self._stop_task()
        else:
            self.reject()

    def reject(self) -> None:
        """Close (Esc, the window's close button): stop this dialog's task first, then close."""
        if self._task is not None and self._began is not None and self._began.is_set():
            self._closing = True
            self._stop_task()
            return
        if self._task is not None:
            self._stop_task()  # still waiting for its turn: it will not start
        super().reject()

    def _stop_task(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._began is not None and not self._began.is_set():
            # Not started yet: it is dropped when its turn comes; nothing to wait for.
            self._on_cancelled()
            return
        self.cancel_button.setEnabled(False)
        self.progress_message.setText("Cancelling…")

    # --- reading the file ---------------------------------------------------------------------

    def _inspect(self) -> None:
        kind, path = self._kind, self._path
        mapping = self.mapping() if self._layout is not None else None
        options = ImportOptions(mapping=mapping)

        def work(progress: ProgressFn, cancelled: CancelledFn) -> FileLayout:
            def read_progress(done: int, total: int) -> None:
                progress(done / total if total else 0.0, "Reading the file")

            return inspect_file(path, kind, options, read_progress, cancelled)

        self._start("Reading the file", work, ImportDialog._show_layout)

    def _show_layout(self, layout: FileLayout) -> None:
        self._layout = layout
        self._previewed = None
        self.format_label.setText("CSV" if layout.format == "csv" else "Excel workbook")
        if layout.format == "xlsx":
            self._encoding_row_label.setText("Sheet:")
            self.encoding_label.setText(layout.sheet or "")
            self._delimiter_row_label.hide()
            self.delimiter_label.hide()
        else:
            encoding = layout.encoding or ""
            self.encoding_label.setText(_ENCODINGS.get(encoding.lower(), encoding))
            delimiter = layout.delimiter or ""
            self.delimiter_label.setText(_DELIMITERS.get(delimiter, repr(delimiter)))
        self.header_row_label.setText(str(layout.header_row))
        self.rows_label.setText(f"{layout.data_rows:,}")

        headers = list(dict.fromkeys(header for header in layout.headers if header))
        for field_name, combo in self._mapping_combos.items():
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(_NOT_IMPORTED, "")
            for header in headers:
                combo.addItem(header, header)
            chosen = layout.mapping.get(field_name, "")
            combo.setCurrentIndex(max(combo.findData(chosen), 0) if chosen else 0)
            ambiguous = layout.ambiguous_fields.get(field_name)
            combo.setToolTip(
                "Could be " + " or ".join(f"'{h}'" for h in ambiguous) + ": choose one."
                if ambiguous
                else ""
            )
            combo.blockSignals(False)

        self._preselect_values(layout)
        self._show_date_note(layout)

        fields_of = {header: field_name for field_name, header in layout.mapping.items()}
        self.sample_model.set_rows(
            [header or f"(column {number})" for number, header in enumerate(layout.headers, 1)],
            [sample.cells for sample in layout.sample_rows],
            [str(sample.row_number) for sample in layout.sample_rows],
            column_tips=[
                f"Imported as {_FIELD_LABELS[fields_of[header]]}"
                if header in fields_of
                else "Not imported"
                for header in layout.headers
            ],
            dimmed_columns=frozenset(
                column for column, header in enumerate(layout.headers) if header not in fields_of
            ),
        )
        self.sample_view.resizeColumnsToContents()
        self.tabs.setTabText(
            SAMPLE_TAB,
            f"Sample rows ({len(layout.sample_rows)} of {layout.data_rows:,})"
            if layout.data_rows > len(layout.sample_rows)
            else "Sample rows",
        )
        self._clear_problems()
        self.tabs.setCurrentIndex(SAMPLE_TAB)
        if layout.problems:
            self._set_error(" ".join(layout.problems))
        elif self.date_format_required() and self.date_format_combo.currentData() is None:
            self._set_status("Choose the date format, then Preview.")
        else:
            self._set_status("Check the columns, then Preview.")
        self.layout_ready.emit(layout)

    def _preselect_values(self, layout: FileLayout) -> None:
        """The date format and decimal separator the file suggests, unless the user chose.

        Dates that read two ways get no suggestion: the user must choose.
        """
        if not self._date_format_chosen:
            suggested: DateFormat | None = layout.date_format
            if suggested is None and not (layout.dates_ambiguous or layout.dates_contradictory):
                suggested = "iso"  # no day/month dates at all: ISO text or real dates
            self.date_format_combo.setCurrentIndex(
                max(self.date_format_combo.findData(suggested), 0)
            )
        if not self._decimal_chosen:
            self.decimal_combo.setCurrentIndex(
                max(self.decimal_combo.findData(layout.decimal or "."), 0)
            )

    def _show_date_note(self, layout: FileLayout) -> None:
        note = layout.date_note if self._kind == "revenue" else None
        if self.date_format_required() and note:
            self.date_note_label.setText(_dialog_words(note))
            self.date_note_label.show()
        else:
            self.date_note_label.hide()

    # --- running tasks ------------------------------------------------------------------------

    def _start(self, name: str, work: Work, done: Done) -> None:
        """Queue `work` on the office worker, then `done(dialog, result)`.

        Never refused: behind another task it waits its turn (the dialog says so).
        The task carries its own cancel flag, so Cancel stops this dialog's task,
        waiting or running, and never someone else's.
        """
        if self._stop is not None:
            self._stop.set()  # a newer request replaces a task of ours still waiting
        stop, began = threading.Event(), threading.Event()
        self._stop, self._began = stop, began
        self._task = name
        self._closing = False
        self.progress_bar.setRange(0, 0)
        runner = self._session.runner
        busy = runner.current_name() if runner.is_busy() else None
        self.progress_message.setText(
            f"{name}: waiting for “{busy}” to finish…" if busy else f"{name}…"
        )
        # The callbacks hold the dialog weakly. The runner hands them to its worker
        # thread with the task, and the last reference to them may be dropped there:
        # a dialog kept alive only by them would then be destroyed off the GUI thread.
        this = weakref.ref(self)

        def task(progress: ProgressFn, cancelled: CancelledFn) -> object:
            def stopped() -> bool:
                return stop.is_set() or cancelled()

            if stopped():
                return _CANCELLED
            began.set()
            progress(0.0, f"{name}…")
            try:
                return work(progress, stopped)
            except _STOPPED:
                return _CANCELLED

        def finished(result: object) -> None:
            dialog = this()
            if dialog is not None and shiboken6.isValid(dialog) and dialog._stop is stop:
                dialog._finished(done, result)

        def failed(error: BaseException, trace: str) -> None:
            dialog = this()
            if dialog is not None and shiboken6.isValid(dialog) and dialog._stop is stop:
                dialog._on_error(error, trace)

        # on_error given: a file the user can fix is shown here, in red, not as an
        # error report with a traceback.
        self._session.submit(name, task, finished, failed)
        self._update_controls()

    def _finished(self, done: Done, result: object) -> None:
        if isinstance(result, _Cancelled):
            self._on_cancelled()
            return
        self._task = None
        done(self, result)
        self._task_ended()

    def _on_error(self, error: BaseException, trace: str) -> None:
        name, self._task = self._task or "Importing", None
        if isinstance(error, ImportFileError | StoreError):
            self._fail(_dialog_words(str(error)))
        else:
            # A bug, not the file: say so here, and hand the traceback to the error report.
            self._fail(f"{name} failed: {error}")
            self._session.error.emit(name, error, trace)
        self._task_ended()

    def _on_cancelled(self) -> None:
        if self._task is None:
            return
        name, self._task = self._task, None
        self._stop = self._began = None
        if name == "Importing":
            self._fail("Import cancelled: nothing was changed.")
        else:
            self._fail(f"{name} cancelled.")
        self._task_ended()

    def _task_ended(self) -> None:
        self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.setValue(0)
        self.progress_message.clear()
        self.cancel_button.setEnabled(True)
        self._update_controls()
        if self._closing:
            self._closing = False
            super().reject()

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        # The worker's progress is this dialog's only while this dialog's task runs.
        if self._task is None or self._began is None or not self._began.is_set():
            return
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, _BAR_STEPS)
        self.progress_bar.setValue(round(fraction * _BAR_STEPS))
        if message and not self._closing:
            self.progress_message.setText(message)

    # --- reacting to choices ------------------------------------------------------------------

    @Slot()
    def _mapping_changed(self) -> None:
        """Another column for a field: read the file again under the new mapping."""
        self._previewed = None
        self._inspect()

    @Slot()
    def _date_format_chosen_now(self) -> None:
        self._date_format_chosen = self.date_format_combo.currentData() is not None
        self._choices_changed()

    @Slot()
    def _decimal_chosen_now(self) -> None:
        self._decimal_chosen = True
        self._choices_changed()

    def _choices_changed(self) -> None:
        if self._layout is None:
            return
        if self._previewed is not None and self._previewed != self.options():
            self._set_status("The choices changed: Preview again before importing.")
        elif self.date_format_required() and self.date_format_combo.currentData() is None:
            self._set_status("Choose the date format, then Preview.")
        elif self._previewed is None and not self._layout.problems:
            self._set_status("Check the columns, then Preview.")
        self._update_controls()

    def _can_preview(self) -> bool:
        layout = self._layout
        if layout is None or self.is_running() or layout.problems:
            return False
        mapping = self.mapping()
        if any(not mapping[field_name] for field_name in REQUIRED_FIELDS[self._kind]):
            return False
        return not (self.date_format_required() and self.date_format_combo.currentData() is None)

    def _can_import(self) -> bool:
        preview = self._preview
        return (
            self._can_preview()
            and self._previewed is not None
            and self._previewed == self.options()
            and preview is not None
            and bool(preview.added or preview.updated)
        )

    def _update_controls(self) -> None:
        running = self.is_running()
        self.preview_button.setEnabled(self._can_preview())
        can_import = self._can_import()
        self.import_button.setEnabled(can_import)
        # Enter does the next step: Preview, then Import once it is possible.
        self.import_button.setDefault(can_import)
        self.preview_button.setDefault(not can_import)
        for combo in (*self._mapping_combos.values(), self.date_format_combo, self.decimal_combo):
            combo.setEnabled(self._layout is not None and not running)
        self.progress_bar.setVisible(running)
        self.progress_message.setVisible(running)
        if running:
            self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip(
            "Stop reading or importing: nothing is changed." if running else ""
        )

    # --- messages -----------------------------------------------------------------------------

    def _set_status(self, text: str) -> None:
        _set_colour(self.status_label, None)
        self.status_label.setText(text)

    def _set_error(self, text: str) -> None:
        """Red: something stops the import (the file's problems, a failure)."""
        _set_colour(self.status_label, _ERROR_COLOUR)
        self.status_label.setText(text)

    def _fail(self, text: str) -> None:
        """A task failed or was cancelled: say so in red and tell the listeners."""
        self._set_error(text)
        self.failed.emit(text)

    def _show_problems(self, result: ImportResult) -> None:
        problems = result.problems
        self.bad_rows_model.set_rows(
            ["Row", "Reason"],
            [(str(problem.row_number), problem.reason) for problem in problems],
        )
        self.bad_rows_view.resizeColumnToContents(0)
        title = f"Bad rows ({result.problem_count:,})"
        if result.problem_count > len(problems):
            title = f"Bad rows (first {len(problems):,} of {result.problem_count:,})"
        self.tabs.setTabText(BAD_ROWS_TAB, title)
        self.tabs.setTabEnabled(BAD_ROWS_TAB, bool(problems))
        self.tabs.setCurrentIndex(BAD_ROWS_TAB if problems else SAMPLE_TAB)

    def _clear_problems(self) -> None:
        self.bad_rows_model.set_rows(["Row", "Reason"], [])
        self.tabs.setTabText(BAD_ROWS_TAB, "Bad rows")
        self.tabs.setTabEnabled(BAD_ROWS_TAB, False)


def _table_view(model: QAbstractTableModel, name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setWordWrap(False)
    view.setAlternatingRowColors(True)
    rows = view.verticalHeader()
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setMinimumSectionSize(40)
    return view


def _set_colour(label: QLabel, colour: str | None) -> None:
    """The label's text colour; None for the normal one.

    A palette rather than a style sheet, so the label keeps the dialog's style.
    """
    palette = QPalette()  # nothing set: everything comes from the dialog
    if colour is not None:
        palette.setColor(QPalette.ColorRole.WindowText, QColor(colour))
    label.setPalette(palette)

"""Write a segment's members or a run's tiers to CSV and Excel (.xlsx) files.

Both writers take the columns and a lazy iterator of rows (possibly hundreds
of thousands, streamed from the database) and never hold more than one row:
memory stays flat whatever the size of the office. They are plain functions
``(inputs, progress, cancelled) -> rows written``, run off the GUI thread.

Values by column kind: ``text`` is ``str``, ``money`` integer cents, ``integer``
``int``, ``date`` :class:`datetime.date`; ``None`` (or an empty text) is an
empty cell. Anything else is a programming error and raises ``TypeError``.

Security: a text that a spreadsheet could take for a formula (it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is never written as
one. In CSV it gets a leading apostrophe (the OWASP advice for CSV
injection); in Excel it is a string cell, which no spreadsheet evaluates, with
Excel's "quote prefix" so that even editing the cell keeps it as text.
Control characters that XML forbids (NUL and friends) are removed from all
text, in both formats, so both exports carry the same text.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, TextIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

# A private module, but the extension point openpyxl itself uses for every
# sheet; openpyxl is pinned (3.1.5) and the tests read every file back.
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import tostring

from seg_desktop.core.money import format_money
from seg_desktop.io.atomic import atomic_write

__all__ = [
    "DATE_FORMAT",
    "FORMULA_TRIGGERS",
    "INTEGER_FORMAT",
    "MONEY_FORMAT",
    "PROGRESS_EVERY",
    "SUMMARY_SHEET_TITLE",
    "Column",
    "ColumnKind",
    "ExportCancelled",
    "SummarySection",
    "SummaryValue",
    "csv_text",
    "excel_sheet_title",
    "write_csv",
    "write_xlsx",
]

ColumnKind = Literal["text", "money", "integer", "date"]
SummaryValue = str | int | dt.date | Decimal
ProgressCallback = Callable[[int], None]
CancelledCallback = Callable[[], bool]

#: progress() is called, and cancelled() polled, once per this many rows:
#: often enough for a smooth bar and a prompt cancel, rarely enough to cost
#: nothing next to writing the rows.
PROGRESS_EVERY = 2_000

MONEY_FORMAT = "#,##0.00"
INTEGER_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"
SUMMARY_SHEET_TITLE = "Summary"

# Excel refuses longer cells (it "repairs" the file by emptying them).
_EXCEL_CELL_LIMIT = 32_767
_EXCEL_TITLE_LIMIT = 31

#: The first characters that make a spreadsheet read a cell as a formula
#: (OWASP "CSV injection": =, +, -, @, tab, carriage return).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Characters XML 1.0 cannot carry at all (openpyxl would raise
# IllegalCharacterError; a lone surrogate would fail to encode as UTF-8).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Excel reads "_x0041_" in a string as an escaped character ("A"), per
# ECMA-376 (ST_Xstring); a literal one is kept by escaping its underscore.
_EXCEL_ESCAPE_LIKE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")

# One search decides whether a text cell needs anything but copying: a
# formula trigger first, markup to escape, an illegal character, something
# Excel would unescape, or edge whitespace that needs xml:space="preserve".
# Nearly all text takes the fast path.
_TEXT_NEEDS_CARE = re.compile(
    r"\A[\s=+\-@]|[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
    r"|_x[0-9A-Fa-f]{4}_|\s\Z"
)

# Excel's day 0 is 1899-12-30 (its 1900 system, which counts a 29 February
# 1900 that never was, hence the adjustment before March 1900).
_EXCEL_EPOCH_ORDINAL = dt.date(1899, 12, 30).toordinal()
_EXCEL_LEAP_BUG_END = dt.date(1900, 3, 1)
_EXCEL_FIRST_DATE = dt.date(1900, 1, 1)

_KIND_WIDTH: dict[str, float] = {"text": 14, "money": 15, "integer": 10, "date": 12}
_HEADER_FILL = "DDEBF7"


class ExportCancelled(Exception):
    """The user cancelled the export; nothing was written at the target path."""


@dataclass(frozen=True)
class Column:
    """One exported column: its canonical key (CSV header), its title (Excel header), its kind.

    ``width`` optionally overrides the Excel column width, in characters;
    by default it comes from the title's length and the kind, since scanning
    every row for the longest value would mean reading the data twice.
    """

    key: str
    title: str
    kind: ColumnKind
    width: float | None = None


@dataclass(frozen=True)
class SummarySection:
    """A titled block of label/value rows on the Excel "Summary" sheet.

    E.g. ``SummarySection("Counts per tier", [("Bronze", 1200), ("Silver", 310)])``.
    Values: text, an integer, a date, or a Decimal amount in major units.
    """

    title: str
    rows: Sequence[tuple[str, SummaryValue]]


# --------------------------------------------------------------------------
# Text safety shared by both formats


def _clean_text(text: str) -> str:
    """Drop the characters XML cannot hold, so both formats carry the same text."""
    return _XML_ILLEGAL.sub("", text)


def _is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_TRIGGERS)


def csv_text(text: str) -> str:
    """The text as written to a CSV cell: cleaned, and apostrophe-prefixed if formula-like."""
    cleaned = _clean_text(text)
    return "'" + cleaned if _is_formula_like(cleaned) else cleaned


def excel_sheet_title(title: str) -> str:
    """A legal, unique-with-Summary Excel sheet title derived from ``title``.

    Excel forbids ``\\ / * ? : [ ]``, a leading or trailing apostrophe and more
    than 31 characters; segment names are typed by users and may contain any
    of them, so they are replaced rather than refused.
    """
    cleaned = re.sub(r"[\\/*?:\[\]]", "-", _clean_text(title)).strip().strip("'").strip()
    cleaned = cleaned[:_EXCEL_TITLE_LIMIT].rstrip().rstrip("'") or "Data"
    if cleaned.casefold() == SUMMARY_SHEET_TITLE.casefold():
        cleaned = f"{cleaned} (data)"
    return cleaned


def _type_error(row_number: int, column: Column, value: object) -> TypeError:
    expected = {
        "text": "str",
        "money": "int cents",
        "integer": "int",
        "date": "datetime.date",
    }[column.kind]
    return TypeError(
        f"row {row_number}, column {column.key!r}: expected {expected} or None, "
        f"got {type(value).__name__} {value!r}"
    )


def _check_width(row_number: int, values: Sequence[object], columns: Sequence[Column]) -> None:
    if len(values) != len(columns):
        raise ValueError(f"row {row_number} has {len(values)} values for {len(columns)} columns")


class _Pacer:
    """Calls progress and polls cancel every PROGRESS_EVERY rows."""

    def __init__(
        self, progress: ProgressCallback | None, cancelled: CancelledCallback | None
    ) -> None:
        self._progress = progress
        self._cancelled = cancelled

    def tick(self, rows_done: int) -> None:
        """Report ``rows_done`` and raise ExportCancelled if the user asked to stop."""
        if self._cancelled is not None and self._cancelled():
            raise ExportCancelled
        if self._progress is not None:
            self._progress(rows_done)

    def check_cancelled(self) -> None:
        """Raise ExportCancelled if the user asked to stop (without reporting progress)."""
        if self._cancelled is not None and self._cancelled():
            raise ExportCancelled


# --------------------------------------------------------------------------
# CSV


def _csv_value(row_number: int, column: Column, value: object) -> str:
    if value is None:
        return ""
    kind = column.kind
    if kind == "text":
        if type(value) is not str:
            raise _type_error(row_number, column, value)
        return csv_text(value)
    if kind == "money":
        if type(value) is not int:
            raise _type_error(row_number, column, value)
        # Plain "1234.50": exact, '.' decimal, no grouping, as the import reads it.
        return format_money(value, grouping=False)
    if kind == "integer":
        if type(value) is not int:
            raise _type_error(row_number, column, value)
        return str(value)
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise _type_error(row_number, column, value)
    return value.isoformat()


def write_csv(
    path: Path,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelledCallback | None = None,
) -> int:
    """Write ``rows`` to a CSV file at ``path``; return the number of data rows written.

    UTF-8 with a byte-order mark (so Excel shows accents right), comma
    delimited, CRLF line ends and minimal quoting (the csv module's "excel"
    dialect), a header row of the column keys exactly as given, money as
    plain ``1234.50``, dates as ISO ``2024-01-31``. Formula-like text gets a
    leading apostrophe (see :func:`csv_text`); money and numbers are never
    prefixed, so ``-12.50`` stays a number.

    The file is written atomically with mode 0o600. ``progress(rows_done)``
    is called every :data:`PROGRESS_EVERY` rows and once at the end;
    ``cancelled()`` is polled as often, and returning True raises
    :class:`ExportCancelled` with nothing left at ``path`` (an existing file
    there is untouched). Any exception from ``rows`` has the same effect.
    """
    pacer = _Pacer(progress, cancelled)
    pacer.check_cancelled()
    kinds = [column.kind for column in columns]
    # Text is the common case; keep it out of the general converter's call.
    text_columns = [kind == "text" for kind in kinds]
    rows_written = 0
    with atomic_write(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([column.key for column in columns])
        for values in rows:
            row_number = rows_written + 2  # as a spreadsheet numbers it: header is 1
            _check_width(row_number, values, columns)
            cells = [
                (
                    csv_text(value)
                    if is_text and type(value) is str
                    else _csv_value(row_number, column, value)
                )
                for is_text, column, value in zip(text_columns, columns, values, strict=True)
            ]
            writer.writerow(cells)
            rows_written += 1
            if rows_written % PROGRESS_EVERY == 0:
                pacer.tick(rows_written)
        pacer.check_cancelled()
    if progress is not None:
        progress(rows_written)
    return rows_written


# --------------------------------------------------------------------------
# Excel
#
# Where the time goes: openpyxl's write-only mode turns every value into a
# Cell, then builds an ElementTree element per cell and serialises it through
# et_xmlfile's pure-Python namespace-aware writer. Profiled on 250,000 rows x
# 14 columns, that serialisation is about 60 % of the time and cell binding
# most of the rest, giving ~2.2x XlsxWriter's time even with cells and
# styles built once (about 1.7x with lxml installed, which is not a
# dependency). So the data rows, the only part that scales, are serialised
# here directly as <row>/<c> markup into openpyxl's own worksheet stream, by
# a WorksheetWriter subclass; openpyxl still builds everything else: the
# package, workbook, styles (the style ids come from its registry), sheet
# views with the frozen pane, column widths, autofilter and the Summary sheet.


def _escape_xml_text(text: str) -> str:
    # A carriage return written literally would be read back as a line feed
    # (XML end-of-line normalisation), so it is written as a reference.
    escaped = (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )
    return _EXCEL_ESCAPE_LIKE.sub(r"_x005F\1", escaped)


def _excel_serial(day: dt.date) -> int:
    """Excel's serial day number for ``day`` (1900 date system), from 1900-01-01 on."""
    serial = day.toordinal() - _EXCEL_EPOCH_ORDINAL
    return serial - 1 if day < _EXCEL_LEAP_BUG_END else serial


_TEXT, _MONEY, _INTEGER, _DATE = range(4)
_KIND_CODES = {"text": _TEXT, "money": _MONEY, "integer": _INTEGER, "date": _DATE}


@dataclass(frozen=True)
class _CellLayout:
    """Pre-built markup for one column, so a cell costs a few concatenations."""

    column: Column
    kind: int
    opening: str  # '<c r="G'
    number_middle: str  # '" s="3"><v>'  (money, integer, date)
    text_middle: str  # '" t="inlineStr"><is><t>'
    quoted_text_middle: str  # same with the quote-prefix style


@dataclass(frozen=True)
class _Styles:
    """openpyxl style ids for the data sheet, registered once per export."""

    header: int
    money: int
    integer: int
    date: int
    quoted_text: int


def _register_styles(sheet: Any) -> _Styles:
    """Build one styled cell per look and let openpyxl's registry number it.

    Going through openpyxl's cells keeps styles.xml consistent with the ids
    we write: the registry is the same one it serialises at save.
    """

    def style_id(**attributes: Any) -> int:
        cell = WriteOnlyCell(sheet)
        for name, value in attributes.items():
            setattr(cell, name, value)
        return int(cell.style_id)

    return _Styles(
        header=style_id(
            font=Font(bold=True),
            fill=PatternFill(fill_type="solid", start_color=_HEADER_FILL, end_color=_HEADER_FILL),
            border=Border(bottom=Side(style="thin")),
        ),
        money=style_id(number_format=MONEY_FORMAT),
        integer=style_id(number_format=INTEGER_FORMAT),
        date=style_id(number_format=DATE_FORMAT),
        quoted_text=style_id(quotePrefix=True),
    )


def _text_cell_markup(layout: _CellLayout, row_label: str, text: str) -> str:
    """The slow path for text that needs cleaning, escaping or protecting ('' if nothing left)."""
    text = _clean_text(text)[:_EXCEL_CELL_LIMIT]
    if not text:
        return ""
    middle = layout.quoted_text_middle if _is_formula_like(text) else layout.text_middle
    if text != text.strip():
        # Excel drops leading and trailing spaces unless told to keep them.
        middle = middle.replace("<t>", '<t xml:space="preserve">')
    return f"{layout.opening}{row_label}{middle}{_escape_xml_text(text)}</t></is></c>"


class _ScratchSheetWriter(WorksheetWriter):  # type: ignore[misc]  # openpyxl is untyped
    """openpyxl's worksheet writer, keeping its scratch file in our own folder.

    openpyxl would put it in the system temp folder and delete it only at
    exit if the export fails; ours is removed with the folder in every case.
    """

    def cleanup(self) -> None:
        """Remove the scratch file once openpyxl has copied it into the archive."""
        with contextlib.suppress(OSError):
            os.remove(self.out)


class _SummarySheetWriter(_ScratchSheetWriter):
    """Writes the Summary sheet through openpyxl's own cells and row writer.

    The rows are built while openpyxl saves, like those of a normal sheet,
    instead of being appended beforehand: an appended write-only sheet keeps
    a half-written stream open, which a failed export would leave behind.
    """

    def __init__(self, sheet: Any, out: str, summary: Sequence[SummarySection]) -> None:
        self._summary = summary
        super().__init__(sheet, out=out)

    def write_rows(self) -> None:
        """Write each section: its bold title, its label/value rows, a blank row between."""
        xf = self.xf.send(True)
        with xf.element("sheetData"):
            for row_number, cells in enumerate(self._summary_rows(), start=1):
                for column_number, cell in enumerate(cells, start=1):
                    cell.row = row_number
                    cell.column = column_number
                self.write_row(xf, cells, row_number)
        self.xf.send(None)

    def _summary_rows(self) -> Iterable[list[Any]]:
        for position, section in enumerate(self._summary):
            if position:
                yield []
            yield [_summary_cell(self.ws, section.title, bold=True)]
            for label, value in section.rows:
                yield [_summary_cell(self.ws, label), _summary_cell(self.ws, value)]


class _DataSheetWriter(_ScratchSheetWriter):
    """Streams the data rows into the sheet as markup, inside openpyxl's worksheet part.

    openpyxl drives it exactly like its own writer: ``write_top`` (sheet
    properties, views with the frozen pane, column widths) at creation,
    ``write_rows`` and ``write_tail`` (autofilter, margins) when the workbook
    is saved. Only the serialisation of the rows and of the elements is ours.
    """

    def __init__(
        self,
        sheet: Any,
        out: str,
        columns: Sequence[Column],
        rows: Iterable[Sequence[object]],
        styles: _Styles,
        pacer: _Pacer,
    ) -> None:
        self._columns = columns
        self._rows = rows
        self._pacer = pacer
        self._header_style = styles.header
        number_styles = {_MONEY: styles.money, _INTEGER: styles.integer, _DATE: styles.date}
        self._layouts = [
            _CellLayout(
                column=column,
                kind=_KIND_CODES[column.kind],
                opening=f'<c r="{get_column_letter(index)}',
                number_middle=f'" s="{number_styles.get(_KIND_CODES[column.kind], 0)}"><v>',
                text_middle='" t="inlineStr"><is><t>',
                quoted_text_middle=f'" s="{styles.quoted_text}" t="inlineStr"><is><t>',
            )
            for index, column in enumerate(columns, start=1)
        ]
        self.rows_written = 0
        super().__init__(sheet, out=out)

    def get_stream(self) -> Generator[Any, Any, None]:
        """The same send-protocol as openpyxl's stream, writing plain text to the scratch file.

        Elements sent by ``write_top``/``write_tail`` are serialised with
        openpyxl's ``tostring``; ``send(True)`` hands back the file itself
        for ``write_rows``.
        """
        with open(self.out, "w", encoding="utf-8", newline="") as out:
            out.write(f'<worksheet xmlns="{SHEET_MAIN_NS}">')
            try:
                while True:
                    element = yield
                    if element is True:
                        yield out
                    elif element is not None:
                        out.write(tostring(element, xml_declaration=False).decode("utf-8"))
            except GeneratorExit:
                pass
            out.write("</worksheet>")

    def write_rows(self) -> None:
        """Write the header and every data row, then point the autofilter at them."""
        out: TextIO = self.xf.send(True)
        out.write("<sheetData>")
        out.write(self._header_markup())
        self.rows_written = self._write_data_rows(out)
        out.write("</sheetData>")
        last_column = get_column_letter(max(len(self._columns), 1))
        self.ws.auto_filter.ref = f"A1:{last_column}{self.rows_written + 1}"
        self.xf.send(None)

    def _header_markup(self) -> str:
        cells = []
        for layout in self._layouts:
            title = _clean_text(layout.column.title)[:_EXCEL_CELL_LIMIT]
            preserve = ' xml:space="preserve"' if title != title.strip() else ""
            cells.append(
                f'{layout.opening}1" s="{self._header_style}" t="inlineStr">'
                f"<is><t{preserve}>{_escape_xml_text(title)}</t></is></c>"
            )
        return '<row r="1">' + "".join(cells) + "</row>"

    def _write_data_rows(self, out: IO[str]) -> int:
        # The hot loop of the whole export: locals instead of attribute
        # look-ups, one regex search per text, and one write per row.
        layouts = self._layouts
        columns = self._columns
        needs_care = _TEXT_NEEDS_CARE.search
        pacer = self._pacer
        write = out.write
        leap_bug_end = _EXCEL_LEAP_BUG_END
        first_date = _EXCEL_FIRST_DATE
        epoch = _EXCEL_EPOCH_ORDINAL
        date_type = dt.date
        datetime_type = dt.datetime
        rows_written = 0
        for values in self._rows:
            row_number = rows_written + 2
            _check_width(row_number, values, columns)
            label = str(row_number)
            parts = [f'<row r="{label}">']
            append = parts.append
            for layout, value in zip(layouts, values, strict=True):
                if value is None:
                    continue
                kind = layout.kind
                if kind == _TEXT:
                    if type(value) is not str:
                        raise _type_error(row_number, layout.column, value)
                    if needs_care(value) is None and 0 < len(value) <= _EXCEL_CELL_LIMIT:
                        append(f"{layout.opening}{label}{layout.text_middle}{value}</t></is></c>")
                    elif value:
                        append(_text_cell_markup(layout, label, value))
                    continue
                if kind == _MONEY:
                    if type(value) is not int:
                        raise _type_error(row_number, layout.column, value)
                    # The exact decimal text (1234.50), not a float's repr:
                    # Excel parses it to the nearest double itself.
                    number = format_money(value, grouping=False)
                elif kind == _INTEGER:
                    if type(value) is not int:
                        raise _type_error(row_number, layout.column, value)
                    number = str(value)
                else:
                    if type(value) is not date_type and (
                        not isinstance(value, date_type) or isinstance(value, datetime_type)
                    ):
                        raise _type_error(row_number, layout.column, value)
                    if value < leap_bug_end:
                        if value < first_date:
                            # Excel has no dates before 1900: keep the day as text.
                            append(_text_cell_markup(layout, label, value.isoformat()))
                            continue
                        number = str(_excel_serial(value))
                    else:
                        number = str(value.toordinal() - epoch)
                append(f"{layout.opening}{label}{layout.number_middle}{number}</v></c>")
            append("</row>")
            write("".join(parts))
            rows_written += 1
            if rows_written % PROGRESS_EVERY == 0:
                pacer.tick(rows_written)
        pacer.check_cancelled()
        return rows_written


def _column_width(column: Column) -> float:
    if column.width is not None:
        return column.width
    # Room for the title plus the autofilter's drop-down button.
    return float(max(len(column.title) + 4, _KIND_WIDTH[column.kind]))


def _summary_cell(sheet: Any, value: SummaryValue, *, bold: bool = False) -> Any:
    """A Summary-sheet cell through openpyxl's normal API, with the same text safety."""
    cell = WriteOnlyCell(sheet)
    if isinstance(value, str):
        text = _clean_text(value)[:_EXCEL_CELL_LIMIT]
        cell.value = _EXCEL_ESCAPE_LIKE.sub(r"_x005F\1", text)
        # openpyxl reads a leading '=' as a formula and '#N/A' & co. as error
        # values; forcing the type keeps every text a plain string cell.
        cell.data_type = "s"
        if _is_formula_like(text):
            cell.quotePrefix = True
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"summary amount {value!r} is not a number")
        # openpyxl would print the Decimal through a float with "%.16g"
        # (-9999.97 -> -9999.969999999999); the exact text, typed as a
        # number, is what Excel should parse.
        cell.value = format(value, "f")
        cell.data_type = "n"
        cell.number_format = MONEY_FORMAT
    elif isinstance(value, dt.datetime):
        raise TypeError(f"summary values are dates, not datetimes: {value!r}")
    elif isinstance(value, dt.date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    elif isinstance(value, int):
        cell.value = value
        cell.number_format = INTEGER_FORMAT
    else:
        raise TypeError(f"unsupported summary value {value!r}")
    if bold:
        cell.font = Font(bold=True)
    return cell


def _summary_widths(summary: Sequence[SummarySection]) -> tuple[float, float]:
    label_width = 12
    value_width = 12
    for section in summary:
        label_width = max(label_width, len(section.title))
        for label, value in section.rows:
            label_width = max(label_width, len(label))
            value_width = max(value_width, len(str(value)))
    return float(min(label_width + 2, 60)), float(min(value_width + 2, 100))


def write_xlsx(
    path: Path,
    columns: Sequence[Column],
    rows: Iterable[Sequence[object]],
    *,
    sheet_title: str,
    summary: Sequence[SummarySection],
    progress: ProgressCallback | None = None,
    cancelled: CancelledCallback | None = None,
) -> int:
    """Write ``rows`` to an Excel workbook at ``path``; return the number of data rows written.

    The first sheet (named from ``sheet_title``, see :func:`excel_sheet_title`)
    holds the data: a bold, filled header row of the column titles, frozen
    (panes at A2), an autofilter over header and data, money as numbers
    formatted ``#,##0.00`` (written as the exact decimal text of the cents),
    integers ``0``, dates as real dates ``yyyy-mm-dd``, widths from the titles
    and kinds. The second sheet, "Summary", lists ``summary``'s sections with
    bold titles. Text is always a string cell: nothing is ever a formula.

    The workbook is streamed through openpyxl's write-only mode, so memory
    stays flat; the file is written atomically with mode 0o600. Progress,
    cancel and errors behave as in :func:`write_csv`.
    """
    pacer = _Pacer(progress, cancelled)
    pacer.check_cancelled()
    workbook = Workbook(write_only=True)
    data_sheet = workbook.create_sheet(excel_sheet_title(sheet_title))
    summary_sheet = workbook.create_sheet(SUMMARY_SHEET_TITLE)
    styles = _register_styles(data_sheet)

    # Views and column widths are written when the sheet's writer starts, so
    # they are set first.
    data_sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        data_sheet.column_dimensions[get_column_letter(index)].width = _column_width(column)
    label_width, value_width = _summary_widths(summary)
    summary_sheet.column_dimensions["A"].width = label_width
    summary_sheet.column_dimensions["B"].width = value_width

    with tempfile.TemporaryDirectory(prefix="seg-export-", ignore_cleanup_errors=True) as scratch:
        writers: list[_ScratchSheetWriter] = []
        try:
            data_writer = _DataSheetWriter(
                data_sheet, os.path.join(scratch, "data.xml"), columns, rows, styles, pacer
            )
            writers.append(data_writer)
            writers.append(
                _SummarySheetWriter(summary_sheet, os.path.join(scratch, "summary.xml"), summary)
            )
            for sheet, writer in zip((data_sheet, summary_sheet), writers, strict=True):
                # A write-only sheet creates its writer on first use unless one
                # is set; ours are set before openpyxl ever asks.
                sheet._writer = writer
                writer.write_top()
            with (
                atomic_write(path, "wb") as handle,
                zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
            ):
                # Workbook.save would leave the archive open on an error, and
                # its finaliser would then write into our closed file; this is
                # save_workbook with the archive in a with-block.
                workbook.properties.modified = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                ExcelWriter(workbook, archive).write_data()
        finally:
            # Close the scratch files before the folder goes (Windows cannot
            # remove open files); a no-op after a successful save. A failure
            # here must not hide the error that brought us here.
            for writer in writers:
                with contextlib.suppress(OSError, ValueError):
                    writer.close()
    if progress is not None:
        progress(data_writer.rows_written)
    return data_writer.rows_written

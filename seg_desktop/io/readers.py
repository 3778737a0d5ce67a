"""Reading client and revenue files (CSV or .xlsx) into rows and row problems.

This is the pure file-reading half of importing (SPEC section 4): it turns a
file into a stream of `ClientRow` / `RevenueRow` values and `RowProblem`s, and
raises `ImportFileError` for anything that spoils the whole file. It never
touches the database, so the same functions serve the preview and the import.

Files are streamed, never loaded whole: CSV through the csv module over a text
stream, workbooks through openpyxl in read-only mode. Row numbers are the ones
a spreadsheet shows: the first record of the file is row 1, each CSV record is
one row (a quoted newline does not start a new one), blank rows count but are
skipped silently. A row whose fields do not line up with the header (a value
beyond its last named column, or a CSV row too short for a required column) is
a bad row as a whole, never read in part (`_RowShape`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Final, Literal, TypeAlias

from seg_desktop.core.records import ClientRow, RevenueRow, RowProblem
from seg_desktop.core.text import storable_text
from seg_desktop.io.amounts import (
    PLAIN_AMOUNT,
    AmountProblem,
    DecimalSeparator,
    cents_from_number,
    parse_amount,
    plain_cents,
    shown,
)
from seg_desktop.io.dates import (
    DATE_FORMATS,
    DateEvidence,
    DateFormat,
    DateFormatNeeded,
    DateProblem,
    date_from_serial,
    parse_date,
)

Kind: TypeAlias = Literal["clients", "revenue"]
FileFormat: TypeAlias = Literal["csv", "xlsx"]
Progress: TypeAlias = Callable[[int, int], None]
Cancelled: TypeAlias = Callable[[], bool]
StrPath: TypeAlias = str | os.PathLike[str]

CLIENT_FIELDS: Final = ("ref", "name", "email", "status", "tags", "groups")
REVENUE_FIELDS: Final = ("client_ref", "date", "amount", "reference")
REQUIRED_FIELDS: Final[dict[Kind, tuple[str, ...]]] = {
    "clients": ("ref", "name"),
    "revenue": ("client_ref", "date", "amount"),
}
DELIMITERS: Final = (",", ";", "\t")

HEADER_SEARCH_ROWS: Final = 20  # the header is looked for in this many rows
SAMPLE_ROWS: Final = 20  # data rows kept by inspect_file for a preview
TICK_ROWS: Final = 4096  # rows between progress reports and cancel checks (a power of two)

# How each field is recognised, by header text compared case-, space- and
# punctuation-insensitively. Tiers, best first: when two columns match one
# field, the better tier wins ("Client ID" over "ID"); two in the same tier
# ("Net" and "Total" for the amount) is ambiguous and must be mapped.
_ALIASES: Final[dict[Kind, dict[str, tuple[tuple[str, ...], ...]]]] = {
    "clients": {
        "ref": (
            ("ref",),
            ("client ref", "client reference", "client id", "customer id", "customer ref",
             "customer reference", "client number", "customer number", "client no",
             "customer no", "client code", "customer code"),
            ("account", "account number", "account no", "id"),
        ),
        "name": (
            ("name",),
            ("client name", "company name", "customer name"),
            ("company", "customer"),
        ),
        "email": (("email",), ("email address",), ("mail",)),
        "status": (("status",), ("client status", "customer status")),
        "tags": (("tags",), ("tag", "labels", "label")),
        "groups": (("groups",), ("group", "client groups", "client group")),
    },
    "revenue": {
        "client_ref": (
            ("client_ref",),
            ("client reference", "client id", "customer id", "customer ref",
             "customer reference", "client number", "customer number", "client no",
             "customer no", "client code", "customer code", "client"),
            ("ref", "account", "account number", "account no", "id"),
        ),
        "date": (("date",), ("invoice date", "statement date", "transaction date")),
        "amount": (
            ("amount",),
            ("invoice amount",),
            ("total", "value", "net", "revenue"),
        ),
        "reference": (
            ("reference",),
            ("invoice number", "invoice no", "invoice #", "invoice ref", "invoice reference"),
            ("invoice", "number", "doc", "document", "document number"),
        ),
    },
}  # fmt: skip

_FIELD_WORDS: Final = {"client_ref": "client ref"}  # how a field is named in a reason

_NON_KEY: Final = re.compile(r"[^\w#]|_", re.UNICODE)
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+")
_CP1252_UNDEFINED: Final = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_DETECT_CHUNK: Final = 1 << 20

_XLSX_MAGIC: Final = b"PK\x03\x04"

# A workbook is a zip archive: a few kilobytes can unpack to gigabytes (a "zip bomb").
# Before openpyxl reads anything, the archive's own directory is checked against these
# bounds; zipfile never unpacks more than a part's declared size, so they hold.
MAX_CELL_CHARS: Final = 32_767  # Excel's own limit for a cell's text
MAX_XLSX_PART_BYTES: Final = 512 * 1024 * 1024  # one sheet, unpacked (a million rows: ~250 MB)
MAX_XLSX_TOTAL_BYTES: Final = 1024 * 1024 * 1024  # every part, unpacked
MAX_XLSX_RATIO: Final = 100  # unpacked / packed, for parts over 1 MiB (real sheets: 5-20)
MAX_SHARED_STRINGS: Final = 4_000_000  # ~400 MB in openpyxl's table at the very most
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0"


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file; every None means "detect it".

    `decimal` is the decimal separator of text amounts. `date_format` is "iso",
    "dmy" or "mdy"; with None only ISO dates are read and a day/month-or-
    month/day column is a file error, never guessed. `mapping` maps canonical
    field names to header texts and wins over recognition; mapping a field to
    "" leaves it out. `header_row` is 1-based.
    """

    encoding: str | None = None
    delimiter: str | None = None
    decimal: DecimalSeparator = "."
    date_format: DateFormat | None = None
    mapping: Mapping[str, str] | None = None
    header_row: int | None = None
    sheet: str | None = None


class ImportFileError(Exception):
    """The whole file cannot be imported; the message is one sentence for the user."""


class ImportCancelled(Exception):
    """Reading stopped because the caller's `cancelled()` returned True."""


@dataclass(frozen=True)
class SampleRow:
    """A data row as text, for a preview."""

    row_number: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class FileLayout:
    """What `inspect_file` found: how the file is laid out and how it would be read.

    `problems` holds the sentences that would make reading raise
    `ImportFileError` (a required column missing, two candidate columns for one
    field, a mapped header not found); a dialog can show them next to the
    headers and let the user fix the mapping. `date_format` is the format the
    whole date column supports (None when it cannot tell); `decimal` likewise.
    """

    kind: Kind
    format: FileFormat
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    sheets: tuple[str, ...]
    header_row: int
    headers: tuple[str, ...]
    mapping: Mapping[str, str]
    unmapped_headers: tuple[str, ...]
    missing_fields: tuple[str, ...]
    ambiguous_fields: Mapping[str, tuple[str, ...]]
    problems: tuple[str, ...]
    sample_rows: tuple[SampleRow, ...]
    data_rows: int
    date_format: DateFormat | None
    dates_ambiguous: bool
    dates_contradictory: bool
    date_note: str | None
    decimal: DecimalSeparator | None

    def resolved_options(self, options: ImportOptions) -> ImportOptions:
        """`options` with what was detected filled in, so reading skips detecting again.

        The date format and decimal separator are left as given: they are the
        user's to confirm, not to be taken from a suggestion silently.
        """
        return replace(
            options,
            encoding=self.encoding,
            delimiter=self.delimiter,
            header_row=self.header_row,
            sheet=self.sheet,
            mapping=dict(self.mapping) if not self.problems else options.mapping,
        )


# --------------------------------------------------------------------------- public functions


def inspect_file(
    path: StrPath,
    kind: Kind,
    options: ImportOptions,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> FileLayout:
    """Find a file's format, encoding, delimiter, header and column mapping.

    Reads the whole file once (with progress and cancel) so the date and
    amount evidence covers every row. Raises `ImportFileError` only when the
    file cannot be read at all; mapping problems are reported in the layout.
    """
    path = Path(path)
    with _open_table(path, kind, options) as table:
        plan = _plan(table, kind, options, path.name)
        ticker = _Ticker(table, progress, cancelled)
        samples: list[SampleRow] = []
        data_rows = 0
        dates = DateEvidence()
        decimals = _DecimalEvidence()
        date_column = plan.columns.get("date")
        amount_column = plan.columns.get("amount")
        try:
            for row_number, record in _data_records(plan, table, ticker):
                if _is_blank(record):
                    continue
                data_rows += 1
                if len(samples) < SAMPLE_ROWS:
                    cells = [_cell_text(value) for value in record]
                    cells += [""] * (len(plan.headers) - len(cells))
                    samples.append(SampleRow(row_number, tuple(cells)))
                if date_column is not None and date_column < len(record):
                    _observe_date(dates, record[date_column], row_number)
                if amount_column is not None and amount_column < len(record):
                    value = record[amount_column]
                    if isinstance(value, str):
                        decimals.observe(value)
        except _UnclosedQuote:
            data_rows += 1  # one record, reported as a bad row when read
        ticker.finish()
    date_header = plan.headers[date_column] if date_column is not None else ""
    mapping = {name: plan.headers[column] for name, column in plan.columns.items()}
    mapped = set(plan.columns.values())
    return FileLayout(
        kind=kind,
        format=table.format,
        encoding=table.encoding,
        delimiter=table.delimiter,
        sheet=table.sheet,
        sheets=table.sheets,
        header_row=plan.header_row,
        headers=plan.headers,
        mapping=mapping,
        unmapped_headers=tuple(
            header for column, header in enumerate(plan.headers) if header and column not in mapped
        ),
        missing_fields=plan.missing,
        ambiguous_fields=plan.ambiguous,
        problems=plan.problems,
        sample_rows=tuple(samples),
        data_rows=data_rows,
        date_format=dates.suggested_format,
        dates_ambiguous=dates.ambiguous,
        dates_contradictory=dates.contradictory,
        date_note=dates.explain(date_header),
        decimal=decimals.suggested,
    )


def read_clients(
    path: StrPath,
    options: ImportOptions,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Iterator[ClientRow | RowProblem]:
    """Stream the clients of a file, one `ClientRow` or `RowProblem` per non-blank data row.

    A ref that appeared on an earlier row makes the later row a problem.
    Raises `ImportFileError` (possibly part-way, e.g. on a byte the chosen
    encoding cannot decode) and `ImportCancelled`.
    """
    path = Path(path)
    with _open_table(path, "clients", options) as table:
        plan = _plan(table, "clients", options, path.name)
        plan.raise_problems()
        yield from _client_rows(plan, table, _Ticker(table, progress, cancelled))


def read_revenue(
    path: StrPath,
    options: ImportOptions,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> Iterator[RevenueRow | RowProblem]:
    """Stream the revenue records of a file, one `RevenueRow` or `RowProblem` per data row.

    Two identical lines are two records. With no date format chosen, the
    first day/month-or-month/day date raises `ImportFileError`, phrased from
    the evidence of the whole date column. Raises `ImportCancelled` too.
    """
    path = Path(path)
    with _open_table(path, "revenue", options) as table:
        plan = _plan(table, "revenue", options, path.name)
        plan.raise_problems()
        ticker = _Ticker(table, progress, cancelled)
        try:
            yield from _revenue_rows(plan, table, ticker, options)
        except DateFormatNeeded:
            pass
        else:
            return
    # Outside the `with`: the file is closed before it is scanned again for evidence.
    raise _date_format_error(path, options, plan, progress, cancelled)


# --------------------------------------------------------------------------- opening files


@dataclass
class _Table:
    """An opened file: its records from row 1 on, and where reading has got to."""

    name: str
    format: FileFormat
    records: Iterator[Sequence[object]]
    position: Callable[[], tuple[int, int]]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    epoch_1904: bool = False
    # What iterating `records` can raise because the file is malformed; the
    # loops catch these around the whole loop (free until raised), not per row.
    read_errors: tuple[type[Exception], ...] = ()
    # A quote never closed, met while the header was looked for (raised after the rows).
    unclosed: _UnclosedQuote | None = None

    def file_error(self, error: Exception, row_number: int) -> ImportFileError:
        """The user's sentence for a read error met at (or near) `row_number`."""
        if isinstance(error, UnicodeError):
            return ImportFileError(
                f"{self.name} is not valid {_encoding_label(self.encoding or '')} text"
                f" (near row {row_number}): choose its encoding."
            )
        return ImportFileError(
            f"{self.name} could not be read as CSV at row {row_number} ({error});"
            ' a quote (") may never be closed.'
        )


def _check_options(options: ImportOptions) -> None:
    """Options a caller got wrong are a file error too: the user chose them in a dialog."""
    if options.decimal not in (".", ","):
        raise ImportFileError(f"'{options.decimal}' cannot be the decimal separator (use . or ,).")
    if options.date_format not in (None, *DATE_FORMATS):
        raise ImportFileError(
            f"'{options.date_format}' is not a date format (use iso, dmy or mdy)."
        )
    if options.header_row is not None and options.header_row < 1:
        raise ImportFileError(f"The header row must be 1 or more, not {options.header_row}.")


def check_import_file(path: StrPath) -> int:
    """Refuse at once what cannot be an import file; return its size in bytes.

    Only a regular file (or a link to one) is read: a named pipe (FIFO) or a
    device would block the reader forever, or never end, while the office's
    writer lock is held. Nothing is opened here, so this never blocks.
    """
    path = Path(path)
    try:
        status = path.stat()
    except OSError as error:
        raise ImportFileError(
            f"{path.name} could not be opened: {error.strerror or error}."
        ) from error
    if stat.S_ISDIR(status.st_mode):
        raise ImportFileError(f"{path.name} is a folder, not a file.")
    if not stat.S_ISREG(status.st_mode):
        raise ImportFileError(
            f"{path.name} is not a regular file (a named pipe, a device or a socket):"
            " save the data to a .csv or .xlsx file and import that."
        )
    return status.st_size


@contextmanager
def _open_table(path: Path, kind: Kind, options: ImportOptions) -> Iterator[_Table]:
    _check_options(options)
    name = path.name
    size = check_import_file(path)
    try:
        with path.open("rb") as probe:
            head = probe.read(8)
    except OSError as error:
        raise ImportFileError(f"{name} could not be opened: {error.strerror or error}.") from error
    if size == 0:
        raise ImportFileError(f"{name} is empty.")
    if head.startswith(_OLE_MAGIC):
        raise ImportFileError(
            f"{name} is an old-style .xls workbook or a password-protected one:"
            " save it as .xlsx or CSV and import that."
        )
    if head.startswith(_XLSX_MAGIC):
        with _open_xlsx(path, options) as table:
            yield table
        return
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise ImportFileError(f"{name} is not a valid Excel workbook.")
    with _open_csv(path, size, kind, options) as table:
        yield table


@contextmanager
def _open_csv(path: Path, size: int, kind: Kind, options: ImportOptions) -> Iterator[_Table]:
    name = path.name
    encoding = _choose_encoding(path, options.encoding)
    delimiter = options.delimiter
    if delimiter is None:
        delimiter = _detect_delimiter(path, encoding, kind, options)
    elif len(delimiter) != 1 or delimiter in '"\r\n':
        raise ImportFileError(
            f"'{delimiter}' cannot be a CSV delimiter (one character, not a quote)."
        )
    try:
        raw = path.open("rb")
    except OSError as error:
        raise ImportFileError(f"{name} could not be opened: {error.strerror or error}.") from error
    with raw:
        # newline="" so that quoted newlines reach the csv module intact.
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, delimiter=delimiter)
        records = _csv_records(reader, path, encoding, delimiter)
        yield _Table(
            name=name,
            format="csv",
            records=records,
            position=lambda: (raw.tell(), size),
            encoding=encoding,
            delimiter=delimiter,
            read_errors=(csv.Error, UnicodeError),
        )


class _UnclosedQuote(Exception):
    """The file ends inside a quoted cell: a quote opened on one row was never closed.

    The csv module then reads every later line into that one cell (a client's
    name held the 50 rows after it). Raised in place of that last record, so the
    row and the rows it took in are reported instead of imported.
    """

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("a quote is never closed")
        self.lines = tuple(lines)
        self.row_number = 0  # the spreadsheet row of the opening quote, once known

    def problem(self, row_number: int) -> RowProblem:
        """The row with the opening quote as a bad row, naming the rows it took in (numbered
        as a spreadsheet would number them had the quote been closed); none of them is read.

        One problem, not one per row taken in: the file has one record there, and a
        preview counts the file's records.
        """
        taken = [row_number + offset for offset, line in enumerate(self.lines) if line.strip()]
        if len(taken) > 2:
            swallowed = f" and takes in rows {taken[1]}–{taken[-1]}, which were not read either"
        elif len(taken) == 2:
            swallowed = f" and takes in row {taken[1]}, which was not read either"
        else:
            swallowed = ""
        return RowProblem(
            row_number,
            'a quote (") opened in this row is never closed: it runs to the end of the file'
            f"{swallowed}; close the quote and import again",
        )


def _csv_records(reader: Any, path: Path, encoding: str, delimiter: str) -> Iterator[list[str]]:
    """The records of a CSV reader, with a quote left open at the end of the file caught.

    A record that spans several lines, or whose last cell ends in a line break,
    is held back until the next one arrives; only if it is the file's last
    record are its lines read again to see whether the file ended inside its
    quote (then `_UnclosedQuote` is raised instead of yielding it). Every other
    record passes straight through.
    """
    before = start = 0
    held: list[str] | None = None
    for record in reader:
        if held is not None:
            yield held
            held = None
        after = reader.line_num
        if after - before > 1 or (record and record[-1].endswith(("\n", "\r"))):
            held, start = record, before  # rare: a cell with line breaks in it
        else:
            yield record
        before = after
    if held is not None:
        lines = _lines_from(path, encoding, start)
        if _ends_inside_quote("".join(lines), delimiter):
            raise _UnclosedQuote(lines)
        yield held


def _lines_from(path: Path, encoding: str, start: int) -> list[str]:
    """The physical lines of a text file after the first `start` (as csv.reader counts them)."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        return list(itertools.islice(text, start, None))


def _ends_inside_quote(text: str, delimiter: str) -> bool:
    """Whether CSV text ends inside a quoted cell, as the csv module reads it.

    A quote added at the very end closes an open cell and changes nothing
    else; after a complete record it would start a new one, and after an
    unquoted cell it would be one more character of it.
    """
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    closed = list(csv.reader(io.StringIO(text + '"', newline=""), delimiter=delimiter))
    return records == closed


def _choose_encoding(path: Path, requested: str | None) -> str:
    """The encoding to read a CSV file with: the requested one, or detected.

    Detection reads the whole file once (cheap next to parsing it): a file
    that is UTF-8 for a megabyte can still hold one Windows-1252 "é" later,
    and finding that out after half the rows were read would be too late.
    """
    name = path.name
    try:
        with path.open("rb") as stream:
            start = stream.read(4)
            if requested is not None:
                try:
                    codec = codecs.lookup(requested).name
                    io.TextIOWrapper(io.BytesIO(), encoding=requested)  # refuses "base64" & co
                except LookupError:
                    raise ImportFileError(f"'{requested}' is not a known text encoding.") from None
                if codec == "utf-8" and start.startswith(codecs.BOM_UTF8):
                    return "utf-8-sig"  # so the BOM does not stick to the first header
                return requested
            if start.startswith(codecs.BOM_UTF8):
                return "utf-8-sig"
            if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return "utf-16"  # Excel's "Unicode text" export
            stream.seek(0)
            decoder = codecs.getincrementaldecoder("utf-8")()
            try:
                while chunk := stream.read(_DETECT_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return "utf-8"
            except UnicodeDecodeError:
                pass
            stream.seek(0)
            offset = 0
            while chunk := stream.read(_DETECT_CHUNK):
                undefined = _CP1252_UNDEFINED.search(chunk)
                if undefined is not None:
                    raise ImportFileError(
                        f"{name} is neither UTF-8 nor Windows-1252 text (byte"
                        f" 0x{undefined.group()[0]:02X} at offset {offset + undefined.start()}):"
                        " save it as UTF-8 CSV and import that."
                    )
                offset += len(chunk)
            return "cp1252"
    except OSError as error:
        raise ImportFileError(f"{name} could not be read: {error.strerror or error}.") from error


def _encoding_label(encoding: str) -> str:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "Windows-1252"}.get(codec, encoding)


def _detect_delimiter(path: Path, encoding: str, kind: Kind, options: ImportOptions) -> str:
    """Choose among , ; and tab: the one under which a header row is recognised.

    Parsing the first rows with each candidate (quotes respected by the csv
    module) beats counting characters: a title line above the header, or
    decimal commas in a ';' file, cannot mislead it. When no candidate gives a
    header, the one splitting the first rows into the most columns is kept so
    that the layout can still show them for mapping.
    """
    best: tuple[tuple[int, int, int], str] | None = None
    for delimiter in DELIMITERS:
        records = _first_csv_records(path, encoding, delimiter, _rows_needed(options))
        found = _find_header(records, kind, options)
        if found is not None:
            header_row, columns = found
            score = (1, -header_row, len(columns.columns))
        else:
            score = (0, 0, max((len(record) for record in records), default=0))
        if best is None or score > best[0]:
            best = (score, delimiter)
    assert best is not None
    return best[1]


def _first_csv_records(path: Path, encoding: str, delimiter: str, count: int) -> list[list[str]]:
    records: list[list[str]] = []
    try:
        with path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, newline="")
            records.extend(itertools.islice(csv.reader(text, delimiter=delimiter), count))
    except (csv.Error, UnicodeError):
        pass  # detection works on what could be read; reading proper reports the error
    except OSError as error:
        raise ImportFileError(
            f"{path.name} could not be read: {error.strerror or error}."
        ) from error
    return records


@contextmanager
def _open_xlsx(path: Path, options: ImportOptions) -> Iterator[_Table]:
    # openpyxl is imported here so that CSV-only use does not pay for it.
    import openpyxl

    name = path.name
    if path.suffix.lower() == ".ods":
        raise ImportFileError(
            f"{name} is an OpenDocument spreadsheet: save it as .xlsx or CSV and import that."
        )
    with path.open("rb") as handle:
        _check_workbook_archive(handle, name)
        handle.seek(0)
        # A handle rather than the path: openpyxl refuses a path whose name does
        # not end in .xlsx, and a workbook is a workbook whatever it is called.
        try:
            workbook = openpyxl.load_workbook(
                handle, read_only=True, data_only=True, keep_links=False
            )
        except Exception as error:  # openpyxl raises many types for a malformed archive
            raise ImportFileError(
                f"{name} could not be read as an Excel workbook ({error})."
            ) from error
        with _closing_workbook(workbook):
            yield _sheet_table(workbook, name, options)


def _check_workbook_archive(handle: IO[bytes], name: str) -> None:
    """Refuse a workbook whose parts would unpack to far more than any real workbook.

    Memory stays bounded: a sheet or shared-strings part over MAX_XLSX_PART_BYTES,
    an archive over MAX_XLSX_TOTAL_BYTES, a part packed over MAX_XLSX_RATIO times,
    or a shared-strings table of more than MAX_SHARED_STRINGS entries is refused
    before openpyxl builds anything from it.
    """
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportFileError(
            f"{name} could not be read as an Excel workbook ({error})."
        ) from error
    with archive:
        members = archive.infolist()
        for member in members:
            packed = max(member.compress_size, 1)
            if member.file_size > 1024 * 1024 and member.file_size / packed > MAX_XLSX_RATIO:
                raise ImportFileError(
                    f"{name} is not a genuine workbook: its part {member.filename} would unpack"
                    f" from {_megabytes(packed)} to {_megabytes(member.file_size)}"
                    f" ({member.file_size // packed:,} times; real workbooks pack 5 to 20"
                    " times), as a zip bomb does."
                )
            if member.file_size > MAX_XLSX_PART_BYTES:
                raise ImportFileError(
                    f"{name} is too large: its part {member.filename} would unpack to"
                    f" {_megabytes(member.file_size)} (at most"
                    f" {_megabytes(MAX_XLSX_PART_BYTES)}): save it as CSV and import that."
                )
        total = sum(member.file_size for member in members)
        if total > MAX_XLSX_TOTAL_BYTES:
            raise ImportFileError(
                f"{name} would unpack to {_megabytes(total)}, more than a workbook can hold"
                f" here ({_megabytes(MAX_XLSX_TOTAL_BYTES)}): save it as CSV and import that."
            )
        shared = [m for m in members if m.filename.lower().endswith("sharedstrings.xml")]
        for member in shared:
            count = _count_shared_strings(archive, member)
            if count > MAX_SHARED_STRINGS:
                raise ImportFileError(
                    f"{name} holds more than {MAX_SHARED_STRINGS:,} different texts (its shared"
                    " strings), more than this program reads from a workbook: save it as CSV"
                    " and import that."
                )


def _count_shared_strings(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """The number of entries in a shared-strings part, counted in a stream (never held whole)
    and stopped as soon as there are too many."""
    count, carry = 0, b""
    with archive.open(member) as stream:
        while chunk := stream.read(1 << 20):
            data = carry + chunk
            count += data.count(b"<si>") + data.count(b"<si ")
            carry = data[-3:]  # a tag split between two chunks is counted in the next one
            if count > MAX_SHARED_STRINGS:
                break
    return count


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:,.0f} MB" if size >= 1_048_576 else f"{size:,} bytes"


@contextmanager
def _closing_workbook(workbook: Any) -> Iterator[None]:
    try:
        yield
    finally:
        workbook.close()


def _sheet_table(workbook: Any, name: str, options: ImportOptions) -> _Table:
    sheets = tuple(str(sheet.title) for sheet in workbook.worksheets)
    if not sheets:
        raise ImportFileError(f"{name} has no worksheet.")
    title = options.sheet if options.sheet is not None else sheets[0]
    if title not in sheets:
        listed = ", ".join(f"'{sheet}'" for sheet in sheets)
        raise ImportFileError(f"{name} has no worksheet '{title}' (it has {listed}).")
    sheet = workbook[title]
    declared_rows = sheet.max_row if isinstance(sheet.max_row, int) else 0
    # Some writers store a wrong size; without it openpyxl reads every row there is.
    sheet.reset_dimensions()
    counter = _Counter()
    return _Table(
        name=name,
        format="xlsx",
        records=_guarded_xlsx(sheet.iter_rows(min_row=1, values_only=True), name, counter),
        position=lambda: (counter.rows, max(declared_rows, counter.rows)),
        sheet=title,
        sheets=sheets,
        epoch_1904=workbook.epoch.year == 1904,
    )


@dataclass
class _Counter:
    rows: int = 0


def _guarded_xlsx(
    rows: Iterator[Sequence[object]], name: str, counter: _Counter
) -> Iterator[Sequence[object]]:
    """Rows of a read-only sheet; a broken archive found part-way becomes ImportFileError."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as error:  # openpyxl parses lazily: XML, zip and value errors arrive here
            raise ImportFileError(
                f"{name} could not be read as an Excel workbook after row {counter.rows} ({error})."
            ) from error
        counter.rows += 1
        for value in row:
            if type(value) is str and len(value) > MAX_CELL_CHARS:
                # Excel itself cannot write such a cell: the file was made to hurt.
                raise ImportFileError(
                    f"{name} is not a genuine workbook: a cell on row {counter.rows} holds"
                    f" {len(value):,} characters, and Excel allows at most {MAX_CELL_CHARS:,}."
                )
        yield row


# --------------------------------------------------------------------------- columns and header


def _header_key(text: str) -> str:
    """A header as compared with the known names: "E-mail Address " -> "emailaddress"."""
    return _NON_KEY.sub("", text.casefold())


_ALIAS_KEYS: Final[dict[Kind, dict[str, tuple[frozenset[str], ...]]]] = {
    kind: {
        name: tuple(frozenset(_header_key(alias) for alias in tier) for tier in tiers)
        for name, tiers in fields.items()
    }
    for kind, fields in _ALIASES.items()
}


@dataclass
class _Columns:
    """Which column holds which field, for one candidate header row."""

    columns: dict[str, int] = field(default_factory=dict)
    ambiguous: dict[str, tuple[int, ...]] = field(default_factory=dict)
    not_found: dict[str, str] = field(default_factory=dict)  # mapped field -> header text

    def has_required(self, kind: Kind) -> bool:
        return not self.not_found and all(
            name in self.columns or name in self.ambiguous for name in REQUIRED_FIELDS[kind]
        )


def _map_columns(headers: Sequence[str], kind: Kind, mapping: Mapping[str, str] | None) -> _Columns:
    fields = _ALIAS_KEYS[kind]
    keys = [_header_key(header) for header in headers]
    found = _Columns()
    claimed: set[int] = set()
    for name, wanted in (mapping or {}).items():
        if name not in fields:
            known = ", ".join(fields)
            raise ImportFileError(f"'{name}' is not a {kind} field (the fields are {known}).")
        if not wanted.strip():
            continue  # mapped to nothing: the user leaves this field out
        exact = [column for column, header in enumerate(headers) if header == wanted.strip()]
        matches = exact or [
            column for column, key in enumerate(keys) if key and key == _header_key(wanted)
        ]
        if not matches:
            found.not_found[name] = wanted
        elif len(matches) > 1:
            found.ambiguous[name] = tuple(matches)
        else:
            found.columns[name] = matches[0]
        claimed.update(matches)
    for name, tiers in fields.items():
        if mapping is not None and name in mapping:
            continue
        for tier in tiers:
            matches = [
                column for column, key in enumerate(keys) if key in tier and column not in claimed
            ]
            if len(matches) == 1:
                found.columns[name] = matches[0]
            elif matches:
                found.ambiguous[name] = tuple(matches)
            if matches:
                claimed.update(matches)
                break
    return found


def _rows_needed(options: ImportOptions) -> int:
    return max(HEADER_SEARCH_ROWS, options.header_row or 0)


def _find_header(
    records: Sequence[Sequence[object]], kind: Kind, options: ImportOptions
) -> tuple[int, _Columns] | None:
    """The first row (1-based) whose cells give a column for every required field."""
    if options.header_row is not None:
        candidates: Iterable[int] = [options.header_row]
    else:
        candidates = range(1, min(len(records), HEADER_SEARCH_ROWS) + 1)
    for row_number in candidates:
        if row_number > len(records):
            return None
        headers = [_cell_text(value) for value in records[row_number - 1]]
        columns = _map_columns(headers, kind, options.mapping)
        if columns.has_required(kind):
            return row_number, columns
    return None


@dataclass
class _Plan:
    """The header row found, its columns, and what stops the file being read."""

    header_row: int
    headers: tuple[str, ...]
    columns: dict[str, int]
    missing: tuple[str, ...]
    ambiguous: dict[str, tuple[str, ...]]
    problems: tuple[str, ...]
    leftover: list[Sequence[object]]  # rows after the header already read while looking for it

    def raise_problems(self) -> None:
        if self.problems:
            raise ImportFileError(" ".join(self.problems))

    @property
    def header_width(self) -> int:
        """The header's columns up to its last named one: empty cells after it do not count."""
        for column in range(len(self.headers), 0, -1):
            if self.headers[column - 1]:
                return column
        return 0


def _plan(table: _Table, kind: Kind, options: ImportOptions, name: str) -> _Plan:
    first: list[Sequence[object]] = []
    try:
        for record in itertools.islice(table.records, _rows_needed(options)):
            first.append(record)
    except _UnclosedQuote as error:
        table.unclosed = error  # reported after the rows before it
    except table.read_errors as error:
        raise table.file_error(error, len(first) + 1) from error
    if not first:
        raise ImportFileError(f"{name} has no rows to read.")
    found = _find_header(first, kind, options)
    problems: list[str] = []
    if found is not None:
        header_row, columns = found
    else:
        header_row = options.header_row or _likeliest_header_row(first, kind, options)
        if header_row > len(first):
            raise ImportFileError(f"{name} has no row {header_row} to be the header.")
        headers = [_cell_text(value) for value in first[header_row - 1]]
        columns = _map_columns(headers, kind, options.mapping)
        if options.header_row is None and not columns.columns:
            required = _join([_field_word(field_name) for field_name in REQUIRED_FIELDS[kind]])
            problems.append(
                f"{name} has no header row with columns for {required} in its first"
                f" {HEADER_SEARCH_ROWS} rows."
            )
    headers = [_cell_text(value) for value in first[header_row - 1]]
    for field_name, wanted in columns.not_found.items():
        problems.append(
            f"{name} has no column '{wanted}' (mapped to {_field_word(field_name)}) in its header"
            f" on row {header_row}."
        )
    ambiguous = {
        field_name: tuple(headers[column] for column in candidates)
        for field_name, candidates in columns.ambiguous.items()
    }
    for field_name, candidates in ambiguous.items():
        listed = _join([f"'{header}'" for header in candidates])
        problems.append(
            f"In {name}, columns {listed} could each be the {_field_word(field_name)}:"
            " choose one in the column mapping."
        )
    missing = tuple(
        field_name
        for field_name in REQUIRED_FIELDS[kind]
        if field_name not in columns.columns and field_name not in columns.ambiguous
    )
    if missing and not problems:
        wanted_words = _join([_field_word(field_name) for field_name in missing], "or")
        listed = ", ".join(f"'{header}'" for header in headers if header) or "no headers"
        problems.append(
            f"{name} has no column for the {wanted_words} (row {header_row} has {listed}):"
            " choose it in the column mapping."
        )
    return _Plan(
        header_row=header_row,
        headers=tuple(headers),
        columns=columns.columns,
        missing=missing,
        ambiguous=ambiguous,
        problems=tuple(problems),
        leftover=first[header_row:],
    )


def _likeliest_header_row(
    records: Sequence[Sequence[object]], kind: Kind, options: ImportOptions
) -> int:
    """With no full header: the row that names the most fields, else the first non-blank row."""
    best_row, best_count = 0, 0
    for row_number, record in enumerate(records[:HEADER_SEARCH_ROWS], start=1):
        count = len(
            _map_columns([_cell_text(value) for value in record], kind, options.mapping).columns
        )
        if count > best_count:
            best_row, best_count = row_number, count
    if best_row:
        return best_row
    for row_number, record in enumerate(records, start=1):
        if not _is_blank(record):
            return row_number
    return 1


def _field_word(name: str) -> str:
    return _FIELD_WORDS.get(name, name)


def _join(words: Sequence[str], conjunction: str = "and") -> str:
    """["a", "b", "c"] -> "a, b and c", for sentences."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


# --------------------------------------------------------------------------- rows


class _Ticker:
    """Progress reports and cancel checks every TICK_ROWS rows, so they cost nothing per row."""

    def __init__(self, table: _Table, progress: Progress | None, cancelled: Cancelled | None):
        self._table = table
        self._progress = progress
        self._cancelled = cancelled
        self.tick()

    def tick(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise ImportCancelled()
        if self._progress is not None:
            self._progress(*self._table.position())

    def finish(self) -> None:
        if self._progress is not None:
            done, total = self._table.position()
            self._progress(max(done, total), max(done, total))


@dataclass(frozen=True)
class _RowShape:
    """Whether a row's fields line up with the header; asked only of a row whose length differs.

    A value to the right of the header's last named column would be dropped unread. In a
    CSV file it is nearly always a delimiter inside an unquoted value, which has shifted
    every value after it (the tags "new;vip" read as the tag "new", and "vip" fell off the
    end); in a workbook it is a column nobody named. A CSV row too short to reach a
    required column has lost delimiters (a line written with another one) or was split by
    a line break. Either way the whole row is bad, with this one reason: its values are
    not judged, since they may not be in the columns the header says.

    Empty fields after the header are accepted silently: spreadsheets write them (a row
    `a;b;c;;` under a three-column header, when some other row or a stray format was
    wider), and nothing is lost by ignoring them. Only a non-empty value beyond the header
    makes the row bad. A CSV row shorter than the header but reaching every required
    column is accepted too: its missing optional fields read as empty.
    """

    header_width: int
    required: tuple[tuple[int, str], ...]  # (column, field) of each required field
    format: FileFormat
    delimiter: str | None

    @classmethod
    def of(cls, plan: _Plan, table: _Table, kind: Kind) -> _RowShape:
        required = tuple(
            sorted((plan.columns[field_name], field_name) for field_name in REQUIRED_FIELDS[kind])
        )
        return cls(plan.header_width, required, table.format, table.delimiter)

    def problem(self, record: Sequence[object]) -> str | None:
        """The reason a (non-blank) row is bad for its shape, or None if it lines up."""
        header_width = self.header_width
        size = len(record)
        if size > header_width:
            last = size  # the fields up to the last non-empty one
            while last > header_width and _is_blank_value(record[last - 1]):
                last -= 1
            if last > header_width:
                return self._beyond_header(record, last)
        elif self.format == "csv" and size <= self.required[-1][0]:
            missing = [_field_word(name) for column, name in self.required if column >= size]
            return (
                f"has {_count(size, 'field')} where the header has {header_width}, so it has"
                f" no {_join(missing, 'or')}: check for a line break or another delimiter"
                " in the row"
            )
        return None

    def _beyond_header(self, record: Sequence[object], last: int) -> str:
        header_width = self.header_width
        if self.format == "csv":
            delimiter = "tab" if self.delimiter == "\t" else f"'{self.delimiter}'"
            return (
                f"has {last} fields where the header has {header_width}:"
                f" check for an unquoted {delimiter} in a value"
            )
        filled = [
            column for column in range(header_width, last) if not _is_blank_value(record[column])
        ]
        end = _column_letter(header_width - 1) if header_width else ""
        ends = f" (the header ends at column {end})" if end else ""
        if len(filled) == 1:
            value = shown(_cell_text(record[filled[0]]))
            return (
                f"has '{value}' in column {_column_letter(filled[0])}, which has no header"
                f"{ends}: give the column a header or clear the cell"
            )
        letters = [_column_letter(column) for column in filled[:3]]
        if len(filled) > 3:
            letters.append(f"{len(filled) - 3} more")
        return (
            f"has values in columns {_join(letters)}, which have no header{ends}:"
            " give the columns headers or clear the cells"
        )


def _is_blank_value(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _column_letter(column: int) -> str:
    """A 0-based column as a spreadsheet names it: 0 -> "A", 25 -> "Z", 26 -> "AA"."""
    number, letters = column + 1, ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _records_after_header(plan: _Plan, table: _Table) -> Iterator[Sequence[object]]:
    """Every record after the header; a quote never closed raises `_UnclosedQuote` last."""
    return itertools.chain(plan.leftover, table.records, _raise_unclosed(table))


def _raise_unclosed(table: _Table) -> Iterator[Sequence[object]]:
    if table.unclosed is not None:
        raise table.unclosed
    yield from ()


def _data_records(
    plan: _Plan, table: _Table, ticker: _Ticker
) -> Iterator[tuple[int, Sequence[object]]]:
    """(row number, record) for every row after the header, ticking as it goes.

    Raises `_UnclosedQuote` with its `row_number` set when the file ends inside a quote.
    """
    row_number = plan.header_row
    try:
        for record in _records_after_header(plan, table):
            row_number += 1
            if not row_number & (TICK_ROWS - 1):
                ticker.tick()
            yield row_number, record
    except table.read_errors as error:
        raise table.file_error(error, row_number + 1) from error
    except _UnclosedQuote as error:
        error.row_number = row_number + 1
        raise


def _is_blank(record: Sequence[object]) -> bool:
    for value in record:
        if value is None:
            continue
        if not isinstance(value, str) or value.strip():
            return False
    return True


def _cell_text(value: object) -> str:
    """A cell as trimmed text; workbook numbers keep no spurious ".0" (17.0 -> "17").

    NUL characters are dropped, as the store drops them (`storable_text`), so a
    file with a stray NUL imports, and re-imports, the same on both engines.
    """
    if isinstance(value, str):
        return storable_text(value).strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _reference_text(value: object) -> str:
    """A ref as text, unwrapping ="00017", which some exports write to keep leading zeros."""
    text = _cell_text(value)
    if text.startswith('="') and text.endswith('"') and len(text) >= 3:
        return text[2:-1].strip()
    return text


def _cell_date(value: object, date_format: DateFormat | None, epoch_1904: bool) -> dt.date:
    """A date cell of any kind: real date, Excel serial number, or text."""
    if isinstance(value, str):
        return parse_date(value, date_format)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise DateProblem(f"date '{_cell_text(value)}' is not a date")
    if isinstance(value, int | float):
        return date_from_serial(value, epoch_1904=epoch_1904)
    if value is None:
        raise DateProblem("missing date")
    raise DateProblem(f"date '{_cell_text(value)}' is not a date")


def _cell_cents(value: object, decimal: DecimalSeparator) -> int:
    if isinstance(value, str):
        return parse_amount(value, decimal)
    if isinstance(value, int | float):
        return cents_from_number(value)
    if value is None:
        raise AmountProblem("missing amount")
    raise AmountProblem(f"amount '{_cell_text(value)}' is not a number")


def _observe_date(evidence: DateEvidence, value: object, row_number: int) -> None:
    if isinstance(value, str):
        evidence.observe_text(value, row_number)
    elif isinstance(value, dt.date | int | float) and not isinstance(value, bool):
        evidence.typed += 1


def _split_list(value: object) -> list[str]:
    """Split a ';'-separated list of tags or groups: "a; b;;c " -> ["a", "b", "c"]."""
    return [part.strip() for part in _cell_text(value).split(";") if part.strip()]


def _client_rows(plan: _Plan, table: _Table, ticker: _Ticker) -> Iterator[ClientRow | RowProblem]:
    first_rows: dict[str, int] = {}
    try:
        yield from _client_rows_until_unclosed(plan, table, ticker, first_rows)
    except _UnclosedQuote as error:
        yield error.problem(error.row_number)
    ticker.finish()


def _client_rows_until_unclosed(
    plan: _Plan, table: _Table, ticker: _Ticker, first_rows: dict[str, int]
) -> Iterator[ClientRow | RowProblem]:
    columns = plan.columns
    ref_at, name_at = columns["ref"], columns["name"]
    email_at, status_at = columns.get("email"), columns.get("status")
    tags_at, groups_at = columns.get("tags"), columns.get("groups")
    width = max(columns.values()) + 1
    shape = _RowShape.of(plan, table, "clients")
    header_width = shape.header_width
    for row_number, record in _data_records(plan, table, ticker):
        if len(record) != header_width:
            if _is_blank(record):
                continue
            shape_problem = shape.problem(record)
            if shape_problem is not None:
                yield RowProblem(row_number, shape_problem)
                continue
            if len(record) < width:
                record = [*record, *([None] * (width - len(record)))]
        ref = _reference_text(record[ref_at])
        name = _cell_text(record[name_at])
        email = None if email_at is None else _cell_text(record[email_at])
        reasons = []
        if not ref:
            if _is_blank(record):
                continue
            reasons.append("missing ref")
        elif ref in first_rows:
            reasons.append(f"duplicate ref {shown(ref)} (first on row {first_rows[ref]})")
        else:
            first_rows[ref] = row_number
        if not name:
            reasons.append("missing name")
        if email and not _EMAIL.fullmatch(email):
            reasons.append(f"email '{shown(email)}' is not an email address")
        if reasons:
            yield RowProblem(row_number, "; ".join(reasons))
            continue
        yield ClientRow(
            row_number=row_number,
            ref=ref,
            name=name,
            email=email,
            status=None if status_at is None else _cell_text(record[status_at]),
            tags=None if tags_at is None else frozenset(_split_list(record[tags_at])),
            groups=None
            if groups_at is None
            else tuple(dict.fromkeys(_split_list(record[groups_at]))),
        )


def _revenue_rows(
    plan: _Plan, table: _Table, ticker: _Ticker, options: ImportOptions
) -> Iterator[RevenueRow | RowProblem]:
    """The hot loop of a large statement import.

    A plain export row (text ref, "2026-03-02", "1234.50") goes through inline
    checks and C-level calls only; anything else falls through to the general
    cell readers. The loop is deliberately not split into per-cell functions:
    at millions of rows each Python call is a measurable share of the time.
    """
    columns = plan.columns
    ref_at, date_at, amount_at = columns["client_ref"], columns["date"], columns["amount"]
    reference_at = columns.get("reference")
    width = max(columns.values()) + 1
    shape = _RowShape.of(plan, table, "revenue")
    header_width = shape.header_width
    date_format, decimal, epoch_1904 = options.date_format, options.decimal, table.epoch_1904
    fromisoformat = dt.date.fromisoformat
    plain_amount = PLAIN_AMOUNT[decimal].fullmatch
    tick_mask = TICK_ROWS - 1
    row_number = plan.header_row
    try:
        for record in _records_after_header(plan, table):
            row_number += 1
            if not row_number & tick_mask:
                ticker.tick()
            if len(record) != header_width:
                if _is_blank(record):
                    continue
                shape_problem = shape.problem(record)
                if shape_problem is not None:
                    yield RowProblem(row_number, shape_problem)
                    continue
                if len(record) < width:
                    record = [*record, *([None] * (width - len(record)))]
            ref_cell, date_cell, amount_cell = record[ref_at], record[date_at], record[amount_at]
            reasons: list[str] | None = None

            client_ref = ref_cell.strip() if type(ref_cell) is str else _cell_text(ref_cell)
            if not client_ref:
                if _is_blank(record):
                    continue
                reasons = ["missing client ref"]
            elif client_ref[0] == "=":
                client_ref = _reference_text(client_ref)

            day: dt.date | None = None
            if (
                type(date_cell) is str
                and len(date_cell) == 10
                and date_cell[4] == "-"
                and date_cell[7] == "-"
            ):
                # Not contextlib.suppress: a with-block per row costs more than the parse.
                try:  # noqa: SIM105
                    day = fromisoformat(date_cell)
                except ValueError:
                    pass  # the general reader below says why
            if day is None:
                try:
                    day = _cell_date(date_cell, date_format, epoch_1904)
                except DateProblem as problem:
                    reasons = [*(reasons or ()), str(problem)]

            cents = 0
            if type(amount_cell) is str and plain_amount(amount_cell) is not None:
                cents = plain_cents(amount_cell, decimal)
            else:
                try:
                    cents = _cell_cents(amount_cell, decimal)
                except AmountProblem as problem:
                    reasons = [*(reasons or ()), str(problem)]

            if reasons is not None or day is None:
                yield RowProblem(row_number, "; ".join(reasons or ()))
                continue
            reference = None
            if reference_at is not None:
                reference_cell = record[reference_at]
                if type(reference_cell) is str:
                    reference = reference_cell.strip() or None
                    if reference is not None and reference[0] == "=":
                        reference = _reference_text(reference) or None
                else:
                    reference = _reference_text(reference_cell) or None
            yield RevenueRow(row_number, client_ref, day, cents, reference)
    except table.read_errors as error:
        raise table.file_error(error, row_number + 1) from error
    except _UnclosedQuote as error:
        yield error.problem(row_number + 1)
    ticker.finish()


def _date_format_error(
    path: Path,
    options: ImportOptions,
    plan: _Plan,
    progress: Progress | None,
    cancelled: Cancelled | None,
) -> ImportFileError:
    """The file-level error for non-ISO dates with no format chosen, from the whole column.

    The file is read again from the start (progress starts over) because the
    message must say what the whole column supports, not the rows seen so far.
    """
    evidence = DateEvidence()
    date_at = plan.columns["date"]
    with _open_table(path, "revenue", options) as table:
        rescan = _plan(table, "revenue", options, path.name)
        for row_number, record in _data_records(rescan, table, _Ticker(table, progress, cancelled)):
            if date_at < len(record):
                _observe_date(evidence, record[date_at], row_number)
                if evidence.contradictory:
                    break  # nothing later can change the message
    sentence = evidence.explain(plan.headers[date_at]) or (
        f"Column '{plan.headers[date_at]}' has dates that need a date format:"
        " choose --date-format dmy or mdy."
    )
    return ImportFileError(f"{path.name}: {sentence}")


class _DecimalEvidence:
    """Which decimal separator the amount texts use: "1.234,50" says ",", "1,234.50" says "."."""

    _COMMA: Final = re.compile(r",\d{1,2}\D*$")
    _DOT: Final = re.compile(r"\.\d{1,2}\D*$")

    def __init__(self) -> None:
        self.comma = self.dot = False

    def observe(self, text: str) -> None:
        if not self.comma and self._COMMA.search(text):
            self.comma = True
        elif not self.dot and self._DOT.search(text):
            self.dot = True

    @property
    def suggested(self) -> DecimalSeparator | None:
        if self.comma and not self.dot:
            return ","
        if self.dot and not self.comma:
            return "."
        return None

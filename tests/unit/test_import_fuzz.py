"""Importing mangled files into a real office: it never breaks, never lies, never half-imports.

Each example takes valid client or revenue files, mangles them (cells replaced by
garbage, lines deleted, duplicated or reordered, delimiters swapped, random
encodings, bytes flipped, files truncated) and imports them one after the other
into two fresh copies of the same office. For every file:

* the import ends in an `ImportResult` or `ImportFileError`, nothing else;
* accepted + rejected == rows read == the non-blank data rows of the file, as
  counted here independently with the csv module (or openpyxl);
* every rejected row is named by a row number inside the file's data rows, in order;
* the second office gets exactly the same result and the same tables;
* a file that raised `ImportFileError` left both offices exactly as they were;
* the rows added are the rows the table gained, and importing it again adds nothing.

The figures (files tried, rows accepted and rejected) are printed at the end.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from seg_desktop.io.importing import ImportResult, import_file
from seg_desktop.io.readers import FileLayout, ImportFileError, ImportOptions, Kind, inspect_file
from seg_desktop.store.office import Office
from tests.helpers.office import DATA_TABLES, add_revenue, client, make_office

CSV_EXAMPLES = 180
CSV_FILES_PER_EXAMPLE = 5
XLSX_EXAMPLES = 45
XLSX_FILES_PER_EXAMPLE = 3
MIN_FILES = 1000

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Figures:
    """What the fuzz tests tried, printed by the last test of the module."""

    files: int = 0
    file_errors: int = 0
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    suites: set[str] = dataclasses.field(default_factory=set)  # the fuzz tests that ran


FIGURES = Figures()


# --------------------------------------------------------------------------- valid files

CLIENT_ROWS: list[list[str]] = [
    ["ref", "name", "email", "status", "tags", "groups"],
    ["00017", "Acme Ltd", "info@acme.example", "active", "vip;gold", "Acme staff"],
    ["00018", "Zoë Müller", "", "prospect", "", "Müller family"],
    ["017", "Bright & Co", "b@bright.example", "active", "vip", "Müller family;Acme staff"],
    ["00020", "Café Noir", "", "", "", ""],
]

REVENUE_ROWS: list[list[str]] = [
    ["client_ref", "date", "amount", "reference"],
    ["00017", "2026-01-15", "1234.50", "INV-1"],
    ["00017", "2026-01-15", "1234.50", ""],
    ["00017", "2026-01-15", "1234.50", ""],
    ["00018", "2026-02-01", "-20.00", ""],
    ["017", "2026-03-31", "0.01", "INV-2"],
    ["00099", "2026-03-01", "5.00", ""],
]

BASE_ROWS: dict[Kind, list[list[str]]] = {"clients": CLIENT_ROWS, "revenue": REVENUE_ROWS}
AMOUNT_COLUMN, DATE_COLUMN = 2, 1  # in REVENUE_ROWS

GARBAGE_AMOUNTS = [
    "", "abc", "1,234.56", "1.234,56", "(12.00)", "12.00-", "€ 5", "5 EUR", "1e5", "NaN",
    "inf", "9" * 20, "999999999999999.99", "-0", "0.001", "１２", "12 345,67", "--5", "1'234.50",
    "0x10", "−7.50",
]  # fmt: skip
GARBAGE_DATES = [
    "", "2026-02-30", "31/12/2026", "12/31/2026", "03/04/2026", "2026-1-5", "46083", "0",
    "99999999", "yesterday", "2026-13-01", "2026/03/02", "2.3.2026", "0000-01-01", "9999-12-31",
    "2026-03-02T10:00", " 2026-03-02 ",
]  # fmt: skip
GARBAGE_TEXT = [
    "", " ", "00017", " 00017 ", '="00017"', "17", "00099", "x" * 300, "a@b", "not an email",
    "=SUM(A1)", '"', "a,b", "a;b", "tab\there", "line\nbreak", "\u00a0", "Zoë", "\x00",
]  # fmt: skip

# Mostly what offices' files are in (and is detected), sometimes what is not.
ENCODINGS = ["utf-8"] * 4 + ["utf-8-sig"] * 2 + ["cp1252"] * 2 + ["utf-16", "latin-1", "utf-32"]


def garbage(column_kind: str) -> st.SearchStrategy[str]:
    known = {"amount": GARBAGE_AMOUNTS, "date": GARBAGE_DATES}.get(column_kind, GARBAGE_TEXT)
    return st.one_of(st.sampled_from(known), st.text(max_size=12))


LINE_OPERATIONS = ["garbage"] * 4 + ["delete", "duplicate", "swap", "blank", "extra", "header"]


@st.composite
def mangled_rows(draw: st.DrawFn, kind: Kind) -> list[list[str]]:
    """The valid rows of `kind` with a few line and cell mutations.

    The header line is mangled less often than the others (the "header" operation,
    or any operation once the data lines are gone): a file without a recognisable
    header is refused whole, and the row-by-row checks need files that are not.
    """
    rows = [list(row) for row in BASE_ROWS[kind]]
    header = BASE_ROWS[kind][0]
    for _ in range(draw(st.integers(0, 6))):
        if not rows:
            rows.append([])
        operation = draw(st.sampled_from(LINE_OPERATIONS))
        if operation == "header" or len(rows) == 1:
            at = 0
            operation = draw(st.sampled_from(["garbage", "delete", "swap", "blank"]))
        else:
            at = draw(st.integers(1, len(rows) - 1))
        if operation == "garbage":
            column = draw(st.integers(0, len(header) - 1))
            while len(rows[at]) <= column:
                rows[at].append("")
            rows[at][column] = draw(garbage(header[column]))
        elif operation == "delete":
            del rows[at]
        elif operation == "duplicate":
            rows.insert(at, list(rows[at]))
        elif operation == "swap":
            other = draw(st.integers(0, len(rows) - 1))
            rows[at], rows[other] = rows[other], rows[at]
        elif operation == "blank":
            rows.insert(at, [""] * draw(st.integers(0, 3)))
        else:
            rows[at] = rows[at] + [draw(garbage("text"))]
    return rows


@dataclass(frozen=True)
class Case:
    """One file to import: its kind, bytes, name and the options chosen for it."""

    kind: Kind
    content: bytes
    suffix: str
    options: ImportOptions


OPTIONS = st.builds(
    ImportOptions,
    encoding=st.sampled_from([None] * 8 + ["utf-8", "cp1252"]),
    delimiter=st.sampled_from([None] * 8 + [",", ";"]),
    decimal=st.sampled_from([".", ".", ","]),
    date_format=st.sampled_from([None, None, "iso", "dmy", "mdy"]),
)


def flip_bytes(draw: st.DrawFn, content: bytes) -> bytes:
    """Flip, insert, delete bytes, or truncate the file, a few times (or not at all)."""
    data = bytearray(content)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        # Drawn independently of the length: a workbook's length varies with the clock.
        at = draw(st.integers(0, 1 << 16)) % max(len(data), 1)
        if operation == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif operation == "delete" and data:
            del data[at]
        elif operation == "truncate":
            del data[at:]
    return bytes(data)


@st.composite
def csv_cases(draw: st.DrawFn) -> Case:
    """A mangled CSV file."""
    kind: Kind = draw(st.sampled_from(["clients", "revenue"]))
    rows = draw(mangled_rows(kind))
    delimiter = draw(st.sampled_from([","] * 4 + [";", ";", "\t", "|"]))
    if kind == "revenue" and delimiter == ";" and draw(st.booleans()):
        # A European export: decimal commas in a ';' file.
        for row in rows[1:]:
            if len(row) > AMOUNT_COLUMN:
                row[AMOUNT_COLUMN] = row[AMOUNT_COLUMN].replace(".", ",")
    buffer = io.StringIO()
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator)
    swapped = draw(st.sampled_from([None] * 6 + [",", ";", "\t"]))
    swapped_line = draw(st.integers(0, max(len(rows) - 1, 0)))
    for number, row in enumerate(rows):
        if swapped is not None and number == swapped_line:
            # One line written with another delimiter.
            csv.writer(buffer, delimiter=swapped, lineterminator=terminator).writerow(row)
        else:
            writer.writerow(row)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(ENCODINGS))
    content = text.encode(encoding, errors="replace")
    content = flip_bytes(draw, content)
    return Case(kind, content, ".csv", draw(OPTIONS))


def typed_cell(draw: st.DrawFn, header: str, value: str) -> object:
    """A workbook cell: the text, or a real number or date as a spreadsheet would hold it."""
    value = ILLEGAL_CHARACTERS_RE.sub("?", value)  # control characters a workbook cannot hold
    choice = draw(st.integers(0, 3))
    if choice == 0 or not value or value == header:  # a header cell stays text
        return value or None
    if header == "amount":
        try:
            number = float(value)
        except ValueError:
            return value
        if not math.isfinite(number):
            return value  # a workbook holds no infinity or NaN
        return number if choice == 1 else int(number)
    if header == "date":
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return draw(st.sampled_from([value, 46083, 46083.5, -1, 3e6, True]))
        return day if choice == 1 else dt.datetime.combine(day, dt.time())
    if header in ("ref", "client_ref") and value.isdigit() and choice == 1:
        return int(value)  # a ref stored as a number loses its leading zeros
    return value


@st.composite
def xlsx_cases(draw: st.DrawFn) -> Case:
    """A mangled workbook: garbage and typed cells, sometimes damaged bytes."""
    kind: Kind = draw(st.sampled_from(["clients", "revenue"]))
    rows = draw(mangled_rows(kind))
    header = BASE_ROWS[kind][0]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(
            [
                typed_cell(draw, header[column] if column < len(header) else "", value)
                for column, value in enumerate(row)
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    content = buffer.getvalue()
    if draw(st.integers(0, 4)) == 0:
        content = flip_bytes(draw, content)
    return Case(kind, content, ".xlsx", draw(OPTIONS))


# --------------------------------------------------------------------------- the office


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the offices go: in memory (tmpfs) where there is one, else tmp_path.

    An office commits with fsync (synchronous=FULL); on a disk the two thousand
    commits of this module would take longer than everything else it does.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="seg_import_fuzz_", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("import_fuzz")


@pytest.fixture(scope="module")
def template(fuzz_folder: Path) -> Path:
    """A closed office file with some of the files' clients and revenue already in it."""
    folder = fuzz_folder
    office, _ = make_office(
        folder,
        [
            client("00017", "Acme Ltd", email="info@acme.example", status="active"),
            client("00018", "Zoë Müller", tags=["vip"]),
            client("017", "Bright & Co"),
        ],
        name="template.db",
    )
    add_revenue(
        office,
        [
            ("00017", dt.date(2026, 1, 15), 999, "INV-1"),
            ("00017", dt.date(2026, 1, 15), 123450),
            ("00018", dt.date(2026, 2, 1), -2000),
        ],
    )
    office.close()
    return folder / "template.db"


def fresh_copy(template: Path, folder: Path, name: str) -> Office:
    shutil.copy(template, folder / name)
    return Office.open(folder / name)


RECOMPUTED_AT = 5  # segment.recomputed_at: when, by the clock, the counts were recomputed
PRODUCTION_CHANGED_AT = "production_inputs_changed_at"  # a setting: when the data last changed


def comparable(office: Office) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (as tests.helpers.office.snapshot), in one read transaction.

    The clock readings (the segments' recompute time, when the data last changed) are left
    out so that two offices
    that did the same work compare equal.
    """
    tables: dict[str, list[tuple[object, ...]]] = {}
    with office.database.read() as connection:
        for table in DATA_TABLES:
            rows = connection.exec_driver_sql(f"SELECT * FROM {table}").all()
            tables[table] = sorted((tuple(row) for row in rows), key=repr)
    tables["segment"] = [
        (*row[:RECOMPUTED_AT], None, *row[RECOMPUTED_AT + 1 :]) for row in tables["segment"]
    ]
    # Likewise when the data behind the runs last changed (whether it did stays compared).
    tables["setting"] = [
        (key, None if key == PRODUCTION_CHANGED_AT else value)
        for key, value in tables.get("setting", [])
    ]
    return tables


def outcome(result: ImportResult) -> tuple[object, ...]:
    return (
        result.rows_read,
        result.added,
        result.updated,
        result.unchanged,
        result.problem_count,
        tuple(result.problems),
    )


# --------------------------------------------------------------------------- the oracle


def data_records(path: Path, layout: FileLayout) -> list[tuple[object, ...]]:
    """Every record of the file from row 1, read here without the importer's code."""
    if layout.format == "xlsx":
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook[layout.sheet]
            sheet.reset_dimensions()
            return [tuple(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    assert layout.encoding is not None and layout.delimiter is not None
    text = path.read_bytes().decode(codecs.lookup(layout.encoding).name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    return [tuple(record) for record in reader]


def is_blank(record: tuple[object, ...]) -> bool:
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in record)


REQUIRED: dict[Kind, tuple[str, ...]] = {
    "clients": ("ref", "name"),
    "revenue": ("client_ref", "date", "amount"),
}


def not_lined_up(
    record: tuple[object, ...], header: tuple[object, ...], layout: FileLayout, kind: Kind
) -> bool:
    """Whether a data row must be a bad row for its shape alone, whatever its values.

    It is when it has a non-empty value to the right of the header's last named cell
    (empty ones there are accepted), or, in a CSV file, when it is too short to reach a
    required field's column.
    """
    named = [
        column
        for column, value in enumerate(header)
        if value is not None and (not isinstance(value, str) or value.replace("\x00", "").strip())
    ]
    header_width = named[-1] + 1 if named else 0
    if not is_blank(record[header_width:]):
        return True
    required = max(layout.headers.index(layout.mapping[name]) for name in REQUIRED[kind])
    return layout.format == "csv" and len(record) <= required


def check_file(
    case: Case,
    path: Path,
    first: Office,
    second: Office,
    before: dict[str, list[tuple[object, ...]]],
) -> dict[str, list[tuple[object, ...]]]:
    """Import one file into both offices (holding `before`) and check everything promised.

    Returns what both offices hold afterwards.
    """
    FIGURES.files += 1
    table = "client" if case.kind == "clients" else "revenue"
    try:
        result = import_file(first, case.kind, path, case.options)
    except ImportFileError as error:
        FIGURES.file_errors += 1
        assert str(error), "an ImportFileError must say why"
        assert comparable(first) == before
        with pytest.raises(ImportFileError) as again:
            import_file(second, case.kind, path, case.options)
        assert str(again.value) == str(error)
        assert comparable(second) == before
        return before

    FIGURES.rows_read += result.rows_read
    FIGURES.accepted += result.accepted
    FIGURES.rejected += result.problem_count
    assert min(result.added, result.updated, result.unchanged) >= 0
    assert result.accepted + result.problem_count == result.rows_read
    assert len(result.problems) == result.problem_count
    assert all(problem.reason for problem in result.problems)

    # The file's data rows, counted independently.
    layout = inspect_file(path, case.kind, case.options)
    records = data_records(path, layout)
    data_rows = range(layout.header_row + 1, len(records) + 1)
    non_blank = [n for n in data_rows if not is_blank(records[n - 1])]
    assert result.rows_read == len(non_blank) == layout.data_rows
    numbers = [problem.row_number for problem in result.problems]
    assert numbers == sorted(set(numbers)), "one problem per row, in file order"
    assert set(numbers) <= set(non_blank), (numbers, data_rows)
    header = records[layout.header_row - 1]
    misaligned = [n for n in non_blank if not_lined_up(records[n - 1], header, layout, case.kind)]
    assert set(misaligned) <= set(numbers), "a row not lined up with the header was imported"

    # What the office holds: the added rows are the table's new rows.
    after = comparable(first)
    assert len(after[table]) == len(before[table]) + result.added
    if not (result.added or result.updated):
        assert after == before

    # The same file, the same office: the same result and the same tables.
    assert outcome(import_file(second, case.kind, path, case.options)) == outcome(result)
    assert comparable(second) == after

    # And once more: nothing left to do.
    repeat = import_file(first, case.kind, path, case.options)
    assert (repeat.added, repeat.updated, repeat.unchanged) == (0, 0, result.accepted)
    assert repeat.problems == result.problems
    assert comparable(first) == after
    return after


def check_files(cases: list[Case], template: Path) -> None:
    with tempfile.TemporaryDirectory(dir=template.parent) as name:
        folder = Path(name)
        first = fresh_copy(template, folder, "first.db")
        second = fresh_copy(template, folder, "second.db")
        try:
            tables = comparable(first)
            assert comparable(second) == tables
            for number, case in enumerate(cases):
                path = folder / f"file{number}{case.suffix}"
                path.write_bytes(case.content)
                tables = check_file(case, path, first, second, tables)
        finally:
            first.close()
            second.close()


# --------------------------------------------------------------------------- the tests


@settings(FUZZ, max_examples=CSV_EXAMPLES)
@given(cases=st.lists(csv_cases(), min_size=CSV_FILES_PER_EXAMPLE, max_size=CSV_FILES_PER_EXAMPLE))
def test_mangled_csv_files_import_whole_or_not_at_all(cases: list[Case], template: Path) -> None:
    FIGURES.suites.add("csv")
    check_files(cases, template)


@settings(FUZZ, max_examples=XLSX_EXAMPLES)
@given(
    cases=st.lists(xlsx_cases(), min_size=XLSX_FILES_PER_EXAMPLE, max_size=XLSX_FILES_PER_EXAMPLE)
)
def test_mangled_workbooks_import_whole_or_not_at_all(cases: list[Case], template: Path) -> None:
    FIGURES.suites.add("xlsx")
    check_files(cases, template)


def test_zz_fuzz_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Print what the fuzz tests above tried (last in the module, so after them)."""
    figures = dataclasses.asdict(FIGURES)
    with capsys.disabled():
        print(
            f"\nimport fuzz: {FIGURES.files} files tried ({FIGURES.file_errors} refused whole),"
            f" {FIGURES.rows_read} rows read: {FIGURES.accepted} accepted,"
            f" {FIGURES.rejected} rejected"
        )
    if FIGURES.suites == {"csv", "xlsx"}:  # both fuzz tests ran in this session
        assert FIGURES.files >= MIN_FILES, figures
        assert FIGURES.accepted > 0 and FIGURES.rejected > 0 and FIGURES.file_errors > 0, figures

"""Export writers: exact values and types read back, formula safety, atomic files, cancel."""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from seg_desktop.core.money import format_money, to_decimal
from seg_desktop.io.atomic import atomic_path, atomic_write
from seg_desktop.io.export import (
    DATE_FORMAT,
    INTEGER_FORMAT,
    MONEY_FORMAT,
    PROGRESS_EVERY,
    Column,
    ExportCancelled,
    SummarySection,
    csv_text,
    excel_sheet_title,
    write_csv,
    write_xlsx,
)

MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

COLUMNS = (
    Column("ref", "Ref", "text"),
    Column("name", "Name", "text"),
    Column("email", "Email", "text"),
    Column("status", "Status", "text"),
    Column("tags", "Tags", "text"),
    Column("groups", "Groups", "text"),
    Column("total_revenue", "Total revenue", "money"),
    Column("invoice_count", "Invoices", "integer"),
    Column("first_invoice_date", "First invoice", "date"),
    Column("last_invoice_date", "Last invoice", "date"),
    Column("average_invoice_amount", "Average invoice", "money"),
    Column("production", "Production", "money"),
    Column("tier", "Tier", "text"),
    Column("group_tier", "Group tier", "text"),
)
KEYS = [column.key for column in COLUMNS]
MONEY_INDEXES = [i for i, column in enumerate(COLUMNS) if column.kind == "money"]

INJECTIONS = [
    "=1+1",
    "+SUM(A1)",
    "-2",
    "@cmd",
    "\tx",
    "\rx",
    "a\x00b",
    '=HYPERLINK("http://x")',
    "\x00=2",  # a trigger hidden behind a NUL must still be caught
]

# Money at the interesting edges: zero, one cent either side, a cent below and
# above a whole unit, negatives, grouping sizes, and the largest amounts a
# double still holds to the cent.
MONEY_EDGES = [
    0,
    1,
    -1,
    99,
    100,
    101,
    -1250,
    5_000_000 - 1,
    5_000_000,
    5_000_000 + 1,
    123_456_789,
    -999_997,
    10**15 - 1,
    -(10**15 - 1),
]


def client_row(
    ref: str,
    *,
    name: str | None = "Ana Müller",
    money: int | None = 123_450,
    count: int | None = 3,
    first: dt.date | None = dt.date(2024, 1, 31),
    last: dt.date | None = dt.date(2024, 2, 29),
) -> tuple[object, ...]:
    """One row in COLUMNS order."""
    return (
        ref,
        name,
        "ana@example.com",
        "active",
        "vip;north",
        "Müller family",
        money,
        count,
        first,
        last,
        money,
        money,
        "Gold",
        None,
    )


def sample_rows() -> list[tuple[object, ...]]:
    """Rows covering each kind's edges, including None in every column."""
    rows = [client_row("00017")]
    rows += [client_row(f"M{i:03d}", money=cents) for i, cents in enumerate(MONEY_EDGES)]
    rows.append((None,) * len(COLUMNS))
    rows.append(client_row("D1", first=dt.date(1900, 3, 1), last=dt.date(1900, 2, 28)))
    rows.append(client_row("D2", first=dt.date(1900, 1, 1), last=dt.date(9999, 12, 31)))
    rows.append(client_row("BIG", count=2**40))
    return rows


def lazy(rows: Sequence[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
    """The rows as a one-pass iterator, as the database hands them out."""
    yield from rows


def sheet_xml(path: Path, index: int = 1) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"xl/worksheets/sheet{index}.xml").decode("utf-8")


def raw_values(path: Path) -> dict[str, str]:
    """Cell reference -> the text of its <v> element, straight from the sheet XML."""
    root = ElementTree.fromstring(sheet_xml(path))
    return {
        cell.attrib["r"]: cell.findtext(f"{MAIN_NS}v") or ""
        for cell in root.iter(f"{MAIN_NS}c")
        if cell.find(f"{MAIN_NS}v") is not None
    }


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


SUMMARY = [
    SummarySection(
        "Definition",
        [
            ("Match", "all"),
            ("Criterion 1", "Total revenue more than 50,000.00"),
            ("Injected", "=1+1"),
            ("Error-like", "#N/A"),
        ],
    ),
    SummarySection(
        "Date range",
        [("Start", dt.date(2024, 1, 1)), ("End", dt.date(2024, 12, 31)), ("Months", 12)],
    ),
    SummarySection(
        "Counts per tier",
        [("Bronze", 1200), ("Silver", 310), ("Total revenue", Decimal("-9999.97"))],
    ),
]


def export_xlsx(
    path: Path,
    rows: Sequence[tuple[object, ...]],
    *,
    sheet_title: str = "Gold clients",
    summary: Sequence[SummarySection] = SUMMARY,
) -> int:
    return write_xlsx(path, COLUMNS, lazy(rows), sheet_title=sheet_title, summary=summary)


# --------------------------------------------------------------------------- CSV


def test_csv_is_utf8_with_bom_and_header_of_keys(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    assert write_csv(path, COLUMNS, lazy([client_row("1")])) == 1
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfref,name,email,status,tags,groups,total_revenue,")
    assert raw.endswith(b"\r\n")
    assert "Müller".encode() in raw
    assert read_csv(path)[0] == KEYS


def test_csv_values_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = sample_rows()
    assert write_csv(path, COLUMNS, lazy(rows)) == len(rows)
    body = read_csv(path)[1:]
    assert len(body) == len(rows)
    first = body[0]
    assert first == [
        "00017",
        "Ana Müller",
        "ana@example.com",
        "active",
        "vip;north",
        "Müller family",
        "1234.50",
        "3",
        "2024-01-31",
        "2024-02-29",
        "1234.50",
        "1234.50",
        "Gold",
        "",
    ]
    for cents, line in zip(MONEY_EDGES, body[1:], strict=False):
        for index in MONEY_INDEXES:
            # No grouping, '.' decimal, two places, a plain leading minus.
            assert line[index] == format_money(cents, grouping=False)
            assert Decimal(line[index]) == to_decimal(cents)
    assert body[1 + len(MONEY_EDGES)] == [""] * len(COLUMNS)
    assert body[-3][8:10] == ["1900-03-01", "1900-02-28"]
    assert body[-1][7] == str(2**40)


def test_csv_negative_money_is_not_prefixed(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(path, COLUMNS, lazy([client_row("1", money=-1250)]))
    line = read_csv(path)[1]
    assert line[6] == "-12.50"


def test_csv_formula_like_text_is_prefixed(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = [client_row(text) for text in INJECTIONS]
    write_csv(path, COLUMNS, lazy(rows))
    refs = [line[0] for line in read_csv(path)[1:]]
    assert refs == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2",
        "'@cmd",
        "'\tx",
        "'\rx",
        "ab",
        '\'=HYPERLINK("http://x")',
        "'=2",
    ]
    assert b"\x00" not in path.read_bytes()


def test_csv_text_keeps_ordinary_text() -> None:
    assert csv_text("Müller & Söhne, 2=2") == "Müller & Söhne, 2=2"
    assert csv_text("a-b") == "a-b"
    assert csv_text("") == ""
    assert csv_text("x\x01\x1fy\ud800") == "xy"


@given(st.lists(st.text(max_size=40), min_size=1, max_size=30))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_csv_text_round_trips(tmp_path: Path, texts: list[str]) -> None:
    path = tmp_path / "texts.csv"
    columns = [Column("text", "Text", "text")]
    write_csv(path, columns, lazy([(text,) for text in texts]))
    assert [line[0] for line in read_csv(path)[1:]] == [csv_text(text) for text in texts]


# -------------------------------------------------------------------------- xlsx


def test_xlsx_values_and_types_read_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = sample_rows()
    assert export_xlsx(path, rows) == len(rows)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Gold clients", "Summary"]
    sheet = workbook["Gold clients"]
    assert [cell.value for cell in sheet[1]] == [column.title for column in COLUMNS]
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == len(rows)
    assert values[0] == (
        "00017",  # a ref stays text
        "Ana Müller",
        "ana@example.com",
        "active",
        "vip;north",
        "Müller family",
        1234.5,
        3,
        dt.datetime(2024, 1, 31),
        dt.datetime(2024, 2, 29),
        1234.5,
        1234.5,
        "Gold",
        None,
    )
    for cents, line in zip(MONEY_EDGES, values[1:], strict=False):
        for index in MONEY_INDEXES:
            amount = line[index]
            assert isinstance(amount, float)
            # The double read back is the one nearest to the exact amount.
            assert Decimal(repr(amount)) == to_decimal(cents)
    assert values[1 + len(MONEY_EDGES)] == (None,) * len(COLUMNS)
    assert values[-3][8:10] == (dt.datetime(1900, 3, 1), dt.datetime(1900, 2, 28))
    assert values[-2][8:10] == (dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31))
    assert values[-1][7] == 2**40
    assert isinstance(values[0][7], int)


def test_xlsx_money_is_written_as_exact_decimal_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rng = random.Random(20240229)
    amounts = MONEY_EDGES + [rng.randrange(-(10**12), 10**12) for _ in range(2_000)]
    columns = [Column("amount", "Amount", "money")]
    write_xlsx(path, columns, lazy([(cents,) for cents in amounts]), sheet_title="x", summary=[])
    raw = raw_values(path)
    for row_number, cents in enumerate(amounts, start=2):
        assert raw[f"A{row_number}"] == format_money(cents, grouping=False)


def test_xlsx_formats_header_freeze_and_filter(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = sample_rows()
    export_xlsx(path, rows)
    sheet = load_workbook(path)["Gold clients"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:N{len(rows) + 1}"
    for header in sheet[1]:
        assert header.font.bold is True
        assert header.fill.fill_type == "solid"
        assert header.fill.fgColor.rgb == "00DDEBF7"
    first = sheet[2]
    expected_formats = {"money": MONEY_FORMAT, "integer": INTEGER_FORMAT, "date": DATE_FORMAT}
    for column, cell in zip(COLUMNS, first, strict=True):
        if column.kind == "text":
            assert cell.data_type == ("s" if cell.value is not None else "n")
            assert cell.font.bold is False
        else:
            assert cell.number_format == expected_formats[column.kind]
    assert first[7].data_type == "n"
    assert first[8].is_date
    for index, column in enumerate(COLUMNS):
        letter = chr(ord("A") + index)
        width = sheet.column_dimensions[letter].width
        assert width >= len(column.title) + 2
    assert sheet.column_dimensions["I"].width >= 12  # a date column, short title or not


def test_xlsx_formula_like_text_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = [client_row(text) for text in INJECTIONS]
    export_xlsx(path, rows)
    sheet = load_workbook(path)["Gold clients"]
    refs = [row[0] for row in sheet.iter_rows(min_row=2, max_col=1)]
    expected = [
        "=1+1",
        "+SUM(A1)",
        "-2",
        "@cmd",
        "\tx",
        "\rx",
        "ab",
        '=HYPERLINK("http://x")',
        "=2",
    ]
    assert [cell.value for cell in refs] == expected
    assert all(cell.data_type == "s" for cell in refs)
    # Excel's quote prefix keeps them text even when the user edits the cell.
    assert [cell.quotePrefix for cell in refs] == [text != "ab" for text in expected]
    for index in (1, 2):
        xml = sheet_xml(path, index)
        root = ElementTree.fromstring(xml)
        assert root.find(f".//{MAIN_NS}f") is None
        assert "<f>" not in xml and "<f " not in xml
        assert "\x00" not in xml


def test_xlsx_negative_money_is_a_number(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    export_xlsx(path, [client_row("1", money=-1250)])
    cell = load_workbook(path)["Gold clients"]["G2"]
    assert cell.data_type == "n"
    assert cell.value == -12.5
    assert cell.quotePrefix is False


def test_xlsx_awkward_text_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    texts = [
        " leading",
        "trailing ",
        "a\r\nb",
        "<b>&amp;</b>",
        "#N/A",
        "x\ud800y",
        "\x0bz",
        "",
        "é" * 40_000,
    ]
    columns = [Column("text", "Text", "text")]
    write_xlsx(path, columns, lazy([(text,) for text in texts]), sheet_title="x", summary=[])
    values = [row[0] for row in load_workbook(path)["x"].iter_rows(min_row=2, values_only=True)]
    assert values == [
        " leading",
        "trailing ",
        "a\r\nb",
        "<b>&amp;</b>",
        "#N/A",
        "xy",
        "z",
        None,  # an empty text is an empty cell
        "é" * 32_767,  # Excel's limit for one cell
    ]


def test_xlsx_keeps_excel_escape_lookalikes_literal(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    columns = [Column("text", "Text", "text")]
    write_xlsx(path, columns, lazy([("id_x0041_z",)]), sheet_title="x", summary=[])
    # Excel would show "idAz" for a bare _x0041_; the escaped underscore keeps
    # it literal there (openpyxl's reader does not unescape inline strings).
    assert "<t>id_x005F_x0041_z</t>" in sheet_xml(path)


def excel_text(text: str) -> str | None:
    """What openpyxl reads back for a text written to a data cell."""
    cleaned = "".join(
        ch
        for ch in text
        if not (ch < " " and ch not in "\t\n\r")
        and not ("\ud800" <= ch <= "\udfff")
        and ch not in "\ufffe\uffff"
    )[:32_767]
    return cleaned or None


@given(st.lists(st.text(max_size=40), min_size=1, max_size=30))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_xlsx_text_round_trips(tmp_path: Path, texts: list[str]) -> None:
    texts = [text for text in texts if "_x" not in text]  # see the escape test above
    path = tmp_path / "texts.xlsx"
    columns = [Column("text", "Text", "text")]
    write_xlsx(path, columns, lazy([(text,) for text in texts]), sheet_title="x", summary=[])
    sheet = load_workbook(path)["x"]
    read_back = [sheet.cell(row=row, column=1).value for row in range(2, len(texts) + 2)]
    assert read_back == [excel_text(text) for text in texts]


def test_xlsx_dates_before_1900_are_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    export_xlsx(path, [client_row("1", first=dt.date(1899, 12, 31), last=dt.date(1, 1, 1))])
    sheet = load_workbook(path)["Gold clients"]
    assert (sheet["I2"].value, sheet["J2"].value) == ("1899-12-31", "0001-01-01")


def test_xlsx_summary_sheet(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    export_xlsx(path, [client_row("1")])
    sheet = load_workbook(path)["Summary"]
    rows = [tuple(cell for cell in row) for row in sheet.iter_rows()]
    values = [tuple(cell.value for cell in row) for row in rows]
    assert values == [
        ("Definition", None),
        ("Match", "all"),
        ("Criterion 1", "Total revenue more than 50,000.00"),
        ("Injected", "=1+1"),
        ("Error-like", "#N/A"),
        (None, None),
        ("Date range", None),
        ("Start", dt.datetime(2024, 1, 1)),
        ("End", dt.datetime(2024, 12, 31)),
        ("Months", 12),
        (None, None),
        ("Counts per tier", None),
        ("Bronze", 1200),
        ("Silver", 310),
        ("Total revenue", -9999.97),
    ]
    titles = {0, 6, 11}
    for index, row in enumerate(rows):
        assert row[0].font.bold is (index in titles)
    assert rows[3][1].data_type == "s" and rows[3][1].quotePrefix is True
    assert rows[4][1].data_type == "s"  # not an error value
    assert rows[7][1].number_format == DATE_FORMAT
    assert rows[9][1].number_format == INTEGER_FORMAT
    assert rows[14][1].number_format == MONEY_FORMAT
    # The amount is written as its exact text, not through a float.
    summary_raw = ElementTree.fromstring(sheet_xml(path, 2))
    amounts = [v.text for v in summary_raw.iter(f"{MAIN_NS}v")]
    assert "-9999.97" in amounts
    assert sheet.column_dimensions["A"].width >= len("Counts per tier")


def test_xlsx_with_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    assert export_xlsx(path, [], summary=[]) == 0
    workbook = load_workbook(path)
    sheet = workbook["Gold clients"]
    assert sheet.auto_filter.ref == "A1:N1"
    assert sheet.max_row == 1
    assert workbook["Summary"].max_row == 1


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Gold clients", "Gold clients"),
        ("A/B: who? [new]*", "A-B- who- -new--"),
        ("'quoted'", "quoted"),
        ("x" * 40, "x" * 31),
        ("", "Data"),
        ("summary", "summary (data)"),
    ],
)
def test_excel_sheet_title(title: str, expected: str) -> None:
    assert excel_sheet_title(title) == expected


def test_xlsx_sheet_title_is_made_legal(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    export_xlsx(path, [client_row("1")], sheet_title="Summary")
    assert load_workbook(path).sheetnames == ["Summary (data)", "Summary"]


# ------------------------------------------------------------- wrong input


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
@pytest.mark.parametrize(
    ("index", "value"),
    [(6, 12.5), (6, Decimal("12.50")), (6, True), (7, "3"), (8, dt.datetime(2024, 1, 1)), (0, 17)],
)
def test_wrong_types_are_refused(tmp_path: Path, writer: str, index: int, value: object) -> None:
    row = list(client_row("1"))
    row[index] = value
    path = tmp_path / f"out.{writer}"
    with pytest.raises(TypeError, match=f"row 3, column '{COLUMNS[index].key}'"):
        if writer == "csv":
            write_csv(path, COLUMNS, lazy([client_row("0"), tuple(row)]))
        else:
            export_xlsx(path, [client_row("0"), tuple(row)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
def test_short_rows_are_refused(tmp_path: Path, writer: str) -> None:
    path = tmp_path / f"out.{writer}"
    with pytest.raises(ValueError, match="row 2 has 13 values for 14 columns"):
        if writer == "csv":
            write_csv(path, COLUMNS, lazy([client_row("0")[:-1]]))
        else:
            export_xlsx(path, [client_row("0")[:-1]])


# ------------------------------------------- atomic files, progress, cancel


class Boom(Exception):
    """Raised by a row source that fails midway."""


def failing_rows(after: int) -> Iterator[tuple[object, ...]]:
    for number in range(after):
        yield client_row(f"{number:05d}")
    raise Boom


def write_with(
    writer: str,
    path: Path,
    rows: Iterator[tuple[object, ...]],
    *,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Run the CSV or the xlsx writer on the same rows."""
    if writer == "csv":
        return write_csv(path, COLUMNS, rows, progress=progress, cancelled=cancelled)
    return write_xlsx(
        path,
        COLUMNS,
        rows,
        sheet_title="x",
        summary=SUMMARY,
        progress=progress,
        cancelled=cancelled,
    )


@pytest.fixture
def scratch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private system temp folder, to see that no scratch file is left there."""
    scratch = tmp_path / "system-temp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
def test_failure_midway_leaves_the_existing_file(
    tmp_path: Path, scratch_dir: Path, writer: str
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / f"clients.{writer}"
    target.write_bytes(b"the previous export")
    before = sorted(folder.iterdir())
    with pytest.raises(Boom):
        write_with(writer, target, failing_rows(after=3 * PROGRESS_EVERY + 5))
    assert target.read_bytes() == b"the previous export"
    assert sorted(folder.iterdir()) == before
    assert list(scratch_dir.iterdir()) == []


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
def test_cancel_leaves_no_file(tmp_path: Path, scratch_dir: Path, writer: str) -> None:
    target = tmp_path / f"clients.{writer}"
    polls = 0

    def cancelled() -> bool:
        nonlocal polls
        polls += 1
        return polls >= 3  # cancel after some rows were written

    rows = (client_row(f"{number:05d}") for number in range(10 * PROGRESS_EVERY))
    with pytest.raises(ExportCancelled):
        write_with(writer, target, rows, cancelled=cancelled)
    assert list(tmp_path.iterdir()) == [scratch_dir]
    assert list(scratch_dir.iterdir()) == []


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
def test_cancel_keeps_an_existing_file(tmp_path: Path, writer: str) -> None:
    target = tmp_path / f"clients.{writer}"
    target.write_bytes(b"keep me")
    with pytest.raises(ExportCancelled):
        write_with(writer, target, lazy([client_row("1")]), cancelled=lambda: True)
    assert target.read_bytes() == b"keep me"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("writer", ["csv", "xlsx"])
def test_progress_streams_rows_without_reading_ahead(tmp_path: Path, writer: str) -> None:
    total = 2 * PROGRESS_EVERY + 7
    consumed = 0

    def rows() -> Iterator[tuple[object, ...]]:
        nonlocal consumed
        for number in range(total):
            consumed += 1
            yield client_row(f"{number:05d}")

    reports: list[tuple[int, int]] = []
    written = write_with(
        writer,
        tmp_path / f"out.{writer}",
        rows(),
        progress=lambda done: reports.append((done, consumed)),
    )
    assert written == total
    # Each report comes right after its row: nothing was read ahead.
    assert reports == [
        (PROGRESS_EVERY, PROGRESS_EVERY),
        (2 * PROGRESS_EVERY, 2 * PROGRESS_EVERY),
        (total, total),
    ]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
@pytest.mark.parametrize("writer", ["csv", "xlsx"])
def test_export_is_private_to_the_user(tmp_path: Path, writer: str) -> None:
    target = tmp_path / f"out.{writer}"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_with(writer, target, lazy([client_row("1")]))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# ------------------------------------------------------------------ atomic.py


def test_atomic_write_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("old")
    with atomic_write(target, "w", encoding="utf-8") as handle:
        handle.write("new")
        assert target.read_text() == "old"  # nothing visible until the end
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_atomic_write_leaves_target_on_error(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")
    with pytest.raises(Boom), atomic_write(target) as handle:
        handle.write(b"half")
        raise Boom
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_creates_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"
    with atomic_write(target) as handle:
        handle.write(b"data")
    assert target.read_bytes() == b"data"


@pytest.mark.parametrize("mode", ["r", "a", "ab", "x", "r+b"])
def test_atomic_write_refuses_non_write_modes(tmp_path: Path, mode: str) -> None:
    with pytest.raises(ValueError, match="needs a 'w' mode"), atomic_write(tmp_path / "f", mode):
        pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path
        if os.name == "posix":
            assert stat.S_IMODE(temporary.stat().st_mode) == 0o600
        temporary.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_path_leaves_target_on_error(tmp_path: Path) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(Boom), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise Boom
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


# ----------------------------------------------------------------- memory

MEMORY_SCRIPT = """
import datetime as dt, sys
from pathlib import Path
from seg_desktop.io.export import Column, SummarySection, write_xlsx

kinds = ["text"] * 6 + ["money", "integer", "date", "date", "money", "money", "text", "text"]
columns = [Column(f"c{i}", f"Column {i}", kind) for i, kind in enumerate(kinds)]
day = dt.date(2024, 1, 31)

def rows():
    for n in range(250_000):
        yield (f"{n:06d}", f"Client {n}", f"c{n}@example.com", "active", "a;b", "Group",
               n * 37, n % 97, day, day, -n, n, "Gold", None)

write_xlsx(Path(sys.argv[1]), columns, rows(), sheet_title="x",
           summary=[SummarySection("Counts", [("Gold", 250_000)])])
with open("/proc/self/status") as status:
    print(next(line for line in status if line.startswith("VmHWM")).split()[1])
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_xlsx_memory_stays_flat_for_250k_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    completed = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_mb = int(completed.stdout.strip()) / 1024
    assert peak_mb < 300
    assert zipfile.is_zipfile(path)

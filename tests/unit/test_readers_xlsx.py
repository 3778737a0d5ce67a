"""Reading .xlsx workbooks: real date cells, serial numbers, numeric cells and sheet layout."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from seg_desktop.io.readers import (
    ClientRow,
    ImportFileError,
    ImportOptions,
    RevenueRow,
    RowProblem,
    SampleRow,
    inspect_file,
    read_clients,
    read_revenue,
)

DEFAULT = ImportOptions()


def save(
    tmp_path: Path,
    rows: Sequence[Sequence[object]],
    *,
    title: str = "Sheet",
    name: str = "book.xlsx",
) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def record(row: int, ref: str, day: str, cents: int, reference: str | None = None) -> RevenueRow:
    return RevenueRow(row, ref, dt.date.fromisoformat(day), cents, reference)


def test_clients_below_a_merged_title(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "Clients at 2 March 2026"
    sheet.merge_cells("A1:D1")
    sheet.append([])  # row 2 stays empty
    sheet.append(["Client ID", "Name", "E-mail", "Tags"])
    sheet.append(["00017", "  Zoë Müller  ", None, "vip;gold"])
    sheet.append([18, "Numeric ref", "x@y.example", None])
    sheet.append([])
    sheet.append([18.0, "Same ref as a float", None, None])
    sheet.append([None, None, None, None])
    sheet.append([19, None, None, None])
    path = tmp_path / "clients.xlsx"
    workbook.save(path)

    assert list(read_clients(path, DEFAULT)) == [
        ClientRow(4, "00017", "Zoë Müller", "", None, frozenset({"vip", "gold"}), None),
        ClientRow(5, "18", "Numeric ref", "x@y.example", None, frozenset(), None),
        RowProblem(7, "duplicate ref 18 (first on row 5)"),
        RowProblem(9, "missing name"),
    ]
    layout = inspect_file(path, "clients", DEFAULT)
    assert (layout.format, layout.encoding, layout.delimiter, layout.sheet) == (
        "xlsx",
        None,
        None,
        "Sheet",
    )
    assert layout.header_row == 3
    assert layout.sample_rows[:2] == (
        SampleRow(4, ("00017", "Zoë Müller", "", "vip;gold")),
        SampleRow(5, ("18", "Numeric ref", "x@y.example", "")),
    )
    assert layout.data_rows == 4


def test_revenue_cells_of_every_type(tmp_path: Path) -> None:
    path = save(
        tmp_path,
        [
            ["Client", "Invoice Date", "Amount", "Invoice No"],
            ["A", dt.datetime(2026, 3, 2, 15, 30), 1234.56, "INV-1"],
            ["A", dt.date(2026, 3, 2), 12, 1001],
            ["A", 46083, "1,234.50", None],  # a serial day number left in a date column
            ["A", 46083.75, -0.01, None],
            ["A", "2026-03-02", 12.345, None],
            ["A", True, True, None],
            ["A", 60, 1, None],
            ["A", dt.time(12, 0), dt.date(2026, 1, 1), None],
        ],
    )
    assert list(read_revenue(path, DEFAULT)) == [
        record(2, "A", "2026-03-02", 123456, "INV-1"),
        record(3, "A", "2026-03-02", 1200, "1001"),
        record(4, "A", "2026-03-02", 123450),
        record(5, "A", "2026-03-02", -1),
        RowProblem(6, "amount '12.345' has more than two decimals"),
        RowProblem(7, "date 'TRUE' is not a date; amount 'TRUE' is not a number"),
        RowProblem(8, "date 60 is Excel's 1900-02-29, a day that does not exist"),
        RowProblem(9, "date '12:00:00' is not a date; amount '2026-01-01' is not a number"),
    ]
    layout = inspect_file(path, "revenue", DEFAULT)
    assert (layout.date_format, layout.dates_ambiguous) == ("iso", False)


def test_serial_dates_in_a_1904_workbook(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    sheet = workbook.active
    sheet.append(["client_ref", "date", "amount"])
    sheet.append(["A", 0, 1])
    sheet.append(["A", dt.date(2026, 3, 2), 1])
    path = tmp_path / "mac.xlsx"
    workbook.save(path)
    assert list(read_revenue(path, DEFAULT)) == [
        record(2, "A", "1904-01-01", 100),
        record(3, "A", "2026-03-02", 100),
    ]


def test_text_dates_and_amounts_follow_the_options(tmp_path: Path) -> None:
    path = save(
        tmp_path,
        [
            ["client_ref", "date", "amount"],
            ["A", "25/03/2026", "1.234,50"],
            ["A", "03/04/2026", "(12,00)"],
        ],
    )
    with pytest.raises(ImportFileError) as raised:
        list(read_revenue(path, ImportOptions(decimal=",")))
    assert str(raised.value) == (
        "book.xlsx: Column 'date' has dates written day/month/year ('25/03/2026' on row 2):"
        " choose --date-format dmy."
    )
    assert list(read_revenue(path, ImportOptions(decimal=",", date_format="dmy"))) == [
        record(2, "A", "2026-03-25", 123450),
        record(3, "A", "2026-04-03", -1200),
    ]


def test_chosen_sheet_and_missing_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    workbook.active.append(["nothing to see"])
    data = workbook.create_sheet("Revenue")
    data.append(["client_ref", "date", "amount"])
    data.append(["A", dt.date(2026, 3, 2), 5])
    path = tmp_path / "two.xlsx"
    workbook.save(path)

    assert list(read_revenue(path, ImportOptions(sheet="Revenue"))) == [
        record(2, "A", "2026-03-02", 500)
    ]
    assert inspect_file(path, "revenue", DEFAULT).sheets == ("Notes", "Revenue")
    with pytest.raises(ImportFileError) as raised:
        list(read_revenue(path, ImportOptions(sheet="Sales")))
    assert str(raised.value) == "two.xlsx has no worksheet 'Sales' (it has 'Notes', 'Revenue')."
    with pytest.raises(ImportFileError, match=r"two\.xlsx has no header row"):
        list(read_revenue(path, DEFAULT))


def test_wrong_stored_sheet_size_does_not_lose_rows(tmp_path: Path) -> None:
    path = save(
        tmp_path,
        [["client_ref", "date", "amount"]] + [["A", dt.date(2026, 3, 2), n] for n in range(5)],
    )
    # Rewrite the sheet's <dimension> to claim one cell, as some writers do.
    tampered = tmp_path / "tampered.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', data)
                assert b'<dimension ref="A1"' in data
            target.writestr(item, data)
    progress: list[tuple[int, int]] = []
    rows = list(
        read_revenue(tampered, DEFAULT, progress=lambda *done_total: progress.append(done_total))
    )
    assert [row.amount_cents for row in rows] == [0, 100, 200, 300, 400]  # type: ignore[union-attr]
    assert progress[-1] == (6, 6)


def test_progress_counts_rows_of_the_sheet(tmp_path: Path) -> None:
    path = save(
        tmp_path,
        [["client_ref", "date", "amount"]] + [["A", dt.date(2026, 3, 2), 1] for _ in range(5000)],
    )
    progress: list[tuple[int, int]] = []
    rows = list(
        read_revenue(path, DEFAULT, progress=lambda *done_total: progress.append(done_total))
    )
    assert len(rows) == 5000
    assert all(total == 5001 for _, total in progress)
    assert progress[-1] == (5001, 5001)
    assert len(progress) == 3  # at the start, at row 4096, at the end


def test_corrupt_workbook_is_a_file_error(tmp_path: Path) -> None:
    path = save(tmp_path, [["client_ref", "date", "amount"], ["A", dt.date(2026, 3, 2), 1]])
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut off in the middle of the rows
            target.writestr(item, data)
    with pytest.raises(
        ImportFileError, match=r"broken\.xlsx could not be read as an Excel workbook"
    ):
        list(read_revenue(broken, DEFAULT))


def test_a_workbook_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = save(tmp_path, [["ref", "name"], ["00017", "Acme"]], name="download.dat")
    assert list(read_clients(path, DEFAULT)) == [
        ClientRow(2, "00017", "Acme", None, None, None, None)
    ]


def test_opendocument_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "clients.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(ImportFileError) as raised:
        list(read_clients(path, DEFAULT))
    assert str(raised.value) == (
        "clients.ods is an OpenDocument spreadsheet: save it as .xlsx or CSV and import that."
    )


NO_HEADER = "which has no header (the header ends at column {end}): give the column a header"


def test_a_client_value_in_a_column_without_a_header_is_a_bad_row(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["ref", "name", "email", "tags"])
    sheet.append(["N001", "Acme Ltd", None, "new", "vip"])  # E1 is empty: "vip" has no column
    sheet.append(["N002", "Bright Co", None, "new", None, "   ", None])  # empty beyond: accepted
    sheet.append(["N003", "Third", None, None, "x", None, 0, "y", "z", "w"])
    sheet["K3"].font = Font(bold=True)  # a formatted, empty cell: accepted
    path = tmp_path / "clients.xlsx"
    workbook.save(path)

    assert list(read_clients(path, DEFAULT)) == [
        RowProblem(2, f"has 'vip' in column E, {NO_HEADER.format(end='D')} or clear the cell"),
        ClientRow(3, "N002", "Bright Co", "", None, frozenset({"new"}), None),
        RowProblem(
            4,
            "has values in columns E, G, H and 2 more, which have no header (the header ends"
            " at column D): give the columns headers or clear the cells",
        ),
    ]


def test_a_revenue_value_in_a_column_without_a_header_is_a_bad_row(tmp_path: Path) -> None:
    day = dt.date(2026, 3, 2)
    path = save(
        tmp_path,
        [
            ["client_ref", "date", "amount"],
            ["A", day, 12.5, "INV-1"],
            ["B", day, 7, None, None],
            ["C", day, 3, 0],  # a zero is a value
        ],
    )
    assert list(read_revenue(path, DEFAULT)) == [
        RowProblem(2, f"has 'INV-1' in column D, {NO_HEADER.format(end='C')} or clear the cell"),
        record(3, "B", "2026-03-02", 700),
        RowProblem(4, f"has '0' in column D, {NO_HEADER.format(end='C')} or clear the cell"),
    ]


def test_short_workbook_rows_are_empty_cells_not_missing_fields(tmp_path: Path) -> None:
    # A workbook stores no trailing empty cells: a short row is not a damaged line.
    path = save(tmp_path, [["ref", "name", "email", "status"], ["N1"], ["N2", "Two"]])
    assert list(read_clients(path, DEFAULT)) == [
        RowProblem(2, "missing name"),
        ClientRow(3, "N2", "Two", "", "", None, None),
    ]

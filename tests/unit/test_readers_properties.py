"""Whatever bytes a file holds, reading it ends in rows, row problems or ImportFileError.

And for a well-formed CSV, every non-blank data row comes back exactly once:
as a row (with exactly the values written) or as a problem, with its row number.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg_desktop.io.readers import (
    ImportFileError,
    ImportOptions,
    RevenueRow,
    RowProblem,
    inspect_file,
    read_clients,
    read_revenue,
)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def in_temp_file(content: bytes, suffix: str = ".csv") -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"file{suffix}"
        path.write_bytes(content)
        yield path


def read_everything(path: Path, options: ImportOptions) -> None:
    """Every entry point, draining the streams; only ImportFileError may escape."""
    for kind in ("clients", "revenue"):
        with contextlib.suppress(ImportFileError):
            inspect_file(path, kind, options)
    for reader in (read_clients, read_revenue):
        try:
            previous = 0
            for item in reader(path, options):
                assert item.row_number > previous
                previous = item.row_number
        except ImportFileError:
            pass


ANY_OPTIONS = st.builds(
    ImportOptions,
    encoding=st.sampled_from([None, "utf-8", "cp1252", "utf-16"]),
    delimiter=st.sampled_from([None, ",", ";", "\t"]),
    decimal=st.sampled_from([".", ","]),
    date_format=st.sampled_from([None, "iso", "dmy", "mdy"]),
)

VALID_CSV = (
    b"client_ref,ref,name,date,amount,reference,tags\n"
    b'00017,00017,"Zo\xc3\xab",2026-03-02,"1,234.50",INV-1,a;b\n'
    b"00018,00018,Acme,02/03/2026,(12.00),,\n"
    b'\n00019,00019,"multi\nline",46083,abc,INV-3,\n'
)


@FAST
@given(content=st.binary(max_size=600), options=ANY_OPTIONS)
def test_random_bytes_never_escape_as_anything_but_import_file_error(
    content: bytes, options: ImportOptions
) -> None:
    for path in in_temp_file(content):
        read_everything(path, options)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(
            st.sampled_from([0, 0x22, 0x2C, 0x3B, 0x0A, 0x0D, 0x81, 0xC3, 0xFF, 0x20, 0x39])
        )
        if action == "insert":
            data.insert(position, byte)
        elif position < len(data):
            if action == "delete":
                del data[position]
            else:
                data[position] = byte
    return bytes(data)


@FAST
@given(content=mutated(VALID_CSV), options=ANY_OPTIONS)
def test_mutated_csv_never_escapes_as_anything_but_import_file_error(
    content: bytes, options: ImportOptions
) -> None:
    for path in in_temp_file(content):
        read_everything(path, options)


def small_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["client_ref", "ref", "name", "date", "amount"])
    sheet.append(["00017", "00017", "Zoë", dt.date(2026, 3, 2), 1234.5])
    sheet.append(["00018", "00018", "Acme", 46083, "abc"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


WORKBOOK = small_workbook()


@settings(max_examples=40, deadline=None)
@given(content=mutated(WORKBOOK))
def test_mutated_workbook_never_escapes_as_anything_but_import_file_error(content: bytes) -> None:
    for path in in_temp_file(content, ".xlsx"):
        read_everything(path, ImportOptions())


# --------------------------------------------------------------- accounting for every row

REF_TEXT = st.text(alphabet=st.sampled_from("AZ09 -_/.'\"é,;\t\n"), min_size=0, max_size=8)
JUNK = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r"),
    max_size=10,
)


@st.composite
def revenue_line(draw: st.DrawFn) -> tuple[list[str], RevenueRow | None]:
    """A written record, and the row it must read as (None: anything but silence)."""
    if draw(st.booleans()):
        ref = draw(st.text(alphabet="ABC0123456789-", min_size=1, max_size=8))
        day = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
        cents = draw(st.integers(min_value=-(10**9), max_value=10**9))
        sign = "-" if cents < 0 else ""
        amount = f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
        reference = draw(st.sampled_from(["", "INV-1", "  R 2 "]))
        expected = RevenueRow(0, ref, day, cents, reference.strip() or None)
        padded = draw(st.sampled_from(["", " ", "  "]))
        return [padded + ref + padded, day.isoformat(), amount, reference], expected
    cells = [draw(REF_TEXT), draw(JUNK), draw(JUNK), draw(JUNK)]
    return cells[: draw(st.integers(min_value=0, max_value=4))], None


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(revenue_line(), max_size=25),
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_every_data_row_reads_as_a_row_or_a_problem(
    lines: list[tuple[list[str], RevenueRow | None]],
    delimiter: str,
    encoding: str,
    line_end: str,
) -> None:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(["client_ref", "date", "amount", "reference"])
    for cells, _ in lines:
        writer.writerow(cells)
    # Each written record is one spreadsheet row: header is row 1.
    expected_rows = {
        row_number: expected
        for row_number, (cells, expected) in enumerate(lines, start=2)
        if any(cell.strip() for cell in cells)
    }
    for path in in_temp_file(text.getvalue().encode(encoding)):
        items = list(read_revenue(path, ImportOptions(date_format="dmy")))
        assert [item.row_number for item in items] == sorted(expected_rows)
        for item in items:
            expected = expected_rows[item.row_number]
            if expected is not None:
                assert isinstance(item, RevenueRow), item
                assert item == RevenueRow(
                    item.row_number,
                    expected.client_ref,
                    expected.date,
                    expected.amount_cents,
                    expected.reference,
                )
            else:
                assert isinstance(item, RevenueRow | RowProblem)

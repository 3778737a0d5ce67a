"""Export benchmark: 250,000 synthetic clients x the SPEC's 14 columns.

Run on demand (not part of the default test run):

    .venv/bin/python -m pytest tests/benchmarks -q

Each writer runs in a fresh subprocess, so its peak memory (VmHWM from
/proc/self/status) is its own and not the test runner's. Writers:

* ``xlsx-ours``: our ``write_xlsx`` (openpyxl write-only, our row serialiser);
* ``xlsxwriter``: XlsxWriter with ``constant_memory``, the same cells and formats;
* ``csv-ours``: our ``write_csv``;
* ``xlsx-openpyxl-cells``: openpyxl write-only the usual way (a styled
  WriteOnlyCell per number and date), for reference: where we started;
* ``rows-only``: just generating the rows, the part every writer includes.

The figures are printed at the end (seconds, ratio to XlsxWriter, peak MB)
and stored in the benchmark's ``extra_info``; nothing is asserted on time.
``SEG_BENCH_ROWS`` changes the row count for a quick run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from seg_desktop.io.export import (
    DATE_FORMAT,
    FORMULA_TRIGGERS,
    INTEGER_FORMAT,
    MONEY_FORMAT,
    Column,
    SummarySection,
    write_csv,
    write_xlsx,
)

ROWS = int(os.environ.get("SEG_BENCH_ROWS", "250000"))
REPO_ROOT = Path(__file__).resolve().parents[2]

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

SUMMARY = [
    SummarySection(
        "Definition",
        [("Match", "all"), ("Criterion 1", "Total revenue more than 50,000.00")],
    ),
    SummarySection("Date range", [("Start", dt.date(2024, 1, 1)), ("End", dt.date(2024, 12, 31))]),
    SummarySection(
        "Counts per tier",
        [("Bronze", ROWS // 2), ("Silver", ROWS // 3), ("Total", Decimal("123456.78"))],
    ),
]

TIERS = ("Bronze", "Silver", "Gold")
GROUP_TIERS = ("C Group", "B Group", "A Group", None)
SURNAMES = ("Müller", "García", "O'Brien", "Nguyen", "Smith & Sons", "Øverby", "Lefèvre")


def synthetic_rows(count: int) -> Iterator[tuple[object, ...]]:
    """Deterministic client rows, generated lazily like the database streams them.

    Mostly ordinary text, accents, some empty cells, negative amounts, and
    one name in a thousand that looks like a formula (the writers' slow path).
    """
    start = dt.date(2019, 1, 1)
    for number in range(count):
        total = (number * 7919) % 10_000_000 - 50_000
        invoices = number % 97
        first = start + dt.timedelta(days=number % 1500)
        name = f"{SURNAMES[number % len(SURNAMES)]} {number}"
        if number % 1000 == 0:
            name = f'=HYPERLINK("http://x/{number}")'
        yield (
            f"{number:06d}",
            name,
            f"client{number}@example.com" if number % 11 else None,
            "active" if number % 5 else "inactive",
            "vip;north" if number % 3 == 0 else "",
            f"Group {number % 400}" if number % 4 else None,
            total,
            invoices,
            first if invoices else None,
            first + dt.timedelta(days=number % 400) if invoices else None,
            total // invoices if invoices else None,
            (number * 31) % 5_000_000,
            TIERS[number % 3],
            GROUP_TIERS[number % 4],
        )


# ------------------------------------------------------------ the writers


def _xlsxwriter(path: Path, rows: Iterator[tuple[object, ...]]) -> int:
    """The same workbook with XlsxWriter in constant-memory mode."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Gold clients")
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "bottom": 1})
    formats = {
        "money": workbook.add_format({"num_format": MONEY_FORMAT}),
        "integer": workbook.add_format({"num_format": INTEGER_FORMAT}),
        "date": workbook.add_format({"num_format": DATE_FORMAT}),
    }
    quoted = workbook.add_format({"quote_prefix": True})
    kinds = [column.kind for column in COLUMNS]
    for index, column in enumerate(COLUMNS):
        sheet.set_column(index, index, max(len(column.title) + 4, 14))
        sheet.write_string(0, index, column.title, header)
    sheet.freeze_panes(1, 0)
    row_number = 0
    for row_number, values in enumerate(rows, start=1):
        for index, (kind, value) in enumerate(zip(kinds, values, strict=True)):
            if value is None or value == "":
                continue
            if kind == "text":
                assert isinstance(value, str)
                if value.startswith(FORMULA_TRIGGERS):
                    sheet.write_string(row_number, index, value, quoted)
                else:
                    sheet.write_string(row_number, index, value)
            elif kind == "money":
                assert isinstance(value, int)
                sheet.write_number(row_number, index, value / 100, formats["money"])
            elif kind == "integer":
                assert isinstance(value, int)
                sheet.write_number(row_number, index, value, formats["integer"])
            else:
                sheet.write_datetime(row_number, index, value, formats["date"])
    sheet.autofilter(0, 0, row_number, len(COLUMNS) - 1)
    summary = workbook.add_worksheet("Summary")
    bold = workbook.add_format({"bold": True})
    line = 0
    for section in SUMMARY:
        summary.write_string(line, 0, section.title, bold)
        for label, value in section.rows:
            line += 1
            summary.write_string(line, 0, label)
            if isinstance(value, dt.date):
                summary.write_datetime(line, 1, value, formats["date"])
            elif isinstance(value, Decimal):
                summary.write_number(line, 1, float(value), formats["money"])
            elif isinstance(value, int):
                summary.write_number(line, 1, value, formats["integer"])
            else:
                summary.write_string(line, 1, value)
        line += 2
    workbook.close()
    return row_number


def _openpyxl_cells(path: Path, rows: Iterator[tuple[object, ...]]) -> int:
    """openpyxl write-only the textbook way: a styled WriteOnlyCell per number and date."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Gold clients")
    sheet.freeze_panes = "A2"
    formats = {"money": MONEY_FORMAT, "integer": INTEGER_FORMAT, "date": DATE_FORMAT}
    headers = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=column.title)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", start_color="DDEBF7")
        headers.append(cell)
    sheet.append(headers)
    kinds = [column.kind for column in COLUMNS]
    count = 0
    for values in rows:
        cells: list[object] = []
        for kind, value in zip(kinds, values, strict=True):
            if value is None or kind == "text":
                if isinstance(value, str) and value.startswith("="):
                    text = WriteOnlyCell(sheet, value=value)
                    text.data_type = "s"
                    cells.append(text)
                else:
                    cells.append(value)
                continue
            if kind == "money":
                assert isinstance(value, int)
                value = Decimal(value).scaleb(-2)
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = formats[kind]
            cells.append(cell)
        sheet.append(cells)
        count += 1
    sheet.auto_filter.ref = f"A1:N{count + 1}"
    workbook.save(path)
    return count


def _rows_only(path: Path, rows: Iterator[tuple[object, ...]]) -> int:
    """Just generate the rows: the cost every writer above includes."""
    path.write_bytes(b"")
    return sum(1 for _ in rows)


def _run_writer(name: str, path: Path, rows: Iterator[tuple[object, ...]]) -> int:
    if name == "xlsx-ours":
        return write_xlsx(path, COLUMNS, rows, sheet_title="Gold clients", summary=SUMMARY)
    if name == "csv-ours":
        return write_csv(path, COLUMNS, rows)
    if name == "xlsxwriter":
        return _xlsxwriter(path, rows)
    if name == "xlsx-openpyxl-cells":
        return _openpyxl_cells(path, rows)
    if name == "rows-only":
        return _rows_only(path, rows)
    raise ValueError(name)


def _peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child_main(argv: list[str]) -> None:
    """In the subprocess: run one writer, print one JSON line of figures."""
    name, count, path = argv[0], int(argv[1]), Path(argv[2])
    # Import everything first so the "before" peak is the interpreter's own.
    import openpyxl  # noqa: F401
    import xlsxwriter  # noqa: F401

    before = _peak_rss_mb()
    started = time.perf_counter()
    written = _run_writer(name, path, synthetic_rows(count))
    seconds = time.perf_counter() - started
    figures = {
        "writer": name,
        "rows": written,
        "seconds": seconds,
        "peak_mb": _peak_rss_mb(),
        "peak_before_mb": before,
        "file_mb": path.stat().st_size / 2**20,
    }
    print(json.dumps(figures))


# ------------------------------------------------------------ the benchmarks

RESULTS: dict[str, dict[str, Any]] = {}

# Few rounds: the whole file must run in a few minutes.
WRITERS = [
    ("rows-only", 3),
    ("xlsx-ours", 3),
    ("xlsxwriter", 2),
    ("csv-ours", 3),
    ("xlsx-openpyxl-cells", 1),
]


def _run_in_subprocess(name: str, path: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.test_export_bench", name, str(ROWS), str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"{name} failed:\n{completed.stderr}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.parametrize(("name", "rounds"), WRITERS, ids=[name for name, _ in WRITERS])
def test_export_writer(benchmark: Any, tmp_path: Path, name: str, rounds: int) -> None:
    """Time one writer on ROWS rows, each round in a fresh subprocess."""
    suffix = ".csv" if name.startswith("csv") else ".xlsx"
    runs: list[dict[str, Any]] = []

    def one_round() -> None:
        runs.append(_run_in_subprocess(name, tmp_path / f"export{suffix}"))

    benchmark.pedantic(one_round, rounds=rounds, iterations=1)
    assert all(run["rows"] == ROWS for run in runs)
    best = min(runs, key=lambda run: run["seconds"])
    figures = {
        "seconds": best["seconds"],
        "peak_mb": max(run["peak_mb"] for run in runs),
        "peak_before_mb": best["peak_before_mb"],
        "file_mb": best["file_mb"],
        "rounds": rounds,
    }
    benchmark.extra_info.update(figures)
    RESULTS[name] = figures


def test_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Print the figures gathered above (runs last: tests run in file order)."""
    if "xlsx-ours" not in RESULTS or "xlsxwriter" not in RESULTS:
        pytest.skip("run the whole file to get the report")
    reference = RESULTS["xlsxwriter"]["seconds"]
    lines = [
        "",
        f"Export of {ROWS:,} rows x {len(COLUMNS)} columns "
        "(best round; seconds include generating the rows, see rows-only)",
        f"{'writer':<22}{'seconds':>9}{'vs xlsxwriter':>15}{'peak MB':>9}"
        f"{'(at start)':>12}{'file MB':>9}",
    ]
    for name, _ in WRITERS:
        if name not in RESULTS:
            continue
        figures = RESULTS[name]
        ratio = f"{figures['seconds'] / reference:.2f}x" if name.startswith("xlsx") else ""
        lines.append(
            f"{name:<22}{figures['seconds']:>9.2f}{ratio:>15}{figures['peak_mb']:>9.0f}"
            f"{figures['peak_before_mb']:>12.0f}{figures['file_mb']:>9.1f}"
        )
    with capsys.disabled():
        print("\n".join(lines))


if __name__ == "__main__":
    _child_main(sys.argv[1:])

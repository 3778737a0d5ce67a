"""Every report to Excel, read back: a sheet per table, the chart's data, exact numbers."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from seg_desktop.core.money import format_money
from seg_desktop.core.tiers import StrategyKind, move_boundary
from seg_desktop.demo import load_demo
from seg_desktop.io import reports
from seg_desktop.io.export import Column, SummarySection
from seg_desktop.store import history
from seg_desktop.store.office import Office

AS_OF = dt.date(2026, 3, 15)
IND = StrategyKind.INDIVIDUAL


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    """The demo office after two runs with different Silver limits."""
    opened = Office.open(tmp_path_factory.mktemp("reports") / "demo.db")
    load_demo(opened, clients=80, months=14)
    opened.run_segmentation(AS_OF)
    individual = opened.strategies()[IND]
    opened.save_strategy(move_boundary(individual, 1, individual.tiers[1].monthly_lower // 2))
    opened.run_segmentation(AS_OF)
    yield opened
    opened.close()


def sheet_values(path: Path, title: str) -> list[tuple[object, ...]]:
    workbook = load_workbook(path, read_only=True)
    try:
        return [tuple(row) for row in workbook[title].iter_rows(values_only=True)]
    finally:
        workbook.close()


def sheet_names(path: Path) -> list[str]:
    workbook = load_workbook(path, read_only=True)
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def money(cents: int | None) -> float | None:
    return None if cents is None else float(format_money(cents, grouping=False))


def test_the_comparison_workbook(office: Office, tmp_path: Path) -> None:
    older, newer = [r.id for r in reversed(office.runs())][:2]
    with office.database.read() as connection:
        compared = history.compare_runs(connection, older, newer)
    path = tmp_path / "comparison.xlsx"
    reports.export_comparison(path, compared)
    assert sheet_names(path) == [
        "Movement matrix (counts)",
        "Movement matrix (production)",
        "Moved up",
        "Moved down",
        "Entered",
        "Left",
        "Summary",
    ]
    result = compared.comparison
    counts = sheet_values(path, "Movement matrix (counts)")
    assert counts[0][1:] == (*result.tier_names, f"Not in run {newer}")
    for row, key in zip(counts[1:], result.row_keys(), strict=True):
        assert row[1:] == tuple(result.cell(key, c).count for c in result.column_keys())
    production = sheet_values(path, "Movement matrix (production)")
    assert production[2][2] == money(result.cell(1, 1).production_after)
    up = sheet_values(path, "Moved up")
    assert len(up) - 1 == len(result.moved_up) > 0  # a lower Silver limit moves clients up
    first = min(result.moved_up, key=lambda m: compared.label(m.subject_id).ref.encode())
    label = compared.label(first.subject_id)
    assert up[1] == (
        label.ref,
        label.name,
        result.tier_names[first.before or 0],
        result.tier_names[first.after or 0],
        money(first.production_before),
        money(first.production_after),
    )
    summary = dict(row[:2] for row in sheet_values(path, "Summary") if len(row) >= 2)
    assert summary["Moved up"] == len(result.moved_up)
    assert summary["Stayed"] == result.stayed


def test_one_list_to_csv(office: Office, tmp_path: Path) -> None:
    older, newer = [r.id for r in reversed(office.runs())][:2]
    with office.database.read() as connection:
        compared = history.compare_runs(connection, older, newer)
    path = tmp_path / "up.csv"
    written = reports.export_movement_list(path, compared, "up")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert written == len(rows) - 1 == len(compared.comparison.moved_up)
    assert rows[0] == [
        "ref",
        "name",
        "tier_before",
        "tier_after",
        "production_before",
        "production_after",
    ]


def test_the_tier_report_workbook_has_the_chart_data(office: Office, tmp_path: Path) -> None:
    with office.database.read() as connection:
        report = history.tier_report(connection)
        trend = history.tier_trend(connection)
        top = history.top_clients(connection, limit=10)
    path = tmp_path / "tiers.xlsx"
    reports.export_tier_report(path, report, trend, top)
    assert sheet_names(path) == ["Tiers", "Chart - tier counts by run", "Top clients", "Summary"]
    tiers = sheet_values(path, "Tiers")
    assert [row[3] for row in tiers[1:-1]] == [line.clients for line in report.lines]
    assert tiers[-1][0] == "Total"
    assert tiers[-1][3] == report.clients == 80
    assert tiers[-1][4] == money(report.revenue)
    assert [row[5] for row in tiers[1:-1]] == [money(line.share) for line in report.lines]
    chart = sheet_values(path, "Chart - tier counts by run")
    assert chart[0][3:] == trend.tier_names
    assert [row[3:] for row in chart[1:]] == [p.counts for p in trend.runs]
    assert len(chart) - 1 == len(office.runs())
    top_rows = sheet_values(path, "Top clients")
    assert [row[0] for row in top_rows[1:]] == [line.ref for line in top]
    summary = dict(row[:2] for row in sheet_values(path, "Summary") if len(row) >= 2)
    assert summary["Scope"] == "Whole office"
    assert Decimal(str(summary["Revenue (production)"])) == Decimal(report.revenue) / 100


def test_segments_and_overlap_workbooks(office: Office, tmp_path: Path) -> None:
    by_name = {s.definition.name: s.id for s in office.segments()}
    ids = [by_name["Active Clients"], by_name["Repeat Customers"], by_name["High-Value Clients"]]
    with office.database.read() as connection:
        comparison = history.compare_segments(connection, ids)
        overlap = history.segment_overlap(connection, ids[0], ids[1])
    path = tmp_path / "segments.xlsx"
    reports.export_segment_comparison(path, comparison)
    assert sheet_names(path) == ["Segments", "Chart - tier mix", "Summary"]
    rows = sheet_values(path, "Segments")
    assert [row[0] for row in rows[1:]] == [s.name for s in comparison.segments]
    assert [row[1] for row in rows[1:]] == [s.members for s in comparison.segments]
    assert [row[4] for row in rows[1:]] == [money(s.share) for s in comparison.segments]
    mix = sheet_values(path, "Chart - tier mix")
    assert [row[1:] for row in mix[1:]] == [s.tier_mix for s in comparison.segments]

    path = tmp_path / "overlap.xlsx"
    reports.export_overlap(path, overlap)
    names = sheet_names(path)
    assert len(names) == 4 and names[-1] == "Summary"
    assert all(len(name) <= 31 for name in names)
    assert len(sheet_values(path, names[0])) - 1 == len(overlap.both)
    assert len(sheet_values(path, names[1])) - 1 == len(overlap.only_a)
    assert len(sheet_values(path, names[2])) - 1 == len(overlap.only_b)

    one = tmp_path / "only_a.csv"
    assert reports.export_client_lines(one, "Only A", overlap.only_a) == len(overlap.only_a)


def test_run_history_export(office: Office, tmp_path: Path) -> None:
    path = tmp_path / "runs.xlsx"
    history_rows = office.runs()
    reports.export_run_history(path, history_rows)
    rows = sheet_values(path, "Runs")
    per_run = sum(len(tiers) for tiers in history_rows[0].tiers.values())
    assert len(rows) - 1 == per_run * len(history_rows)
    assert rows[1][0] == history_rows[0].id


def test_sheet_titles_are_made_unique_and_legal(tmp_path: Path) -> None:
    table = reports.ReportTable("A/B: Summary?", [Column("x", "X", "integer")], [(1,), (2,)])
    path = tmp_path / "same.xlsx"
    written = reports.write_report_xlsx(
        path, [table, table, table], summary=[SummarySection("S", [("n", 3)])]
    )
    assert written == 6
    assert sheet_names(path) == [
        "A-B- Summary-",
        "A-B- Summary- (2)",
        "A-B- Summary- (3)",
        "Summary",
    ]
    assert sheet_values(path, "A-B- Summary- (3)") == [("X",), (1,), (2,)]

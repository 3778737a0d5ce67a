"""Every report to Excel: one sheet per table, the chart's data as a table of its own.

:func:`write_report_xlsx` is :func:`seg_desktop.io.export.write_xlsx` with any
number of data sheets: it drives the same sheet writers (streamed rows, styled
and frozen header, autofilter, real number and date formats, formula-safe
text) and the same Summary sheet, written atomically. The ``*_tables``
functions turn the store's report dataclasses into :class:`ReportTable` s;
the ``export_*`` functions write them to ``.xlsx`` (every table) or, for a
single list, ``.csv``.

Shares are written as numbers of percent with two decimals (12.34), through
the ``money`` column kind, whose cells are exact two-decimal numbers: the
store keeps shares as integer basis points precisely so they can be.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from seg_desktop.core.money import to_decimal
from seg_desktop.core.movement import MatrixCell
from seg_desktop.io.atomic import atomic_write

# The underscored names are export.py's sheet writers, shared rather than written
# again: a private interface of a sibling module, covered by tests reading files back.
from seg_desktop.io.export import (
    SUMMARY_SHEET_TITLE,
    Column,
    ColumnKind,
    SummarySection,
    SummaryValue,
    _column_width,
    _DataSheetWriter,
    _Pacer,
    _register_styles,
    _ScratchSheetWriter,
    _summary_widths,
    _SummarySheetWriter,
    excel_sheet_title,
    write_csv,
)
from seg_desktop.store.records import (
    ClientLine,
    ComparedRuns,
    RunSummary,
    SegmentComparison,
    SegmentOverlap,
    TierReport,
    TierTrend,
)

__all__ = [
    "ReportTable",
    "comparison_summary",
    "comparison_tables",
    "export_client_lines",
    "export_comparison",
    "export_movement_list",
    "export_overlap",
    "export_run_history",
    "export_segment_comparison",
    "export_tier_report",
    "movement_list_table",
    "overlap_tables",
    "run_history_table",
    "segment_comparison_tables",
    "tier_report_tables",
    "write_report_xlsx",
]

_MAX_TITLE = 31


@dataclass(frozen=True)
class ReportTable:
    """One sheet of a report: a title, its columns and its rows (values as export.py takes)."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[object]]


def _unique_titles(titles: Iterable[str]) -> list[str]:
    taken = {SUMMARY_SHEET_TITLE.casefold()}
    result = []
    for title in titles:
        base = excel_sheet_title(title)
        candidate, number = base, 2
        while candidate.casefold() in taken:
            suffix = f" ({number})"
            candidate = base[: _MAX_TITLE - len(suffix)].rstrip() + suffix
            number += 1
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def write_report_xlsx(
    path: Path,
    tables: Sequence[ReportTable],
    *,
    summary: Sequence[SummarySection],
) -> int:
    """Write a workbook with one sheet per table, then the Summary sheet; returns rows written.

    Each sheet is laid out as :func:`seg_desktop.io.export.write_xlsx` lays out
    its data sheet; titles are made legal and unique. The file is written
    atomically (a failure leaves nothing at ``path``).
    """
    pacer = _Pacer(None, None)
    workbook = Workbook(write_only=True)
    titles = _unique_titles(table.title for table in tables)
    sheets = [workbook.create_sheet(title) for title in titles]
    summary_sheet = workbook.create_sheet(SUMMARY_SHEET_TITLE)
    styles = _register_styles(sheets[0] if sheets else summary_sheet)
    for sheet, table in zip(sheets, tables, strict=True):
        sheet.freeze_panes = "A2"
        for index, column in enumerate(table.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = _column_width(column)
    label_width, value_width = _summary_widths(summary)
    summary_sheet.column_dimensions["A"].width = label_width
    summary_sheet.column_dimensions["B"].width = value_width

    with tempfile.TemporaryDirectory(prefix="seg-report-", ignore_cleanup_errors=True) as scratch:
        writers: list[_ScratchSheetWriter] = []
        data_writers: list[_DataSheetWriter] = []
        try:
            for position, (sheet, table) in enumerate(zip(sheets, tables, strict=True)):
                writer = _DataSheetWriter(
                    sheet,
                    os.path.join(scratch, f"sheet{position}.xml"),
                    table.columns,
                    table.rows,
                    styles,
                    pacer,
                )
                writers.append(writer)
                data_writers.append(writer)
            writers.append(
                _SummarySheetWriter(summary_sheet, os.path.join(scratch, "summary.xml"), summary)
            )
            for sheet, writer in zip([*sheets, summary_sheet], writers, strict=True):
                sheet._writer = writer
                writer.write_top()
            with (
                atomic_write(path, "wb") as handle,
                zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive,
            ):
                workbook.properties.modified = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                ExcelWriter(workbook, archive).write_data()
        finally:
            for writer in writers:
                with contextlib.suppress(OSError, ValueError):
                    writer.close()
    return sum(writer.rows_written for writer in data_writers)


# --- columns ------------------------------------------------------------------------------------

_CLIENT_COLUMNS = (
    Column("ref", "Ref", "text"),
    Column("name", "Name", "text", width=30),
    Column("tier", "Tier", "text"),
    Column("production", "Production", "money"),
    Column("total_revenue", "Total revenue", "money"),
)


def _client_rows(lines: Sequence[ClientLine]) -> list[tuple[object, ...]]:
    return [(c.ref, c.name, c.tier, c.production, c.total_revenue) for c in lines]


def _run_section(title: str, run: RunSummary) -> SummarySection:
    return SummarySection(
        title,
        [
            ("Run", run.id),
            ("Made", run.created_at.strftime("%Y-%m-%d %H:%M")),
            ("Trigger", run.trigger.value),
            ("As of", run.as_of),
            ("Range start", run.range.start),
            ("Range end", run.range.end),
            ("Months (n)", run.range.months),
        ],
    )


def _written_section() -> SummarySection:
    return SummarySection("Export", [("Written", dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"))])


# --- run history -------------------------------------------------------------------------------


def run_history_table(history: Sequence[RunSummary]) -> ReportTable:
    """Every run: when, trigger, range, n, and each strategy's tiers with counts."""
    columns = [
        Column("run", "Run", "integer"),
        Column("made", "Made", "text", width=17),
        Column("trigger", "Trigger", "text"),
        Column("as_of", "As of", "date"),
        Column("range_start", "Range start", "date"),
        Column("range_end", "Range end", "date"),
        Column("n", "Months (n)", "integer"),
        Column("strategy", "Strategy", "text", width=18),
        Column("tier", "Tier", "text"),
        Column("monthly_lower", "Monthly lower limit", "money"),
        Column("count", "Count", "integer"),
    ]
    rows = [
        (
            run.id,
            run.created_at.strftime("%Y-%m-%d %H:%M"),
            run.trigger.value,
            run.as_of,
            run.range.start,
            run.range.end,
            run.range.months,
            kind.label,
            tier.name,
            tier.monthly_lower,
            tier.count,
        )
        for run in history
        for kind, tiers in run.tiers.items()
        for tier in tiers
    ]
    return ReportTable("Runs", columns, rows)


def export_run_history(path: Path, history: Sequence[RunSummary]) -> int:
    """The run history to .xlsx (or .csv): one row per run, strategy and tier."""
    table = run_history_table(history)
    if path.suffix.lower() == ".csv":
        return write_csv(path, table.columns, table.rows)
    summary = [SummarySection("Run history", [("Runs", len(history))]), _written_section()]
    return write_report_xlsx(path, [table], summary=summary)


# --- comparing two runs --------------------------------------------------------------------------

LISTS = {
    "up": "Moved up",
    "down": "Moved down",
    "entered": "Entered",
    "left": "Left",
}
"""The comparison's lists by key, with their titles."""


def movement_list_table(compared: ComparedRuns, which: str) -> ReportTable:
    """One of the lists ("up", "down", "entered", "left") as a table, by ref."""
    result = compared.comparison
    movements = {
        "up": result.moved_up,
        "down": result.moved_down,
        "entered": result.entered,
        "left": result.left,
    }[which]
    names = result.tier_names

    def tier(position: int | None) -> str | None:
        return names[position] if position is not None else None

    rows = []
    for movement in movements:
        label = compared.label(movement.subject_id)
        rows.append(
            (
                label.ref,
                label.name,
                tier(movement.before),
                tier(movement.after),
                movement.production_before,
                movement.production_after,
            )
        )
    rows.sort(key=lambda row: (str(row[0]).encode("utf-8"), str(row[1])))
    columns = [
        Column("ref", "Ref", "text"),
        Column("name", "Name", "text", width=30),
        Column("tier_before", f"Tier in run {compared.older.id}", "text"),
        Column("tier_after", f"Tier in run {compared.newer.id}", "text"),
        Column("production_before", f"Production in run {compared.older.id}", "money"),
        Column("production_after", f"Production in run {compared.newer.id}", "money"),
    ]
    return ReportTable(LISTS[which], columns, rows)


def _matrix_tables(compared: ComparedRuns) -> list[ReportTable]:
    result = compared.comparison
    row_keys, column_keys = result.row_keys(), result.column_keys()

    def name(position: int | None, absent: str) -> str:
        return result.tier_names[position] if position is not None else absent

    column_titles = [name(k, f"Not in run {compared.newer.id}") for k in column_keys]
    corner = f"From (run {compared.older.id}) / to (run {compared.newer.id})"

    def table(title: str, kind: ColumnKind, value: Callable[[MatrixCell], int]) -> ReportTable:
        columns = [Column("from", corner, "text", width=30)]
        columns += [Column(f"to_{i}", t, kind) for i, t in enumerate(column_titles)]
        rows = [
            (
                name(row, f"Not in run {compared.older.id}"),
                *(value(result.cell(row, column)) for column in column_keys),
            )
            for row in row_keys
        ]
        return ReportTable(title, columns, rows)

    return [
        table("Movement matrix (counts)", "integer", lambda cell: cell.count),
        table("Movement matrix (production)", "money", lambda cell: cell.production_after),
    ]


def comparison_summary(compared: ComparedRuns) -> list[SummarySection]:
    """The Summary sheet of a comparison: both runs, the counts of each list, the rule."""
    result = compared.comparison
    return [
        _run_section("Older run", compared.older),
        _run_section("Newer run", compared.newer),
        SummarySection(
            "Movement",
            [
                ("Strategy", compared.kind.label),
                ("Moved up", len(result.moved_up)),
                ("Moved down", len(result.moved_down)),
                ("Entered", len(result.entered)),
                ("Left", len(result.left)),
                ("Stayed", result.stayed),
                (
                    "Tiers matched",
                    "by position, named as in the newer run (a renamed tier moves nobody)",
                ),
                ("Production matrix", "the production in the newer run of those who moved so"),
            ],
        ),
        _written_section(),
    ]


def comparison_tables(compared: ComparedRuns) -> list[ReportTable]:
    """The matrix (counts, production), then the four lists."""
    return [*_matrix_tables(compared), *(movement_list_table(compared, key) for key in LISTS)]


def export_comparison(path: Path, compared: ComparedRuns) -> int:
    """The whole comparison to one workbook."""
    return write_report_xlsx(
        path, comparison_tables(compared), summary=comparison_summary(compared)
    )


def export_movement_list(path: Path, compared: ComparedRuns, which: str) -> int:
    """One list of a comparison to .xlsx (with the comparison's summary) or .csv."""
    table = movement_list_table(compared, which)
    if path.suffix.lower() == ".csv":
        return write_csv(path, table.columns, table.rows)
    return write_report_xlsx(path, [table], summary=comparison_summary(compared))


# --- the tier report ---------------------------------------------------------------------------


def tier_report_tables(
    report: TierReport, trend: TierTrend, top: Sequence[ClientLine]
) -> list[ReportTable]:
    """The tiers, the trend chart's data, and the top clients."""
    tiers = ReportTable(
        "Tiers",
        [
            Column("tier", "Tier", "text"),
            Column("monthly_lower", "Monthly lower limit", "money"),
            Column("effective_lower", "Effective lower limit", "money"),
            Column("clients", "Clients", "integer"),
            Column("revenue", "Revenue (production)", "money"),
            Column("share", "Share of revenue (%)", "money"),
            Column("average", "Average per client", "money"),
        ],
        [
            (
                line.name,
                line.monthly_lower,
                line.effective_lower,
                line.clients,
                line.revenue,
                line.share,
                line.average,
            )
            for line in report.lines
        ]
        + [
            (
                "Total",
                None,
                None,
                report.clients,
                report.revenue,
                10_000 if report.revenue > 0 else None,
                report.average,
            )
        ],
    )
    trend_columns = [
        Column("run", "Run", "integer"),
        Column("made", "Made", "text", width=17),
        Column("as_of", "As of", "date"),
    ] + [Column(f"tier_{i}", name, "integer") for i, name in enumerate(trend.tier_names)]
    trend_rows = [
        (
            point.run_id,
            point.created_at.strftime("%Y-%m-%d %H:%M"),
            point.as_of,
            *(trend.series(i)[index] for i in range(len(trend.tier_names))),
        )
        for index, point in enumerate(trend.runs)
    ]
    return [
        tiers,
        ReportTable("Chart - tier counts by run", trend_columns, trend_rows),
        ReportTable("Top clients", _CLIENT_COLUMNS, _client_rows(top)),
    ]


def export_tier_report(
    path: Path, report: TierReport, trend: TierTrend, top: Sequence[ClientLine]
) -> int:
    """The tier report (tiers, trend chart data, top clients) to one workbook."""
    summary = [
        SummarySection(
            "Report",
            [
                ("Scope", report.scope),
                ("Strategy", report.kind.label),
                ("Clients", report.clients),
                ("Revenue (production)", to_decimal(report.revenue)),
                ("Office revenue (production)", to_decimal(report.office_revenue)),
                (
                    "Share of office revenue (%)",
                    to_decimal(report.share_of_office)
                    if report.share_of_office is not None
                    else "–",
                ),
                ("Revenue", "production: revenue dated inside the run's range"),
            ],
        ),
        _run_section("Run", report.run),
        _written_section(),
    ]
    return write_report_xlsx(path, tier_report_tables(report, trend, top), summary=summary)


# --- segments side by side and their overlap -----------------------------------------------------


def segment_comparison_tables(comparison: SegmentComparison) -> list[ReportTable]:
    """One row per segment (members, revenue, average, share, all-time revenue), and the
    tier-mix chart's data."""
    segments = comparison.segments
    # Measures in columns and one row per segment (the window shows them turned
    # round): one number format per column, so every cell is a real number.
    typed = ReportTable(
        "Segments",
        [
            Column("segment", "Segment", "text", width=24),
            Column("members", "Members", "integer"),
            Column("revenue", "Revenue (production)", "money"),
            Column("average", "Average per member", "money"),
            Column("share", "Share of office revenue (%)", "money"),
            Column("total_revenue", "Total revenue (all time)", "money"),
        ],
        [(s.name, s.members, s.revenue, s.average, s.share, s.total_revenue) for s in segments],
    )
    mix = ReportTable(
        "Chart - tier mix",
        [Column("segment", "Segment", "text", width=24)]
        + [Column(f"tier_{i}", name, "integer") for i, name in enumerate(comparison.tier_names)],
        [(s.name, *s.tier_mix) for s in segments],
    )
    return [typed, mix]


def export_segment_comparison(path: Path, comparison: SegmentComparison) -> int:
    """Segments side by side to one workbook."""
    rows: list[tuple[str, SummaryValue]] = [
        ("Segments", len(comparison.segments)),
        ("Office clients", comparison.office_clients),
        ("Office revenue (production)", to_decimal(comparison.office_revenue)),
        ("Office total revenue (all time)", to_decimal(comparison.office_total_revenue)),
        ("Members", "as last recomputed"),
    ]
    summary = [SummarySection("Segments side by side", rows)]
    if comparison.run is not None:
        summary.append(_run_section("Current run", comparison.run))
    summary.append(_written_section())
    return write_report_xlsx(path, segment_comparison_tables(comparison), summary=summary)


def overlap_list_titles(overlap: SegmentOverlap) -> dict[str, str]:
    """The overlap's lists by key ("both", "only_a", "only_b") with their titles."""
    return {
        "both": f"In {overlap.a_name} and {overlap.b_name}",
        "only_a": f"In {overlap.a_name}, not {overlap.b_name}",
        "only_b": f"In {overlap.b_name}, not {overlap.a_name}",
    }


def overlap_tables(overlap: SegmentOverlap) -> list[ReportTable]:
    """The three lists of an overlap, one sheet each."""
    titles = overlap_list_titles(overlap)
    return [
        ReportTable(titles["both"], _CLIENT_COLUMNS, _client_rows(overlap.both)),
        ReportTable(titles["only_a"], _CLIENT_COLUMNS, _client_rows(overlap.only_a)),
        ReportTable(titles["only_b"], _CLIENT_COLUMNS, _client_rows(overlap.only_b)),
    ]


def _overlap_summary(overlap: SegmentOverlap) -> list[SummarySection]:
    titles = overlap_list_titles(overlap)
    return [
        SummarySection(
            "Overlap",
            [
                ("Segment A", overlap.a_name),
                ("Segment B", overlap.b_name),
                (titles["both"], len(overlap.both)),
                (titles["only_a"], len(overlap.only_a)),
                (titles["only_b"], len(overlap.only_b)),
                ("Members", "as last recomputed"),
            ],
        ),
        _written_section(),
    ]


def export_overlap(path: Path, overlap: SegmentOverlap) -> int:
    """The overlap's three lists to one workbook."""
    return write_report_xlsx(path, overlap_tables(overlap), summary=_overlap_summary(overlap))


def export_client_lines(
    path: Path, title: str, lines: Sequence[ClientLine], summary: Sequence[SummarySection] = ()
) -> int:
    """One list of clients to .xlsx (with a summary) or .csv."""
    rows = _client_rows(lines)
    if path.suffix.lower() == ".csv":
        return write_csv(path, _CLIENT_COLUMNS, rows)
    sections = [*summary] or [SummarySection(title, [("Clients", len(lines))])]
    return write_report_xlsx(
        path, [ReportTable(title, _CLIENT_COLUMNS, rows)], summary=[*sections, _written_section()]
    )

"""Exports of the current run's tiers or a segment's members, with the SPEC's columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from seg_desktop.core.money import format_money
from seg_desktop.core.rules import describe_definition
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.io.export import Column, SummarySection, write_csv, write_xlsx
from seg_desktop.store.records import ExportRow, RunSummary, SegmentInfo

EXPORT_COLUMNS = (
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
    Column("computed_tier", "Computed tier (if pinned)", "text"),
)


class ExportSource(Protocol):
    """What an export reads from the office: its rows, its current run, a segment by name."""

    @property
    def target(self) -> str:
        """The database's path or server URL (named in the summary sheet)."""
        ...

    def export_rows(
        self, segment_name: str | None = None, as_of: dt.date | None = None
    ) -> Iterator[ExportRow]:
        """The rows to write."""
        ...

    def current_run(self) -> RunSummary | None:
        """The current run, if any."""
        ...

    def find_segment(self, name: str) -> SegmentInfo:
        """A segment by name."""
        ...


class ExportFormatError(ValueError):
    """The output file's extension is neither .xlsx nor .csv."""


def export_clients(
    office: ExportSource,
    out: Path,
    segment_name: str | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Write the current run's tiers (or a segment's members on `as_of`) to .xlsx or .csv."""
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ExportFormatError(f"{out.name}: the output must end in .xlsx or .csv")
    day = as_of or dt.date.today()
    rows = (row.values() for row in office.export_rows(segment_name, day))
    if suffix == ".csv":
        return write_csv(out, EXPORT_COLUMNS, rows, progress=progress, cancelled=cancelled)
    summary = export_summary(office, segment_name, day)
    title = segment_name or "Tiers"
    return write_xlsx(
        out,
        EXPORT_COLUMNS,
        rows,
        sheet_title=title,
        summary=summary,
        progress=progress,
        cancelled=cancelled,
    )


def export_summary(
    office: ExportSource, segment_name: str | None, as_of: dt.date
) -> list[SummarySection]:
    """The summary sheet: the definition, the run's range and counts, when it was made."""
    sections = []
    run = office.current_run()
    made = [
        ("Exported", dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")),
        ("Office", office.target),
    ]
    if segment_name is not None:
        info = office.find_segment(segment_name)
        definition = info.definition
        rows: list[tuple[str, str | int | dt.date]] = [
            ("Segment", definition.name),
            ("Description", definition.description or ""),
            ("Match", "every criterion" if definition.match.value == "all" else "any criterion"),
            ("Criteria", describe_definition(definition)),
            ("Members as of", as_of),
        ]
        sections.append(SummarySection("Segment", rows))
    if run is not None:
        sections.append(
            SummarySection(
                "Current run",
                [
                    ("Run made", run.created_at.isoformat(sep=" ")),
                    ("As of", run.as_of),
                    ("Range start", run.range.start),
                    ("Range end", run.range.end),
                    ("Months (n)", run.range.months),
                ],
            )
        )
        for kind in StrategyKind:
            tiers = run.tiers.get(kind)
            if tiers:
                sections.append(
                    SummarySection(
                        f"{kind.label}: tiers",
                        [
                            (
                                f"{tier.name} (from {format_money(tier.monthly_lower)} a month, "
                                f"{format_money(tier.monthly_lower * run.range.months)} "
                                "in the range)",
                                tier.count,
                            )
                            for tier in tiers
                        ],
                    )
                )
    else:
        sections.append(
            SummarySection("Current run", [("Run", "no run yet: production and tier are empty")])
        )
    sections.append(SummarySection("File", made))
    return sections

"""Importing clients and revenue: a preview first, then one transaction, all or nothing.

Files are read here, a row at a time; the office merges the rows
(`store.importing`: re-importing a file changes nothing) and, in the same
transaction, refreshes the rollups and every segment's membership.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from seg_desktop.core.records import ClientRow, RevenueRow, RowProblem
from seg_desktop.io.readers import (
    ImportCancelled,
    ImportFileError,
    ImportOptions,
    read_clients,
    read_revenue,
)
from seg_desktop.store.changes import Changes
from seg_desktop.store.errors import ImportStopped, StoreError
from seg_desktop.store.records import MergeCounts

Kind = Literal["clients", "revenue"]
Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]
MAX_PROBLEMS_KEPT = 100_000


@dataclass
class ImportResult:
    """What an import did (or, for a preview, would do)."""

    kind: Kind
    path: Path
    dry_run: bool
    rows_read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    changes: Changes = field(default_factory=Changes)
    """What the import changed in the office (nothing for a preview)."""

    @property
    def accepted(self) -> int:
        """Rows that were good: added, updated or already there."""
        return self.added + self.updated + self.unchanged

    def note_problem(self, problem: RowProblem) -> None:
        """Record a bad row (the first MAX_PROBLEMS_KEPT are kept in full)."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line for the user."""
        verb = "would add" if self.dry_run else "added"
        what = "clients" if self.kind == "clients" else "revenue records"
        return (
            f"{self.path.name}: {self.rows_read:,} rows read; {verb} {self.added:,} {what}, "
            f"{'would update' if self.dry_run else 'updated'} {self.updated:,}, "
            f"{self.unchanged:,} already there, {self.problem_count:,} bad rows"
        )


def _never() -> bool:
    return False


class ImportTarget(Protocol):
    """Where imported rows go: the office, which merges them in one transaction."""

    def import_rows(
        self,
        kind: Literal["clients", "revenue"],
        rows: Iterable[ClientRow | RevenueRow | RowProblem],
        note_problem: Callable[[RowProblem], None],
        *,
        dry_run: bool = False,
        backup: bool = True,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> tuple[MergeCounts, Changes]:
        """Merge the rows; what it did and what changed."""
        ...


def import_file(
    office: ImportTarget,
    kind: Kind,
    path: Path,
    options: ImportOptions,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    backup: bool = True,
) -> ImportResult:
    """Read a clients or revenue file and apply it in one transaction (or only preview it).

    Raises ImportFileError for a file that cannot be read as a whole and
    ImportCancelled when cancelled; in both cases nothing is changed.
    """
    stop = cancelled or _never
    report = progress or (lambda _f, _m: None)
    result = ImportResult(kind=kind, path=path, dry_run=dry_run)
    rows: Iterable[ClientRow | RevenueRow | RowProblem]
    if kind == "clients":
        rows = read_clients(path, options, _reader_progress(report), stop)
    else:
        rows = read_revenue(path, options, _reader_progress(report), stop)
    try:
        with _totals_must_fit(path):
            counts, result.changes = office.import_rows(
                kind,
                rows,
                result.note_problem,
                dry_run=dry_run,
                backup=backup,
                progress=report,
                cancelled=stop,
            )
    except ImportStopped:
        raise ImportCancelled() from None
    result.rows_read = counts.rows_read
    result.added, result.updated, result.unchanged = counts.added, counts.updated, counts.unchanged
    # No progress report after the commit: a caller's progress function that raised here
    # would report a failure for an import that was saved.
    return result


@contextlib.contextmanager
def _totals_must_fit(path: Path) -> Iterator[None]:
    # Each amount is bounded, but thousands of huge lines for one client could still
    # add up past 64 bits; that is the file's problem, and the transaction is undone.
    try:
        yield
    except StoreError as error:
        # SQLite says "integer overflow", PostgreSQL "bigint out of range".
        if any(words in str(error).lower() for words in ("overflow", "out of range")):
            raise ImportFileError(
                f"{path.name}: the amounts of one client add up to more than the program can "
                "store; nothing was imported"
            ) from None
        raise


def _reader_progress(report: Progress) -> Callable[[int, int], None]:
    def on_progress(done: int, total: int) -> None:
        report(0.8 * done / total if total else 0.0, "Reading the file")

    return on_progress


# --- clients ----------------------------------------------------------------------------------


# --- command line -----------------------------------------------------------------------------


def options_from_args(args: argparse.Namespace) -> ImportOptions:
    """ImportOptions from the `import` command's flags."""
    mapping: dict[str, str] = {}
    for item in args.map:
        field_name, sep, column = item.partition("=")
        if not sep or not field_name.strip() or not column.strip():
            raise ValueError(f"--map {item!r}: write it as FIELD=COLUMN, e.g. ref='Account No'")
        mapping[field_name.strip()] = column.strip()
    delimiter = args.delimiter
    if delimiter in ("tab", "\\t"):
        delimiter = "\t"
    return ImportOptions(
        encoding=args.encoding,
        delimiter=delimiter,
        decimal=args.decimal,
        date_format=args.date_format,
        mapping=mapping or None,
        header_row=args.header_row,
        sheet=args.sheet,
    )

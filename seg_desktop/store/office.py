"""The office: one object the command line and the window use for everything stored.

Each method is one transaction and returns core dataclasses, so it is safe to
call from a worker thread and nothing it returns is tied to a connection.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from seg_desktop.core.automation import validate_rule
from seg_desktop.core.engine import Cancelled, Override, Progress, RunCancelled, Trigger
from seg_desktop.core.records import ClientRow, RevenueRow, RowProblem
from seg_desktop.core.rules import (
    ClientFacts,
    Criterion,
    MatchMode,
    Operator,
    RuleField,
    RuleValueError,
    SegmentDefinition,
    validate_definition,
)
from seg_desktop.core.tiers import Strategy, StrategyKind
from seg_desktop.store import automation, data, definitions, importing, runs, segments, tags
from seg_desktop.store.backup import sqlite_file, take_backup
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.database import open_database
from seg_desktop.store.definitions import OfficeSettings, SegmentInfo
from seg_desktop.store.errors import ImportStopped, StoreError
from seg_desktop.store.export_rows import ExportRow, iter_export_rows
from seg_desktop.store.office_automation import AutomationRoom
from seg_desktop.store.office_base import OfficeBase, Today
from seg_desktop.store.office_clients import ClientsRoom
from seg_desktop.store.office_files import FilesRoom
from seg_desktop.store.office_history import HistoryRoom
from seg_desktop.store.records import Definitions, MergeCounts, RunSummary


@dataclass(frozen=True)
class Filled:
    """What :meth:`Office.fill_empty` wrote."""

    records: int
    first_date: dt.date | None
    last_date: dt.date | None
    changes: Changes


class _DryRun(Exception):
    """Rolls a preview's transaction back, carrying what it would have done."""

    def __init__(self, counts: MergeCounts) -> None:
        super().__init__("preview")
        self.counts = counts


class Office(AutomationRoom, ClientsRoom, HistoryRoom, FilesRoom, OfficeBase):
    """An open office database and the operations on it.

    Every write is one unit of work (`store.unit_of_work`): it refreshes what
    depends on what it touched before it commits, and returns the `Changes`.
    """

    @classmethod
    def open(
        cls,
        db: str | os.PathLike[str],
        *,
        create: bool = True,
        read_only: bool = False,
        today: Today = dt.date.today,
    ) -> Office:
        """Open (creating, upgrading and seeding a new office as needed) the database at `db`."""
        database = open_database(db, create=create, read_only=read_only)
        office = cls(database, today)
        if not read_only:
            # Looked at first in a read: opening an office that has them takes no write
            # lock, so it never waits for another desktop's long run or import.
            with database.read() as connection:
                missing = definitions.office_defaults_missing(connection)
            if missing:
                with database.write() as connection:
                    definitions.ensure_office_defaults(connection)
        return office

    @property
    def read_only(self) -> bool:
        """Whether this window only reads the office (another one is writing to it)."""
        return self.database.read_only

    def close(self) -> None:
        """Release the database."""
        self.database.close()

    @property
    def target(self) -> str:
        """The database's path or server URL."""
        return self.database.target

    # --- definitions --------------------------------------------------------------------

    def settings(self) -> OfficeSettings:
        """The office settings."""
        with self.database.read() as connection:
            return definitions.get_settings(connection)

    def save_settings(self, settings: OfficeSettings) -> Changes:
        """Replace the office settings."""
        with self._write() as work:
            definitions.save_settings(work.connection, settings)
            work.touched(Area.SETTINGS)
        return work.changes

    def strategies(self) -> dict[StrategyKind, Strategy]:
        """Both tier strategies."""
        with self.database.read() as connection:
            return definitions.get_strategies(connection)

    def save_strategy(self, strategy: Strategy) -> Changes:
        """Replace a strategy (validated first)."""
        with self._write() as work:
            definitions.save_strategy(work.connection, strategy)
            work.touched(Area.STRATEGIES)
        return work.changes

    def segments(self) -> list[SegmentInfo]:
        """Every rule segment with its last membership count."""
        with self.database.read() as connection:
            return definitions.list_segments(connection)

    def find_segment(self, name: str) -> SegmentInfo:
        """A segment by name, or StoreError naming the segments there are."""
        with self.database.read() as connection:
            found = definitions.find_segment(connection, name)
            if found is None:
                names = ", ".join(s.definition.name for s in definitions.list_segments(connection))
                raise StoreError(
                    f"there is no segment named '{name}' (there are: {names or 'none'})"
                )
            return found

    def save_segment(
        self,
        definition: SegmentDefinition,
        segment_id: int | None = None,
        as_of: dt.date | None = None,
    ) -> tuple[int, Changes]:
        """Create or replace a segment and recompute memberships in the same transaction.

        Returns the segment's id and the changes.
        """
        with self._write(as_of) as work:
            new_id = definitions.save_segment(work.connection, definition, segment_id)
            change = "created" if segment_id is None else "changed"
            work.segment_defined(new_id, f"definition of '{definition.name.strip()}' {change}")
        return new_id, work.changes

    def segment_from_clients(
        self, name: str, client_ids: Sequence[int], tag: str, as_of: dt.date | None = None
    ) -> tuple[int, int, Changes]:
        """A new segment "Tags has the tag <tag>" whose members start as these clients.

        A segment's members always follow its rules (SPEC section 3), so a list
        becomes a segment through a tag: the clients get the tag, and the new
        segment selects it. Removing the tag from a client drops it from the
        segment. One transaction: the tags, the segment and every segment's
        membership (a segment may already select the tag). Returns (segment id,
        clients newly tagged, changes); RuleValueError / StoreError for a bad name or tag.
        """
        tag = tag.strip()
        if not tag or ";" in tag:
            raise RuleValueError("type a tag without ';' (it separates tags in files)")
        definition = SegmentDefinition(
            name.strip(), (Criterion(RuleField.TAGS, Operator.EQUALS, tag),), MatchMode.ALL
        )
        validate_definition(definition)
        with self._write(as_of) as work:
            tagged = tags.add_tag(work.connection, client_ids, tag)
            work.clients_changed(client_ids, cause=f"tag '{tag}' given to {tagged:,} clients")
            new_id = definitions.save_segment(work.connection, definition, None)
            work.segment_defined(new_id, f"segment '{definition.name}' created from a list")
        return new_id, tagged, work.changes

    def delete_segment(self, segment_id: int) -> Changes:
        """Delete a segment; clients are untouched."""
        with self._write() as work:
            definitions.delete_segment(work.connection, segment_id)
            work.touched(Area.SEGMENTS)
        return work.changes

    def overrides(self) -> list[Override]:
        """Every manual override."""
        with self.database.read() as connection:
            return definitions.list_overrides(connection)

    def set_override(self, override: Override) -> Changes:
        """Pin a client or group to a tier (it takes effect at the next run)."""
        with self._write() as work:
            definitions.set_override(work.connection, override)
            work.touched(Area.OVERRIDES)
        return work.changes

    def remove_override(self, kind: StrategyKind, subject_id: int) -> Changes:
        """Remove a pin (it takes effect at the next run)."""
        with self._write() as work:
            definitions.remove_override(work.connection, kind, subject_id)
            work.touched(Area.OVERRIDES)
        return work.changes

    def replace_definitions(self, new: Definitions) -> Changes:
        """Apply a definitions file: all of it or, if any part is invalid, nothing at all."""
        for strategy in new.strategies:
            strategy.validate()
        names = [d.name.strip() for d in new.segments]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise StoreError(f"the file defines the segment '{sorted(duplicates)[0]}' twice")
        for definition in new.segments:
            validate_definition(definition)
        rule_names = [rule.name.strip() for rule in new.automations]
        repeated = {n for n in rule_names if rule_names.count(n) > 1}
        if repeated:
            raise StoreError(f"the file defines the automation rule '{sorted(repeated)[0]}' twice")
        for rule in new.automations:
            validate_rule(rule)
        with self._write() as work:
            connection = work.connection
            work.touched(Area.SETTINGS, Area.STRATEGIES, cause="definitions file imported")
            if new.settings is not None:
                definitions.save_settings(connection, new.settings)
            for strategy in new.strategies:
                definitions.save_strategy(connection, strategy)
            existing = {s.definition.name: s.id for s in definitions.list_segments(connection)}
            for definition in new.segments:
                definitions.save_segment(
                    connection, definition, existing.get(definition.name.strip())
                )
            work.touched(Area.SEGMENTS)
            # The memberships first, so a new rule starts from the new memberships (a
            # rule on a segment the file adds does not fire for all its first members).
            work.refresh_now()
            automation.replace_rules(connection, new.automations)
            work.touched(Area.AUTOMATION)
        return work.changes

    def export_definitions(self) -> Definitions:
        """Everything a definitions file carries."""
        with self.database.read() as connection:
            return Definitions(
                settings=definitions.get_settings(connection),
                strategies=list(definitions.get_strategies(connection).values()),
                segments=[s.definition for s in definitions.list_segments(connection)],
                automations=[info.rule for info in automation.list_rules(connection)],
            )

    # --- runs and segments --------------------------------------------------------------

    def run_segmentation(
        self,
        as_of: dt.date | None = None,
        trigger: Trigger = Trigger.MANUAL,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> tuple[RunSummary, Changes]:
        """Run segmentation: the run, every segment's membership and the rules, all or nothing.

        Returns the saved run and the changes. On any failure (InsufficientData,
        RunCancelled, StrategyError, StoreError) nothing is saved and the
        previous run stays current.
        """
        day = as_of or self.today()
        report = progress or (lambda _f, _m: None)
        with runs.one_run_at_a_time(self.database), self._write(day, progress, cancelled) as work:
            run_id, outcome = runs.compute_and_save(
                work.connection, day, trigger, report, cancelled
            )
            work.run_saved(run_id)
            work.automation_acted(outcome)
            report(0.85, "Recomputing segments")
        # Nothing after the commit may raise: the run is saved (no progress report here).
        assert work.changes.run is not None
        return work.changes.run, work.changes

    def production_inputs_changed_at(self) -> dt.datetime | None:
        """When revenue, clients or groups last changed (a run older than that is out of date)."""
        with self._read() as connection:
            return definitions.production_inputs_changed_at(connection)

    def current_run(self) -> RunSummary | None:
        """The current run, if any."""
        with self.database.read() as connection:
            return runs.current_run(connection)

    def runs(self) -> list[RunSummary]:
        """Every saved run, newest first."""
        with self.database.read() as connection:
            return runs.list_runs(connection)

    def recompute_segments(
        self,
        as_of: dt.date | None = None,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
        cause: str | None = None,
    ) -> Changes:
        """Recompute every segment's membership (``changes.segment_counts``: id -> count).

        ``cause`` is what the membership log gives as the reason for who
        entered or left ("revenue imported"; default "recomputed as of <date>").
        """
        with self._write(as_of, progress, cancelled) as work:
            work.touched(Area.DATE, cause=cause)
        return work.changes

    def roll_over(self, as_of: dt.date | None = None) -> Changes:
        """Bring relative dates up to ``as_of`` (today): recompute if any segment is older.

        Called when the window opens and at midnight; changes nothing (and takes
        no write lock) when every segment was already computed for that day.
        """
        day = as_of or self.today()
        with self._read() as connection:
            stale = segments.computed_before(connection, day)
        if not stale:
            return Changes()
        return self.recompute_segments(day, cause=f"a new day: {day.isoformat()}")

    def count_matching(self, definition: SegmentDefinition, as_of: dt.date | None = None) -> int:
        """How many clients a definition matches (the editor's live preview)."""
        with self.database.read() as connection:
            return segments.count_matching(connection, definition, as_of or self.today())

    def matching_ids(
        self, definition: SegmentDefinition, as_of: dt.date | None = None
    ) -> list[int]:
        """The clients a definition matches."""
        with self.database.read() as connection:
            return segments.matching_ids(connection, definition, as_of or self.today())

    def segment_member_ids(self, segment_id: int) -> list[int]:
        """A segment's stored members."""
        with self.database.read() as connection:
            return segments.member_ids(connection, segment_id)

    # --- import ---------------------------------------------------------------------------

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
        """Merge rows read from a file: one transaction with the rollups and the segments.

        A dry run merges and rolls back (the preview's counts, nothing kept).
        A real one first takes a backup of a desktop file. Raises
        ImportStopped when cancelled; nothing is kept then either.
        """
        report = progress or (lambda _f, _m: None)
        stop = cancelled or (lambda: False)
        database_file = sqlite_file(self.database)
        if backup and not dry_run and database_file is not None:
            report(0.0, "Backing up the office")
            take_backup(database_file, "import")
        try:
            with self._write(None, None, stop) as work:
                if kind == "clients":
                    counts = importing.merge_clients(
                        work, cast("Iterable[ClientRow | RowProblem]", rows), note_problem
                    )
                else:
                    counts = importing.merge_revenue(
                        work,
                        cast("Iterable[RevenueRow | RowProblem]", rows),
                        note_problem,
                        report,
                        stop,
                    )
                if stop():
                    raise ImportStopped()
                if dry_run:
                    raise _DryRun(counts)
                report(0.95, "Recomputing segments")
        except _DryRun as preview:
            return preview.counts, Changes()
        except RunCancelled:
            # Cancelled while the segments were recomputed: the import's own word for it.
            raise ImportStopped() from None
        return counts, work.changes

    def fill_empty(
        self,
        group_kinds: dict[str, str],
        new_clients: Sequence[data.NewClient],
        revenue: Callable[[dict[str, int]], Iterable[data.NewRevenue]],
        progress: Progress | None = None,
    ) -> Filled:
        """Fill an empty office (the demo): clients, groups, revenue, rollups, segments at once.

        ``revenue(ids)`` yields the records for the clients' ids by ref. StoreError
        if the office already has clients; nothing is written then.
        """
        report = progress or (lambda _f, _m: None)
        with self._write() as work:
            connection = work.connection
            if data.client_count(connection) > 0:
                raise StoreError(
                    f"{self.target} already has clients; the demo only loads into an empty office"
                )
            report(0.05, "Creating clients")
            data.ensure_groups(connection, group_kinds.items())
            ids = data.insert_clients(connection, new_clients)
            report(0.2, "Creating revenue records")
            data.insert_revenue(connection, revenue(ids))
            report(0.8, "Summing months")
            work.revenue_changed(None, cause="demo office loaded")
            work.clients_changed(None)
            definitions.ensure_office_defaults(connection)
            work.touched(Area.SEGMENTS, Area.STRATEGIES, Area.SETTINGS)
            report(0.9, "Recomputing segments")
        with self._read() as connection:
            records, first, last = data.revenue_extent(connection)
        return Filled(records, first, last, work.changes)

    # --- clients --------------------------------------------------------------------------

    def client_id_of(self, ref: str) -> int | None:
        """A client's id by its ref, if there is one."""
        with self.database.read() as connection:
            return data.client_ids_by_ref(connection, [ref]).get(ref)

    def client_count(self) -> int:
        """How many clients the office has."""
        with self.database.read() as connection:
            return data.client_count(connection)

    def client_facts(self, client_ids: Sequence[int] | None = None) -> list[ClientFacts]:
        """The rule fields of some clients (all when None)."""
        with self.database.read() as connection:
            return data.client_facts(connection, runs.current_run_id(connection), client_ids)

    def export_rows(
        self, segment_name: str | None = None, as_of: dt.date | None = None
    ) -> Iterator[ExportRow]:
        """Stream the export rows: the current run's tiers for every client, or a segment's members.

        The rows come from one read transaction that stays open while the
        caller consumes them.
        """
        segment = None
        if segment_name is not None:
            info = self.find_segment(segment_name)
            segment = (validate_definition(info.definition), info.definition.match)
        with self.database.read() as connection:
            run = runs.current_run(connection)
            yield from iter_export_rows(connection, run, segment, as_of)

"""The office: one object the command line and the window use for everything stored.

Each method is one transaction and returns core dataclasses, so it is safe to
call from a worker thread and nothing it returns is tied to a connection.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from seg_desktop.core.engine import Cancelled, Override, Progress, Trigger
from seg_desktop.core.rules import ClientFacts, SegmentDefinition, validate_definition
from seg_desktop.core.tiers import Strategy, StrategyKind
from seg_desktop.store import data, definitions, runs, segments
from seg_desktop.store.database import Database, StoreError, open_database
from seg_desktop.store.definitions import OfficeSettings, SegmentInfo
from seg_desktop.store.export_rows import ExportRow, iter_export_rows
from seg_desktop.store.runs import RunSummary


@dataclass(frozen=True)
class Definitions:
    """What a definitions file carries: any part may be absent (None / empty = keep)."""

    settings: OfficeSettings | None = None
    strategies: Sequence[Strategy] = ()
    segments: Sequence[SegmentDefinition] = ()
    extra: dict[str, object] = field(default_factory=dict)


class Office:
    """An open office database and the operations on it."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @classmethod
    def open(
        cls, db: str | os.PathLike[str], *, create: bool = True, read_only: bool = False
    ) -> Office:
        """Open (creating, upgrading and seeding a new office as needed) the database at `db`."""
        database = open_database(db, create=create, read_only=read_only)
        office = cls(database)
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

    def save_settings(self, settings: OfficeSettings) -> None:
        """Replace the office settings."""
        with self.database.write() as connection:
            definitions.save_settings(connection, settings)

    def strategies(self) -> dict[StrategyKind, Strategy]:
        """Both tier strategies."""
        with self.database.read() as connection:
            return definitions.get_strategies(connection)

    def save_strategy(self, strategy: Strategy) -> None:
        """Replace a strategy (validated first)."""
        with self.database.write() as connection:
            definitions.save_strategy(connection, strategy)

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
    ) -> int:
        """Create or replace a segment and recompute its membership in the same transaction."""
        with self.database.write() as connection:
            new_id = definitions.save_segment(connection, definition, segment_id)
            change = "created" if segment_id is None else "changed"
            segments.recompute_all(
                connection,
                as_of or dt.date.today(),
                segment_causes={new_id: f"definition of '{definition.name.strip()}' {change}"},
            )
            return new_id

    def delete_segment(self, segment_id: int) -> None:
        """Delete a segment; clients are untouched."""
        with self.database.write() as connection:
            definitions.delete_segment(connection, segment_id)

    def overrides(self) -> list[Override]:
        """Every manual override."""
        with self.database.read() as connection:
            return definitions.list_overrides(connection)

    def set_override(self, override: Override) -> None:
        """Pin a client or group to a tier."""
        with self.database.write() as connection:
            definitions.set_override(connection, override)

    def remove_override(self, kind: StrategyKind, subject_id: int) -> None:
        """Remove a pin."""
        with self.database.write() as connection:
            definitions.remove_override(connection, kind, subject_id)

    def replace_definitions(self, new: Definitions) -> None:
        """Apply a definitions file: all of it or, if any part is invalid, nothing at all."""
        for strategy in new.strategies:
            strategy.validate()
        names = [d.name.strip() for d in new.segments]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise StoreError(f"the file defines the segment '{sorted(duplicates)[0]}' twice")
        for definition in new.segments:
            validate_definition(definition)
        with self.database.write() as connection:
            if new.settings is not None:
                definitions.save_settings(connection, new.settings)
            for strategy in new.strategies:
                definitions.save_strategy(connection, strategy)
            existing = {s.definition.name: s.id for s in definitions.list_segments(connection)}
            for definition in new.segments:
                definitions.save_segment(
                    connection, definition, existing.get(definition.name.strip())
                )
            segments.recompute_all(connection, dt.date.today(), cause="definitions file imported")

    def export_definitions(self) -> Definitions:
        """Everything a definitions file carries."""
        with self.database.read() as connection:
            return Definitions(
                settings=definitions.get_settings(connection),
                strategies=list(definitions.get_strategies(connection).values()),
                segments=[s.definition for s in definitions.list_segments(connection)],
            )

    # --- runs and segments --------------------------------------------------------------

    def run_segmentation(
        self,
        as_of: dt.date | None = None,
        trigger: Trigger = Trigger.MANUAL,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> RunSummary:
        """Run segmentation, save it atomically, then recompute the segments (tier field)."""
        day = as_of or dt.date.today()
        summary = runs.run_segmentation(self.database, day, trigger, progress, cancelled)
        self.recompute_segments(day, cause=f"run {summary.id}")
        return summary

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
    ) -> dict[int, int]:
        """Recompute every segment's membership; segment id -> count.

        ``cause`` is what the membership log gives as the reason for who
        entered or left ("revenue imported"; default "recomputed as of <date>").
        """
        with self.database.write() as connection:
            return segments.recompute_all(
                connection, as_of or dt.date.today(), progress, cancelled, cause
            )

    def count_matching(self, definition: SegmentDefinition, as_of: dt.date | None = None) -> int:
        """How many clients a definition matches (the editor's live preview)."""
        with self.database.read() as connection:
            return segments.count_matching(connection, definition, as_of or dt.date.today())

    def matching_ids(
        self, definition: SegmentDefinition, as_of: dt.date | None = None
    ) -> list[int]:
        """The clients a definition matches."""
        with self.database.read() as connection:
            return segments.matching_ids(connection, definition, as_of or dt.date.today())

    def segment_member_ids(self, segment_id: int) -> list[int]:
        """A segment's stored members."""
        with self.database.read() as connection:
            return segments.member_ids(connection, segment_id)

    # --- clients --------------------------------------------------------------------------

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

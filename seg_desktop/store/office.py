"""The office: one object the command line and the window use for everything stored.

Each method is one transaction and returns core dataclasses, so it is safe to
call from a worker thread and nothing it returns is tied to a connection.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from seg_desktop.core.automation import AutomationRule, validate_rule
from seg_desktop.core.engine import Cancelled, Override, Progress, Trigger
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
from seg_desktop.store import automation, data, definitions, runs, segments, tags
from seg_desktop.store.automation import (
    ActivityEntry,
    ActivityMark,
    AutomationOutcome,
    BatchInfo,
    EmailMessage,
    FollowUp,
    RuleInfo,
    SendAttempt,
    TaskCounts,
)
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
    automations: Sequence[AutomationRule] = ()


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

    def segment_from_clients(
        self, name: str, client_ids: Sequence[int], tag: str, as_of: dt.date | None = None
    ) -> tuple[int, int]:
        """A new segment "Tags has the tag <tag>" whose members start as these clients.

        A segment's members always follow its rules (SPEC section 3), so a list
        becomes a segment through a tag: the clients get the tag, and the new
        segment selects it. Removing the tag from a client drops it from the
        segment. One transaction: the tags, the segment and every segment's
        membership (a segment may already select the tag). Returns (segment id,
        clients newly tagged); RuleValueError / StoreError for a bad name or tag.
        """
        tag = tag.strip()
        if not tag or ";" in tag:
            raise RuleValueError("type a tag without ';' (it separates tags in files)")
        definition = SegmentDefinition(
            name.strip(), (Criterion(RuleField.TAGS, Operator.EQUALS, tag),), MatchMode.ALL
        )
        validate_definition(definition)
        with self.database.write() as connection:
            tagged = tags.add_tag(connection, client_ids, tag)
            new_id = definitions.save_segment(connection, definition, None)
            segments.recompute_all(
                connection,
                as_of or dt.date.today(),
                cause=f"tag '{tag}' given to {tagged:,} clients",
                segment_causes={new_id: f"segment '{definition.name}' created from a list"},
            )
            return new_id, tagged

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
        rule_names = [rule.name.strip() for rule in new.automations]
        repeated = {n for n in rule_names if rule_names.count(n) > 1}
        if repeated:
            raise StoreError(f"the file defines the automation rule '{sorted(repeated)[0]}' twice")
        for rule in new.automations:
            validate_rule(rule)
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
            # After the recompute, so a new rule starts from the new memberships (a rule
            # on a segment the file adds does not fire for all its first members).
            automation.replace_rules(connection, new.automations)

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

    # --- automation -----------------------------------------------------------------------

    def automation_rules(self) -> list[RuleInfo]:
        """Every automation rule by name, broken ones included."""
        with self.database.read() as connection:
            return automation.list_rules(connection)

    def save_automation_rule(self, rule: AutomationRule, rule_id: int | None = None) -> int:
        """Create or replace an automation rule (validated; its segment or tier must exist)."""
        with self.database.write() as connection:
            return automation.save_rule(connection, rule, rule_id)

    def pause_automation_rule(self, rule_id: int, paused: bool = True) -> None:
        """Pause (or resume) a rule."""
        with self.database.write() as connection:
            automation.set_paused(connection, rule_id, paused)

    def delete_automation_rule(self, rule_id: int) -> None:
        """Delete a rule (its log, tasks and batches stay)."""
        with self.database.write() as connection:
            automation.delete_rule(connection, rule_id)

    def apply_automations(self, cause: str = "applied by hand") -> AutomationOutcome:
        """Evaluate every active rule now, against the stored memberships."""
        with self.database.write() as connection:
            return automation.apply_rules(connection, cause)

    def automation_mark(self) -> ActivityMark:
        """Where the activity log stands now (see :meth:`automation_outcome_since`)."""
        with self.database.read() as connection:
            return automation.activity_mark(connection)

    def automation_outcome_since(self, mark: ActivityMark) -> AutomationOutcome:
        """What the rules did after ``mark``."""
        with self.database.read() as connection:
            return automation.outcome_since(connection, mark)

    def activity(
        self, since: int | None = None, client_id: int | None = None, limit: int | None = None
    ) -> list[ActivityEntry]:
        """The automation activity log, newest first."""
        with self.database.read() as connection:
            return automation.list_activity(connection, since, client_id, limit)

    def rule_tags(self, client_id: int) -> dict[str, str]:
        """A client's tags set by a rule: tag -> rule name."""
        with self.database.read() as connection:
            return automation.rule_tags(connection, client_id)

    def tasks(
        self,
        include_done: bool = False,
        segment_id: int | None = None,
        client_id: int | None = None,
    ) -> list[FollowUp]:
        """Follow-up tasks by due date (open ones unless ``include_done``)."""
        with self.database.read() as connection:
            return automation.list_tasks(connection, include_done, segment_id, client_id)

    def task_counts(self, today: dt.date | None = None) -> TaskCounts:
        """Open tasks, due today, overdue."""
        with self.database.read() as connection:
            return automation.task_counts(connection, today or dt.date.today())

    def complete_task(self, task_id: int, done: bool = True) -> None:
        """Mark a task done (or open again)."""
        with self.database.write() as connection:
            automation.complete_task(connection, task_id, done)

    def snooze_task(self, task_id: int, until: dt.date) -> None:
        """Move a task's due date."""
        with self.database.write() as connection:
            automation.snooze_task(connection, task_id, until)

    def reassign_task(self, task_id: int, assignee: str) -> None:
        """Give a task to someone else."""
        with self.database.write() as connection:
            automation.reassign_task(connection, task_id, assignee)

    def email_batches(self) -> list[BatchInfo]:
        """Every prepared email batch, newest first."""
        with self.database.read() as connection:
            return automation.list_batches(connection)

    def email_messages(
        self, batch_id: int, message_ids: Sequence[int] | None = None
    ) -> list[EmailMessage]:
        """A batch's messages (or the given ones of it)."""
        with self.database.read() as connection:
            return automation.batch_messages(connection, batch_id, message_ids)

    def record_email_send(self, message_id: int, ok: bool, detail: str) -> None:
        """Record one attempt to send a message (sent, or failed and retryable)."""
        with self.database.write() as connection:
            automation.record_send(connection, message_id, ok, detail)

    def mail_settings_text(self) -> str | None:
        """The outgoing mail server's settings as saved (JSON; see ``io.mail.SmtpSettings``)."""
        with self.database.read() as connection:
            return automation.mail_settings_text(connection)

    def save_mail_settings_text(self, value: str) -> None:
        """Save the outgoing mail server's settings (JSON; the password is in the keyring)."""
        with self.database.write() as connection:
            automation.save_mail_settings_text(connection, value)

    def email_send_log(self, batch_id: int) -> list[SendAttempt]:
        """Every attempt to send a batch's messages."""
        with self.database.read() as connection:
            return automation.send_log(connection, batch_id)

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

"""The automation room: rules, what they did, follow-up tasks and email batches.

A room of :class:`seg_desktop.store.office.Office`: each method is one
transaction (a read, or a write through the unit of work) and returns frozen
records, so the window calls it from its worker thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from seg_desktop.core.automation import AutomationRule
from seg_desktop.store import automation
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office_base import OfficeBase
from seg_desktop.store.records import (
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


class AutomationRoom(OfficeBase):
    """Automation rules, the activity log, follow-up tasks and email batches."""

    def automation_rules(self) -> list[RuleInfo]:
        """Every automation rule by name, broken ones included."""
        with self.database.read() as connection:
            return automation.list_rules(connection)

    def save_automation_rule(
        self, rule: AutomationRule, rule_id: int | None = None
    ) -> tuple[int, Changes]:
        """Create or replace an automation rule (validated; its segment or tier must exist)."""
        with self._write() as work:
            new_id = automation.save_rule(work.connection, rule, rule_id)
            work.touched(Area.AUTOMATION)
        return new_id, work.changes

    def pause_automation_rule(self, rule_id: int, paused: bool = True) -> Changes:
        """Pause (or resume) a rule."""
        with self._write() as work:
            automation.set_paused(work.connection, rule_id, paused)
            work.touched(Area.AUTOMATION)
        return work.changes

    def delete_automation_rule(self, rule_id: int) -> Changes:
        """Delete a rule (its log, tasks and batches stay)."""
        with self._write() as work:
            automation.delete_rule(work.connection, rule_id)
            work.touched(Area.AUTOMATION)
        return work.changes

    def apply_automations(
        self, cause: str = "applied by hand"
    ) -> tuple[AutomationOutcome, Changes]:
        """Evaluate every active rule now; segments that read the tags they set follow.

        Returns what the rules did and the changes (one transaction).
        """
        with self._write() as work:
            work.apply_rules(cause)
        return work.changes.automation or AutomationOutcome(), work.changes

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
            return automation.task_counts(connection, today or self.today())

    def complete_task(self, task_id: int, done: bool = True) -> Changes:
        """Mark a task done (or open again)."""
        with self._write() as work:
            automation.complete_task(work.connection, task_id, done)
            work.touched(Area.TASKS)
        return work.changes

    def snooze_task(self, task_id: int, until: dt.date) -> Changes:
        """Move a task's due date."""
        with self._write() as work:
            automation.snooze_task(work.connection, task_id, until)
            work.touched(Area.TASKS)
        return work.changes

    def reassign_task(self, task_id: int, assignee: str) -> Changes:
        """Give a task to someone else."""
        with self._write() as work:
            automation.reassign_task(work.connection, task_id, assignee)
            work.touched(Area.TASKS)
        return work.changes

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

    def record_email_send(self, message_id: int, ok: bool, detail: str) -> Changes:
        """Record one attempt to send a message (sent, or failed and retryable)."""
        with self._write() as work:
            automation.record_send(work.connection, message_id, ok, detail)
            work.touched(Area.EMAIL)
        return work.changes

    def mail_settings_text(self) -> str | None:
        """The outgoing mail server's settings as saved (JSON; see ``io.mail.SmtpSettings``)."""
        with self.database.read() as connection:
            return automation.mail_settings_text(connection)

    def save_mail_settings_text(self, value: str) -> Changes:
        """Save the outgoing mail server's settings (JSON; the password is in the keyring)."""
        with self._write() as work:
            automation.save_mail_settings_text(work.connection, value)
            work.touched(Area.EMAIL)
        return work.changes

    def email_send_log(self, batch_id: int) -> list[SendAttempt]:
        """Every attempt to send a batch's messages."""
        with self.database.read() as connection:
            return automation.send_log(connection, batch_id)

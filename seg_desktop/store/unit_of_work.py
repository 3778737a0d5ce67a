"""One write, and everything that depends on it, in one transaction.

Every write of the office goes through a :class:`UnitOfWork`: the write says
what it touched (the revenue of some clients, client fields or tags, segment
definitions, a run, the date…); before the transaction commits,
:meth:`UnitOfWork.finish` refreshes exactly what depends on that — the
rollups of those clients, every segment's membership and the membership log,
the segment automation rules, and the segments their tags feed — and returns
the :class:`Changes`. A failure anywhere leaves nothing of the write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection

from seg_desktop.core.automation import TargetKind
from seg_desktop.core.engine import Cancelled, Progress
from seg_desktop.store import automation, data, definitions, runs, segments
from seg_desktop.store.changes import NO_CHANGES, Area, Changes
from seg_desktop.store.records import AutomationOutcome, RunSummary

MEMBERSHIP_INPUTS = frozenset({Area.CLIENTS, Area.REVENUE, Area.SEGMENTS, Area.RUN, Area.DATE})
"""What segment membership is computed from: a write touching any of these recomputes it."""

TAG_ROUNDS = 8
"""How often rules that set tags and segments that read tags may feed each other in one write.

Each round recomputes the segments after the rules' tag changes, so stored
membership always agrees with the data; a cycle of rules that keeps changing
tags stops acting after this many rounds (its next actions wait for the next
write) rather than looping.
"""


class UnitOfWork:
    """The write transaction of one office operation and the list of what it touched."""

    def __init__(self, connection: Connection, as_of: dt.date) -> None:
        self.connection = connection
        self.as_of = as_of
        self._areas: set[Area] = set()
        self._pending: set[Area] = set()  # touched since the last refresh
        self._clients: set[int] | None = set()
        self._rollups: set[int] | None = set()
        self._cause: str | None = None
        self._segment_causes: dict[int, str] = {}
        self._run_id: int | None = None
        self._apply_rules = False
        self._outcome: AutomationOutcome | None = None
        self._counts: dict[int, int] = {}
        self._production_changed = False
        self._tags_pending = False  # rules changed tags that no recompute has seen yet
        self.changes: Changes = NO_CHANGES
        """What the write changed, set by :meth:`finish`."""

    # --- what the write touched -------------------------------------------------------------

    def touched(self, *areas: Area, cause: str | None = None) -> None:
        """Note areas the write changed; ``cause`` is the membership log's reason."""
        self._areas.update(areas)
        self._pending.update(areas)
        if cause is not None and self._cause is None:
            self._cause = cause

    def clients_changed(self, client_ids: Iterable[int] | None, cause: str | None = None) -> None:
        """Client fields, tags or groups changed (None: any client)."""
        self.touched(Area.CLIENTS, cause=cause)
        self._add_clients(client_ids)

    def revenue_changed(self, client_ids: Iterable[int] | None, cause: str | None = None) -> None:
        """Revenue of these clients changed (None: any): their rollups are refreshed."""
        self.touched(Area.REVENUE, cause=cause)
        self.production_inputs_changed()
        self._add_clients(client_ids)
        if client_ids is None or self._rollups is None:
            self._rollups = None
        else:
            self._rollups.update(client_ids)

    def production_inputs_changed(self) -> None:
        """What a run computes from changed (revenue, new clients, group memberships).

        Recorded with the time, so the tier view can tell that the current run
        no longer matches the data.
        """
        self._production_changed = True

    def segment_defined(self, segment_id: int, cause: str) -> None:
        """A segment's definition was created or changed."""
        self.touched(Area.SEGMENTS)
        self._segment_causes[segment_id] = cause

    def run_saved(self, run_id: int) -> None:
        """A new current run was saved (its tier automation already acted)."""
        self.touched(Area.RUN, cause=f"run {run_id}")
        self._run_id = run_id

    def apply_rules(self, cause: str) -> None:
        """Evaluate every active automation rule as part of this write."""
        self.touched(Area.AUTOMATION, cause=cause)
        self._apply_rules = True

    def automation_acted(self, outcome: AutomationOutcome) -> None:
        """Rules acted inside the write (a run's tier rules): tags they set feed the segments."""
        self._note_outcome(outcome)

    # --- before the commit ----------------------------------------------------------------

    def refresh_now(
        self, progress: Progress | None = None, cancelled: Cancelled | None = None
    ) -> None:
        """Refresh what depends on the write so far, before the write goes on.

        For a write whose later steps read the refreshed state (a definitions
        file's automation rules start from the segments' new members).
        """
        connection = self.connection
        if self._production_changed:
            self._production_changed = False
            now = dt.datetime.now().replace(microsecond=0)
            definitions.note_production_inputs_changed(connection, now)
        if self._rollups is None or self._rollups:
            data.refresh_rollups(connection, self._rollups)
            self._rollups = set()
        if self._apply_rules:
            self._apply_rules = False
            outcome = automation.apply_rules(connection, self._cause or "applied by hand")
            self._note_outcome(outcome)
        if self._pending & MEMBERSHIP_INPUTS or self._tags_pending:
            self._counts = self._recompute(progress, cancelled)
        self._pending.clear()
        self._tags_pending = False

    def finish(
        self, progress: Progress | None = None, cancelled: Cancelled | None = None
    ) -> Changes:
        """Refresh what depends on the write, in its transaction; returns the Changes."""
        self.refresh_now(progress, cancelled)
        return Changes(
            frozenset(self._areas),
            None if self._clients is None else frozenset(self._clients),
            self._run_summary(),
            self._outcome,
            dict(self._counts),
        )

    def _recompute(self, progress: Progress | None, cancelled: Cancelled | None) -> dict[int, int]:
        connection, as_of = self.connection, self.as_of
        reason = self._cause or f"recomputed as of {as_of.isoformat()}"
        counts = segments.recompute_memberships(
            connection, as_of, progress, cancelled, reason, self._segment_causes
        )
        self._segment_causes = {}
        self._tags_pending = False
        self._areas.add(Area.SEGMENTS)
        for _round in range(TAG_ROUNDS):
            outcome = automation.apply_rules(connection, reason, targets=(TargetKind.SEGMENT,))
            self._note_outcome(outcome)
            if not outcome.tags_changed:
                return counts
            reason = "tags set by automation rules"
            counts = segments.recompute_memberships(connection, as_of, None, cancelled, reason)
            self._tags_pending = False
        return counts

    def _note_outcome(self, outcome: AutomationOutcome) -> None:
        if outcome.actions or outcome.broken:
            self._areas.add(Area.AUTOMATION)
        if outcome.tasks_created:
            self._areas.add(Area.TASKS)
        if outcome.emails_prepared or outcome.without_email:
            self._areas.add(Area.EMAIL)
        if outcome.tags_changed:
            # Which clients is not tallied; the clients table reloads what it shows.
            self._areas.add(Area.CLIENTS)
            self._add_clients(None)
            self._tags_pending = True
        self._outcome = outcome if self._outcome is None else self._outcome.merged(outcome)

    def _add_clients(self, client_ids: Iterable[int] | None) -> None:
        if client_ids is None or self._clients is None:
            self._clients = None
        else:
            self._clients.update(client_ids)

    def _run_summary(self) -> RunSummary | None:
        if self._run_id is None:
            return None
        return runs.get_run(self.connection, self._run_id)

"""What one write changed: the value every office write returns and every view refreshes from.

In the manner of Anki's ``OpChanges``: a write does not tell the views what to
do; it says what it touched, and each view decides whether what it shows
depends on that. A window broadcasts each ``Changes`` once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from seg_desktop.store.records import AutomationOutcome, RunSummary


class Area(enum.Enum):
    """A kind of stored state a write can touch."""

    CLIENTS = "clients"
    """Client fields, tags or group memberships (and so what the clients table shows)."""
    REVENUE = "revenue"
    """Revenue records, and with them the clients' rollups."""
    SEGMENTS = "segments"
    """Segment definitions, or their stored membership and counts."""
    STRATEGIES = "strategies"
    """A tier strategy (names, limits, active flag)."""
    SETTINGS = "settings"
    """The office settings (M, B, the nightly run)."""
    OVERRIDES = "overrides"
    """Manual tier pins."""
    RUN = "run"
    """A new current run."""
    AUTOMATION = "automation"
    """Automation rules, or the activity log they write."""
    TASKS = "tasks"
    """Follow-up tasks."""
    EMAIL = "email"
    """Email batches, messages, send attempts, the mail server's settings."""
    DATE = "date"
    """A new day: relative dates in segment rules moved on."""
    OFFICE = "office"
    """A whole office was opened in place of another: everything may differ."""


@dataclass(frozen=True)
class Changes:
    """What a write changed, committed in one transaction.

    ``clients`` names the clients whose shown facts changed (tags, fields,
    revenue); None means "any client" (too many to list, or unknown).
    """

    areas: frozenset[Area] = frozenset()
    clients: frozenset[int] | None = frozenset()
    run: RunSummary | None = None
    """The new current run, when the write saved one."""
    automation: AutomationOutcome | None = None
    """What automation rules did inside the write, if any ran."""
    segment_counts: dict[int, int] = field(default_factory=dict)
    """Segment id -> member count, when the write recomputed the segments."""

    @classmethod
    def of(cls, *areas: Area, clients: Iterable[int] | None = ()) -> Changes:
        """Changes touching ``areas`` (and these clients)."""
        return cls(frozenset(areas), None if clients is None else frozenset(clients))

    def touches(self, *areas: Area) -> bool:
        """Whether any of ``areas`` changed (a whole new office touches every area)."""
        return Area.OFFICE in self.areas or any(area in self.areas for area in areas)

    def __bool__(self) -> bool:
        return bool(self.areas)

    def __or__(self, other: Changes) -> Changes:
        """Both changes, as if made by one write (the later run and counts win)."""
        clients = (
            None if self.clients is None or other.clients is None else self.clients | other.clients
        )
        automation = self.automation
        if other.automation is not None:
            automation = (
                other.automation if automation is None else automation.merged(other.automation)
            )
        return Changes(
            self.areas | other.areas,
            clients,
            other.run or self.run,
            automation,
            {**self.segment_counts, **other.segment_counts},
        )

    def describe(self) -> str:
        """The areas in words, for logs and tests: "clients, segments"."""
        return ", ".join(sorted(area.value for area in self.areas)) or "nothing"


NO_CHANGES = Changes()
"""A write that changed nothing."""

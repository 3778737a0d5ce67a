"""The automation activity log as a CSV file (every action, by which rule, for whom, when)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seg_desktop.io.export import Column, write_csv
from seg_desktop.store.records import ActivityEntry

ACTIVITY_COLUMNS = (
    Column("at", "When", "text"),
    Column("rule", "Rule", "text"),
    Column("client_ref", "Client ref", "text"),
    Column("client_name", "Client", "text"),
    Column("when", "Trigger", "text"),
    Column("subject", "Segment or tier", "text"),
    Column("action", "Action", "text"),
    Column("result", "Result", "text"),
    Column("detail", "What was done", "text"),
    Column("cause", "Cause", "text"),
)


def write_activity_csv(path: Path, entries: Sequence[ActivityEntry]) -> int:
    """Write the entries oldest first (atomically, formula-safe); returns how many."""
    rows = (
        (
            entry.at.isoformat(sep=" ", timespec="seconds"),
            entry.rule_name,
            entry.client_ref,
            entry.client_name,
            entry.when.words,
            entry.subject,
            entry.action.value,
            entry.result,
            entry.detail,
            entry.cause,
        )
        for entry in sorted(entries, key=lambda e: e.id)
    )
    return write_csv(path, ACTIVITY_COLUMNS, rows)

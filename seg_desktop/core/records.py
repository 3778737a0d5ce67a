"""The rows an import hands to the office: one client, one revenue record, or a bad row.

Files are read in `io`; the rows are merged into the office in `store`. Both
speak these plain records, so neither needs the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ClientRow:
    """One client read from a file.

    `email`, `status`, `tags` and `groups` are None when the file has no such
    column (leave the stored value alone on update). A present but empty cell
    is "" / frozenset() / () (clear the stored value).
    """

    row_number: int
    ref: str
    name: str
    email: str | None
    status: str | None
    tags: frozenset[str] | None
    groups: tuple[str, ...] | None


@dataclass(frozen=True)
class RevenueRow:
    """One revenue record (statement line or invoice) read from a file."""

    row_number: int
    client_ref: str
    date: dt.date
    amount_cents: int
    reference: str | None


@dataclass(frozen=True)
class RowProblem:
    """A row that cannot be imported, numbered as a spreadsheet shows it."""

    row_number: int
    reason: str

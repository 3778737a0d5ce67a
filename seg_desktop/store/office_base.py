"""The office's two doors to the database: a read, and a write that is one unit of work.

:class:`Office` is assembled from rooms (definitions and runs, clients,
history, automation), each a mixin over this base, so each room stays small
and every one of them reads and writes the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator

from sqlalchemy import Connection

from seg_desktop.core.engine import Cancelled, Progress
from seg_desktop.store.database import Database
from seg_desktop.store.unit_of_work import UnitOfWork

Today = Callable[[], dt.date]


class OfficeBase:
    """An open office database; every method of the office is one transaction."""

    def __init__(self, database: Database, today: Today = dt.date.today) -> None:
        self.database = database
        self.today = today
        """Where "today" comes from (a test's fixed date; the date relative rules count from)."""

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.database.read() as connection:
            yield connection

    @contextlib.contextmanager
    def _write(
        self,
        as_of: dt.date | None = None,
        progress: Progress | None = None,
        cancelled: Cancelled | None = None,
    ) -> Iterator[UnitOfWork]:
        """One write transaction as a unit of work.

        The body writes and says what it touched; on leaving, before the commit,
        the unit refreshes what depends on it (``work.changes`` is then set).
        Whatever the body or the refresh raises rolls everything back.
        """
        with self.database.write() as connection:
            work = UnitOfWork(connection, as_of or self.today())
            yield work
            work.changes = work.finish(progress, cancelled)

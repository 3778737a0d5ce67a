"""The files room: backups, restores and the database check, for the window.

A room of :class:`seg_desktop.store.office.Office`: each method is one
transaction (a read, or a write through the unit of work) and returns frozen
records, so the window calls it from its worker thread.

A restore replaces the office's file, so it runs with the office closed: it
and the other questions asked before any office is open (the newest good
backup of a file that cannot be opened, whether a server database is empty)
are static methods, still reached through the office's front door.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from seg_desktop.store import backup, integrity, tags
from seg_desktop.store.database import server_database_is_empty
from seg_desktop.store.errors import BackupError
from seg_desktop.store.lock import WriterLock, acquire_writer_lock
from seg_desktop.store.office_base import OfficeBase
from seg_desktop.store.records import BackupInfo, CheckReport

SERVER_DRIVER = "postgresql+psycopg"
"""The driver of an office on a PostgreSQL server."""


class FilesRoom(OfficeBase):
    """Backups, restores and the database check, for the window."""

    def database_file(self) -> Path | None:
        """The office's SQLite file (None for a server office); reads nothing."""
        return backup.sqlite_file(self.database)

    def backups(self) -> list[BackupInfo]:
        """The backups of the office's file, newest first (none for a server office)."""
        path = self.database_file()
        return [] if path is None else backup.list_backups(path)

    def take_backup(self, reason: str = "manual") -> Path:
        """Back up the office's file now; the new backup's path (BackupError if not taken)."""
        path = self.database_file()
        if path is None:
            raise BackupError("a server database is backed up with the server's own tools")
        return backup.take_backup(path, reason)

    def daily_backup(self) -> Path | None:
        """Take the day's backup of the office's file unless one was taken today; the new one."""
        path = self.database_file()
        if path is None or self.database.read_only:
            return None
        return backup.daily_backup_if_due(path)

    def check_database(self) -> CheckReport:
        """File → Check Database: the engine's checks, then the office's own invariants."""
        path = self.database_file()
        return integrity.check_database(path if path is not None else self.database.url)

    def all_tags(self) -> list[str]:
        """Every tag some client has, sorted (the tag picker of the segment editor)."""
        with self._read() as connection:
            return tags.all_tags(connection)

    @staticmethod
    def sqlalchemy_version() -> str:
        """The version of SQLAlchemy the store runs on (for the About box)."""
        return sqlalchemy.__version__

    @staticmethod
    def lock_for_writing(db_path: str | os.PathLike[str]) -> WriterLock:
        """Take the office file's one-writer lock (LockHeld names who holds it); release() it."""
        return acquire_writer_lock(db_path)

    @staticmethod
    def backups_folder(db_path: str | os.PathLike[str]) -> Path:
        """Where the backups of the office file ``db_path`` are kept."""
        return backup.backups_folder(db_path)

    @staticmethod
    def restore_backup(
        db_path: str | os.PathLike[str],
        backup_path: str | os.PathLike[str],
        *,
        other_office: bool = False,
    ) -> Path | None:
        """Put a backup in place of the (closed) office file; where the replaced file was kept.

        The caller closes the office first and opens it again afterwards,
        whatever the outcome. BackupError (nothing changed) for a bad backup;
        OtherOfficeBackup, naming whose it is, for another office's backup
        unless ``other_office`` says the user chose it knowingly.
        """
        return backup.restore_backup(db_path, backup_path, other_office=other_office)

    @staticmethod
    def newest_good_backup(db_path: str | os.PathLike[str]) -> BackupInfo | None:
        """The newest backup of ``db_path`` that passes the quick check (an office not open)."""
        return backup.newest_good_backup(db_path)

    @staticmethod
    def server_database_is_empty(url: str) -> bool:
        """Whether the server database at ``url`` has no office yet (StoreError if unreachable)."""
        return server_database_is_empty(url)

    @staticmethod
    def server_url(
        host: str, port: int, database: str, user: str, password: str | None = None
    ) -> str:
        """The URL of an office on a PostgreSQL server (psycopg driver), every part escaped.

        Without a password (None or empty) the URL carries none.
        """
        return URL.create(
            SERVER_DRIVER,
            username=user or None,
            password=password or None,
            host=host.strip() or None,
            port=port,
            database=database or None,
        ).render_as_string(hide_password=False)

    @staticmethod
    def server_address(url: str) -> tuple[str, int | None, str, str] | None:
        """(host, port, database, user) of a PostgreSQL URL that carries no password.

        None for a SQLite path, another kind of URL, or one with a password in
        it (which the window never offers again).
        """
        if "://" not in url:
            return None
        try:
            parsed = make_url(url)
        except ArgumentError:
            return None
        if parsed.get_backend_name() != "postgresql" or parsed.password or not parsed.host:
            return None
        return parsed.host, parsed.port, parsed.database or "", parsed.username or ""

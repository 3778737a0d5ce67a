"""What can go wrong in the office, as errors whose message a user can act on.

Plain exceptions (no SQL), so the window and the file formats can catch them
without importing anything that talks to the database.
"""

from __future__ import annotations

from pathlib import Path

from seg_desktop.store.records import LockOwner, OfficeIdentity


class StoreError(Exception):
    """A database problem, with a message a user can act on."""


class NotOurDatabase(StoreError):
    """The file is not a seg_desktop database (or not a database at all)."""


class NewerDatabase(StoreError):
    """The database was written by a newer version of the program."""


class DatabaseBusy(StoreError):
    """Another program holds a lock on the database."""


class DamagedDatabase(StoreError):
    """The file failed the check on open; the message names the likely cause and a backup."""


class DiskFull(StoreError):
    """The disk holding the database (or the server's) is full: never a damaged file."""


class ConnectionLost(StoreError):
    """The connection to the office server dropped mid-transaction (a server restart).

    The server rolled the transaction back, so nothing half-done was saved. The
    engine checks a pooled connection before handing it out (`pool_pre_ping`),
    so the next operation opens a new connection by itself.
    """

    def __init__(self) -> None:
        super().__init__(
            "The connection to the office server was lost; nothing half-done was saved. "
            "Try again: seg-desktop reconnects."
        )


class CannotConnect(StoreError):
    """The office server could not be reached or refused to let us in."""


class LockHeld(StoreError):
    """Another instance holds the database's writer lock."""

    def __init__(self, db_path: Path, owner: LockOwner | None) -> None:
        self.db_path = db_path
        self.owner = owner
        who = owner.describe() if owner is not None else "another seg-desktop"
        super().__init__(
            f"{db_path} is in use by {who}; open it read-only, or close the other one first"
        )


class BackupError(StoreError):
    """A backup could not be taken or restored; the message says why and what was left."""


class OtherOfficeBackup(BackupError):
    """The backup is of another office; restoring it needs the user's explicit yes."""

    def __init__(self, message: str, origin: OfficeIdentity) -> None:
        super().__init__(message)
        self.origin = origin


class RunInProgress(StoreError):
    """Another desktop is running segmentation on the same server database."""

    def __init__(self, target: str, owner: LockOwner | None) -> None:
        self.owner = owner
        who = owner.describe() if owner is not None else "another seg-desktop"
        super().__init__(
            f"segmentation is already running on {target}, started by {who}; the current run "
            "stays as it is: try again when that run has been saved"
        )


class ImportStopped(Exception):
    """The caller's ``cancelled()`` returned True while rows were merged."""

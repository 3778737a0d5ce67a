"""One writer per office database: an operating-system lock on ``<db>.lock``.

The lock is an advisory lock held on an open file (``flock`` on POSIX,
``msvcrt.locking`` on Windows), not the file's existence: the operating
system drops it the moment the holding process ends, however it ends. A
window killed by the task manager or a power cut therefore leaves nothing
that a user has to delete; the next start simply takes the lock. The file
also records who holds it (pid, host, since when), so a second instance can
say "office.db is in use by seg-desktop (pid 1234) on host X since 14:02".

The lock file is removed on release. Because another process may have it
open at that moment, taking the lock checks afterwards that the path still
names the file it locked, and starts over if not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import sys
from pathlib import Path
from types import TracebackType

from seg_desktop.core.filenames import fitted_name
from seg_desktop.store.errors import DiskFull, LockHeld, StoreError
from seg_desktop.store.quick_check import is_disk_full
from seg_desktop.store.records import LockOwner

LOCK_SUFFIX = ".lock"
# Windows locks are mandatory: a locked byte cannot even be read. The lock sits far
# beyond the recorded owner so the owner stays readable by the instance that is refused.
_WINDOWS_LOCK_OFFSET = 1 << 20
_ATTEMPTS = 20


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    """The lock file of a database: ``<db>.lock`` beside the real file (symlinks resolved)."""
    path = Path(db_path).expanduser().resolve()
    return path.with_name(fitted_name(path.name, LOCK_SUFFIX))


def _try_lock(descriptor: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(descriptor, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(descriptor: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(descriptor, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(descriptor, fcntl.LOCK_UN)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def read_lock_owner(db_path: str | os.PathLike[str]) -> LockOwner | None:
    """Who the lock file says holds the lock (it may be stale: only the OS lock counts)."""
    try:
        text = lock_path(db_path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return LockOwner.from_json(text.strip("\x00").strip())


class WriterLock:
    """A held writer lock; release it when the office is closed (or leave it to the OS)."""

    def __init__(self, db_path: Path, path: Path, descriptor: int, owner: LockOwner) -> None:
        self.db_path = db_path
        self.path = path
        self.owner = owner
        self._descriptor: int | None = descriptor

    @property
    def held(self) -> bool:
        """Whether this lock is still held."""
        return self._descriptor is not None

    def release(self) -> None:
        """Give the lock up and remove the lock file; calling it twice is harmless."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        try:
            if sys.platform != "win32":
                # Removed while still locked, so no one can lock this file and then lose it.
                with contextlib.suppress(OSError):
                    if _same_file(descriptor, self.path):
                        self.path.unlink()
            _unlock(descriptor)
        finally:
            os.close(descriptor)
        if sys.platform == "win32":
            # Windows cannot remove an open file; another instance may have it open, and
            # then it simply stays until a later release.
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "held" if self.held else "released"
        return f"<WriterLock {self.path} {state}>"


def acquire_writer_lock(
    db_path: str | os.PathLike[str], *, now: dt.datetime | None = None
) -> WriterLock:
    """Take the writer lock of the database at ``db_path`` or raise LockHeld naming the holder.

    Raises StoreError when the lock file cannot be created (e.g. a read-only
    folder: such a database cannot be written anyway).
    """
    db = Path(db_path).expanduser().resolve()
    path = lock_path(db)
    owner = LockOwner(
        pid=os.getpid(),
        host=socket.gethostname(),
        started_at=(now or dt.datetime.now()).replace(microsecond=0),
    )
    for _attempt in range(_ATTEMPTS):
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StoreError(
                f"cannot lock {db} for writing: {error.strerror or error} ({path}); a database "
                "in a read-only folder can only be opened read-only"
            ) from None
        try:
            if not _try_lock(descriptor):
                raise LockHeld(db, read_lock_owner(db))
            if not _same_file(descriptor, path):
                # The holder released (and removed) the file between our open and our
                # lock: this one is an orphan; lock the file now at the path instead.
                _unlock(descriptor)
                os.close(descriptor)
                continue
            try:
                os.ftruncate(descriptor, 0)
                os.lseek(descriptor, 0, os.SEEK_SET)
                os.write(descriptor, (owner.to_json() + "\n").encode("utf-8"))
            except OSError as error:
                if is_disk_full(error):
                    raise DiskFull(
                        f"the disk holding {db} is full (even the lock file {path.name} cannot "
                        "be written); free some space and try again"
                    ) from None
                raise
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(descriptor)
            raise
        return WriterLock(db, path, descriptor, owner)
    raise StoreError(f"cannot lock {db} for writing: the lock file keeps changing ({path})")

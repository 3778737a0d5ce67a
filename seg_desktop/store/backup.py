"""Backups of an office database: taken online with SQLite's backup API, thinned, restored.

A backup is never a copy of the live file (which could catch a write half-way):
SQLite's backup API copies the pages of one consistent snapshot while the
program keeps working. Backups live beside the database::

    <folder>/office.db
    <folder>/office.backups/office-20261124-140233-import.db

Each is written to a hidden temporary name, checked with ``PRAGMA
quick_check`` and only then renamed into place, so a backup that is listed
was whole when it was taken, and a crash leaves at most a temporary file that
the next backup removes. Files and the folder are readable by the user only.

A backup is a single self-contained file (rollback-journal mode, no ``-wal``),
so it can be copied, mailed to support or opened by any SQLite tool.

Thinning (:mod:`seg_desktop.core.retention`) keeps the 3 newest, 7 daily,
4 weekly and 12 monthly backups, and never the newest good one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from seg_desktop.core.filenames import SQLITE_SIDE_ROOM, fitted_name
from seg_desktop.core.retention import DEFAULT_POLICY, RetentionPolicy, backups_to_keep
from seg_desktop.store.database import OFFICE_ID_KEY, Database, sqlite_path
from seg_desktop.store.errors import BackupError, OtherOfficeBackup
from seg_desktop.store.quick_check import Problem, diagnose, is_disk_full, wal_path
from seg_desktop.store.records import BACKUP_REASON_LABELS, BackupInfo, OfficeIdentity

BACKUP_FOLDER_SUFFIX = ".backups"
REASON_LABELS = BACKUP_REASON_LABELS
_NAME = re.compile(
    r"^(?P<stem>.+)-(?P<date>\d{8})-(?P<time>\d{6})(?:\.(?P<sequence>\d+))?"
    r"-(?P<reason>[a-z0-9]+(?:-[a-z0-9]+)*)\.db$"
)
_PARTIAL_SUFFIX = ".partial"
# What a backup's temporary name adds to its name: ".", ".<pid>" and ".partial".
_PARTIAL_ROOM = len(".") + len(".") + 10 + len(_PARTIAL_SUFFIX)
_SIDE_FILES = ("-wal", "-shm", "-journal")


# --- naming ----------------------------------------------------------------------------------


def backups_folder(db_path: str | os.PathLike[str]) -> Path:
    """The folder holding a database's backups: ``<db folder>/<db stem>.backups``."""
    path = Path(db_path).expanduser().absolute()
    return path.with_name(fitted_name(path.stem, BACKUP_FOLDER_SUFFIX))


def _reason_slug(reason: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-")[:30].strip("-")
    return slug or "manual"


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%d-%H%M%S")


def _backup_name(
    stem: str, moment: dt.datetime, reason: str, sequence: int, folder: Path | None = None
) -> str:
    counter = f".{sequence}" if sequence else ""
    # Room for SQLite's -journal beside it (and for its partial's longer name) while it is
    # written and checked, within SQLite's full-path limit too.
    return fitted_name(
        stem,
        f"-{_stamp(moment)}{counter}-{reason}.db",
        room=SQLITE_SIDE_ROOM + _PARTIAL_ROOM,
        sqlite_folder=folder,
    )


def _parse_name(name: str) -> tuple[dt.datetime, int, str] | None:
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        taken_at = dt.datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return taken_at, int(match["sequence"] or 0), match["reason"]


def sqlite_file(database: Database) -> Path | None:
    """The file of a SQLite office database (None for a server or an in-memory database)."""
    if not database.is_sqlite:
        return None
    return sqlite_path(database.url)


# --- low-level helpers -----------------------------------------------------------------------


def _create_private(path: Path) -> None:
    """Create an empty file that only the user may read (it will hold client data)."""
    descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(descriptor)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    # The rename is only durable once the folder entry is on disk (POSIX); Windows cannot
    # open a folder this way and relies on the rename's own guarantees.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _why(error: BaseException, where: Path) -> str:
    """An OS or SQLite error in the user's words: a full disk, a read-only folder, ..."""
    if isinstance(error, OSError):
        # The error number, not the text: the text carries the path, which may hold any word.
        code = error.errno
        if code == errno.ENOSPC:
            return f"the disk holding {where} is full"
        if code == errno.EROFS:
            return f"{where} is on a read-only disk or folder"
        if code in (errno.EACCES, errno.EPERM):
            return f"you may not write in {where} (it is read-only for you)"
        return f"{where}: {error.strerror or error}"
    lowered = str(error).lower()
    if "full" in lowered or is_disk_full(error, where):
        return f"the disk holding {where} is full"
    if "readonly" in lowered or "read-only" in lowered:
        return f"{where} is on a read-only disk or folder"
    if "locked" in lowered or "busy" in lowered:
        return f"{where} is locked by another program"
    if "unable to open" in lowered:
        return f"{where} cannot be written (read-only, or no permission)"
    return f"{where}: {error}"


def _copy_database(source: Path, target: Path) -> None:
    """Copy one consistent snapshot of ``source`` into the new file ``target`` (backup API).

    All pages are copied in one step, inside one read transaction: in WAL mode that
    never blocks the program's writer, and unlike a step-by-step copy it cannot be
    restarted over and over by a busy writer. The copy is switched to rollback-journal
    mode so that it is one self-contained file.
    """
    source_connection = sqlite3.connect(
        f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None
    )
    try:
        target_connection = sqlite3.connect(target, isolation_level=None)
        try:
            source_connection.backup(target_connection)
            target_connection.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            target_connection.close()
    finally:
        source_connection.close()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap test: the age rule below cleans up instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_partials(folder: Path, now: dt.datetime) -> None:
    """Remove the temporary files of backups whose process died (killed, power cut)."""
    for partial in folder.glob(f".*{_PARTIAL_SUFFIX}"):
        pid_text = partial.name[: -len(_PARTIAL_SUFFIX)].rsplit(".", 1)[-1]
        try:
            age = now.timestamp() - partial.stat().st_mtime
        except OSError:
            continue
        dead = pid_text.isdigit() and not _pid_alive(int(pid_text))
        if dead or age > 24 * 3600:
            _remove_quietly(partial)


# --- taking and listing ----------------------------------------------------------------------


def take_backup(
    db_path: str | os.PathLike[str],
    reason: str = "manual",
    *,
    now: dt.datetime | None = None,
    thin: bool = True,
    policy: RetentionPolicy = DEFAULT_POLICY,
) -> Path:
    """Back up the database at ``db_path`` now; returns the new backup's path.

    Raises BackupError (nothing is left behind, earlier backups are untouched)
    when the database is missing or damaged, or the backup cannot be written
    (a full disk, a read-only folder). Then thins the older backups.
    """
    db = Path(db_path).expanduser().absolute()
    moment = (now or dt.datetime.now()).replace(microsecond=0)
    slug = _reason_slug(reason)
    # A restore a crash interrupted is finished first: never back up a half-restored office.
    with contextlib.suppress(OSError):
        recover_interrupted_restore(db)
    try:
        if db.stat().st_size == 0:
            raise BackupError(f"{db} is empty: there is nothing to back up")
    except FileNotFoundError:
        raise BackupError(f"{db} does not exist: there is nothing to back up") from None
    except OSError as error:
        raise BackupError(f"no backup was taken: {_why(error, db)}") from None
    folder = backups_folder(db)
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as error:
        raise BackupError(f"no backup was taken: {_why(error, folder)}") from None
    _remove_stale_partials(folder, moment)
    # A counter tells apart backups taken within the same second, whatever their reasons,
    # so their order stays known.
    same_second = [b.sequence for b in _scan(db) if b.taken_at == moment]
    sequence = max(same_second) + 1 if same_second else 0
    try:
        target = folder / _backup_name(db.stem, moment, slug, sequence, folder)
    except ValueError:
        raise BackupError(
            f"no backup was taken: the path of {folder} is too long for SQLite to write a "
            "backup in it; move the office to a folder with a shorter path"
        ) from None
    partial = folder / f".{target.name}.{os.getpid()}{_PARTIAL_SUFFIX}"  # see _PARTIAL_ROOM
    try:
        _create_private(partial)
        _copy_database(db, partial)
        found = diagnose(partial, has_backups=False)
        if found is not None:
            raise BackupError(
                f"no backup was taken: the copy of {db.name} failed its check "
                f"({found.detail or found.message}); the database itself may be damaged: "
                "run Check database"
            )
        _fsync_file(partial)
        os.replace(partial, target)
    except BackupError:
        _remove_quietly(partial)
        raise
    except (OSError, sqlite3.Error) as error:
        _remove_quietly(partial)
        raise BackupError(f"no backup was taken: {_why(error, folder)}") from None
    except BaseException:
        _remove_quietly(partial)
        raise
    _fsync_folder(folder)
    if thin:
        _thin(db, moment, policy, protected={target})
    return target


def _scan(db: Path) -> Iterator[BackupInfo]:
    folder = backups_folder(db)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        parsed = _parse_name(entry.name)
        if parsed is None:
            continue
        try:
            size = entry.stat().st_size
        except OSError:
            continue
        taken_at, sequence, reason = parsed
        yield BackupInfo(entry, taken_at, reason, size, sequence)


def check_backup(backup: BackupInfo, *, full: bool = False) -> BackupInfo:
    """The backup with `ok` and `problem` filled in (quick_check, or integrity_check if full)."""
    found = diagnose(backup.path, full=full, has_backups=False)
    if found is None and backup.size == 0:
        return _with_check(backup, False, f"{backup.path.name} is empty")
    if found is None:
        return _with_check(backup, True, None)
    return _with_check(backup, False, found.message)


def _with_check(backup: BackupInfo, ok: bool, problem: str | None) -> BackupInfo:
    return BackupInfo(
        backup.path, backup.taken_at, backup.reason, backup.size, backup.sequence, ok, problem
    )


def list_backups(db_path: str | os.PathLike[str], *, verify: bool = False) -> list[BackupInfo]:
    """The database's backups, newest first; with ``verify`` each is quick-checked."""
    db = Path(db_path).expanduser().absolute()
    found = sorted(_scan(db), key=lambda b: (b.taken_at, b.sequence), reverse=True)
    return [check_backup(b) for b in found] if verify else found


def newest_good_backup(db_path: str | os.PathLike[str]) -> BackupInfo | None:
    """The newest backup that passes the quick check and is a database this version reads."""
    for backup in list_backups(db_path):
        checked = check_backup(backup)
        if checked.ok:
            return checked
    return None


# --- thinning --------------------------------------------------------------------------------


def thin_backups(
    db_path: str | os.PathLike[str],
    now: dt.datetime | None = None,
    policy: RetentionPolicy = DEFAULT_POLICY,
) -> list[Path]:
    """Delete the backups the retention rule does not keep; returns what was deleted.

    The newest backup that passes the quick check is always kept, whatever its age.
    """
    db = Path(db_path).expanduser().absolute()
    newest_good = newest_good_backup(db)
    protected = {newest_good.path} if newest_good is not None else set()
    return _thin(db, now or dt.datetime.now(), policy, protected)


def _thin(db: Path, now: dt.datetime, policy: RetentionPolicy, protected: set[Path]) -> list[Path]:
    backups = list_backups(db)
    keep = backups_to_keep(
        [b.taken_at for b in backups],
        now,
        policy,
        protected={index for index, b in enumerate(backups) if b.path in protected},
    )
    deleted = []
    for index, backup in enumerate(backups):
        if index in keep:
            continue
        try:
            backup.path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue  # thinning is housekeeping: it tries again after the next backup
        deleted.append(backup.path)
    return deleted


def daily_backup_if_due(
    db_path: str | os.PathLike[str], now: dt.datetime | None = None
) -> Path | None:
    """Take the day's backup unless one (of any kind) was taken on ``now``'s day already.

    Returns the new backup, or None when none was due, there is no database yet,
    or the file fails the check on open (not ours, damaged, newer): opening it
    reports that, and nothing is written next to a file that is not an office.
    """
    db = Path(db_path).expanduser().absolute()
    moment = now or dt.datetime.now()
    try:
        if db.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    except OSError as error:
        raise BackupError(f"no daily backup was taken: {_why(error, db)}") from None
    if any(b.taken_at.date() == moment.date() for b in list_backups(db)):
        return None
    if diagnose(db) is not None:
        return None
    return take_backup(db, "daily", now=moment)


# --- restoring -------------------------------------------------------------------------------


def _exists(path: Path) -> bool:
    """Whether a file is there; a name too long to exist (a 251-byte office's "-journal")
    is not there, rather than an error."""
    try:
        path.lstat()
    except OSError:
        return False
    return True


def _side_file(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _unused(path: Path) -> Path:
    candidate, counter = path, 1
    while _exists(candidate) or any(_exists(_side_file(candidate, s)) for s in _SIDE_FILES):
        counter += 1
        candidate = path.with_name(f"{path.name}.{counter}")
    return candidate


def office_identity(db_path: str | os.PathLike[str]) -> OfficeIdentity | None:
    """The identity of the office in a database or backup file, read-only; None when the
    file is missing or is not one of our offices."""
    path = Path(db_path).expanduser()
    try:
        if path.stat().st_size == 0:
            return None
    except OSError:
        return None
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10, isolation_level=None
        )
        try:
            facts = dict(connection.execute("SELECT key, value FROM meta").fetchall())
            try:
                clients = int(connection.execute("SELECT count(*) FROM client").fetchone()[0])
            except sqlite3.Error:
                clients = None
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    office_id = facts.get(OFFICE_ID_KEY)
    created = facts.get("created_at")
    return OfficeIdentity(
        str(office_id) if office_id else None, str(created) if created else None, clients
    )


def is_backup_of(
    db_path: str | os.PathLike[str], backup_path: str | os.PathLike[str]
) -> bool | None:
    """Whether a backup is of the office at ``db_path``: True, False (another office: ask
    before restoring it, and pass ``other_office=True``), or None when it cannot be told (no
    office there yet, or a backup or office from before offices had an identity)."""
    current = office_identity(Path(db_path).expanduser().resolve())
    backup = office_identity(backup_path)
    if current is None or backup is None or not current.office_id or not backup.office_id:
        return None
    return current.office_id == backup.office_id


def restore_backup(
    db_path: str | os.PathLike[str],
    backup_path: str | os.PathLike[str],
    *,
    now: dt.datetime | None = None,
    other_office: bool = False,
) -> Path | None:
    """Put a backup in place of the database; returns where the replaced file was kept.

    The backup is checked first (integrity check, a seg_desktop database this
    version reads); a bad one raises BackupError and nothing changes. The
    current file, with its ``-wal``/``-shm``, is kept aside as
    ``<db>.replaced-YYYYMMDD-HHMMSS`` (never deleted: it may hold the only copy
    of recent work); returns None when there was no current file.

    A database path that is a symbolic link is restored in the file it points
    to (the link stays a link): the office is the target, as every open of the
    path reads it.

    A backup of another office (see :func:`is_backup_of`) raises
    OtherOfficeBackup unless ``other_office`` is given: ask the user first.
    A crash at any step leaves the office as it was or, once the restore is
    planned, a restore the next open completes (:func:`recover_interrupted_restore`).

    The caller must hold the writer lock and have closed its own connections to
    the database (the window closes the office, restores, and reopens it).
    """
    db = Path(db_path).expanduser().resolve()
    backup = Path(backup_path).expanduser().absolute()
    moment = (now or dt.datetime.now()).replace(microsecond=0)
    if not backup.is_file():
        raise BackupError(f"the backup {backup} does not exist; nothing was changed")
    found = diagnose(backup, full=True, has_backups=False)
    if found is not None:
        raise BackupError(f"the backup cannot be restored: {found.message}; nothing was changed")
    recover_interrupted_restore(db)
    if not other_office and is_backup_of(db, backup) is False:
        origin = office_identity(backup) or OfficeIdentity(None)
        current = office_identity(db) or OfficeIdentity(None)
        raise OtherOfficeBackup(
            f"the backup {backup.name} is of another office ({origin.describe()}), not of "
            f"{db.name} ({current.describe()}); nothing was changed. Restore it only to "
            "replace this office with that one (seg-desktop restore --other-office)",
            origin,
        )
    try:
        if backup.stat().st_size == 0:
            raise BackupError(f"the backup {backup} is empty; nothing was changed")
    except OSError as error:
        raise BackupError(f"the backup cannot be read: {_why(error, backup)}") from None
    incoming = db.with_name(f"{_incoming_prefix(db)}{os.getpid()}")
    _remove_quietly(incoming)
    try:
        _create_private(incoming)
        _copy_database(backup, incoming)
        copied = diagnose(incoming, has_backups=False)
        if copied is not None:
            raise BackupError(
                f"the backup could not be copied whole ({copied.detail or copied.message}); "
                "nothing was changed"
            )
        _fsync_file(incoming)
    except BackupError:
        _remove_quietly(incoming)
        raise
    except (OSError, sqlite3.Error) as error:
        _remove_quietly(incoming)
        raise BackupError(
            f"the backup was not restored: {_why(error, db.parent)}; nothing was changed"
        ) from None
    _crash_point("copied")
    try:
        aside = _put_in_place(db, incoming, moment)
    except OSError as error:
        if not _exists(_plan_path(db)):  # nothing had moved
            _remove_quietly(incoming)
            raise BackupError(
                f"the backup was not restored: {_why(error, db.parent)}; nothing was changed"
            ) from None
        raise BackupError(
            f"the restore was interrupted: {_why(error, db.parent)}. It is completed the next "
            f"time {db.name} is opened; the office it replaces is kept whole beside it"
        ) from None
    return aside


# --- a restore that survives a crash ----------------------------------------------------------
#
# A restore is planned before anything moves: a small plan file beside the database names
# the restored copy and the aside name. Then the current file and its log are linked (or
# moved) aside together, the current side files removed, and the copy renamed in. A crash
# at any step leaves either the office as it was (no plan yet: only the copy, which is
# removed later) or a plan that the next open (or restore) carries through to the end. The
# old office, with its log, is always whole under the aside name.

_RESTORING = ".restoring"
_PLAN_SUFFIX = ".restore-plan"
_STALE_PLAN_SECONDS = 600  # a planned restore takes milliseconds: older plans are abandoned
CRASH_POINT_VARIABLE = "SEG_DESKTOP_TEST_CRASH_AT"
"""Tests only: the name of a restore step at which the process ends at once (a kill)."""


def _crash_point(step: str) -> None:
    """End the process at once at a named step when a test asks for it (as a kill would)."""
    if os.environ.get(CRASH_POINT_VARIABLE) == step:
        os._exit(70)


def _incoming_prefix(db: Path) -> str:
    """The restored copy's name before its pid: '.<db name>.restoring-' (a long name shortened)."""
    # Room for the pid (10 digits) and the side files SQLite makes while writing it.
    stem = fitted_name(db.name, _RESTORING, room=2 + 10 + SQLITE_SIDE_ROOM, sqlite_folder=db.parent)
    return f".{stem}-"


def _plan_path(db: Path) -> Path:
    return db.with_name("." + fitted_name(db.name, _PLAN_SUFFIX, room=1))


def _write_plan(plan: Path, incoming: Path, aside: Path) -> None:
    facts = {"pid": os.getpid(), "incoming": incoming.name, "aside": aside.name}
    descriptor = os.open(plan, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        os.write(descriptor, json.dumps(facts).encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    _fsync_folder(plan.parent)


def _read_plan(plan: Path) -> tuple[int, str, str] | None:
    """(pid, incoming name, aside name), or None for a plan cut short by a crash (nothing had
    moved yet: the plan is on disk before the first move)."""
    try:
        facts = json.loads(plan.read_text(encoding="utf-8"))
        pid, incoming, aside = int(facts["pid"]), str(facts["incoming"]), str(facts["aside"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if "/" in incoming + aside or os.sep in incoming + aside:
        return None
    return pid, incoming, aside


def _put_in_place(db: Path, incoming: Path, moment: dt.datetime) -> Path | None:
    """Keep the current file and its log aside, then rename the restored copy in; returns
    the aside name (None when there was no current file)."""
    present = _exists(db)
    side_files = [s for s in _SIDE_FILES if _exists(_side_file(db, s))]
    if not present and not side_files:
        os.replace(incoming, db)
        _fsync_folder(db.parent)
        return None
    # Room for a ".N" from _unused and for the side files that go aside with it.
    aside_name = fitted_name(db.name, f".replaced-{_stamp(moment)}", room=4 + SQLITE_SIDE_ROOM)
    aside = _unused(db.with_name(aside_name))
    plan = _plan_path(db)
    _write_plan(plan, incoming, aside)
    _crash_point("planned")
    _finish_restore(db, incoming, aside, plan)
    return aside


def _finish_restore(db: Path, incoming: Path, aside: Path, plan: Path) -> None:
    """Carry a planned restore through from wherever it stopped; doing it twice is harmless.

    The current file is hard-linked to its aside name (renamed where links are not
    possible), and its log with it, so the old office is whole aside before anything at
    the database path changes; only then are the current side files removed (left
    beside the restored copy, SQLite would replay the old log into it) and the copy
    renamed in.
    """
    if _exists(incoming):
        for suffix in ("", "-wal", "-journal"):
            current, kept = _side_file(db, suffix), _side_file(aside, suffix)
            if _exists(current) and not _exists(kept):
                try:
                    os.link(current, kept)
                except OSError:
                    os.replace(current, kept)
        _fsync_folder(db.parent)
        _crash_point("aside")
        for suffix in _SIDE_FILES:
            side = _side_file(db, suffix)
            if _exists(side):  # a name too long to exist ("-journal" of a 251-byte name) is not
                side.unlink()
        _crash_point("cleared")
        os.replace(incoming, db)
        _fsync_folder(db.parent)
        _crash_point("placed")
    _remove_quietly(plan)
    _fsync_folder(db.parent)


def recover_interrupted_restore(db_path: str | os.PathLike[str]) -> str | None:
    """Finish a restore that a crash interrupted, and remove restored copies left by killed
    restores; returns what was done, in words, or None. Called before a database is opened.

    A restore still running in another process (its plan is fresh and its process alive)
    is left alone.
    """
    db = Path(db_path).expanduser().resolve()
    done = None
    plan = _plan_path(db)
    if _exists(plan):
        facts = _read_plan(plan)
        try:
            age = dt.datetime.now().timestamp() - plan.stat().st_mtime
        except OSError:
            age = 0.0
        if facts is None:
            _remove_quietly(plan)
        elif _pid_alive(facts[0]) and facts[0] != os.getpid() and age < _STALE_PLAN_SECONDS:
            return None
        else:
            aside = db.with_name(facts[2])
            _finish_restore(db, db.with_name(facts[1]), aside, plan)
            done = (
                f"an interrupted restore of {db.name} was completed; the office it replaced "
                f"is kept as {aside.name}"
            )
    prefix = _incoming_prefix(db)
    try:
        leftovers = [p for p in db.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        leftovers = []
    now = dt.datetime.now().timestamp()
    for leftover in leftovers:
        pid_text = leftover.name[len(prefix) :].split("-", 1)[0]
        try:
            age = now - leftover.stat().st_mtime
        except OSError:
            continue
        dead = pid_text.isdigit() and not _pid_alive(int(pid_text))
        if dead or age > 24 * 3600:
            _remove_quietly(leftover)
    return done


def describe_problem_with_backup(db_path: str | os.PathLike[str], message: str) -> str:
    """A damage message followed by the newest good backup on offer, or that there is none."""
    newest = newest_good_backup(db_path)
    if newest is None:
        return f"{message}. No good backup of it was found."
    return (
        f"{message}. The newest good backup is {newest.path.name}, taken "
        f"{newest.taken_at:%Y-%m-%d %H:%M} ({newest.reason_label.lower()})."
    )


__all__ = [
    "BACKUP_FOLDER_SUFFIX",
    "REASON_LABELS",
    "BackupError",
    "BackupInfo",
    "OfficeIdentity",
    "OtherOfficeBackup",
    "Problem",
    "backups_folder",
    "check_backup",
    "daily_backup_if_due",
    "describe_problem_with_backup",
    "is_backup_of",
    "list_backups",
    "newest_good_backup",
    "office_identity",
    "recover_interrupted_restore",
    "restore_backup",
    "sqlite_file",
    "take_backup",
    "thin_backups",
    "wal_path",
]

"""Look at a database file before the program trusts it: is it whole, is it ours?

:func:`diagnose` reads the file read-only and returns a :class:`Diagnosis`
whose message names the likely cause (a zeroed header, a truncation, a
leftover write-ahead log from another database, damaged pages, another
program's file, a newer version's file), or None when the file is fine.
It never writes to the database file: the connection is opened read-only, and
a read-only connection neither checkpoints a write-ahead log into the file
nor rolls anything back. This matters for a stale ``-wal`` from another
database: a normal connection would copy its foreign pages into the file on
close and damage it for good.

:func:`quick_check` runs SQLite's ``PRAGMA quick_check`` (every page and
b-tree, not the match between indexes and tables; about 1 s for a 50,000-client
office of 490 MB); :func:`full_check` runs ``PRAGMA integrity_check``, which
also compares every index with its table (about 5 s for the same office).

Nothing here raises: a checker's job is to report, so every failure, whatever
its type, becomes a Diagnosis.
"""

from __future__ import annotations

import enum
import errno
import re
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seg_desktop.store.schema import APPLICATION_ID, SCHEMA_VERSION

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
WAL_HEADER_SIZE = 32
# How many problems SQLite collects before it stops looking: one is enough to
# say the file is damaged, a few help whoever investigates.
_PROBLEMS_COLLECTED = 5
_BUSY_TIMEOUT_S = 5.0


class Problem(enum.StrEnum):
    """What is wrong with a database file."""

    EMPTIED = "emptied"
    HEADER_DAMAGED = "header_damaged"
    NOT_SQLITE = "not_sqlite"
    TRUNCATED = "truncated"
    FOREIGN_WAL = "foreign_wal"
    DAMAGED = "damaged"
    NOT_OURS = "not_ours"
    NEWER = "newer"
    UNREADABLE = "unreadable"
    BUSY = "busy"
    DISK_FULL = "disk_full"

    @property
    def is_damage(self) -> bool:
        """Whether the file was ours and got damaged (so restoring a backup is the remedy)."""
        return self in _DAMAGE


_DAMAGE = frozenset(
    {
        Problem.EMPTIED,
        Problem.HEADER_DAMAGED,
        Problem.TRUNCATED,
        Problem.FOREIGN_WAL,
        Problem.DAMAGED,
    }
)


# What a log from another database can make a sound file look like. Not NEWER: a newer
# version's upgrade not yet copied from its own log into the file looks the same.
_WAL_CAN_EXPLAIN = frozenset({Problem.DAMAGED, Problem.NOT_OURS, Problem.NOT_SQLITE})


@dataclass(frozen=True)
class Diagnosis:
    """A problem found in a database file, with a message for the user."""

    problem: Problem
    message: str
    detail: str = ""
    """SQLite's own words, when it gave any (for a support request, not for the user)."""
    check: str = "file"
    """Which look found it: 'file' (size and header), 'quick_check', 'integrity_check', 'meta'."""


# SQLite's primary result codes (the low byte of an extended code such as
# SQLITE_IOERR_SHMSIZE, 4874): the disk is full, or the disk said no.
SQLITE_IOERR = 10
SQLITE_FULL = 13
# Below this much free space an I/O error is taken for a full disk: SQLite needs room
# for its shared-memory index (32 KiB) and log beside the file even to read it.
NEARLY_FULL_BYTES = 1 << 20


def free_bytes(folder: Path) -> int | None:
    """The space left for this user on the disk holding ``folder`` (None if unknown)."""
    for candidate in (folder, *folder.parents):
        try:
            # The space an ordinary user may still fill (statvfs's f_bavail on POSIX).
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def is_disk_full(error: BaseException, where: Path | None = None) -> bool:
    """Whether an OS or SQLite error means the disk is full, not that a file is damaged.

    SQLite says so itself (SQLITE_FULL, "database or disk is full") when a write
    of its own finds no room; when extending its shared-memory index it reports
    only a "disk I/O error" (SQLITE_IOERR_SHMSIZE), so an I/O error on a disk
    with (almost) no space left counts as a full disk too.
    """
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    lowered = str(error).lower()
    if primary == SQLITE_FULL or "disk is full" in lowered:
        return True
    if primary == SQLITE_IOERR or "disk i/o error" in lowered:
        if where is None:
            return False
        folder = where if where.is_dir() else where.parent
        free = free_bytes(folder)
        return free is not None and free < NEARLY_FULL_BYTES
    return False


def disk_full_message(path: Path) -> str:
    """The one way a full disk is named: it is never damage."""
    return (
        f"the disk holding {path} is full, so SQLite cannot work with the file (it needs a "
        "little room beside it even to read it); free some space and try again. The file "
        "itself was left untouched"
    )


def _disk_full(path: Path, detail: str, check: str) -> Diagnosis:
    return Diagnosis(Problem.DISK_FULL, disk_full_message(path), detail=detail, check=check)


def _sqlite_uri(path: Path, **parameters: str) -> str:
    # as_uri() percent-encodes the path, so a folder named "100% #1?" still opens.
    query = "&".join(f"{key}={value}" for key, value in parameters.items())
    return f"{path.resolve().as_uri()}?{query}"


def _connect_read_only(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    parameters = {"mode": "ro"}
    if immutable:
        # The main file alone, ignoring any -wal beside it (and taking no locks).
        parameters["immutable"] = "1"
    connection = sqlite3.connect(
        _sqlite_uri(path, **parameters),
        uri=True,
        timeout=_BUSY_TIMEOUT_S,
        isolation_level=None,
        check_same_thread=False,
    )
    return connection


def wal_path(db_path: Path) -> Path:
    """The write-ahead log SQLite keeps beside a database."""
    return db_path.with_name(db_path.name + "-wal")


def _wal_has_frames(db_path: Path) -> bool:
    try:
        return wal_path(db_path).stat().st_size > WAL_HEADER_SIZE
    except OSError:
        return False


def _page_size(header: bytes) -> int | None:
    raw = int.from_bytes(header[16:18], "big")
    size = 65536 if raw == 1 else raw
    if size < 512 or size > 65536 or size & (size - 1):
        return None
    return size


def _look_at_file(path: Path, size: int, has_backups: bool) -> Diagnosis | None:
    """Size and header: the damage SQLite itself would report only vaguely, or not at all."""
    if size == 0:
        if has_backups:
            return Diagnosis(
                Problem.EMPTIED,
                f"{path} is empty (0 bytes) although backups of it exist: it was most likely "
                "emptied by a sync or backup tool, a full disk or an interrupted copy; "
                "it was left as it is",
            )
        return None  # a new office: open_database creates its tables
    with path.open("rb") as handle:
        header = handle.read(HEADER_SIZE)
    magic = header[: len(SQLITE_MAGIC)]
    if magic != SQLITE_MAGIC:
        if not magic.strip(b"\x00"):
            return Diagnosis(
                Problem.HEADER_DAMAGED,
                f"{path} is damaged: its first bytes are zeros, so the header that makes it a "
                "database is gone (typically a disk or file-system fault, or a copy or sync "
                "cut off part-way); it was left untouched",
            )
        in_place = sum(a == b for a, b in zip(magic, SQLITE_MAGIC, strict=False))
        if in_place >= len(SQLITE_MAGIC) // 2:
            return Diagnosis(
                Problem.HEADER_DAMAGED,
                f"{path} is damaged: its header is garbled (a disk or file-system fault, or "
                "another program writing into it); it was left untouched",
            )
        return Diagnosis(
            Problem.NOT_SQLITE,
            f"{path} is not a seg_desktop database: it is not a SQLite file at all (another "
            "program's file, or a file whose beginning was overwritten); it was left untouched",
        )
    if len(header) < HEADER_SIZE:
        return _truncated(path, size, HEADER_SIZE)
    page_size = _page_size(header)
    if page_size is None:
        return Diagnosis(
            Problem.HEADER_DAMAGED,
            f"{path} is damaged: its header gives an impossible page size (a disk or "
            "file-system fault); it was left untouched",
        )
    if _wal_has_frames(path):
        # A checkpoint interrupted by a crash can leave the file shorter than its header
        # says, legitimately: the log beside it still holds those pages. SQLite's own
        # check, through the log, decides.
        return None
    if size % page_size:
        return Diagnosis(
            Problem.TRUNCATED,
            f"{path} is damaged: it ends part-way through a page ({size:,} bytes is not a "
            f"whole number of {page_size:,}-byte pages), so it was cut short or padded by a "
            "full disk, an interrupted copy or a sync tool; it was left untouched",
        )
    change_counter = header[24:28]
    valid_for = header[92:96]
    pages = int.from_bytes(header[28:32], "big")
    # The page count in the header is only trustworthy when SQLite marked it so.
    if pages and change_counter == valid_for and size < pages * page_size:
        return _truncated(path, size, pages * page_size)
    return None


def _truncated(path: Path, size: int, expected: int) -> Diagnosis:
    return Diagnosis(
        Problem.TRUNCATED,
        f"{path} is damaged: it is shorter than its own header says ({size:,} of "
        f"{expected:,} bytes), so its end is missing; it was most likely cut short by a full "
        "disk, an interrupted copy or a sync tool; it was left untouched",
    )


def _sqlite_findings(connection: sqlite3.Connection, pragma: str) -> list[str]:
    rows = connection.execute(f"PRAGMA {pragma}({_PROBLEMS_COLLECTED})").fetchall()
    lines = [str(row[0]) for row in rows]
    return [] if lines == ["ok"] else lines


def _first_finding(lines: list[str]) -> str:
    # SQLite heads its list with "*** in database main ***"; the next line says what.
    useful = [line for line in "\n".join(lines).splitlines() if not line.startswith("***")]
    return useful[0] if useful else "; ".join(lines)


_INDEX_ONLY = re.compile(
    r"missing from index|wrong # of entries in index|non-unique entry in index"
)


def _damaged(path: Path, pragma: str, detail: str, findings: Sequence[str] = ()) -> Diagnosis:
    which = "quick check" if pragma == "quick_check" else "integrity check"
    lines = [line for line in "\n".join(findings).splitlines() if not line.startswith("***")]
    if lines and all(_INDEX_ONLY.search(line) for line in lines):
        what = (
            f"one of its indexes is broken ({detail}): the records themselves read correctly, but "
            "searches and segments may miss some of them"
        )
    else:
        what = f"SQLite's {which} found broken pages ({detail})"
    return Diagnosis(
        Problem.DAMAGED,
        f"{path} is damaged: {what}; likely causes: a disk or file-system fault, or the file "
        "being copied or synced while the program was writing it; it was left untouched",
        detail=detail,
        check=pragma,
    )


def _from_sqlite_error(path: Path, error: sqlite3.Error, pragma: str) -> Diagnosis:
    text = str(error)
    lowered = text.lower()
    if is_disk_full(error, path):
        return _disk_full(path, text, pragma)
    if "not a database" in lowered:
        return Diagnosis(
            Problem.NOT_SQLITE,
            f"{path} is not a seg_desktop database (it is not a SQLite file, or it is "
            "encrypted, or its header is damaged); it was left untouched",
            detail=text,
            check=pragma,
        )
    if "locked" in lowered or "busy" in lowered:
        return Diagnosis(
            Problem.BUSY,
            f"{path} is locked by another program (a backup or sync tool, or another "
            "seg-desktop); try again when it has finished",
            detail=text,
            check=pragma,
        )
    if "unable to open" in lowered or "readonly" in lowered or "permission" in lowered:
        return Diagnosis(
            Problem.UNREADABLE,
            f"{path} cannot be opened for reading ({text}); check that the file and its folder "
            "may be read by you",
            detail=text,
            check=pragma,
        )
    return _damaged(path, pragma, text)


def _check_pages(path: Path, pragma: str, *, immutable: bool = False) -> Diagnosis | None:
    try:
        connection = _connect_read_only(path, immutable=immutable)
        try:
            findings = _sqlite_findings(connection, pragma)
        finally:
            connection.close()
    except sqlite3.Error as error:
        return _from_sqlite_error(path, error, pragma)
    if not findings:
        return None
    return _damaged(path, pragma, _first_finding(findings), findings)


def _foreign_wal(path: Path, found: Diagnosis) -> Diagnosis:
    wal = wal_path(path)
    return Diagnosis(
        Problem.FOREIGN_WAL,
        f"{path} cannot be opened as it is: the file itself is sound, but the write-ahead "
        f"log beside it ({wal.name}) does not fit it, most likely a leftover from another "
        "copy of the database (a file copied, restored or synced without its log); it was "
        f"left untouched. Move {wal.name} out of the folder to open the file as it was "
        "last saved, or restore a backup",
        detail=found.detail or found.message,
        check=found.check,
    )


def _check_ours(path: Path, *, immutable: bool = False) -> Diagnosis | None:
    """Is it a seg_desktop database this version can read? (An empty one is a new office.)"""
    try:
        connection = _connect_read_only(path, immutable=immutable)
        try:
            tables = sorted(
                str(row[0])
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            )
            if not tables:
                return None
            if "meta" not in tables:
                return Diagnosis(
                    Problem.NOT_OURS,
                    f"{path} is not a seg_desktop database (it holds other tables: "
                    f"{', '.join(tables[:5])}); it was left untouched",
                    check="meta",
                )
            facts = {
                str(key): str(value)
                for key, value in connection.execute("SELECT key, value FROM meta")
            }
        finally:
            connection.close()
    except sqlite3.Error as error:
        return _from_sqlite_error(path, error, "meta")
    if facts.get("application") != APPLICATION_ID:
        return Diagnosis(
            Problem.NOT_OURS,
            f"{path} is not a seg_desktop database; it was left untouched",
            check="meta",
        )
    raw_version = facts.get("schema_version", "")
    if not raw_version.isdigit():
        return Diagnosis(
            Problem.DAMAGED,
            f"{path} is damaged: its schema version reads {raw_version!r}, which no version "
            "of seg-desktop writes; it was left untouched",
            check="meta",
        )
    if int(raw_version) > SCHEMA_VERSION:
        return Diagnosis(
            Problem.NEWER,
            f"{path} was saved by a newer version of seg-desktop (schema {raw_version}, this "
            f"version reads up to {SCHEMA_VERSION}); update the program to open it",
            check="meta",
        )
    return None


def _has_backups(path: Path) -> bool:
    # Imported here: backup.py builds on this module.
    from seg_desktop.store.backup import list_backups

    return bool(list_backups(path))


def diagnose(
    db_path: str | Path,
    *,
    full: bool = False,
    expect_ours: bool = True,
    has_backups: bool | None = None,
) -> Diagnosis | None:
    """What is wrong with the database file at ``db_path``, or None if nothing is.

    ``full`` runs ``integrity_check`` instead of ``quick_check``. With
    ``expect_ours`` it also checks that the file is a seg_desktop database this
    version can read. A missing file is fine (a new office will be created);
    an empty one is fine unless backups of it exist (``has_backups``, looked up
    beside the file when None).
    """
    path = Path(db_path)
    try:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        if size == 0 and has_backups is None:
            has_backups = _has_backups(path)
        found = _look_at_file(path, size, bool(has_backups))
        if found is not None or size == 0:
            return found
        pragma = "integrity_check" if full else "quick_check"
        found = _check_pages(path, pragma)
        if found is None and expect_ours:
            found = _check_ours(path)
        if (
            found is not None
            and found.problem in _WAL_CAN_EXPLAIN
            and _wal_has_frames(path)
            and _check_pages(path, pragma, immutable=True) is None
            and (not expect_ours or _check_ours(path, immutable=True) is None)
        ):
            # The file alone is a sound office; only with the log beside it is it not.
            return _foreign_wal(path, found)
        return found
    except OSError as error:
        if is_disk_full(error, path):
            return _disk_full(path, str(error), "file")
        return Diagnosis(
            Problem.UNREADABLE,
            f"{path} cannot be read ({error.strerror or error}); check that the file and its "
            "folder may be read by you",
            detail=str(error),
        )
    except Exception as error:  # a checker reports; a traceback would help no one
        return _damaged(path, "quick_check", f"{type(error).__name__}: {error}")


def quick_check(db_path: str | Path) -> str | None:
    """A message naming what is wrong with the file (PRAGMA quick_check), or None if it is fine."""
    found = diagnose(db_path)
    return found.message if found is not None else None


def full_check(db_path: str | Path) -> str | None:
    """Like :func:`quick_check` with PRAGMA integrity_check (also compares indexes with tables)."""
    found = diagnose(db_path, full=True)
    return found.message if found is not None else None

"""Names the program makes up beside a user's file, kept short enough for any file system.

A file name may be up to 255 bytes (ext4, APFS, NTFS's 255 UTF-16 units are
at least that). An office named with 250 characters is a name the file system
accepts, so the names derived from it (a backup, a temporary file, the lock)
must fit too: the user's part is shortened and followed by a short hash of the
whole of it, so two long names never share a derived name.

SQLite opens a database by a full path of at most 512 bytes (its unix VFS's
fixed buffer), side files included; a deeper path is refused with that reason
(`sqlite_path_problem`), never with "unable to open database file".
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

NAME_MAX = 255
"""The longest file name, in bytes, of the common file systems."""
SQLITE_SIDE_ROOM = len("-journal")
"""What SQLite adds to a database's name for its side files (-journal, -wal, -shm)."""
SQLITE_MAX_PATH = 512
"""The longest full path, in bytes, SQLite's unix VFS opens."""


def _size(text: str) -> int:
    return len(os.fsencode(text))


def fitted_name(
    stem: str, tail: str = "", *, room: int = 0, sqlite_folder: Path | None = None
) -> str:
    """``stem + tail``, or, if that plus ``room`` bytes would not fit in a file name, ``stem``
    shortened and marked with ``~`` and 8 hex digits of its hash, then ``tail``.

    With ``sqlite_folder`` (a file SQLite will open there) the name is also kept
    short enough for SQLite's 512-byte full paths. Names that fit are never
    changed, so existing files keep their names. Raises ValueError when no name
    can fit (a folder whose own path is too long).
    """
    limit = NAME_MAX
    if sqlite_folder is not None:
        limit = min(limit, SQLITE_MAX_PATH - _size(str(sqlite_folder.absolute())) - 1)
    name = stem + tail
    if _size(name) + room <= limit:
        return name
    mark = "~" + hashlib.sha256(os.fsencode(stem)).hexdigest()[:8]
    budget = limit - room - _size(tail) - _size(mark)
    if budget < 1:
        raise ValueError(f"no file name ending in {tail!r} fits in {sqlite_folder}")
    cut = stem
    while _size(cut) > budget:
        cut = cut[:-1]  # by characters, so a multi-byte character is never split
    return cut + mark + tail


def sqlite_path_problem(path: Path) -> str | None:
    """Why SQLite cannot use a database at ``path``, or None: a full path over 512 bytes, or
    a name leaving no room for its -wal/-shm side files."""
    full = str(path.absolute())
    # The side files' paths must fit SQLite's buffer too.
    longest = SQLITE_MAX_PATH - SQLITE_SIDE_ROOM
    if _size(full) > longest:
        return (
            f"{path} cannot be opened: SQLite opens databases whose full path has at most "
            f"{longest} characters, and this one has {_size(full):,}; move the office to a "
            "folder with a shorter path"
        )
    if _size(path.name) + len("-wal") > NAME_MAX:
        return (
            f"{path} cannot be used as an office: its name ({_size(path.name)} characters) "
            f"leaves no room for the '-wal' file SQLite keeps beside it (at most "
            f"{NAME_MAX - len('-wal')}); give it a shorter name"
        )
    return None

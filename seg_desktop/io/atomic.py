"""Write files for the user so that a crash or an error never leaves half a file.

Everything is written to a temporary file in the target's own folder (so the
final rename stays on one file system and is atomic), flushed to disk, and
only then renamed over the target. Until that rename, an existing file at the
target path is untouched; on any exception the temporary file is removed.

Temporary files are created by :func:`tempfile.mkstemp`, which opens them
exclusively with mode 0o600: exports hold client data, so only the user may
read them, and the final file keeps that mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from seg_desktop.core.filenames import fitted_name


def _users_error(error: OSError, path: Path) -> OSError:
    """The same error naming the file the user asked for, not our temporary one.

    "out.csv: Is a directory" helps; ".out.csv.pubbdsab.tmp: Is a directory" does not.
    OSError(errno, ...) builds the matching subclass (IsADirectoryError, ...).
    """
    if error.errno is None:
        return error
    return OSError(error.errno, error.strerror or os.strerror(error.errno), str(path))


def _temporary_name(path: Path) -> tuple[int, Path]:
    """Create an empty 0o600 file next to ``path``; return its descriptor and path.

    Refuses a ``path`` that is a folder before anything is written, and names
    ``path`` (not the temporary file) in any error.
    """
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    # A leading dot hides it in file managers; the target's name in it tells a
    # user who finds one after a power cut what it was.
    # mkstemp puts 8 random characters between prefix and suffix; a long name is
    # shortened (with a hash of it) so the temporary name fits where the name does.
    prefix = "." + fitted_name(path.name, ".", room=len(".") + 8 + len(".tmp"))
    try:
        descriptor, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise _users_error(error, path) from None
    return descriptor, Path(name)


def _replace(temporary: Path, path: Path) -> None:
    """Rename the finished temporary file over ``path``; an error names ``path``."""
    try:
        os.replace(temporary, path)
    except OSError as error:
        raise _users_error(error, path) from None


def _remove_quietly(path: Path) -> None:
    """Remove ``path`` if it is still there; cleaning up must not mask the real error."""
    with contextlib.suppress(OSError):
        path.unlink()


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of a rename to disk where the platform allows it.

    Without this a power cut just after the rename can lose the new name on
    POSIX file systems; Windows cannot open a folder this way, and there the
    rename's own guarantees are all we get.
    """
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def atomic_write(path: Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``path`` when the block succeeds.

    ``mode`` and ``open_kwargs`` are passed to :func:`open` (e.g. ``mode="w",
    encoding="utf-8-sig", newline=""``); only write modes make sense. On
    leaving the block normally the file is flushed, fsynced and renamed over
    ``path`` with :func:`os.replace`. If the block raises, the temporary file
    is removed, ``path`` is left exactly as it was, and the exception
    propagates.
    """
    # Appending or exclusive creation have no meaning for a file that is
    # always written whole and renamed into place.
    if "w" not in mode or any(flag in mode for flag in "rax"):
        raise ValueError(f"atomic_write needs a 'w' mode, not {mode!r}")
    path = Path(path)
    descriptor, temporary = _temporary_name(path)
    try:
        handle = os.fdopen(descriptor, mode, **open_kwargs)
    except BaseException:
        os.close(descriptor)
        _remove_quietly(temporary)
        raise
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _replace(temporary, path)
    except BaseException:
        # BaseException too: a KeyboardInterrupt or a generator being closed
        # must not leave the temporary file behind either.
        _remove_quietly(temporary)
        raise
    _sync_folder(path.parent)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Give a temporary path that replaces ``path`` when the block succeeds.

    For libraries that insist on opening the file themselves (``wb.save(name)``).
    The temporary file already exists, empty, with mode 0o600; the library may
    truncate and rewrite it. It must be closed again by the end of the block.
    Same guarantees as :func:`atomic_write`.
    """
    path = Path(path)
    descriptor, temporary = _temporary_name(path)
    os.close(descriptor)
    try:
        yield temporary
        # The library closed its handle, but closing does not flush the
        # operating system's cache to disk; reopen to fsync before renaming.
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        _replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise
    _sync_folder(path.parent)

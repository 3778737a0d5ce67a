"""One writer per database: the lock names its holder and outlives no process."""

from __future__ import annotations

import datetime as dt
import errno
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from seg_desktop.store.errors import LockHeld, StoreError
from seg_desktop.store.lock import acquire_writer_lock, lock_path, read_lock_owner
from seg_desktop.store.records import LockOwner

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_writer_is_told_who_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "office.db"
    started = dt.datetime.now().replace(second=0, microsecond=0)
    lock = acquire_writer_lock(db, now=started)
    try:
        assert lock.held
        assert lock_path(db).stat().st_mode & 0o777 == 0o600
        with pytest.raises(LockHeld) as refused:
            acquire_writer_lock(db)
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message
        assert socket.gethostname() in message
        assert f"since {started:%H:%M}" in message
        assert "read-only" in message
        assert refused.value.owner == lock.owner
    finally:
        lock.release()
    assert not lock_path(db).exists()
    again = acquire_writer_lock(db)
    again.release()


def test_release_is_idempotent_and_the_context_manager_releases(tmp_path: Path) -> None:
    db = tmp_path / "office.db"
    with acquire_writer_lock(db) as lock:
        assert lock.held
    assert not lock.held
    lock.release()
    acquire_writer_lock(db).release()


def test_a_symlinked_path_shares_the_lock_of_the_real_file(tmp_path: Path) -> None:
    db = tmp_path / "office.db"
    db.touch()
    alias = tmp_path / "alias.db"
    alias.symlink_to(db)
    with acquire_writer_lock(db), pytest.raises(LockHeld):
        acquire_writer_lock(alias)


def test_a_lock_left_by_a_killed_process_is_recovered_without_deleting_files(
    tmp_path: Path,
) -> None:
    db = tmp_path / "office.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from seg_desktop.store.lock import acquire_writer_lock
                lock = acquire_writer_lock({str(db)!r})
                print("locked", flush=True)
                time.sleep(120)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            acquire_writer_lock(db)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # The killed holder's file is still there, still naming it: only the OS lock counts.
    stale = read_lock_owner(db)
    assert stale is not None and stale.pid == holder.pid
    started = time.perf_counter()
    lock = acquire_writer_lock(db)
    took = time.perf_counter() - started
    try:
        assert lock.owner.pid == os.getpid()
        assert read_lock_owner(db) == lock.owner
    finally:
        lock.release()
    print(
        f"\n[lock] holder pid {holder.pid} killed with SIGKILL; lock taken over in "
        f"{took * 1000:.1f} ms, no file deleted by hand"
    )


def test_an_unreadable_lock_file_still_refuses_with_a_plain_message(tmp_path: Path) -> None:
    db = tmp_path / "office.db"
    with acquire_writer_lock(db):
        lock_path(db).write_text("{half-writ", encoding="utf-8")
        with pytest.raises(LockHeld, match="in use by another seg-desktop"):
            acquire_writer_lock(db)


def test_a_lock_held_on_another_computer_says_so() -> None:
    owner = LockOwner(pid=4321, host="front-desk-pc", started_at=dt.datetime(2026, 11, 20, 14, 2))
    words = owner.describe(today=dt.date(2026, 11, 24))
    assert (
        words == "seg-desktop (pid 4321) on another computer (front-desk-pc) since 2026-11-20 14:02"
    )
    assert LockOwner.from_json(owner.to_json()) == owner
    assert LockOwner.from_json('{"pid": "x"}') is None


def test_a_read_only_folder_gives_a_clear_error_not_a_lock_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "office.db"
    real_open = os.open

    def read_only_folder(path: object, flags: int, mode: int = 0o777) -> int:
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    # Patched rather than chmod-ed: the suite may run as root, who writes anywhere.
    monkeypatch.setattr(os, "open", read_only_folder)
    with pytest.raises(StoreError, match="read-only") as refused:
        acquire_writer_lock(db)
    assert not isinstance(refused.value, LockHeld)
    assert "Read-only file system" in str(refused.value)

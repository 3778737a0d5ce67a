"""Backups: taken online with the backup API, private, checked, thinned, and restored safely."""

from __future__ import annotations

import datetime as dt
import errno
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seg_desktop.store import backup as backup_module
from seg_desktop.store.backup import (
    backups_folder,
    daily_backup_if_due,
    list_backups,
    newest_good_backup,
    restore_backup,
    sqlite_file,
    take_backup,
    thin_backups,
)
from seg_desktop.store.errors import BackupError
from seg_desktop.store.office import Office
from seg_desktop.store.quick_check import diagnose
from tests.helpers.office import add_clients, client, make_office, sqlite_scalar

DAY = dt.datetime(2026, 11, 24, 9, 30)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened, _ = make_office(
        tmp_path,
        [client(f"C{n:03}", tags=["vip"] if n % 3 == 0 else ()) for n in range(40)],
        [(f"C{n:03}", dt.date(2026, 10, 1 + n % 28), 1_000_00 + n) for n in range(40)],
    )
    yield opened
    opened.close()


def db_of(office: Office) -> Path:
    path = sqlite_file(office.database)
    assert path is not None
    return path


def rows(path: Path, table: str) -> int:
    return int(sqlite_scalar(path, f"SELECT count(*) FROM {table}"))  # type: ignore[call-overload]


def test_a_backup_is_a_private_checked_single_file_in_the_backups_folder(office: Office) -> None:
    db = db_of(office)
    made = take_backup(db, "import", now=DAY)
    assert made.parent == db.parent / "office.backups" == backups_folder(db)
    assert made.name == "office-20261124-093000-import.db"
    assert made.stat().st_mode & 0o777 == 0o600
    assert made.parent.stat().st_mode & 0o777 == 0o700
    # One self-contained file: rollback-journal mode, no log beside it.
    assert sqlite_scalar(made, "PRAGMA journal_mode") == "delete"
    assert sorted(p.name for p in made.parent.iterdir()) == [made.name]
    assert diagnose(made, full=True) is None
    for table in ("client", "client_tag", "revenue", "client_month", "meta"):
        assert rows(made, table) == rows(db, table)
    [info] = list_backups(db)
    assert (info.path, info.taken_at, info.reason, info.size) == (
        made,
        DAY,
        "import",
        made.stat().st_size,
    )
    assert info.reason_label == "Before an import"


def test_the_backup_holds_committed_work_still_in_the_log_but_no_open_transaction(
    office: Office,
) -> None:
    db = db_of(office)
    add_clients(office, [client("LOGGED")])  # committed, likely still only in the -wal
    with office.database.write() as connection:
        connection.exec_driver_sql(
            "INSERT INTO client (ref, name) VALUES ('UNCOMMITTED', 'Not yet')"
        )
        made = take_backup(db, "manual", now=DAY)
    assert sqlite_scalar(made, "SELECT count(*) FROM client WHERE ref = 'LOGGED'") == 1
    assert sqlite_scalar(made, "SELECT count(*) FROM client WHERE ref = 'UNCOMMITTED'") == 0


def test_backups_taken_while_another_thread_writes_are_each_consistent(office: Office) -> None:
    db = db_of(office)
    stop = threading.Event()
    written = [rows(db, "client")]

    def keep_writing() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            add_clients(office, [client(f"W{number:05}")])
            written.append(written[-1] + 1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        made = [
            take_backup(db, "manual", now=DAY + dt.timedelta(minutes=i), thin=False)
            for i in range(8)
        ]
    finally:
        stop.set()
        writer.join()
    counts = [rows(path, "client") for path in made]
    assert all(diagnose(path, full=True) is None for path in made)
    assert all(count in written for count in counts)  # a committed state, never a half
    assert counts == sorted(counts)
    print(f"\n[backup] 8 online backups during {len(written) - 1} writes: clients {counts}")


def test_a_damaged_database_gives_no_backup_and_keeps_the_earlier_ones(office: Office) -> None:
    db = db_of(office)
    good = take_backup(db, "daily", now=DAY)
    office.close()
    page_size = int(sqlite_scalar(db, "PRAGMA page_size"))  # type: ignore[call-overload]
    root = int(sqlite_scalar(db, "SELECT rootpage FROM sqlite_master WHERE name = 'revenue'"))  # type: ignore[call-overload]
    with db.open("r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\xff" * 12)  # the page header and the first cell pointers
    with pytest.raises(BackupError, match="failed its check") as refused:
        take_backup(db, "import", now=DAY + dt.timedelta(hours=1))
    assert "Check database" in str(refused.value)
    assert [b.path for b in list_backups(db)] == [good]
    assert sorted(p.name for p in backups_folder(db).iterdir()) == [good.name]


def test_a_full_disk_or_a_read_only_folder_is_named_and_leaves_nothing(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = db_of(office)
    earlier = take_backup(db, "daily", now=DAY)
    before = db.read_bytes()

    def disk_full(_source: Path, _target: Path) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(backup_module, "_copy_database", disk_full)
    with pytest.raises(BackupError, match=r"disk holding .* is full"):
        take_backup(db, "import", now=DAY + dt.timedelta(hours=1))
    monkeypatch.undo()

    def read_only(path: Path) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(backup_module, "_create_private", read_only)
    with pytest.raises(BackupError, match="read-only disk or folder"):
        take_backup(db, "import", now=DAY + dt.timedelta(hours=2))
    assert sorted(p.name for p in backups_folder(db).iterdir()) == [earlier.name]
    assert db.read_bytes() == before


def test_no_database_or_an_empty_one_is_not_backed_up(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        take_backup(tmp_path / "missing.db")
    (tmp_path / "empty.db").touch()
    with pytest.raises(BackupError, match="empty"):
        take_backup(tmp_path / "empty.db")
    assert daily_backup_if_due(tmp_path / "missing.db", DAY) is None
    assert daily_backup_if_due(tmp_path / "empty.db", DAY) is None


def test_listing_is_newest_first_and_ignores_partial_and_foreign_files(office: Office) -> None:
    db = db_of(office)
    first = take_backup(db, "daily", now=DAY)
    second = take_backup(db, "import", now=DAY)  # same second: told apart by a counter
    third = take_backup(db, "Before Migration!", now=DAY + dt.timedelta(seconds=1))
    folder = backups_folder(db)
    (folder / "notes.txt").write_text("not a backup")
    (folder / f".{first.name}.999999.partial").write_bytes(b"half")
    assert first.name == "office-20261124-093000-daily.db"
    assert second.name == "office-20261124-093000.1-import.db"
    assert third.name == "office-20261124-093001-before-migration.db"
    assert [b.path for b in list_backups(db)] == [third, second, first]
    checked = list_backups(db, verify=True)
    assert [b.ok for b in checked] == [True, True, True]


def test_a_partial_file_left_by_a_killed_backup_is_removed_by_the_next(office: Office) -> None:
    db = db_of(office)
    take_backup(db, "daily", now=DAY)
    folder = backups_folder(db)
    dead_pid = 2**22 + 12345  # above Linux's pid_max default: no such process
    orphan = folder / f".office-20261124-093000-import.db.{dead_pid}.partial"
    orphan.write_bytes(b"SQLite format 3\x00 and then the kill")
    take_backup(db, "import", now=DAY + dt.timedelta(minutes=5))
    assert not orphan.exists()


def test_thinning_keeps_a_bounded_set_over_months_of_use(office: Office) -> None:
    db = db_of(office)
    for day in range(120):
        moment = DAY + dt.timedelta(days=day)
        assert daily_backup_if_due(db, moment) is not None
        assert daily_backup_if_due(db, moment + dt.timedelta(hours=3)) is None
        if day % 10 == 0:
            take_backup(db, "import", now=moment + dt.timedelta(hours=4))
    kept = list_backups(db)
    last = DAY + dt.timedelta(days=119)
    assert kept[0].taken_at.date() == last.date()
    days = {b.taken_at.date() for b in kept}
    assert {last.date() - dt.timedelta(days=d) for d in range(7)} <= days
    assert len(kept) <= 3 + 7 + 4 + 12
    assert {b.taken_at.month for b in kept} == {11, 12, 1, 2, 3}
    print(f"\n[backup] 120 days of daily backups and 12 imports -> {len(kept)} kept")


def test_thinning_never_deletes_the_newest_good_backup(office: Office) -> None:
    db = db_of(office)
    old_good = take_backup(db, "daily", now=DAY - dt.timedelta(days=400))
    newer = [
        take_backup(db, "daily", now=DAY - dt.timedelta(days=d), thin=False)
        for d in range(30, 0, -1)
    ]
    for damaged in newer:
        with damaged.open("r+b") as handle:
            handle.write(b"\x00" * 100)
    assert newest_good_backup(db) is not None
    assert newest_good_backup(db).path == old_good  # type: ignore[union-attr]
    deleted = thin_backups(db, DAY)
    assert old_good.exists()
    assert old_good not in deleted
    assert deleted  # the damaged ones beyond the rule did go


def test_restore_checks_the_backup_keeps_the_current_file_aside_and_puts_the_backup_in(
    office: Office,
) -> None:
    db = db_of(office)
    made = take_backup(db, "import", now=DAY)
    add_clients(office, [client("AFTER-BACKUP")])
    clients_now = rows(db, "client")
    office.close()
    aside = restore_backup(db, made, now=DAY + dt.timedelta(hours=1))
    assert aside == db.with_name("office.db.replaced-20261124-103000")
    assert rows(db, "client") == clients_now - 1
    # The replaced file was kept whole, with the work that was only in its log.
    assert rows(aside, "client") == clients_now
    assert not db.with_name("office.db-wal").exists()
    assert db.stat().st_mode & 0o777 == 0o600
    assert list(db.parent.glob(".office.db.restoring-*")) == []
    reopened = Office.open(db)
    try:
        assert reopened.client_count() == clients_now - 1
    finally:
        reopened.close()


def test_a_damaged_foreign_or_newer_backup_is_refused_and_nothing_changes(
    office: Office, tmp_path: Path
) -> None:
    db = db_of(office)
    made = take_backup(db, "import", now=DAY)
    office.close()
    damaged = made.with_name("office-20261124-100000-manual.db")
    damaged.write_bytes(made.read_bytes()[: 4096 * 3])
    (tmp_path / "elsewhere").mkdir()
    foreign = tmp_path / "elsewhere" / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.close()
    newer = made.with_name("office-20261124-110000-manual.db")
    newer.write_bytes(made.read_bytes())
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.close()
    before = sorted(p.name for p in db.parent.iterdir())
    current = db.read_bytes()

    for bad, words in [
        (damaged, "shorter than its own header says"),
        (foreign, "not a seg_desktop database"),
        (newer, "newer version of seg-desktop"),
        (tmp_path / "nowhere.db", "does not exist"),
    ]:
        with pytest.raises(BackupError, match=words) as refused:
            restore_backup(db, bad)
        assert "nothing was changed" in str(refused.value)
    assert db.read_bytes() == current
    after = sorted(p.name for p in db.parent.iterdir())
    assert after == before


def test_restore_over_a_missing_database_puts_the_backup_there(office: Office) -> None:
    db = db_of(office)
    made = take_backup(db, "import", now=DAY)
    office.close()
    for name in ("office.db", "office.db-wal", "office.db-shm"):
        (db.parent / name).unlink(missing_ok=True)
    assert restore_backup(db, made) is None
    assert diagnose(db) is None


def test_the_daily_backup_is_due_once_a_day_whatever_else_was_taken(office: Office) -> None:
    db = db_of(office)
    take_backup(db, "import", now=DAY)
    assert daily_backup_if_due(db, DAY + dt.timedelta(hours=2)) is None
    made = daily_backup_if_due(db, DAY + dt.timedelta(days=1))
    assert made is not None and made.name.endswith("-daily.db")


def test_the_sqlite_file_of_a_database(office: Office, tmp_path: Path) -> None:
    assert sqlite_file(office.database) == (tmp_path / "office.db").resolve()
    assert os.path.isabs(sqlite_file(office.database) or "")

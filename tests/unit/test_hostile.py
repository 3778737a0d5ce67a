"""Hostile conditions (issue 21): full disks, odd paths and names, crashes mid-restore, bombs.

Each test here failed before its fix. A full disk is simulated only where no real one
can be had: SQLite's own SQLITE_FULL comes from ``PRAGMA max_page_count``, and a real
tiny file system (tmpfs) is used when the tests run with the right to mount one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from seg_desktop.cli import main
from seg_desktop.store import quick_check as quick_check_module
from seg_desktop.store.database import open_database
from seg_desktop.store.errors import DiskFull
from seg_desktop.store.integrity import check_database
from seg_desktop.store.quick_check import Problem, diagnose

# --- 1. a full disk is a full disk, never a damaged database ----------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs), or the test is skipped where it cannot be mounted."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    if os.name != "posix" or shutil.which("mount") is None:
        pytest.skip("no mount command here")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("a tiny file system needs the right to mount one (root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def _fill(folder: Path) -> None:
    """Fill the disk holding ``folder`` to the last byte."""
    with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
        while True:
            filler.write(b"\0" * 4096)
            filler.flush()
    assert shutil.disk_usage(folder).free == 0


def _new_office(path: Path) -> None:
    database = open_database(path)
    database.close()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def test_a_full_disk_is_reported_as_full_by_check_and_open_never_as_damage(
    tiny_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tiny_disk / "office.db"
    _new_office(db)
    _fill(tiny_disk)
    found = diagnose(db)
    assert found is not None and found.problem is Problem.DISK_FULL
    assert not found.problem.is_damage
    report = check_database(db)
    assert report.verdict.startswith("NOT CHECKED: ")
    assert f"the disk holding {db} is full" in report.verdict
    assert "damaged" not in report.verdict.lower() and "backup" not in report.verdict
    with pytest.raises(DiskFull, match="is full"):
        open_database(db)
    assert main(["check", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "DAMAGED" not in out and "is full" in out
    assert main(["backup", "--db", str(db)]) == 1  # even the lock file cannot be written
    err = capsys.readouterr().err
    assert f"error: the disk holding {db} is full" in err, err


def test_an_io_error_on_a_disk_with_no_space_left_is_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite reports a full disk while growing its shared-memory index only as
    # "disk I/O error" (SQLITE_IOERR_SHMSIZE): simulated here at the point SQLite reports it.
    db = tmp_path / "office.db"
    _new_office(db)
    sound_disk = diagnose(db)
    assert sound_disk is None

    def io_error(_connection: sqlite3.Connection, _pragma: str) -> list[str]:
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = 4874  # SQLITE_IOERR_SHMSIZE
        error.sqlite_errorname = "SQLITE_IOERR_SHMSIZE"
        raise error

    monkeypatch.setattr(quick_check_module, "_sqlite_findings", io_error)
    monkeypatch.setattr(quick_check_module, "free_bytes", lambda _folder: 0)
    found = diagnose(db)
    assert found is not None and found.problem is Problem.DISK_FULL
    assert f"the disk holding {db} is full" in found.message
    report = check_database(db)
    assert report.verdict.startswith("NOT CHECKED") and "damaged" not in report.verdict


def test_sqlite_full_in_a_write_is_a_full_disk_and_claims_nothing_about_earlier_saves(
    tmp_path: Path,
) -> None:
    db = tmp_path / "office.db"
    database = open_database(db)
    try:
        with database.write() as connection:
            connection.execute(text("CREATE TABLE scratch (payload BLOB)"))
        with pytest.raises(DiskFull) as full, database.write() as connection:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
            connection.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
            connection.execute(
                text("INSERT INTO scratch VALUES (zeroblob(1000000))"),
            )
    finally:
        database.close()
    message = str(full.value)
    assert message.startswith(f"the disk holding {db} is full")
    assert "damaged" not in message and "nothing was saved" not in message


# --- 4. a path is a path: `?`, `#` and `%` are part of a file name ----------------------------


@pytest.mark.parametrize("name", ["what?if=1.db", "100% #1?.db", "a%3Fb.db"])
def test_a_database_path_with_url_characters_opens_that_very_file(
    tmp_path: Path, name: str
) -> None:
    db = tmp_path / name
    database = open_database(db)
    try:
        assert database.target == str(db)
        with database.write() as connection:
            connection.execute(text("CREATE TABLE marker (x INTEGER)"))
    finally:
        database.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    reader = open_database(db, read_only=True)
    try:
        with reader.read() as connection:
            assert connection.execute(text("SELECT count(*) FROM marker")).scalar() == 0
    finally:
        reader.close()


def test_migrate_between_paths_with_question_marks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "from?x=1.db"
    target = tmp_path / "to?y=2.db"
    _new_office(source)
    assert main(["migrate", "--from", str(source), "--to", str(target)]) == 0
    assert f"to {target}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name, target.name]
    assert diagnose(target) is None


# --- 11. one rule, one number: the largest amount is 9,999,999,999,999.99 ---------------------

LARGEST = "9,999,999,999,999.99"


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [
        ("9999999999999.99", True),
        ("9,999,999,999,999.99", True),
        ("10000000000000.00", False),
        ("10,000,000,000,000.00", False),
        ("-10000000000000", False),
    ],
)
def test_the_largest_amount_is_the_one_the_readme_names_everywhere(
    tmp_path: Path, typed: str, accepted: bool
) -> None:
    from decimal import Decimal

    from seg_desktop.core.money import MoneyError, cents_from_decimal, parse_money
    from seg_desktop.core.tiers import Strategy, StrategyError, StrategyKind, Tier
    from seg_desktop.io.amounts import AmountProblem, parse_amount
    from seg_desktop.io.definitions_file import DefinitionsFileError, read_definitions

    definitions = tmp_path / "definitions.toml"
    definitions.write_text(
        "[strategies.individual]\nactive = true\ntiers = [\n"
        '  { name = "Bronze", monthly_lower = "0" },\n'
        f'  {{ name = "Top", monthly_lower = "{typed.lstrip("-")}" }},\n]\n',
        encoding="utf-8",
    )
    plain = typed.replace(",", "")
    if accepted:
        assert parse_money(typed) == 999_999_999_999_999
        assert cents_from_decimal(Decimal(plain)) == 999_999_999_999_999
        assert parse_amount(typed, ".") == 999_999_999_999_999
        read_definitions(definitions)
        Strategy(
            StrategyKind.INDIVIDUAL, (Tier("B", 0), Tier("T", 999_999_999_999_999)), True
        ).validate()
        return
    with pytest.raises(MoneyError, match=f"at most {LARGEST}"):
        parse_money(typed)
    with pytest.raises(MoneyError, match=f"at most {LARGEST}"):
        cents_from_decimal(Decimal(plain))
    with pytest.raises(AmountProblem, match="too large"):
        parse_amount(typed, ".")
    with pytest.raises(DefinitionsFileError, match=f"at most {LARGEST}"):
        read_definitions(definitions)
    with pytest.raises(StrategyError, match=f"at most {LARGEST}"):
        Strategy(StrategyKind.INDIVIDUAL, (Tier("B", 0), Tier("T", 10**15)), True).validate()


# --- 12. an export onto a folder names the folder, not our temporary file ---------------------


def test_an_export_onto_an_existing_folder_names_what_the_user_typed(tmp_path: Path) -> None:
    from seg_desktop.cli import _message
    from seg_desktop.io.atomic import atomic_path, atomic_write
    from seg_desktop.io.export import write_csv
    from seg_desktop.io.exporting import EXPORT_COLUMNS

    folder = tmp_path / "isdir.csv"
    folder.mkdir()
    (folder / "inside.txt").write_text("kept", encoding="utf-8")
    with pytest.raises(IsADirectoryError) as refused:
        write_csv(folder, EXPORT_COLUMNS, iter([]))
    assert refused.value.filename == str(folder)
    assert _message(refused.value) == f"{folder}: Is a directory"
    with pytest.raises(IsADirectoryError), atomic_path(folder):
        pytest.fail("the block must not run for a folder")
    missing = tmp_path / "no such folder" / "out.csv"
    with pytest.raises(FileNotFoundError) as not_there, atomic_write(missing):
        pytest.fail("the block must not run without a folder")
    assert not_there.value.filename == str(missing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["isdir.csv"]
    assert sorted(p.name for p in folder.iterdir()) == ["inside.txt"]


# --- 10. a definitions file nested 50,000 deep says what is wrong with it ----------------------


@pytest.mark.parametrize("nesting", ["array", "inline table"])
def test_a_deeply_nested_definitions_file_is_refused_with_a_reason(
    tmp_path: Path, nesting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from seg_desktop.io.definitions_file import DefinitionsFileError, read_definitions

    deep = 50_000
    value = "[" * deep + "]" * deep if nesting == "array" else "{a=" * deep + "1" + "}" * deep
    path = tmp_path / "deep.toml"
    path.write_text(f"[settings]\nmax_months = {value}\n", encoding="utf-8")
    with pytest.raises(DefinitionsFileError, match="nested inside each other far too deeply"):
        read_definitions(path)
    db = tmp_path / "office.db"
    _new_office(db)
    assert main(["definitions", "import", str(path), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "nested" in err and "unexpected" not in err and "RecursionError" not in err


# --- 8. a named pipe as the import file is refused at once ------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_fifo_as_the_import_file_is_refused_at_once_without_holding_the_lock(
    tmp_path: Path,
) -> None:
    import sys

    from seg_desktop.io.readers import ImportFileError, ImportOptions, inspect_file
    from seg_desktop.store.lock import acquire_writer_lock

    fifo = tmp_path / "clients.csv"
    os.mkfifo(fifo)
    db = tmp_path / "office.db"
    _new_office(db)
    # In a child process: before the fix it blocked forever on opening the pipe.
    command = [sys.executable, "-m", "seg_desktop.cli", "import", "clients", str(fifo)]
    try:
        done = subprocess.run(
            [*command, "--db", str(db)], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("importing from a named pipe hung")
    assert done.returncode == 1
    assert "clients.csv is not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(ImportFileError, match="not a regular file"):
        inspect_file(fifo, "clients", ImportOptions())
    acquire_writer_lock(db).release()  # nothing holds the office


# --- 7. an unclosed quote is a bad row, and so is every row it took in ------------------------


def _clients_csv(path: Path, broken_row: int | None, rows: int = 100) -> Path:
    lines = ["ref,name,email"]
    for n in range(rows):
        name = f"Client {n:03}"
        if broken_row is not None and n + 2 == broken_row:
            name = '"Unclosed quote'
        lines.append(f"Q{n:03},{name},q{n:03}@example.com")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_unclosed_quote_is_reported_with_the_rows_it_swallowed(tmp_path: Path) -> None:
    from seg_desktop.core.records import ClientRow, RowProblem
    from seg_desktop.io.readers import ImportOptions, inspect_file, read_clients

    # Data row 50 is spreadsheet row 51 (the header is row 1): client Q049.
    path = _clients_csv(tmp_path / "clients.csv", broken_row=51)
    read = list(read_clients(path, ImportOptions()))
    good = [row for row in read if isinstance(row, ClientRow)]
    bad = [row for row in read if isinstance(row, RowProblem)]
    assert [row.ref for row in good] == [f"Q{n:03}" for n in range(49)]
    assert all(row.name == f"Client {n:03}" for n, row in enumerate(good))
    assert [problem.row_number for problem in bad] == [51]
    assert "never closed" in bad[0].reason
    assert "takes in rows 52–101, which were not read either" in bad[0].reason
    assert inspect_file(path, "clients", ImportOptions()).data_rows == 50  # records


def test_quoted_cells_with_line_breaks_still_read_whole(tmp_path: Path) -> None:
    from seg_desktop.core.records import ClientRow
    from seg_desktop.io.readers import ImportOptions, read_clients

    path = tmp_path / "clients.csv"
    path.write_text(
        'ref,name,email\nA1,"Two\nlines",a@example.com\nA2,"Last\n"\nA3,"Ends, quoted\n"\n',
        encoding="utf-8",
    )
    read = list(read_clients(path, ImportOptions()))
    assert [(row.ref, row.name) for row in read if isinstance(row, ClientRow)] == [
        ("A1", "Two\nlines"),
        ("A2", "Last"),
        ("A3", "Ends, quoted"),
    ]
    revenue = tmp_path / "revenue.csv"
    revenue.write_text(
        'client_ref,date,amount,reference\nA1,2026-01-31,10.00,x\nA1,2026-02-28,"5.00,y\n'
        "A1,2026-03-31,7.00,z\n",
        encoding="utf-8",
    )
    from seg_desktop.io.readers import read_revenue

    rows = list(read_revenue(revenue, ImportOptions()))
    assert [getattr(row, "row_number", None) for row in rows] == [2, 3]
    assert [type(row).__name__ for row in rows] == ["RevenueRow", "RowProblem"]
    assert "takes in row 4, which was not read either" in getattr(rows[1], "reason", "")


# --- 6. a restore through a symbolic link restores the office the link points to -------------


def _marker_office(path: Path, marker: str) -> None:
    """A new office whose meta table carries `marker` (to tell two states apart)."""
    database = open_database(path)
    try:
        with database.write() as connection:
            connection.execute(
                text("INSERT OR REPLACE INTO meta (key, value) VALUES ('test_marker', :m)"),
                {"m": marker},
            )
    finally:
        database.close()


def _marker(path: Path) -> str | None:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'test_marker'").fetchone()
    finally:
        connection.close()
    return None if row is None else str(row[0])


@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_a_restore_through_a_symlink_restores_the_real_office_and_keeps_the_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seg_desktop.store.backup import take_backup

    real_folder = tmp_path / "shared"
    real_folder.mkdir()
    real = real_folder / "office.db"
    link = tmp_path / "office.db"
    link.symlink_to(real)
    _marker_office(link, "at the backup")
    backup = take_backup(link, "manual")
    _marker_office(link, "after the backup")
    assert main(["restore", str(backup), "--db", str(link)]) == 0
    assert "Restored" in capsys.readouterr().out
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert _marker(real) == "at the backup"
    kept = [p for p in real_folder.iterdir() if p.name.startswith("office.db.replaced-")]
    kept = [p for p in kept if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and _marker(kept[0]) == "after the backup"


# --- 5. what the file system accepts, the program accepts: long names -------------------------


@pytest.mark.parametrize("length", [240, 250, 251])
def test_an_office_with_a_long_name_opens_backs_up_restores_and_exports(
    tmp_path: Path, length: int, capsys: pytest.CaptureFixture[str]
) -> None:
    from seg_desktop.io.export import write_csv
    from seg_desktop.io.exporting import EXPORT_COLUMNS
    from seg_desktop.store.backup import list_backups, restore_backup, take_backup
    from seg_desktop.store.lock import acquire_writer_lock

    db = tmp_path / ("o" * (length - 3) + ".db")
    _marker_office(db, "first")
    assert main(["backup", "--db", str(db)]) == 0
    assert "Backup written to" in capsys.readouterr().out
    clients = _clients_csv(tmp_path / "clients.csv", broken_row=None, rows=3)
    assert main(["import", "clients", str(clients), "--db", str(db)]) == 0  # backs up first
    first = take_backup(db, "import")
    _marker_office(db, "second")
    assert len(list_backups(db)) == 3  # by hand, before the import, and "first"
    with acquire_writer_lock(db):
        restore_backup(db, first)
    assert _marker(db) == "first"
    assert diagnose(db) is None
    out = tmp_path / ("e" * (255 - 4) + ".csv")
    assert write_csv(out, EXPORT_COLUMNS, iter([])) == 0
    assert out.read_text(encoding="utf-8-sig").startswith("ref,")
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_names_and_paths_sqlite_cannot_use_are_refused_with_the_reason(tmp_path: Path) -> None:
    from seg_desktop.store.errors import StoreError

    too_long_a_name = tmp_path / ("n" * 249 + ".db")  # 252: no room for "-wal"
    with pytest.raises(StoreError, match="leaves no room for the '-wal' file"):
        open_database(too_long_a_name)
    deep = tmp_path
    while len(str(deep)) < 640:
        deep = deep / ("d" * 50)
    deep.mkdir(parents=True)
    with pytest.raises(StoreError, match="full path has at most 504 characters"):
        open_database(deep / "office.db")
    assert not (deep / "office.db").exists() and not too_long_a_name.exists()
    # The deepest path SQLite does open.
    folder = tmp_path / ("x" * 200)
    deepest = folder / ("y" * (504 - len(str(folder)) - 1))
    folder.mkdir()
    assert len(str(deepest)) == 504
    _marker_office(deepest, "deep")
    assert _marker(deepest) == "deep"


# --- 13. a backup of another office is not restored without an explicit yes ------------------


def test_a_backup_of_another_office_needs_other_office_and_says_whose_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seg_desktop.store.backup import is_backup_of, office_identity, take_backup

    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    _marker_office(ours, "ours")
    _marker_office(theirs, "theirs")
    own_backup = take_backup(ours, "manual")
    their_backup = take_backup(theirs, "manual")
    our_id, their_id = office_identity(ours), office_identity(theirs)
    assert our_id is not None and their_id is not None
    assert our_id.office_id and their_id.office_id and our_id.office_id != their_id.office_id
    assert is_backup_of(ours, own_backup) is True
    assert is_backup_of(ours, their_backup) is False

    assert main(["restore", str(their_backup), "--db", str(ours)]) == 1
    err = capsys.readouterr().err
    assert "is of another office" in err and f"office {their_id.office_id[:8]}" in err
    assert "--other-office" in err
    assert _marker(ours) == "ours"

    assert main(["restore", str(own_backup), "--db", str(ours)]) == 0
    assert "another office" not in capsys.readouterr().out
    assert main(["restore", str(their_backup), "--db", str(ours), "--other-office"]) == 0
    out = capsys.readouterr().out
    assert f"a backup of another office: office {their_id.office_id[:8]}" in out
    assert _marker(ours) == "theirs"


def test_an_office_from_before_identities_gets_one_on_open_and_old_backups_still_restore(
    tmp_path: Path,
) -> None:
    from seg_desktop.store.backup import is_backup_of, office_identity, take_backup

    db = tmp_path / "office.db"
    _marker_office(db, "old")
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("DELETE FROM meta WHERE key = 'office_id'")
    connection.close()
    old_backup = take_backup(db, "manual")
    identity = office_identity(old_backup)
    assert identity is not None and identity.office_id is None
    open_database(db).close()
    reopened = office_identity(db)
    assert reopened is not None and reopened.office_id
    assert is_backup_of(db, old_backup) is None  # cannot tell: restored without asking
    assert main(["restore", str(old_backup), "--db", str(db)]) == 0


# --- 3. a restore killed at any step loses nothing ---------------------------------------------


def _commit_into_the_log(db: Path, marker: str) -> None:
    """Commit a change and end the process at once: the change stays in office.db-wal only."""
    import sys

    script = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        "c.execute(\"UPDATE meta SET value = ? WHERE key = 'test_marker'\", (sys.argv[2],))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(db), marker], check=True, timeout=60)
    assert db.with_name(db.name + "-wal").stat().st_size > 32


@pytest.mark.parametrize("step", ["copied", "planned", "aside", "cleared", "placed"])
def test_a_restore_killed_at_any_step_leaves_the_office_or_the_backup_and_no_leftovers(
    tmp_path: Path, step: str
) -> None:
    import sys

    from seg_desktop.store.backup import CRASH_POINT_VARIABLE, take_backup

    db = tmp_path / "office.db"
    _marker_office(db, "at the backup")
    backup = take_backup(db, "manual")
    _commit_into_the_log(db, "committed after the backup")
    restore = [sys.executable, "-m", "seg_desktop.cli", "restore", str(backup), "--db", str(db)]
    killed = subprocess.run(
        restore,
        env={**os.environ, CRASH_POINT_VARIABLE: step},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == 70, killed.stderr  # ended at the step, like a kill
    if step == "cleared":  # the next command line job (a daily backup first) finishes it too
        take_backup(db, "daily")
    open_database(db).close()  # the next open carries the restore through, or cleans up
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert not [n for n in names if "restoring" in n or "restore-plan" in n], names
    assert diagnose(db) is None
    aside = [tmp_path / n for n in names if ".replaced-" in n and not n.endswith(("-wal", "-shm"))]
    if step == "copied":  # nothing had moved yet: the office as it was, change included
        assert _marker(db) == "committed after the backup"
        assert aside == []
    else:  # planned: the restore is completed, and the replaced office kept whole
        assert _marker(db) == "at the backup"
        assert len(aside) == 1 and _marker(aside[0]) == "committed after the backup"
        assert diagnose(aside[0]) is None


def test_a_completed_restore_keeps_the_committed_change_aside(tmp_path: Path) -> None:
    from seg_desktop.store.backup import restore_backup, take_backup

    db = tmp_path / "office.db"
    _marker_office(db, "at the backup")
    backup = take_backup(db, "manual")
    _commit_into_the_log(db, "committed after the backup")
    aside = restore_backup(db, backup)
    assert aside is not None and _marker(aside) == "committed after the backup"
    assert _marker(db) == "at the backup"
    assert not db.with_name(db.name + "-wal").exists()


# --- 9. zip bombs: bounded memory, refused with a reason -------------------------------------

_SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>ref</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
)
_SHEET_TAIL = b"</sheetData></worksheet>"
MIB = 1024 * 1024


def _workbook_with(path: Path, parts: dict[str, Iterator[bytes]]) -> Path:
    """A real workbook (openpyxl's) with some parts replaced, streamed into the archive."""
    import zipfile

    import openpyxl

    template = path.with_suffix(".template.xlsx")
    workbook = openpyxl.Workbook()
    workbook.active.append(["ref", "name"])
    workbook.save(template)
    with (
        zipfile.ZipFile(template) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as target,
    ):
        for item in source.infolist():
            if item.filename in parts:
                continue
            content = source.read(item.filename)
            if "xl/sharedStrings.xml" in parts and b"sharedStrings" not in content:
                # openpyxl wrote its strings inline: declare the shared-strings part.
                if item.filename == "xl/_rels/workbook.xml.rels":
                    content = content.replace(
                        b"</Relationships>",
                        b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/'
                        b'2006/relationships/sharedStrings" Target="sharedStrings.xml" '
                        b'Id="rId9" /></Relationships>',
                    )
                elif item.filename == "[Content_Types].xml":
                    content = content.replace(
                        b"</Types>",
                        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" />'
                        b"</Types>",
                    )
            target.writestr(item, content)
        for name, chunks in parts.items():
            with target.open(name, "w", force_zip64=True) as out:
                for chunk in chunks:
                    out.write(chunk)
    template.unlink()
    return path


def _rows_bomb(path: Path) -> Path:
    """About 3.5 MB that unpacks to 1 GiB of rows."""
    row = b'<row><c t="inlineStr"><is><t>Q</t></is></c><c t="inlineStr"><is><t>B</t></is></c></row>'

    def sheet() -> Iterator[bytes]:
        yield _SHEET_HEAD
        chunk = row * (MIB // len(row))
        for _ in range(1024):
            yield chunk
        yield _SHEET_TAIL

    return _workbook_with(path, {"xl/worksheets/sheet1.xml": sheet()})


def _cell_bomb(path: Path, size: int) -> Path:
    """One client whose name cell holds `size` characters."""

    def sheet() -> Iterator[bytes]:
        yield _SHEET_HEAD + b'<row r="2"><c r="A2" t="inlineStr"><is><t>Q1</t></is></c>'
        yield b'<c r="B2" t="inlineStr"><is><t>'
        left = size
        while left:
            step = min(left, MIB)
            yield b"A" * step
            left -= step
        yield b"</t></is></c></row>" + _SHEET_TAIL

    return _workbook_with(path, {"xl/worksheets/sheet1.xml": sheet()})


def _shared_strings_bomb(path: Path, count: int) -> Path:
    """A workbook whose shared-strings table has `count` different entries."""

    def table() -> Iterator[bytes]:
        yield (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://'
            b'schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
            % (count, count)
        )
        for start in range(0, count, 100_000):
            yield b"".join(
                b"<si><t>%d</t></si>" % n for n in range(start, min(count, start + 100_000))
            )
        yield b"</sst>"

    sheet = (
        _SHEET_HEAD + b'<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c></row>'
        b"" + _SHEET_TAIL
    )
    return _workbook_with(
        path, {"xl/sharedStrings.xml": table(), "xl/worksheets/sheet1.xml": iter([sheet])}
    )


_MEASURE = """
import resource, sys
from seg_desktop.io.readers import ImportFileError, ImportOptions, read_clients
try:
    rows = sum(1 for _ in read_clients(sys.argv[1], ImportOptions()))
    print("READ", rows)
except ImportFileError as error:
    print("REFUSED", error)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) across exec.
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
try:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) // 1024
except OSError:
    pass
print("PEAK_MB", peak)
"""


def _import_in_child(path: Path) -> tuple[str, int]:
    """Read a file's clients in a fresh process: (what it printed, its peak memory in MB)."""
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return lines[0], int(lines[-1].split()[1])


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="peak memory is read with the resource module")
def test_zip_bombs_are_refused_with_a_reason_and_bounded_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows_bomb(tmp_path / "rows.xlsx")
    cell = _cell_bomb(tmp_path / "cell.xlsx", 512 * MIB)
    strings = _shared_strings_bomb(tmp_path / "strings.xlsx", 8_000_000)
    assert rows.stat().st_size < 5 * MIB and cell.stat().st_size < 5 * MIB
    outcomes = {bomb.name: _import_in_child(bomb) for bomb in (rows, cell, strings)}
    with capsys.disabled():
        figures = ", ".join(f"{name} {peak} MB" for name, (_, peak) in outcomes.items())
        print(f"\nzip bombs: peak memory while refusing them: {figures}")
    for name in ("rows.xlsx", "cell.xlsx"):
        assert outcomes[name][0].startswith(f"REFUSED {name} is not a genuine workbook")
        assert "as a zip bomb does" in outcomes[name][0]
    assert "more than 4,000,000 different texts" in outcomes["strings.xlsx"][0]
    # Reading a two-row workbook takes about 55 MB; before, these took gigabytes.
    assert all(peak < 150 for _, peak in outcomes.values()), outcomes


def test_a_cell_longer_than_excel_allows_refuses_the_workbook(tmp_path: Path) -> None:
    from seg_desktop.io.readers import ImportFileError, ImportOptions, read_clients

    fits = _cell_bomb(tmp_path / "fits.xlsx", 32_767)
    read = list(read_clients(fits, ImportOptions()))
    assert len(read) == 1 and getattr(read[0], "name", "") == "A" * 32_767
    over = _cell_bomb(tmp_path / "over.xlsx", 32_768)
    with pytest.raises(ImportFileError, match=r"holds 32,768 characters.*at most 32,767"):
        list(read_clients(over, ImportOptions()))


# --- 2. a full disk mid-import: said plainly, and true whatever was saved --------------------


def test_an_import_that_fills_the_disk_says_so_and_saves_all_or_nothing(
    tiny_disk: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tiny_disk / "office.db"
    _new_office(db)
    clients = tmp_path / "clients.csv"
    clients.write_text(
        "ref,name,email\n"
        + "".join(f"C{n:05},Client number {n} {'x' * 200},c{n}@example.com\n" for n in range(4000)),
        encoding="utf-8",
    )
    # Room for the two backups an import takes (of an empty office), not for 4,000 clients.
    with (tiny_disk / "filler").open("wb") as filler:
        filler.write(b"\0" * max(shutil.disk_usage(tiny_disk).free - 1200 * 1024, 0))
    assert main(["import", "clients", str(clients), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert f"error: the disk holding {db} is full" in err, err
    assert "damaged" not in err and "nothing was saved" not in err and "Traceback" not in err
    (tiny_disk / "filler").unlink()
    assert main(["check", "--db", str(db)]) == 0
    connection = sqlite3.connect(db)
    try:
        saved = connection.execute("SELECT count(*) FROM client").fetchone()[0]
    finally:
        connection.close()
    assert saved in (0, 4000)

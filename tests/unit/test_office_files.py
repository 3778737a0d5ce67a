"""The office's files room: backups, restore, the check, tags, server addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from seg_desktop.store.errors import BackupError
from seg_desktop.store.office import Office
from seg_desktop.store.records import BackupInfo, CheckReport
from tests.helpers.office import add_clients, client, make_office


@pytest.fixture
def office(tmp_path: Path) -> Office:
    opened, _ = make_office(tmp_path, [client("A", tags=["vip", "east"]), client("B")])
    return opened


def test_backups_are_listed_taken_and_restored_through_the_office(
    office: Office, tmp_path: Path
) -> None:
    path = office.database_file()
    assert path is not None and path.resolve() == (tmp_path / "office.db").resolve()
    assert office.backups() == []
    made = office.take_backup("manual")
    (listed,) = office.backups()
    assert isinstance(listed, BackupInfo)
    assert listed.path == made and listed.reason_label == "Taken by hand"
    assert Office.backups_folder(path) == made.parent
    assert Office.newest_good_backup(path) is not None

    add_clients(office, [client("LATER")])
    office.close()
    aside = Office.restore_backup(path, made)
    assert aside is not None and aside.exists()
    reopened = Office.open(path)
    try:
        assert reopened.client_count() == 2
    finally:
        reopened.close()


def test_a_server_office_has_no_file_to_back_up() -> None:
    office = Office.open("sqlite://")  # in memory: no file, like a server
    try:
        assert office.database_file() is None
        assert office.backups() == []
        with pytest.raises(BackupError, match="server's own tools"):
            office.take_backup()
    finally:
        office.close()


def test_the_check_and_the_tags_come_through_the_office(office: Office) -> None:
    report = office.check_database()
    assert isinstance(report, CheckReport)
    assert report.ok, report.problems
    assert office.all_tags() == ["east", "vip"]
    office.close()


def test_server_urls_are_built_and_read_back_without_a_password() -> None:
    url = Office.server_url("db.example", 6543, "office", "anna@hq", "p@ss")
    assert url.startswith("postgresql+psycopg://anna%40hq:p%40ss@db.example:6543/")
    assert Office.server_address(url) is None  # it carries a password
    plain = Office.server_url("db.example", 6543, "office", "anna")
    assert Office.server_address(plain) == ("db.example", 6543, "office", "anna")
    assert Office.server_address("/home/anna/office.db") is None
    assert Office.server_address("mysql://anna@db/office") is None

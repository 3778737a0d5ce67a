"""The command line (SPEC section 5): demo, run --json, export, definitions, check, errors."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from seg_desktop import __version__
from seg_desktop.cli import main
from seg_desktop.core.periods import month_first_day, month_key, month_last_day
from seg_desktop.store.office import Office

CLIENTS = 50


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small demo office for the tests that only read it or add runs."""
    path = tmp_path_factory.mktemp("cli") / "demo.db"
    assert main(["demo", "--db", str(path), "--clients", str(CLIENTS), "--months", "6"]) == 0
    return path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("seg-desktop: ")
    return lines[0]


def test_demo_creates_a_small_office(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.db"
    assert main(["--db", str(path), "demo", "--clients", "50", "--months", "6", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"Demo office created in {path}: 50 clients" in out
    office = Office.open(path, create=False)
    try:
        assert office.client_count() == 50
        facts = office.client_facts()
        this_month = month_key(dt.date.today())
        # Six months of revenue, ending with last month.
        assert max(f.last_invoice_date for f in facts if f.last_invoice_date) <= month_last_day(
            this_month - 1
        )
        assert min(f.first_invoice_date for f in facts if f.first_invoice_date) >= month_first_day(
            this_month - 6
        )
    finally:
        office.close()


def test_demo_refuses_an_office_that_has_clients(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--db", str(demo_db), "--clients", "5"]) == 1
    assert "already has clients" in one_error_line(capsys.readouterr().err)


def test_run_json_prints_the_saved_run(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    as_of = dt.date.today()
    assert main(["run", "--db", str(demo_db), "--json", "--as-of", as_of.isoformat()]) == 0
    printed = json.loads(capsys.readouterr().out)
    end = as_of.replace(day=1) - dt.timedelta(days=1)  # B = 1: the end of last month
    assert printed["range_end"] == end.isoformat()
    assert printed["as_of"] == as_of.isoformat()
    assert printed["trigger"] == "command line"
    start = dt.date.fromisoformat(printed["range_start"])
    assert start.day == 1
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    assert printed["n"] == months
    assert 1 <= printed["n"] <= 12
    individual = printed["strategies"]["individual"]["tiers"]
    assert [t["name"] for t in individual] == ["Bronze", "Silver", "Gold"]
    assert sum(t["count"] for t in individual) == CLIENTS
    assert [t["effective_lower"] for t in individual] == [
        "0",
        str(1000 * printed["n"]),
        str(5000 * printed["n"]),
    ]
    group = printed["strategies"]["group"]["tiers"]
    assert [t["name"] for t in group] == ["C Group", "B Group", "A Group"]
    office = Office.open(demo_db, create=False)
    try:
        current = office.current_run()
        assert current is not None
        assert current.id == printed["run_id"]
    finally:
        office.close()


def test_run_prints_a_summary(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", str(demo_db), "run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run ")
    assert "Individual clients: Bronze " in out


@pytest.mark.parametrize("bad", ["2026-02-30", "yesterday", "15/03/2026"])
def test_run_with_a_bad_as_of_date_exits_2(
    demo_db: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--db", str(demo_db), "--as-of", bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"'{bad}' is not a date (YYYY-MM-DD)" in err
    assert "Traceback" not in err


def test_run_on_a_missing_database_exits_1_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.db"
    assert main(["run", "--db", str(path)]) == 1
    assert "does not exist" in one_error_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_run_without_revenue_reports_insufficient_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.db"
    Office.open(path).close()
    code = main(["run", "--db", str(path)])
    assert code != 0
    line = one_error_line(capsys.readouterr().err)
    assert "insufficient data" in line
    assert "previous run stays current" in line


def test_export_of_an_unknown_segment_exits_1_with_one_line(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "members.csv"
    assert main(["export", "--db", str(demo_db), "--out", str(out), "--segment", "Nope"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "there is no segment named 'Nope'" in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_export_of_the_current_runs_tiers_to_csv(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--db", str(demo_db)]) == 0
    out = tmp_path / "tiers.csv"
    assert main(["export", "--db", str(demo_db), "--out", str(out)]) == 0
    assert f"{CLIENTS} clients with their tiers written to {out}" in capsys.readouterr().out
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        "ref", "name", "email", "status", "tags", "groups", "total_revenue", "invoice_count",
        "first_invoice_date", "last_invoice_date", "average_invoice_amount", "production",
        "tier", "group_tier",
        # Issue 5: the engine's own tier beside a pinned one; empty when nothing is pinned.
        "computed_tier",
    ]  # fmt: skip
    assert {row[14] for row in rows[1:]} == {""}  # the demo pins nobody
    assert len(rows) == CLIENTS + 1
    assert [row[0] for row in rows[1:]] == sorted(row[0] for row in rows[1:])
    assert {row[12] for row in rows[1:]} <= {"Bronze", "Silver", "Gold"}
    assert all(row[12] for row in rows[1:])  # every client has a tier after a run


def test_export_of_a_segment_to_xlsx(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "active.xlsx"
    code = main(["export", "--db", str(demo_db), "--out", str(out), "--segment", "Active Clients"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "members of 'Active Clients' written to" in printed
    office = Office.open(demo_db, create=False)
    try:
        (info,) = [s for s in office.segments() if s.definition.name == "Active Clients"]
        expected = office.count_matching(info.definition, dt.date.today())
    finally:
        office.close()
    assert printed.startswith(f"{expected:,} members")
    assert out.stat().st_size > 0


def test_definitions_export_then_import_round_trip(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "definitions.toml"
    assert main(["definitions", "export", str(exported), "--db", str(demo_db)]) == 0
    text = exported.read_text(encoding="utf-8")
    assert "[strategies.individual]" in text
    assert 'name = "Active Clients"' in text
    other = tmp_path / "other.db"
    assert main(["definitions", "import", str(exported), "--db", str(other)]) == 0
    assert "Definitions imported from" in capsys.readouterr().out
    again = tmp_path / "again.toml"
    assert main(["definitions", "export", str(again), "--db", str(other)]) == 0
    assert again.read_text(encoding="utf-8") == text


def test_definitions_import_of_a_bad_file_exits_1_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "office.db"
    Office.open(db).close()
    before = tmp_path / "before.toml"
    assert main(["definitions", "export", str(before), "--db", str(db)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[settings]\nmax_months = 6\n\n[strategies.individual]\ntiers = [{ name = "B", '
        'monthly_lower = "0" }, { name = "S", monthly_lower = "10.005" }]\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["definitions", "import", str(bad), "--db", str(db)]) == 1
    assert "more than two decimals" in one_error_line(capsys.readouterr().err)
    after = tmp_path / "after.toml"
    assert main(["definitions", "export", str(after), "--db", str(db)]) == 0
    assert after.read_text(encoding="utf-8") == before.read_text(encoding="utf-8")


def test_check_prints_ok(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"OK: {demo_db} passed every check."


def test_check_of_a_missing_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing.db"
    assert main(["check", "--db", str(path)]) == 1
    assert "does not exist" in capsys.readouterr().out.strip().splitlines()[-1]
    assert not path.exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"seg-desktop {__version__}"


def test_run_on_a_file_that_is_not_an_office_exits_1_and_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100, encoding="utf-8")
    before = path.read_bytes()
    assert main(["run", "--db", str(path)]) == 1
    assert "is not a seg_desktop database" in one_error_line(capsys.readouterr().err)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_same_seed_gives_the_same_demo_office(tmp_path: Path) -> None:
    rows = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        assert main(["demo", "--db", str(path), "--clients", "20", "--months", "3"]) == 0
        office = Office.open(path, create=False)
        try:
            rows.append([row.values() for row in office.export_rows()])
        finally:
            office.close()
    assert rows[0] == rows[1]
    assert len(rows[0]) == 20

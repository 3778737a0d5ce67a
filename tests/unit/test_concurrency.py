"""Several desktops on one office at once, as separate processes, on each engine.

Each desktop is a `seg-desktop` command in its own process. One of them is
made to linger inside its write transaction (a run that has written its rows
but not committed, an import that has merged its records but not committed)
by a small driver that runs the real command line with a pause injected, so
the overlap is certain rather than a matter of timing. The other one starts
while the first is inside. Afterwards the office is read from outside:

* two runs: one is refused with who is running and since when (or waits);
  every saved run holds an assignment for every client and every group;
* an import and a run: the revenue table holds exactly the records before
  plus the file's, none twice, and each run's productions are those of a
  whole state of the office (before the import, or after all of it);
* a client killed (SIGKILL) mid-run: the previous run is still the current
  one, nothing of the killed run is left, and the next run goes through;
* migrate SQLite -> PostgreSQL -> SQLite: equal counts, cent-exact totals.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seg_desktop.store.office import Office
from seg_desktop.store.runs import RUNNER_SETTING
from tests.helpers.office import (
    DATA_TABLES,
    client,
    db_scalar,
    make_office,
    snapshot,
)

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-03-15"  # M = 12, B = 1: 2025-03-01 .. 2026-02-28
RANGE = ("2025-03-01", "2026-02-28")
CLIENTS = [
    client("A", groups=["Fam"]),
    client("B", groups=["Fam", "Emp"]),
    client("C", groups=["Emp"]),
    client("D", groups=["Emp"]),
    client("E", groups=["Solo"]),
    client("F"),
]
SUBJECTS = 6 + 3  # every client and every group has an assignment in a whole run
REVENUE = [
    ("A", dt.date(2025, 3, 1), 1_200_000),
    ("B", dt.date(2026, 2, 28), 6_000_000),
    ("C", dt.date(2025, 3, 1), 1_199_999),
    ("D", dt.date(2025, 6, 15), 6_000_001),
    ("D", dt.date(2025, 7, 1), -2),
    ("F", dt.date(2025, 9, 9), -50_000),
    ("A", dt.date(2025, 2, 28), 5_000_000),  # before the range
]
IMPORT_LINES = 300
PAUSE = 3.0  # seconds the lingering desktop stays inside its transaction

# Runs the real command line (argv after the first three) with a pause injected
# inside the write transaction; a file appears when the pause starts.
DRIVER = """
import pathlib, sys, time
signal_file, pause, where = pathlib.Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if where == "run":
    from seg_desktop.store import runs as module
    name = "save_run"
else:
    from seg_desktop.store import importing as module
    name = "_merge_staged"
original = getattr(module, name)
def lingering(*args, **kwargs):
    result = original(*args, **kwargs)
    signal_file.write_text("inside")
    time.sleep(pause)
    return result
setattr(module, name, lingering)
from seg_desktop.cli import main
sys.exit(main(sys.argv[4:]))
"""


@dataclass
class Desktop:
    """One seg-desktop process."""

    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


def command(*args: str) -> Desktop:
    """`python -m seg_desktop ARGS` in a new process."""
    return Desktop(
        subprocess.Popen(
            [sys.executable, "-m", "seg_desktop", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )


def lingering(tmp_path: Path, where: str, *args: str, pause: float = PAUSE) -> Desktop:
    """The command `ARGS`, pausing `pause` s inside its write transaction; returns once inside."""
    signal_file = tmp_path / f"inside-{time.monotonic_ns()}"
    desktop = Desktop(
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(signal_file), str(pause), where, *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    deadline = time.monotonic() + 60
    while not signal_file.exists():
        if desktop.process.poll() is not None:
            code, out, err = desktop.finish()
            raise AssertionError(f"the lingering desktop ended early ({code}): {out} {err}")
        if time.monotonic() > deadline:
            desktop.process.kill()
            raise AssertionError("the lingering desktop never got inside its transaction")
        time.sleep(0.02)
    return desktop


@pytest.fixture
def office_db(office_url: str) -> Iterator[str]:
    """An office with six clients in three groups, revenue, and no run yet (then closed)."""
    office, _ = make_office(office_url, CLIENTS, REVENUE)
    office.close()
    yield office_url


def scalar(db: str, sql: str) -> int:
    value = db_scalar(db, sql)
    return int(value) if value is not None else 0


def run_sizes(db: str) -> dict[int, int]:
    """run id -> how many assignments it holds, for every saved run."""
    office = Office.open(db, create=False)
    try:
        with office.database.read() as connection:
            rows = connection.exec_driver_sql(
                "SELECT r.id, COUNT(a.subject_id) FROM run r"
                " LEFT JOIN run_assignment a ON a.run_id = r.id GROUP BY r.id"
            ).all()
    finally:
        office.close()
    return {int(run_id): int(count) for run_id, count in rows}


def assert_only_whole_runs(db: str) -> dict[int, int]:
    sizes = run_sizes(db)
    assert all(count == SUBJECTS for count in sizes.values()), sizes
    orphans = "SELECT COUNT(*) FROM run_assignment WHERE run_id NOT IN (SELECT id FROM run)"
    assert scalar(db, orphans) == 0
    return sizes


def in_range_total(db: str) -> int:
    return scalar(
        db,
        "SELECT COALESCE(SUM(amount_cents), 0) FROM revenue"
        f" WHERE date >= '{RANGE[0]}' AND date <= '{RANGE[1]}'",
    )


def run_production(db: str, run_id: int) -> int:
    return scalar(
        db,
        "SELECT COALESCE(SUM(production_cents), 0) FROM run_assignment"
        f" WHERE run_id = {run_id} AND kind = 'individual'",
    )


def without_runner(
    rows: dict[str, list[tuple[object, ...]]],
) -> dict[str, list[tuple[object, ...]]]:
    """A snapshot without the `run_in_progress` setting a killed run leaves behind."""
    return {
        table: [row for row in table_rows if not (table == "setting" and row[0] == RUNNER_SETTING)]
        for table, table_rows in rows.items()
    }


def refused_by(err: str, holder: Desktop) -> bool:
    """Whether a refusal names the desktop holding the office, and since when."""
    return f"(pid {holder.pid})" in err and " since " in err


def run_until_done(db: str, attempts: int = 20) -> tuple[int, str, str]:
    """`run` again until it is no longer refused (a killed holder's lock takes a moment)."""
    for _ in range(attempts):
        code, out, err = command("run", "--db", db, "--as-of", AS_OF).finish()
        if code == 0 or ("in use" not in err and "already running" not in err):
            return code, out, err
        time.sleep(0.5)
    return code, out, err


def test_two_runs_at_once_one_is_refused_naming_the_other_and_no_run_is_half_saved(
    tmp_path: Path, office_db: str
) -> None:
    first = lingering(tmp_path, "run", "run", "--db", office_db, "--as-of", AS_OF)
    second_code, _out, second_err = command("run", "--db", office_db, "--as-of", AS_OF).finish()
    first_code, first_out, first_err = first.finish()
    assert first_code == 0, first_err
    assert "saved" in first_out
    if second_code == 0:  # it waited for the first one
        assert len(assert_only_whole_runs(office_db)) == 2
    else:
        assert second_code == 1
        assert refused_by(second_err, first), second_err
        assert len(assert_only_whole_runs(office_db)) == 1
        # Once the first has finished, the second goes through.
        code, _, err = command("run", "--db", office_db, "--as-of", AS_OF).finish()
        assert code == 0, err
        assert len(assert_only_whole_runs(office_db)) == 2
    print(
        f"\n[concurrency] two runs at once: the second "
        f"{'waited' if second_code == 0 else 'was refused'}: {second_err.strip()[:160]}"
    )


def write_revenue_file(tmp_path: Path) -> Path:
    path = tmp_path / "more_revenue.csv"
    lines = [
        f"{'ABCDEF'[n % 6]},2025-{1 + (n % 9) + 3:02d}-{1 + n % 28:02d},{n}.{n % 100:02d},IMP-{n}\n"
        for n in range(IMPORT_LINES)
    ]
    path.write_text("client_ref,date,amount,reference\n" + "".join(lines), encoding="utf-8")
    return path


def revenue_rows(db: str) -> list[tuple[object, ...]]:
    office = Office.open(db, create=False)
    try:
        with office.database.read() as connection:
            rows = connection.exec_driver_sql(
                "SELECT client_id, date, amount_cents, reference FROM revenue"
            ).all()
    finally:
        office.close()
    return sorted((tuple(str(value) for value in row) for row in rows), key=repr)


@pytest.mark.parametrize("first", ["run", "import"])
def test_an_import_and_a_run_at_once_lose_and_double_nothing(
    tmp_path: Path, office_db: str, first: str
) -> None:
    before = scalar(office_db, "SELECT COUNT(*) FROM revenue")
    before_in_range = in_range_total(office_db)
    file = write_revenue_file(tmp_path)
    run_args = ("run", "--db", office_db, "--as-of", AS_OF)
    import_args = ("import", "revenue", str(file), "--db", office_db)
    if first == "run":
        holder = lingering(tmp_path, "run", *run_args)
        other = command(*import_args)
    else:
        holder = lingering(tmp_path, "import", *import_args)
        other = command(*run_args)
    other_code, _, other_err = other.finish()
    holder_code, _, holder_err = holder.finish()
    assert holder_code == 0, holder_err
    if other_code != 0:  # refused (the desktop file's one-writer lock): it says by whom
        assert refused_by(other_err, holder), other_err
        retry = command(*(import_args if first == "run" else run_args))
        other_code, _, other_err = retry.finish()
        waited = False
    else:
        waited = True
    assert other_code == 0, other_err

    rows = revenue_rows(office_db)
    assert len(rows) == before + IMPORT_LINES
    assert len(set(rows)) == len(rows)  # every record once (each line has its own reference)
    assert scalar(office_db, "SELECT COUNT(DISTINCT reference) FROM revenue") == IMPORT_LINES
    (run_id,) = assert_only_whole_runs(office_db)
    # The run saw a whole office: all of the import (it came after it) or none of it.
    after_in_range = in_range_total(office_db)
    expected = before_in_range if first == "run" else after_in_range
    assert run_production(office_db, run_id) == expected
    assert after_in_range != before_in_range
    print(
        f"\n[concurrency] {first} first, the other {'waited' if waited else 'was refused'}: "
        f"{before:,} + {IMPORT_LINES} records = {len(rows):,}; run production "
        f"{'before' if first == 'run' else 'after'} the import"
    )


def test_a_client_killed_mid_run_leaves_the_previous_run_current(
    tmp_path: Path, office_db: str
) -> None:
    code, _, err = command("run", "--db", office_db, "--as-of", AS_OF).finish()
    assert code == 0, err
    (previous,) = assert_only_whole_runs(office_db)
    office = Office.open(office_db, create=False)
    before = snapshot(office)
    office.close()

    doomed = lingering(tmp_path, "run", "run", "--db", office_db, "--as-of", AS_OF, pause=60)
    os.kill(doomed.pid, signal.SIGKILL)  # with its run written but not committed
    code, _, _ = doomed.finish(timeout=30)
    assert code == -signal.SIGKILL

    office = Office.open(office_db, create=False)
    try:
        current = office.current_run()
        assert current is not None and current.id == previous
        after = snapshot(office)
    finally:
        office.close()
    # Nothing of the killed run is left (but, on a server, the name it left as the runner).
    assert without_runner(after) == without_runner(before)
    assert list(run_sizes(office_db)) == [previous]
    # The next desktop runs as usual: the server dropped the dead client's locks.
    code, out, err = run_until_done(office_db)
    assert code == 0, err
    sizes = assert_only_whole_runs(office_db)
    assert len(sizes) == 2 and max(sizes) > previous
    print(f"\n[concurrency] killed mid-run: run {previous} stayed current; the next run: {out}")


def test_migrate_round_trip_keeps_every_count_and_every_cent(
    tmp_path: Path, postgres_url: str
) -> None:
    from seg_desktop.core.engine import Override
    from seg_desktop.core.tiers import StrategyKind
    from seg_desktop.demo import load_demo

    source = str(tmp_path / "source.db")
    office = Office.open(source)
    load_demo(office, clients=400, months=14)
    office.run_segmentation(dt.date(2026, 3, 15))
    first_client = office.client_facts()[0].client_id
    office.set_override(Override(StrategyKind.INDIVIDUAL, first_client, "Gold", "pinned"))
    office.run_segmentation(dt.date(2026, 3, 15))
    office.close()
    back = str(tmp_path / "back.db")

    for origin, target in ((source, postgres_url), (postgres_url, back)):
        code, out, err = command("migrate", "--from", origin, "--to", target).finish()
        assert code == 0, err
        assert "match" in out

    totals = {}
    for db in (source, postgres_url, back):
        totals[db] = (
            {table: scalar(db, f"SELECT COUNT(*) FROM {table}") for table in DATA_TABLES},
            scalar(db, "SELECT COALESCE(SUM(amount_cents), 0) FROM revenue"),
            scalar(db, "SELECT COALESCE(SUM(total_cents), 0) FROM client_stats"),
            scalar(db, "SELECT COALESCE(SUM(production_cents), 0) FROM run_assignment"),
        )
    assert totals[source] == totals[postgres_url] == totals[back]
    counts, revenue_total, *_ = totals[source]
    assert counts["revenue"] > 10_000 and counts["run_assignment"] > 800
    assert revenue_total != 0
    # Back on SQLite, the office is the one it was, row for row (`meta` is each
    # database's own: when it was created).
    originals, returned = Office.open(source), Office.open(back)
    try:
        assert {t: r for t, r in snapshot(returned).items() if t != "meta"} == {
            t: r for t, r in snapshot(originals).items() if t != "meta"
        }
        assert returned.client_facts() == originals.client_facts()
    finally:
        originals.close()
        returned.close()
    print(
        f"\n[concurrency] migrate SQLite -> PostgreSQL -> SQLite: {counts['client']:,} clients, "
        f"{counts['revenue']:,} records, {counts['run_assignment']:,} assignments; "
        f"revenue {revenue_total / 100:,.2f} on all three"
    )


def test_on_a_server_a_second_run_is_refused_at_once_naming_the_first(postgres_url: str) -> None:
    """In one process: another session holds the run lock (as a running desktop does)."""
    from seg_desktop.store.dialect import release_run_lock, try_run_lock
    from seg_desktop.store.errors import RunInProgress
    from seg_desktop.store.records import LockOwner

    office, _ = make_office(postgres_url, CLIENTS, REVENUE)
    other = Office.open(postgres_url)
    try:
        owner = LockOwner(pid=4242, host="front-desk", started_at=dt.datetime(2026, 3, 15, 9, 5))
        with other.database.engine.connect() as running:
            with running.begin():
                assert try_run_lock(running)
                running.exec_driver_sql(
                    "INSERT INTO setting (key, value) VALUES (%(key)s, %(value)s)",
                    {"key": RUNNER_SETTING, "value": owner.to_json()},
                )
            before = snapshot(office)
            start = time.monotonic()
            with pytest.raises(RunInProgress) as refused:
                office.run_segmentation(dt.date(2026, 3, 15))
            assert time.monotonic() - start < 2  # refused at once, not after a wait
            assert refused.value.owner == owner
            assert "started by seg-desktop (pid 4242) on another computer (front-desk)" in str(
                refused.value
            )
            assert "since 2026-03-15 09:05" in str(refused.value)
            assert snapshot(office) == before  # nothing saved, the runner's name untouched
            with running.begin():
                running.exec_driver_sql(
                    "DELETE FROM setting WHERE key = %(key)s", {"key": RUNNER_SETTING}
                )
            with pytest.raises(RunInProgress, match="started by another seg-desktop"):
                office.run_segmentation(dt.date(2026, 3, 15))
            with running.begin():
                release_run_lock(running)
        summary = office.run_segmentation(dt.date(2026, 3, 15))[0]
        assert run_sizes(postgres_url) == {summary.id: SUBJECTS}
        assert (
            db_scalar(postgres_url, f"SELECT COUNT(*) FROM setting WHERE key = '{RUNNER_SETTING}'")
            == 0
        )
    finally:
        other.close()
        office.close()


def test_on_a_server_writes_queue_and_a_write_kept_waiting_too_long_is_busy(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers take turns as on SQLite; one that waits past the limit fails whole and clearly."""
    from seg_desktop.store import dialect
    from seg_desktop.store.errors import DatabaseBusy

    office, _ = make_office(postgres_url, CLIENTS, REVENUE)
    other = Office.open(postgres_url)
    try:
        before = snapshot(office)
        monkeypatch.setattr(dialect, "WRITER_LOCK_WAIT_SECONDS", 1)
        with other.database.write() as writing:  # another desktop in the middle of a write
            writing.exec_driver_sql("UPDATE client SET name = 'Renamed' WHERE ref = 'A'")
            start = time.monotonic()
            with pytest.raises(DatabaseBusy, match="try again when it has finished"):
                office.run_segmentation(dt.date(2026, 3, 15))
            assert 0.9 < time.monotonic() - start < 5
            # Reads do not wait, and see the office as it was before the other write.
            assert office.client_facts()[0].name == "Client A"
        assert snapshot(office)["run"] == before["run"] == []
        assert office.client_facts()[0].name == "Renamed"
        assert office.run_segmentation(dt.date(2026, 3, 15))[0].id > 0  # its turn now
    finally:
        other.close()
        office.close()

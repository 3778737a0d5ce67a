"""The office database: opening and refusing files, migrations, locks, rollups, facts, exports."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from seg_desktop.core.engine import Override
from seg_desktop.core.money import divide_rounded
from seg_desktop.core.periods import month_key
from seg_desktop.core.rules import (
    Criterion,
    MatchMode,
    Operator,
    RuleField,
    RuleValueError,
    SegmentDefinition,
)
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store import data
from seg_desktop.store import database as database_module
from seg_desktop.store import quick_check as quick_check_module
from seg_desktop.store.data import NewClient, NewRevenue
from seg_desktop.store.database import open_database
from seg_desktop.store.errors import DatabaseBusy, NewerDatabase, NotOurDatabase, StoreError
from seg_desktop.store.export_rows import EXPORT_COLUMNS
from seg_desktop.store.office import Office
from tests.helpers.office import (
    add_clients,
    add_revenue,
    client,
    db_execute,
    db_scalar,
    db_table_names,
    is_sqlite_target,
    make_office,
    snapshot,
    table_rows,
)

D = dt.date
AS_OF = D(2026, 3, 15)
CURRENT = database_module.SCHEMA_VERSION  # the schema this program writes
NEXT = CURRENT + 1  # a newer program's, or the one an upgrade test pretends to reach
IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP


@pytest.fixture
def office(office_url: str) -> Iterator[Office]:
    opened, _ = make_office(office_url)
    yield opened
    opened.close()


def files_in(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# --- opening ------------------------------------------------------------------------------------


def test_a_new_office_is_created_with_the_defaults_and_reopens_with_its_data(
    office_url: str,
) -> None:
    path = office_url
    office = Office.open(path)
    try:
        assert [s.definition.name for s in office.segments()] == [
            "Active Clients",
            "High-Value Clients",
            "Inactive Clients",
            "New Clients",
            "Repeat Customers",
        ]
        assert office.strategies()[IND].names == ["Bronze", "Silver", "Gold"]
        add_clients(office, [client("A")])
        add_revenue(office, [("A", D(2026, 1, 5), 1_234)])
    finally:
        office.close()
    if is_sqlite_target(path):
        assert Path(path).stat().st_mode & 0o077 == 0  # client data: readable by the user only
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(CURRENT)
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'application'") == "seg_desktop"
    reopened = Office.open(path)
    try:
        assert reopened.client_count() == 1
        assert [f.total_revenue for f in reopened.client_facts()] == [1_234]
        assert len(reopened.segments()) == 5  # the example segments are not added twice
    finally:
        reopened.close()


def test_opening_a_missing_file_without_create_is_refused_and_creates_nothing(
    tmp_path: Path,
) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_database(tmp_path / "missing.db", create=False)
    assert list(tmp_path.iterdir()) == []


def test_opening_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_database(tmp_path / "nowhere" / "office.db")


def test_a_foreign_sqlite_file_is_refused_and_left_byte_for_byte_untouched(tmp_path: Path) -> None:
    path = tmp_path / "accounts.db"
    foreign = sqlite3.connect(path)
    foreign.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    foreign.execute("INSERT INTO customers VALUES (1, 'Ada')")
    foreign.commit()
    foreign.close()
    before = files_in(tmp_path)
    with pytest.raises(NotOurDatabase, match="holds other tables: customers"):
        Office.open(path)
    after = files_in(tmp_path)
    assert sorted(after) == sorted(before)
    # Bytes 18-19 of the header are the journal mode (1 = rollback journal, 2 = WAL).
    assert after[path.name][18:20] == before[path.name][18:20], "the file was switched to WAL"
    assert after[path.name] == before[path.name], "the message says 'left untouched'"


def test_a_database_with_a_meta_table_of_another_program_is_refused(office_url: str) -> None:
    path = office_url
    db_execute(
        path,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
        "INSERT INTO meta VALUES ('application', 'something_else')",
    )
    with pytest.raises(NotOurDatabase, match="not a seg_desktop database"):
        Office.open(path)
    assert db_table_names(path) == {"meta"}


def test_a_text_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("ref,name\nC1,Ada\n" * 50, encoding="utf-8")
    before = files_in(tmp_path)
    with pytest.raises(NotOurDatabase, match="not a seg_desktop database"):
        Office.open(path)
    assert files_in(tmp_path) == before


def test_a_database_of_a_newer_version_is_refused(office_url: str) -> None:
    path = office_url
    Office.open(path).close()
    db_execute(path, f"UPDATE meta SET value = '{NEXT}' WHERE key = 'schema_version'")
    with pytest.raises(NewerDatabase, match=rf"newer version of seg-desktop \(schema {NEXT}"):
        Office.open(path)
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(NEXT)


def simulate_next_version(monkeypatch: pytest.MonkeyPatch, steps: dict[int, object]) -> None:
    """As if the program's schema were the next version, with these upgrade steps."""
    monkeypatch.setattr(database_module, "SCHEMA_VERSION", NEXT)
    monkeypatch.setattr(quick_check_module, "SCHEMA_VERSION", NEXT)  # the check on open
    monkeypatch.setattr(database_module, "MIGRATIONS", steps)
    # migrate()'s default target was bound when the module was imported.
    monkeypatch.setattr(database_module.migrate, "__defaults__", (NEXT,))


def test_an_older_database_is_upgraded_once_and_stamped(
    office_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = office_url
    old, _ = make_office(path, [client("A")], [("A", D(2025, 5, 5), 100)])
    old.close()
    calls: list[int] = []

    def add_notes(connection: Connection) -> None:
        calls.append(1)
        connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))

    simulate_next_version(monkeypatch, {CURRENT: add_notes})
    upgraded = Office.open(path)
    upgraded.close()
    assert calls == [1]
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(NEXT)
    assert "note" in db_table_names(path)
    assert db_scalar(path, "SELECT count(*) FROM revenue") == 1
    Office.open(path).close()
    assert calls == [1]  # not run again


def test_an_upgrade_made_by_another_process_meanwhile_is_not_run_again(
    office_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two windows open an old file at once: the second must not repeat the first's upgrade."""
    path = office_url
    Office.open(path).close()
    calls: list[str] = []

    def add_notes(connection: Connection) -> None:
        calls.append("add_notes")
        connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))

    simulate_next_version(monkeypatch, {CURRENT: add_notes})
    original_write = database_module.Database.write
    other_opened = False

    def write_after_another_process_upgraded(
        database: database_module.Database,
    ) -> contextlib.AbstractContextManager[Connection]:
        nonlocal other_opened
        # Between this open's look at the version (and, on SQLite, the switch to WAL) and
        # its upgrade under the write transaction.
        if not other_opened:
            other_opened = True
            open_database(path).close()
        return original_write(database)

    monkeypatch.setattr(database_module.Database, "write", write_after_another_process_upgraded)
    open_database(path).close()
    assert calls == ["add_notes"]
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(NEXT)


def test_a_failing_upgrade_leaves_the_database_as_it_was(
    office_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = office_url
    Office.open(path).close()

    def half_done(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("step failed")

    simulate_next_version(monkeypatch, {CURRENT: half_done})
    with pytest.raises(RuntimeError, match="step failed"):
        Office.open(path)
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(CURRENT)
    assert "note" not in db_table_names(path)


def test_an_upgrade_with_a_missing_step_is_refused(
    office_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = office_url
    Office.open(path).close()
    simulate_next_version(monkeypatch, {})
    with pytest.raises(StoreError, match=f"no upgrade is known from schema version {CURRENT}"):
        Office.open(path)
    assert db_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(CURRENT)


@pytest.fixture
def quick_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 50 ms instead of 5 s for a lock, so a locked database fails fast."""
    original = database_module._sqlite_on_connect

    def on_connect(dbapi_connection: sqlite3.Connection, record: object) -> None:
        original(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA busy_timeout = 50")

    monkeypatch.setattr(database_module, "_sqlite_on_connect", on_connect)


@pytest.mark.usefixtures("quick_busy_timeout")
def test_a_locked_database_gives_database_busy_and_nothing_half_written(tmp_path: Path) -> None:
    office, _ = make_office(tmp_path, [client("A")], [("A", D(2025, 5, 5), 100)])
    try:
        office.run_segmentation(AS_OF)
        before = snapshot(office)
        lock = sqlite3.connect(tmp_path / "office.db", isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            with pytest.raises(DatabaseBusy, match="is locked by another program"):
                office.run_segmentation(AS_OF)
            with pytest.raises(DatabaseBusy, match="try again when it has finished"):
                add_clients(office, [client("B")])
            with pytest.raises(DatabaseBusy):
                Office.open(tmp_path / "office.db")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert snapshot(office) == before
        assert office.client_count() == 1
        assert len(office.runs()) == 1
    finally:
        office.close()


# --- rollups ------------------------------------------------------------------------------------


def recomputed_rollups(office: Office) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """client_month and client_stats rows computed in Python from the revenue table."""
    months: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    per_client: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for _id, client_id, day, _key, amount, _ref in table_rows(office, "revenue"):
        day = D.fromisoformat(str(day))
        months[(client_id, month_key(day))][0] += amount
        months[(client_id, month_key(day))][1] += 1
        per_client[client_id].append((day, amount))
    month_rows = sorted(((c, k, s, n) for (c, k), (s, n) in months.items()), key=repr)
    stats_rows = []
    for (client_id,) in (row[:1] for row in table_rows(office, "client")):
        records = per_client.get(client_id, [])
        total = sum(amount for _, amount in records)
        stats_rows.append(
            (
                client_id,
                total,
                len(records),
                divide_rounded(total, len(records)) if records else None,
                min(day for day, _ in records).isoformat() if records else None,
                max(day for day, _ in records).isoformat() if records else None,
            )
        )
    return month_rows, sorted(stats_rows, key=repr)


def test_rollups_equal_a_direct_recomputation_after_inserts(office: Office) -> None:
    ids = add_clients(office, [client("A"), client("B"), client("C"), client("Z")])
    add_revenue(
        office,
        [
            ("A", D(2025, 1, 31), 1_000),
            ("A", D(2025, 1, 1), -250),
            ("A", D(2025, 2, 1), 5),
            ("B", D(2024, 12, 31), 7),
        ],
    )
    add_revenue(
        office,
        [
            ("A", D(2025, 1, 15), 3),  # into an existing month
            ("B", D(2024, 12, 31), 7),  # the same line again: a second record
            ("C", D(2026, 2, 28), -99),  # refund only
        ],
    )
    months, stats = recomputed_rollups(office)
    assert table_rows(office, "client_month") == months
    assert [
        (c, t, n, a, str(f) if f else None, str(la) if la else None)
        for c, t, n, a, f, la in table_rows(office, "client_stats")
    ] == stats
    facts = {f.client_id: f for f in office.client_facts()}
    a = facts[ids["A"]]
    assert (a.total_revenue, a.invoice_count, a.average_invoice_amount) == (758, 4, 190)  # 189.5
    assert (a.first_invoice_date, a.last_invoice_date) == (D(2025, 1, 1), D(2025, 2, 1))
    z = facts[ids["Z"]]
    assert (z.total_revenue, z.invoice_count, z.average_invoice_amount) == (0, 0, None)
    assert (z.first_invoice_date, z.last_invoice_date) == (None, None)


def test_refreshing_some_clients_leaves_the_others_alone(office: Office) -> None:
    ids = add_clients(office, [client("A"), client("B")])
    add_revenue(office, [("A", D(2025, 1, 1), 100), ("B", D(2025, 1, 1), 200)])
    with office.database.write() as connection:
        data.insert_revenue(connection, [NewRevenue(ids["B"], D(2025, 3, 3), 50)])
        data.refresh_rollups(connection, [ids["B"]])
    totals = {f.client_id: f.total_revenue for f in office.client_facts()}
    assert totals == {ids["A"]: 100, ids["B"]: 250}
    with office.database.write() as connection:
        data.refresh_rollups(connection)  # a full rebuild changes nothing
    assert {f.client_id: f.total_revenue for f in office.client_facts()} == totals
    assert recomputed_rollups(office)[0] == table_rows(office, "client_month")


@pytest.mark.parametrize(
    ("amounts", "average"),
    [
        ([1, 2], 2),  # 1.5 -> 2
        ([-1, -2], -2),  # -1.5 -> -2 (away from zero)
        ([5, -10], -3),  # -2.5 -> -3
        ([-5, 0], -3),
        ([1, 0, 0], 0),  # 0.33
        ([2, 0, 0], 1),  # 0.67
        ([-2, 0, 0], -1),
        ([-1, 0, 0], 0),
        ([10, -10], 0),
        ([1_000_000_001, 0], 500_000_001),  # 5,000,000.005 -> .01
        ([-7], -7),
    ],
)
def test_average_invoice_amount_rounds_halves_away_from_zero(
    office: Office, amounts: list[int], average: int
) -> None:
    add_clients(office, [client("A")])
    add_revenue(office, [("A", D(2025, 1, 1 + i), amount) for i, amount in enumerate(amounts)])
    (facts,) = office.client_facts()
    assert facts.average_invoice_amount == average
    rounded_value = SegmentDefinition(
        "avg",
        (Criterion(RuleField.AVERAGE_INVOICE_AMOUNT, Operator.EQUALS, f"{average / 100:.2f}"),),
    )
    assert office.matching_ids(rounded_value, AS_OF) == [facts.client_id]  # compared as rounded


def test_client_facts_read_every_rule_field(office: Office) -> None:
    ids = add_clients(
        office,
        [
            client(
                "A", "Ada & Co", email="ada@example.com", status="active", tags={"vip", "north"}
            ),
            client("B", "Bob", email=None, status=None),
        ],
    )
    add_revenue(office, [("A", D(2025, 5, 1), 300), ("A", D(2025, 6, 1), 400)])
    facts = {f.client_id: f for f in office.client_facts()}
    a, b = facts[ids["A"]], facts[ids["B"]]
    assert (a.name, a.email, a.status, a.tags) == (
        "Ada & Co",
        "ada@example.com",
        "active",
        {"vip", "north"},
    )
    assert (a.total_revenue, a.invoice_count, a.average_invoice_amount) == (700, 2, 350)
    assert a.tier is None  # no run yet
    assert (b.email, b.status, b.tags, b.tier) == (None, None, frozenset(), None)
    assert [f.client_id for f in office.client_facts([ids["B"]])] == [ids["B"]]


# --- the tier field, segments, exports ----------------------------------------------------------


def tier_is(name: str) -> SegmentDefinition:
    return SegmentDefinition(f"tier {name}", (Criterion(RuleField.TIER, Operator.EQUALS, name),))


@pytest.fixture
def tiered(office_url: str) -> Iterator[tuple[Office, dict[str, int]]]:
    """Range 2025-03-01 .. 2026-02-28 (n = 12); Silver from 12,000, Gold from 60,000."""
    office, ids = make_office(
        office_url,
        [
            client(
                "A",
                "Ada",
                email="ada@x.org",
                status="active",
                tags={"vip", "b-list"},
                groups=["Fam"],
            ),
            client("B", "Bea", tags={"north"}, groups=["Fam", "Emp"]),
            client("C", "Cy", groups=["Emp"]),
            client("D", "Dee"),
        ],
        [
            ("A", D(2025, 3, 1), 1_200_000),  # Silver exactly
            ("B", D(2026, 2, 28), 6_000_000),  # Gold exactly
            ("C", D(2025, 7, 7), 1_199_999),  # Bronze, one cent below
            ("C", D(2024, 1, 1), 10_000_000),  # outside the range
        ],
    )
    yield office, ids
    office.close()


def test_tier_field_uses_the_current_runs_overridden_tier(
    tiered: tuple[Office, dict[str, int]],
) -> None:
    office, ids = tiered
    assert office.matching_ids(tier_is("Gold"), AS_OF) == []  # no run: tier is empty
    assert (
        office.count_matching(
            SegmentDefinition("no tier", (Criterion(RuleField.TIER, Operator.IS_EMPTY),)), AS_OF
        )
        == 4
    )
    office.run_segmentation(AS_OF)
    assert office.matching_ids(tier_is("Gold"), AS_OF) == [ids["B"]]
    assert office.matching_ids(tier_is("Silver"), AS_OF) == [ids["A"]]
    assert office.matching_ids(tier_is("Bronze"), AS_OF) == sorted([ids["C"], ids["D"]])
    office.set_override(Override(IND, ids["D"], "Gold", "partner's family"))
    office.run_segmentation(AS_OF)
    assert office.matching_ids(tier_is("Gold"), AS_OF) == sorted([ids["B"], ids["D"]])
    assert {f.client_id: f.tier for f in office.client_facts()} == {
        ids["A"]: "Silver",
        ids["B"]: "Gold",
        ids["C"]: "Bronze",
        ids["D"]: "Gold",
    }


def test_saved_segments_are_recomputed_with_each_run(tiered: tuple[Office, dict[str, int]]) -> None:
    office, ids = tiered
    segment_id = office.save_segment(tier_is("Gold"), as_of=AS_OF)[0]
    big_id = office.save_segment(
        SegmentDefinition(
            "Big or tagged",
            (
                Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "50000"),
                Criterion(RuleField.TAGS, Operator.EQUALS, "vip"),
            ),
            MatchMode.ANY,
        ),
        as_of=AS_OF,
    )[0]
    saved = {s.id: s for s in office.segments()}
    assert saved[segment_id].member_count == 0
    assert saved[segment_id].recomputed_as_of == AS_OF
    assert saved[big_id].member_count == 3  # B 60,000, C 111,999.99, A has vip
    office.run_segmentation(AS_OF)
    saved = {s.id: s for s in office.segments()}
    assert saved[segment_id].member_count == 1
    assert office.segment_member_ids(segment_id) == [ids["B"]]
    assert office.segment_member_ids(big_id) == sorted([ids["A"], ids["B"], ids["C"]])
    # the example segments: High-Value Clients = total revenue over 50,000
    examples = {s.definition.name: s for s in office.segments()}
    assert examples["High-Value Clients"].member_count == 2
    assert examples["Repeat Customers"].member_count == 0


def test_a_segment_name_is_unique(tiered: tuple[Office, dict[str, int]]) -> None:
    office, _ = tiered
    before = snapshot(office)
    with pytest.raises(StoreError, match="already exists"):
        office.save_segment(SegmentDefinition("Active Clients", ()), as_of=AS_OF)
    assert snapshot(office) == before


def test_export_rows_columns_and_values(tiered: tuple[Office, dict[str, int]]) -> None:
    office, _ = tiered
    office.run_segmentation(AS_OF)
    rows = {row.ref: row for row in office.export_rows(as_of=AS_OF)}
    assert list(rows) == ["A", "B", "C", "D"]
    assert rows["A"].values() == (
        "A",
        "Ada",
        "ada@x.org",
        "active",
        "b-list;vip",
        "Fam",
        1_200_000,
        1,
        D(2025, 3, 1),
        D(2025, 3, 1),
        1_200_000,
        1_200_000,
        "Silver",
        "B Group",  # Fam = A + B = 72,000: B Group from 30,000
        None,  # computed_tier: A is not pinned
    )
    b = rows["B"]
    assert (b.tags, b.groups, b.tier) == ("north", "Emp;Fam", "Gold")
    # Emp = B + C = 71,999.99: B Group; Fam 72,000: B Group
    assert b.group_tier == "B Group"
    c = rows["C"]
    assert (c.total_revenue, c.invoice_count, c.production, c.tier, c.group_tier) == (
        11_199_999,
        2,
        1_199_999,
        "Bronze",
        "B Group",
    )
    assert (c.average_invoice_amount, c.first_invoice_date, c.last_invoice_date) == (
        5_600_000,  # 55,999.995 -> 56,000.00
        D(2024, 1, 1),
        D(2025, 7, 7),
    )
    d = rows["D"]
    assert d.values()[4:] == ("", "", 0, 0, None, None, None, 0, "Bronze", None, None)
    assert len(EXPORT_COLUMNS) == len(d.values()) == 15


def test_group_tier_is_the_highest_effective_tier_among_the_clients_groups(
    tiered: tuple[Office, dict[str, int]],
) -> None:
    office, ids = tiered
    with office.database.read() as connection:
        group_ids = {g.name: g.id for g in data.list_groups(connection)}
    office.set_override(Override(GRP, group_ids["Emp"], "A Group", "one employer, one contract"))
    office.set_override(Override(IND, ids["A"], "Gold", "promised"))
    office.run_segmentation(AS_OF)
    rows = {row.ref: row for row in office.export_rows(as_of=AS_OF)}
    assert rows["B"].group_tier == "A Group"  # Emp (pinned A) beats Fam (B)
    assert rows["C"].group_tier == "A Group"
    assert rows["A"].group_tier == "B Group"
    assert (rows["A"].tier, rows["A"].computed_tier) == ("Gold", "Silver")
    assert rows["B"].computed_tier is None  # not overridden


def test_export_rows_of_a_segment_and_without_a_run(tiered: tuple[Office, dict[str, int]]) -> None:
    office, _ = tiered
    office.save_segment(
        SegmentDefinition("Vip", (Criterion(RuleField.TAGS, Operator.CONTAINS, "i"),)), as_of=AS_OF
    )
    rows = list(office.export_rows("Vip", AS_OF))
    assert [row.ref for row in rows] == ["A"]
    assert (rows[0].production, rows[0].tier, rows[0].group_tier) == (None, None, None)
    with pytest.raises(StoreError, match="there is no segment named 'Nope'"):
        list(office.export_rows("Nope", AS_OF))


def test_export_rows_of_a_segment_use_relative_dates_from_the_as_of_date(
    tiered: tuple[Office, dict[str, int]],
) -> None:
    office, _ = tiered
    # B's last invoice 2026-02-28 is 15 days before 2026-03-15, 89 days before 2026-05-28.
    assert [r.ref for r in office.export_rows("Active Clients", D(2026, 5, 28))] == ["B"]
    assert [r.ref for r in office.export_rows("Active Clients", D(2026, 5, 29))] == []


def test_insert_clients_with_groups_and_memberships(office: Office) -> None:
    ids = add_clients(
        office,
        [
            NewClient("00017", "Leading zeros", groups=("G1", "G2", "G1")),
            NewClient("18", "Eighteen", groups=("G2",)),
        ],
    )
    assert set(ids) == {"00017", "18"}
    with office.database.read() as connection:
        groups = {g.name: g.member_count for g in data.list_groups(connection)}
        members = data.group_members(connection)
    assert groups == {"G1": 1, "G2": 2}
    assert sorted(sorted(m) for m in members.values()) == [[ids["00017"]], sorted(ids.values())]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (RuleField.TOTAL_REVENUE, "99999999999999999999"),
        (RuleField.AVERAGE_INVOICE_AMOUNT, "-92233720368547758.09"),
    ],
)
def test_an_amount_too_large_to_store_is_refused_before_it_reaches_the_database(
    office: Office, field: RuleField, value: str
) -> None:
    definition = SegmentDefinition("Huge", (Criterion(field, Operator.GREATER_THAN, value),))
    with pytest.raises(RuleValueError):
        office.count_matching(definition, AS_OF)
    with pytest.raises(RuleValueError):
        office.save_segment(definition, as_of=AS_OF)


# Names a linguistic collation (PostgreSQL's en-US) sorts differently from SQLite's bytes.
AWKWARD_NAMES = ["b", "B", "a", "A", "Ä", "ä", "_x", "10", "9", "Zoë", "zoe", "a b", "ab"]


def test_text_is_listed_in_the_same_order_on_both_engines(office: Office) -> None:
    """Groups, segments, a client's tags, groups and segments, and the tier view's search
    come back in one order on either engine: by code point, as SQLite compares text."""
    from seg_desktop.store.clients import client_detail
    from seg_desktop.store.strategy_data import find_subjects

    expected = sorted(AWKWARD_NAMES)
    assert expected != sorted(AWKWARD_NAMES, key=str.casefold)  # the orders do differ
    ids = add_clients(
        office,
        [client(f"R{name}", tags=AWKWARD_NAMES, groups=AWKWARD_NAMES) for name in AWKWARD_NAMES],
    )
    for name in AWKWARD_NAMES:
        office.save_segment(SegmentDefinition(name, ()), as_of=AS_OF)  # everyone is a member
    with office.database.read() as connection:
        assert [g.name for g in data.list_groups(connection)] == expected
        detail = client_detail(connection, ids["Ra"])
        assert list(detail.tags) == expected
        assert [g.name for g in detail.groups] == expected
        assert list(detail.segments) == expected
        found = find_subjects(connection, IND, "", limit=100)
        assert [s.label.split(" · ")[0] for s in found] == sorted(f"R{n}" for n in AWKWARD_NAMES)
        groups = find_subjects(connection, GRP, "", limit=100)
        assert [s.label.removesuffix(" (other)") for s in groups] == expected
    listed = [s.definition.name for s in office.segments()]
    assert [name for name in listed if name in AWKWARD_NAMES] == expected
    assert listed == sorted(listed)

"""Run history on a real office: the exact movement matrix, reports equal to the engine,
segment comparison and overlap, the membership log, and the schema 1 -> 2 upgrade."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from seg_desktop.core.engine import Override, Trigger, compute_run
from seg_desktop.core.money import divide_rounded
from seg_desktop.core.movement import MatrixCell, Movement
from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.core.tiers import StrategyKind, move_boundary
from seg_desktop.demo import load_demo
from seg_desktop.store import history, runs
from seg_desktop.store.history import MembershipLogEntry, NightlyFailure, TierChange
from seg_desktop.store.office import Office
from seg_desktop.store.schema import AUTOMATION_TABLES, SCHEMA_VERSION
from tests.helpers.office import add_clients, add_revenue, client, make_office, sqlite_scalar

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28, n = 12
IND = StrategyKind.INDIVIDUAL
# Default limits over 12 months: Silver 12,000.00, Gold 60,000.00.
CLIENTS = [client("A"), client("B"), client("C"), client("D"), client("E")]
REVENUE = [
    ("A", D(2025, 3, 1), 1_200_000),  # Silver exactly
    ("B", D(2026, 2, 28), 6_000_000),  # Gold exactly
    ("C", D(2025, 6, 1), 1_199_999),  # one cent below Silver
    ("D", D(2025, 7, 1), 500_000),
    ("E", D(2025, 8, 1), 3_000_000),
]
BIG = SegmentDefinition(
    "Big", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "20000"),)
)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[tuple[Office, dict[str, int]]]:
    opened, ids = make_office(tmp_path, CLIENTS, REVENUE)
    yield opened, ids
    opened.close()


def two_runs(office: Office) -> tuple[int, int]:
    """Run 1 on the data above; then Silver's limit doubles, D earns 20,000.00 more, F is
    added, C is deleted; run 2."""
    first = office.run_segmentation(AS_OF)[0].id
    individual = office.strategies()[IND]
    office.save_strategy(move_boundary(individual, 1, 200_000))  # Silver: 24,000.00 a year
    add_clients(office, [client("F")])
    add_revenue(office, [("D", D(2025, 9, 1), 2_000_000), ("F", D(2025, 9, 1), 100)])
    with office.database.write() as connection:
        connection.execute(text("DELETE FROM client WHERE ref = 'C'"))
    second = office.run_segmentation(AS_OF)[0].id
    return first, second


def test_two_runs_give_the_exact_movement_matrix(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    first, second = two_runs(opened)
    with opened.database.read() as connection:
        compared = history.compare_runs(connection, second, first)  # either order
    assert (compared.older.id, compared.newer.id) == (first, second)
    result = compared.comparison
    assert result.tier_names == ("Bronze", "Silver", "Gold")
    bronze, silver, gold = 0, 1, 2
    assert dict(result.cells) == {
        (silver, bronze): MatrixCell(1, 1_200_000, 1_200_000),  # A: the limit moved over it
        (gold, gold): MatrixCell(1, 6_000_000, 6_000_000),  # B
        (bronze, None): MatrixCell(1, 1_199_999, 0),  # C: deleted
        (bronze, silver): MatrixCell(1, 500_000, 2_500_000),  # D: earned more
        (silver, silver): MatrixCell(1, 3_000_000, 3_000_000),  # E
        (None, bronze): MatrixCell(1, 0, 100),  # F: new
    }
    assert result.moved_up == (Movement(ids["D"], bronze, silver, 500_000, 2_500_000),)
    assert result.moved_down == (Movement(ids["A"], silver, bronze, 1_200_000, 1_200_000),)
    assert [m.subject_id for m in result.entered] == [
        compared.label(m.subject_id).subject_id for m in result.entered
    ]
    assert compared.label(result.entered[0].subject_id).ref == "F"
    assert result.left == (Movement(ids["C"], bronze, None, 1_199_999, None),)
    assert compared.label(ids["C"]).name.startswith("(deleted")
    assert result.stayed == 2


def test_changed_since_previous_run(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    with opened.database.read() as connection:
        assert history.changed_since_previous_run(connection) == {}
    two_runs(opened)
    with opened.database.read() as connection:
        changed = history.changed_since_previous_run(connection)
    assert changed == {
        ids["A"]: TierChange("Silver", "Bronze", moved_up=False),
        ids["D"]: TierChange("Bronze", "Silver", moved_up=True),
    }


def log(office: Office, client_id: int) -> list[MembershipLogEntry]:
    with office.database.read() as connection:
        return history.membership_log(connection, client_id)


def events(office: Office, client_id: int) -> list[tuple[str, bool, str]]:
    """(subject, entered, cause) of the tiers and of the segment Big, oldest first."""
    return [
        (e.subject, e.entered, e.cause)
        for e in reversed(log(office, client_id))
        if e.kind == "tier" or e.subject == "Big"
    ]


def test_membership_log_of_runs_data_definitions_and_overrides(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    big_id = opened.save_segment(BIG, as_of=AS_OF)[0]
    first = opened.run_segmentation(AS_OF)[0].id
    assert events(opened, ids["B"]) == [
        ("Big", True, "definition of 'Big' created"),
        ("individual:Gold", True, f"run {first}: first run"),
    ]
    # New revenue: D (25,000.00 all time) enters Big when the segments are recomputed.
    add_revenue(opened, [("D", D(2025, 9, 1), 2_000_000)])
    opened.recompute_segments(AS_OF, cause="revenue imported")
    assert events(opened, ids["D"])[-1] == ("Big", True, "revenue imported")
    # A moved limit: A falls to Bronze with the same production; D rises on production.
    opened.save_strategy(move_boundary(opened.strategies()[IND], 1, 200_000))
    second = opened.run_segmentation(AS_OF)[0].id
    assert events(opened, ids["A"])[-2:] == [
        ("individual:Silver", False, f"run {second}: tier limits or range changed"),
        ("individual:Bronze", True, f"run {second}: tier limits or range changed"),
    ]
    assert events(opened, ids["D"])[-2:] == [
        ("individual:Bronze", False, f"run {second}: production changed"),
        ("individual:Silver", True, f"run {second}: production changed"),
    ]
    # A definition change: Big now needs more than 29,000.00, so D (25,000.00) leaves.
    stricter = SegmentDefinition(
        "Big", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "29000"),)
    )
    opened.save_segment(stricter, big_id, as_of=AS_OF)
    assert events(opened, ids["D"])[-1] == ("Big", False, "definition of 'Big' changed")
    # A manual override, then its end.
    opened.set_override(Override(IND, ids["E"], "Gold", "key account"))
    third = opened.run_segmentation(AS_OF)[0].id
    assert events(opened, ids["E"])[-2:] == [
        ("individual:Silver", False, f"run {third}: manual override"),
        ("individual:Gold", True, f"run {third}: manual override"),
    ]
    opened.remove_override(IND, ids["E"])
    fourth = opened.run_segmentation(AS_OF)[0].id
    assert events(opened, ids["E"])[-1] == (
        "individual:Silver",
        True,
        f"run {fourth}: manual override ended",
    )
    # A run that changes nothing logs nothing; newest first, with words for the subject.
    before = len(log(opened, ids["E"]))
    opened.run_segmentation(AS_OF)
    entries = log(opened, ids["E"])
    assert len(entries) == before
    assert entries[0].label == "Tier Silver" and entries[0].entered
    assert "Segment Big" in [e.label for e in log(opened, ids["B"]) if e.kind == "segment"]


def test_a_renamed_tier_logs_the_rename_and_moves_nobody(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    opened.run_segmentation(AS_OF)
    individual = opened.strategies()[IND]
    renamed = individual.tiers[2].__class__("Platinum", individual.tiers[2].monthly_lower)
    opened.save_strategy(
        individual.__class__(IND, (*individual.tiers[:2], renamed), individual.active)
    )
    second = opened.run_segmentation(AS_OF)[0].id
    assert events(opened, ids["B"])[-1] == (
        "individual:Platinum",
        True,
        f"run {second}: tier renamed",
    )
    with opened.database.read() as connection:
        assert history.changed_since_previous_run(connection) == {}
        compared = history.compare_runs(connection, second - 1, second)
    assert compared.comparison.stayed == 5


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Office]:
    opened = Office.open(tmp_path / "demo.db")
    load_demo(opened, clients=80, months=14)
    opened.run_segmentation(AS_OF)
    yield opened
    opened.close()


def engine_result(office: Office) -> dict[int, tuple[int, int]]:
    """The engine's own (client -> (tier, production)), computed afresh from the data."""
    with office.database.read() as connection:
        inputs = runs.load_inputs(connection, AS_OF)
        result = compute_run(inputs, lambda period: list(runs.productions(connection, period)))
    individual = result.result_for(IND)
    assert individual is not None
    return {a.subject_id: (a.tier, a.production) for a in individual.assignments}


def test_a_tier_report_equals_the_engine(demo: Office) -> None:
    engine = engine_result(demo)
    with demo.database.read() as connection:
        report = history.tier_report(connection)
    counts = Counter(tier for tier, _ in engine.values())
    assert [line.clients for line in report.lines] == [counts[i] for i in range(3)]
    assert report.clients == len(engine) == 80
    assert report.revenue == sum(production for _, production in engine.values())
    assert report.office_revenue == report.revenue
    assert report.share_of_office == 10_000
    for line in report.lines:
        revenue = sum(p for tier, p in engine.values() if tier == line.position)
        assert line.revenue == revenue
        assert line.average == (divide_rounded(revenue, line.clients) if line.clients else None)
        assert line.share == history.share_bp(revenue, report.revenue)
    assert [line.clients for line in report.lines] == [
        t.count for t in report.run.tiers[IND]
    ]  # and the run's own counts
    assert sum(line.share or 0 for line in report.lines) == pytest.approx(10_000, abs=2)


def test_a_segment_report_counts_only_its_members(demo: Office) -> None:
    engine = engine_result(demo)
    segment = next(s for s in demo.segments() if s.definition.name == "Active Clients")
    members = set(demo.segment_member_ids(segment.id))
    assert 0 < len(members) < 80
    with demo.database.read() as connection:
        report = history.tier_report(connection, segment_id=segment.id)
        top = history.top_clients(connection, limit=5, segment_id=segment.id)
        office_top = history.top_clients(connection, limit=3)
    assert report.scope == "Active Clients"
    assert report.clients == len(members)
    assert report.revenue == sum(engine[c][1] for c in members)
    assert report.share_of_office == history.share_bp(
        report.revenue, sum(p for _, p in engine.values())
    )
    expected = sorted(members, key=lambda c: -engine[c][1])[:5]
    assert [line.production for line in top] == [engine[c][1] for c in expected]
    assert all(line.client_id in members for line in top)
    assert office_top[0].production == max(p for _, p in engine.values())


def test_tier_trend_over_runs(demo: Office) -> None:
    individual = demo.strategies()[IND]
    demo.save_strategy(move_boundary(individual, 1, individual.tiers[1].monthly_lower // 2))
    demo.run_segmentation(AS_OF)
    with demo.database.read() as connection:
        trend = history.tier_trend(connection, last=5)
        one = history.tier_trend(connection, last=1)
        segment = next(s for s in demo.segments() if s.definition.name == "Active Clients")
        in_segment = history.tier_trend(connection, segment_id=segment.id)
    all_runs = demo.runs()
    assert [p.run_id for p in trend.runs] == [r.id for r in reversed(all_runs)]
    assert [p.counts for p in trend.runs] == [
        tuple(t.count for t in r.tiers[IND]) for r in reversed(all_runs)
    ]
    assert trend.tier_names == ("Bronze", "Silver", "Gold")
    assert trend.series(1)[1] > trend.series(1)[0]  # a lower Silver limit: more in Silver
    assert len(one.runs) == 1
    members = set(demo.segment_member_ids(segment.id))
    assert [sum(p.counts) for p in in_segment.runs] == [len(members)] * 2


def test_segments_side_by_side_and_overlap(demo: Office) -> None:
    by_name = {s.definition.name: s for s in demo.segments()}
    active, repeat = by_name["Active Clients"], by_name["Repeat Customers"]
    engine = engine_result(demo)
    with demo.database.read() as connection:
        compared = history.compare_segments(connection, [active.id, repeat.id])
        overlap = history.segment_overlap(connection, active.id, repeat.id)
        facts = {f.client_id: f for f in demo.client_facts()}
    assert compared.office_clients == 80
    assert compared.office_revenue == sum(p for _, p in engine.values())
    for stats, segment in zip(compared.segments, (active, repeat), strict=True):
        members = set(demo.segment_member_ids(segment.id))
        assert stats.name == segment.definition.name
        assert stats.members == len(members)
        assert stats.revenue == sum(engine[c][1] for c in members)
        assert stats.total_revenue == sum(facts[c].total_revenue for c in members)
        assert stats.share == history.share_bp(stats.revenue, compared.office_revenue)
        assert stats.tier_mix == tuple(
            sum(1 for c in members if engine[c][0] == t) for t in range(3)
        )
    a = set(demo.segment_member_ids(active.id))
    b = set(demo.segment_member_ids(repeat.id))
    assert {line.client_id for line in overlap.both} == a & b
    assert {line.client_id for line in overlap.only_a} == a - b
    assert {line.client_id for line in overlap.only_b} == b - a
    refs = [line.ref for line in overlap.only_a]
    assert refs == sorted(refs)
    line = overlap.both[0]
    assert (line.tier, line.production) == (
        ["Bronze", "Silver", "Gold"][engine[line.client_id][0]],
        engine[line.client_id][1],
    )


def test_run_assignments_are_dataclasses(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    run = opened.run_segmentation(AS_OF)[0]
    with opened.database.read() as connection:
        rows = history.run_assignments(connection, run.id)
    by_id = {row.subject_id: row for row in rows}
    assert by_id[ids["B"]].tier_name == "Gold" and by_id[ids["B"]].production == 6_000_000
    assert by_id[ids["C"]].tier == 0 and not by_id[ids["C"]].overridden


def test_nightly_bookkeeping(office: tuple[Office, dict[str, int]]) -> None:
    opened, _ids = office
    with opened.database.read() as connection:
        assert history.last_scheduled_run_at(connection) is None
        assert history.nightly_failure(connection) is None
    opened.run_segmentation(AS_OF, Trigger.MANUAL)
    with opened.database.read() as connection:
        assert history.last_scheduled_run_at(connection) is None  # a manual run does not count
    nightly = opened.run_segmentation(AS_OF, Trigger.NIGHTLY)[0]
    failure = NightlyFailure(dt.datetime(2026, 3, 15, 2, 0, 3), "the disk is full")
    with opened.database.write() as connection:
        history.record_nightly_failure(connection, failure)
        history.record_nightly_failure(connection, failure)  # replaces, never two
    with opened.database.read() as connection:
        assert history.last_scheduled_run_at(connection) == nightly.created_at
        assert history.nightly_failure(connection) == failure
    opened.save_settings(opened.settings())  # saving the settings keeps the failure
    with opened.database.write() as connection:
        assert history.nightly_failure(connection) == failure
        history.clear_nightly_failure(connection)
    with opened.database.read() as connection:
        assert history.nightly_failure(connection) is None


def test_share_rounding() -> None:
    assert history.share_bp(1, 3) == 3333
    assert history.share_bp(2, 3) == 6667
    assert history.share_bp(5, 0) is None
    assert history.format_share(1234) == "12.34 %"
    assert history.format_share(None) == "–"


def test_a_version_1_file_opens_migrates_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old, ids = make_office(tmp_path, CLIENTS, REVENUE, name="old.db")
    run = old.run_segmentation(AS_OF)[0]
    old.close()
    # What a version-1 file looked like: no membership log (nor the automation tables of
    # schema 3), stamped 1.
    connection = sqlite3.connect(path)
    for name in reversed(AUTOMATION_TABLES):
        connection.execute(f"DROP TABLE {name}")
    connection.execute("DROP TABLE membership_event")
    connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.commit()
    tables_before = {
        name: connection.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'meta'"
        )
    }
    connection.close()

    upgraded = Office.open(path)
    try:
        assert sqlite_scalar(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(
            SCHEMA_VERSION
        )
        assert sqlite_scalar(path, "SELECT count(*) FROM membership_event") == 0
        check = sqlite3.connect(path)
        for name, rows in tables_before.items():
            assert check.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall() == rows, name
        check.close()
        assert upgraded.current_run() == run
        # The log works from the first run after the upgrade.
        upgraded.save_strategy(move_boundary(upgraded.strategies()[IND], 1, 200_000))
        second = upgraded.run_segmentation(AS_OF)[0].id
        assert events(upgraded, ids["A"])[-1] == (
            "individual:Bronze",
            True,
            f"run {second}: tier limits or range changed",
        )
    finally:
        upgraded.close()

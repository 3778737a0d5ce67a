"""Runs on an office database: exact productions at the range edges, atomic saves, history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from seg_desktop.core.engine import Override, RunCancelled, Trigger
from seg_desktop.core.periods import EffectiveRange, InsufficientData
from seg_desktop.core.tiers import StrategyError, StrategyKind
from seg_desktop.store import data
from seg_desktop.store.office import Office
from seg_desktop.store.records import TierCount
from tests.helpers.office import (
    add_clients,
    add_revenue,
    client,
    make_office,
    snapshot,
    strategy,
    table_rows,
)

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28
IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP
# Default limits over 12 months: Silver 12,000.00, Gold 60,000.00; B Group 30,000, A Group 120,000.

CLIENTS = [
    client("A", groups=["Fam"]),
    client("B", groups=["Fam", "Emp"]),
    client("C", groups=["Emp"]),
    client("D", groups=["Emp"]),
    client("E", groups=["Solo"]),
    client("F"),
]
REVENUE = [
    ("A", D(2025, 2, 28), 5_000_000),  # the last day of the month before the range: out
    ("A", D(2025, 3, 1), 1_200_000),  # the first day of the range: Silver exactly
    ("B", D(2026, 2, 28), 6_000_000),  # the last day of the range: Gold exactly
    ("B", D(2026, 3, 1), 100),  # the first day after the range: out
    ("C", D(2025, 3, 1), 1_199_999),  # one cent below Silver
    ("D", D(2025, 6, 15), 6_000_001),
    ("D", D(2025, 7, 1), -2),  # a refund: 59,999.99, Silver
    ("F", D(2025, 9, 9), -50_000),  # refunds only: negative production, Bronze
]


@pytest.fixture
def office(office_url: str) -> Iterator[tuple[Office, dict[str, int]]]:
    opened, ids = make_office(office_url, CLIENTS, REVENUE)
    yield opened, ids
    opened.close()


def assignments(
    office: Office, run_id: int
) -> dict[tuple[str, int], tuple[int, int, int, str, bool]]:
    """(kind, subject) -> (production, computed, tier, tier name, overridden) in a run."""
    return {
        (kind, subject): (production, computed, tier, name, bool(overridden))
        for run, kind, subject, production, computed, tier, name, overridden in table_rows(
            office, "run_assignment"
        )
        if run == run_id
    }


def group_ids(office: Office) -> dict[str, int]:
    with office.database.read() as connection:
        return {g.name: g.id for g in data.list_groups(connection)}


def test_a_run_gives_exact_productions_tiers_and_counts(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, ids = office
    summary = office_.run_segmentation(AS_OF, Trigger.COMMAND_LINE)[0]
    assert summary.range == EffectiveRange(D(2025, 3, 1), D(2026, 2, 28), 12, False)
    assert (summary.as_of, summary.trigger) == (AS_OF, Trigger.COMMAND_LINE)
    assert summary.tiers[IND] == [
        TierCount("Bronze", 0, 3),  # C, E, F
        TierCount("Silver", 100_000, 2),  # A, D
        TierCount("Gold", 500_000, 1),  # B
    ]
    # Fam = A + B = 72,000 (B Group); Emp = B + C + D = 131,999.98 (A Group); Solo = E = 0
    assert summary.tiers[GRP] == [
        TierCount("C Group", 0, 1),
        TierCount("B Group", 250_000, 1),
        TierCount("A Group", 1_000_000, 1),
    ]
    saved = assignments(office_, summary.id)
    assert {ref: saved[("individual", ids[ref])][:4] for ref in "ABCDEF"} == {
        "A": (1_200_000, 1, 1, "Silver"),
        "B": (6_000_000, 2, 2, "Gold"),
        "C": (1_199_999, 0, 0, "Bronze"),
        "D": (5_999_999, 1, 1, "Silver"),
        "E": (0, 0, 0, "Bronze"),
        "F": (-50_000, 0, 0, "Bronze"),
    }
    groups = group_ids(office_)
    assert {name: saved[("group", gid)][:4] for name, gid in groups.items()} == {
        "Fam": (7_200_000, 1, 1, "B Group"),
        "Emp": (13_199_998, 2, 2, "A Group"),
        "Solo": (0, 0, 0, "C Group"),
    }
    assert len(saved) == 9


def test_run_json_has_the_range_and_effective_limits(office: tuple[Office, dict[str, int]]) -> None:
    office_, _ = office
    summary = office_.run_segmentation(AS_OF)[0]
    printed = summary.to_json()
    assert (printed["range_start"], printed["range_end"], printed["n"]) == (
        "2025-03-01",
        "2026-02-28",
        12,
    )
    assert printed["strategies"]["individual"]["tiers"][1] == {  # type: ignore[index]
        "name": "Silver",
        "monthly_lower": "1000",
        "effective_lower": "12000",
        "count": 2,
    }


def test_a_clipped_range_scales_the_limits(office_url: str) -> None:
    # Earliest record 2026-01-20: n = 2, Silver from 2,000.00.
    office, ids = make_office(
        office_url,
        [client("A"), client("B")],
        [("A", D(2026, 1, 20), 200_000), ("B", D(2026, 2, 1), 199_999)],
    )
    try:
        summary = office.run_segmentation(AS_OF)[0]
        assert summary.range == EffectiveRange(D(2026, 1, 1), D(2026, 2, 28), 2, True)
        assert [t.count for t in summary.tiers[IND]] == [1, 1, 0]
        assert {f.client_id: f.tier for f in office.client_facts()} == {
            ids["A"]: "Silver",
            ids["B"]: "Bronze",
        }
    finally:
        office.close()


def test_buffer_zero_counts_the_current_month(office_url: str) -> None:
    office, _ = make_office(
        office_url,
        [client("A")],
        [("A", D(2026, 3, 31), 6_000_000)],
        max_months=12,
        buffer_months=0,
    )
    try:
        summary = office.run_segmentation(AS_OF)[0]
        assert summary.range == EffectiveRange(D(2026, 3, 1), D(2026, 3, 31), 1, True)
        assert [t.count for t in summary.tiers[IND]] == [0, 0, 1]  # 60,000 >= 5,000 x 1
    finally:
        office.close()


def test_runs_are_kept_and_the_latest_is_current(office: tuple[Office, dict[str, int]]) -> None:
    office_, ids = office
    first = office_.run_segmentation(AS_OF)[0]
    add_revenue(office_, [("C", D(2025, 12, 1), 1)])  # C reaches Silver exactly
    second = office_.run_segmentation(AS_OF)[0]
    assert second.id > first.id
    assert [r.id for r in office_.runs()] == [second.id, first.id]
    current = office_.current_run()
    assert current is not None
    assert current.id == second.id
    assert [t.count for t in second.tiers[IND]] == [2, 3, 1]
    assert [t.count for t in office_.runs()[1].tiers[IND]] == [
        3,
        2,
        1,
    ]  # the old run is kept as it was
    assert assignments(office_, first.id)[("individual", ids["C"])][2] == 0
    assert assignments(office_, second.id)[("individual", ids["C"])][:3] == (1_200_000, 1, 1)


def test_a_run_snapshots_the_strategy_as_it_was(office: tuple[Office, dict[str, int]]) -> None:
    office_, _ = office
    first = office_.run_segmentation(AS_OF)[0]
    office_.save_strategy(strategy(IND, ("Low", 0), ("High", 50_000)))
    second = office_.run_segmentation(AS_OF)[0]
    assert [t.name for t in first.tiers[IND]] == ["Bronze", "Silver", "Gold"]
    old = office_.runs()[1]
    assert [(t.name, t.monthly_lower) for t in old.tiers[IND]] == [
        ("Bronze", 0),
        ("Silver", 100_000),
        ("Gold", 500_000),
    ]
    assert second.tiers[IND] == [
        TierCount("Low", 0, 2),
        TierCount("High", 50_000, 4),
    ]  # 6,000 over 12


def test_an_inactive_strategy_is_not_in_the_run(office: tuple[Office, dict[str, int]]) -> None:
    office_, _ = office
    office_.save_strategy(strategy(GRP, ("C Group", 0), ("B Group", 250_000), active=False))
    summary = office_.run_segmentation(AS_OF)[0]
    assert set(summary.tiers) == {IND}
    assert summary.strategy(GRP) is None
    assert {kind for kind, _ in assignments(office_, summary.id)} == {"individual"}


def test_an_override_counts_and_keeps_the_computed_tier(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, ids = office
    office_.set_override(Override(IND, ids["E"], "Gold", "partner's family"))
    office_.set_override(
        Override(IND, ids["B"], "Bronze", "expired pin", until=AS_OF - dt.timedelta(days=1))
    )
    summary = office_.run_segmentation(AS_OF)[0]
    assert [t.count for t in summary.tiers[IND]] == [2, 2, 2]
    saved = assignments(office_, summary.id)
    assert saved[("individual", ids["E"])] == (0, 0, 2, "Gold", True)
    assert saved[("individual", ids["B"])] == (6_000_000, 2, 2, "Gold", False)


def test_insufficient_data_saves_nothing_and_keeps_the_previous_run(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, _ = office
    previous = office_.run_segmentation(AS_OF)[0]
    before = snapshot(office_)
    # As of 2025-02-10 the range ends 2025-01-31, before the earliest record (2025-02-28).
    with pytest.raises(InsufficientData, match="after the end of the range"):
        office_.run_segmentation(D(2025, 2, 10))
    assert snapshot(office_) == before
    current = office_.current_run()
    assert current is not None
    assert current.id == previous.id


def test_an_office_without_revenue_is_insufficient_data(office_url: str) -> None:
    office, _ = make_office(office_url, [client("A")])
    try:
        with pytest.raises(InsufficientData, match="no revenue records"):
            office.run_segmentation(AS_OF)
        assert office.runs() == []
        assert office.current_run() is None
    finally:
        office.close()


def test_an_invalid_saved_strategy_stops_the_run_and_saves_nothing(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, _ = office
    office_.run_segmentation(AS_OF)
    with office_.database.write() as connection:  # as if another program had written a bad row
        connection.exec_driver_sql(
            "UPDATE tier SET monthly_lower_cents = 0 WHERE strategy_kind = 'individual'"
        )
    before = snapshot(office_)
    with pytest.raises(StrategyError):
        office_.run_segmentation(AS_OF)
    assert snapshot(office_) == before


class Interrupt(Exception):
    """Raised from a callback in the middle of saving a run."""


def test_cancel_while_saving_keeps_the_previous_run_whole(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, _ = office
    previous = office_.run_segmentation(AS_OF)[0]
    add_revenue(office_, [("E", D(2025, 4, 4), 10_000_000)])
    before = snapshot(office_)
    saving = {"started": False, "checks": 0}

    def progress(_fraction: float, message: str) -> None:
        if message == "Saving the run":
            saving["started"] = True

    def cancelled() -> bool:
        if saving["started"]:
            saving["checks"] += 1
            # The second check comes after the run row and the first strategy's assignments.
            return saving["checks"] >= 2
        return False

    with pytest.raises(RunCancelled):
        office_.run_segmentation(AS_OF, progress=progress, cancelled=cancelled)
    assert saving["checks"] == 2
    assert snapshot(office_) == before
    current = office_.current_run()
    assert current is not None
    assert current.id == previous.id
    assert [t.count for t in current.tiers[IND]] == [3, 2, 1]


def test_an_error_from_a_callback_while_saving_keeps_the_previous_run_whole(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, _ = office
    previous = office_.run_segmentation(AS_OF)[0]
    before = snapshot(office_)
    saving = {"started": False, "checks": 0}

    def progress(_fraction: float, message: str) -> None:
        if message == "Saving the run":
            saving["started"] = True

    def cancelled() -> bool:
        if saving["started"]:
            saving["checks"] += 1
            if saving["checks"] == 2:
                raise Interrupt("the window closed")
        return False

    with pytest.raises(Interrupt):
        office_.run_segmentation(AS_OF, progress=progress, cancelled=cancelled)
    assert snapshot(office_) == before
    current = office_.current_run()
    assert current is not None
    assert current.id == previous.id


@pytest.mark.parametrize("message", ["Saving the run", "Summing production", "Tiers assigned"])
def test_an_error_from_the_progress_callback_saves_nothing(
    office: tuple[Office, dict[str, int]], message: str
) -> None:
    office_, _ = office
    previous = office_.run_segmentation(AS_OF)[0]
    before = snapshot(office_)

    def progress(_fraction: float, reported: str) -> None:
        if reported == message:
            raise Interrupt(reported)

    with pytest.raises(Interrupt):
        office_.run_segmentation(AS_OF, progress=progress)
    assert snapshot(office_) == before
    current = office_.current_run()
    assert current is not None
    assert current.id == previous.id


def test_cancel_before_saving_saves_nothing(office: tuple[Office, dict[str, int]]) -> None:
    office_, _ = office
    with pytest.raises(RunCancelled):
        office_.run_segmentation(AS_OF, cancelled=lambda: True)
    assert office_.runs() == []
    assert table_rows(office_, "run_assignment") == []


def test_a_new_client_without_revenue_is_in_the_lowest_tier(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, _ = office
    ids = add_clients(office_, [client("NEW")])
    summary = office_.run_segmentation(AS_OF)[0]
    assert assignments(office_, summary.id)[("individual", ids["NEW"])] == (
        0,
        0,
        0,
        "Bronze",
        False,
    )
    assert sum(t.count for t in summary.tiers[IND]) == 7


def test_an_override_follows_its_tier_when_the_tier_is_renamed(
    office: tuple[Office, dict[str, int]],
) -> None:
    office_, ids = office
    office_.set_override(Override(IND, ids["E"], "Gold", "partner's family"))
    office_.save_strategy(strategy(IND, ("Bronze", 0), ("Silver", 100_000), ("Platinum", 500_000)))
    assert [o.tier_name for o in office_.overrides()] == ["Platinum"]
    summary = office_.run_segmentation(AS_OF)[0]
    assert assignments(office_, summary.id)[("individual", ids["E"])] == (
        0,
        0,
        2,
        "Platinum",
        True,
    )

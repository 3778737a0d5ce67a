"""The tier view's data: productions over the current settings' range, pins, who is who."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from seg_desktop.core.distribution import TierDistribution
from seg_desktop.core.engine import Override
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.store.definitions import OfficeSettings
from seg_desktop.store.office import Office
from seg_desktop.store.strategy_data import (
    StrategyProductions,
    find_subjects,
    load_for_settings,
    read_strategy_productions,
    search_subjects,
    subject_labels,
)
from tests.helpers.office import client, make_office

D = dt.date
AS_OF = D(2026, 3, 15)  # M = 12, B = 1: 2025-03-01 .. 2026-02-28
IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP

CLIENTS = [
    client("A", "Ada Ames", groups=["Fam"]),
    client("B", "Bea Baker", groups=["Fam", "Emp"]),
    client("C", "100% Cruz", groups=["Emp"]),
    client("D", "Dana_Dahl", groups=["Emp"]),
    client("E", "Emil Eng", groups=["Solo"]),
    client("F", "Finn Fox"),
]
REVENUE = [
    ("A", D(2025, 2, 28), 5_000_000),  # before the range: out
    ("A", D(2025, 3, 1), 1_200_000),  # first day of the range: Silver exactly
    ("B", D(2026, 2, 28), 6_000_000),  # last day: Gold exactly
    ("B", D(2026, 3, 1), 100),  # after the range: out
    ("C", D(2025, 3, 1), 1_199_999),  # one cent below Silver
    ("D", D(2025, 6, 15), 6_000_001),
    ("D", D(2025, 7, 1), -2),
    ("F", D(2025, 9, 9), -50_000),  # negative production
]


@pytest.fixture
def office(office_url: str) -> Iterator[tuple[Office, dict[str, int]]]:
    opened, ids = make_office(office_url, CLIENTS, REVENUE)
    yield opened, ids
    opened.close()


def test_every_client_with_its_production_over_the_range(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, ids = office
    loaded = read_strategy_productions(opened.database, IND, AS_OF)
    assert loaded.period is not None
    assert (loaded.period.start, loaded.period.end, loaded.period.months) == (
        D(2025, 3, 1),
        D(2026, 2, 28),
        12,
    )
    assert loaded.insufficient is None
    assert dict(loaded.productions) == {
        ids["A"]: 1_200_000,
        ids["B"]: 6_000_000,
        ids["C"]: 1_199_999,
        ids["D"]: 5_999_999,
        ids["E"]: 0,  # no revenue at all: 0, still a client to tier
        ids["F"]: -50_000,
    }
    assert loaded.settings == SegmentationSettings(12, 1)
    assert loaded.earliest_record == D(2025, 2, 28)


def test_group_production_is_the_sum_of_its_members(
    office: tuple[Office, dict[str, int]],
) -> None:
    opened, _ids = office
    loaded = read_strategy_productions(opened.database, GRP, AS_OF)
    labels = subject_labels_by_name(opened)
    by_name = {labels[group_id]: amount for group_id, amount in loaded.productions.items()}
    assert by_name == {
        "Fam (other)": 1_200_000 + 6_000_000,
        "Emp (other)": 6_000_000 + 1_199_999 + 5_999_999,
        "Solo (other)": 0,
    }


def subject_labels_by_name(opened: Office) -> dict[int, str]:
    with opened.database.read() as connection:
        return {s.id: s.label for s in find_subjects(connection, GRP, "", limit=100)}


def test_the_range_follows_the_current_settings(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    opened.save_settings(OfficeSettings(segmentation=SegmentationSettings(3, 0)))
    loaded = read_strategy_productions(opened.database, IND, AS_OF)
    assert loaded.period is not None
    assert (loaded.period.start, loaded.period.end, loaded.period.months) == (
        D(2026, 1, 1),
        D(2026, 3, 31),
        3,
    )
    assert loaded.productions[ids["B"]] == 6_000_100
    assert loaded.productions[ids["A"]] == 0


def test_clipped_range_starts_at_the_earliest_record(office_url: str) -> None:
    opened, _ids = make_office(office_url, [client("A")], [("A", D(2025, 11, 20), 500)])
    try:
        loaded = read_strategy_productions(opened.database, IND, AS_OF)
        assert loaded.period is not None
        assert loaded.period.clipped
        assert (loaded.period.start, loaded.period.months) == (D(2025, 11, 1), 4)
    finally:
        opened.close()


def test_not_enough_data_is_said_not_raised(office_url: str) -> None:
    opened, ids = make_office(office_url, [client("A")], [("A", D(2026, 3, 2), 500)])
    try:
        opened.set_override(Override(IND, ids["A"], "Gold", "key account"))
        loaded = read_strategy_productions(opened.database, IND, AS_OF)
        assert loaded.period is None
        assert (
            loaded.insufficient is not None and "after the end of the range" in loaded.insufficient
        )
        assert dict(loaded.productions) == {}
        assert [o.subject_id for o in loaded.overrides] == [ids["A"]]
    finally:
        opened.close()


def test_no_revenue_at_all(office_url: str) -> None:
    opened, _ids = make_office(office_url, [client("A")])
    try:
        loaded = read_strategy_productions(opened.database, IND, AS_OF)
        assert loaded.period is None
        assert loaded.insufficient is not None and "no revenue records" in loaded.insufficient
    finally:
        opened.close()


def test_overrides_of_the_strategy_with_labels(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    opened.set_override(Override(IND, ids["C"], "Gold", "key account", D(2026, 3, 14)))
    opened.set_override(Override(IND, ids["E"], "Silver", "new contract"))
    with opened.database.read() as connection:
        fam = next(s.id for s in find_subjects(connection, GRP, "fam"))
    opened.set_override(Override(GRP, fam, "A Group", "family office"))
    loaded = read_strategy_productions(opened.database, IND, AS_OF)
    assert {o.subject_id for o in loaded.overrides} == {ids["C"], ids["E"]}
    assert loaded.labels == {ids["C"]: "C · 100% Cruz", ids["E"]: "E · Emil Eng"}
    # The pin of C ended the day before the as-of date: only E's stands.
    assert loaded.pins_on(AS_OF) == {ids["E"]: "Silver"}
    assert loaded.pins_on(D(2026, 3, 14)) == {ids["C"]: "Gold", ids["E"]: "Silver"}
    groups = read_strategy_productions(opened.database, GRP, AS_OF)
    assert [o.subject_id for o in groups.overrides] == [fam]
    assert groups.labels == {fam: "Fam (other)"}


def test_chart_counts_equal_the_run_counts(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    opened.set_override(Override(IND, ids["F"], "Gold", "key account"))
    opened.set_override(Override(IND, ids["B"], "Bronze", "disputed invoices"))
    summary = opened.run_segmentation(AS_OF)[0]
    for kind in (IND, GRP):
        loaded = load_for(opened, kind)
        strategy = opened.strategies()[kind]
        assert loaded.period is not None
        distribution = TierDistribution(loaded.productions, loaded.pins_on(AS_OF))
        totals = distribution.totals(
            strategy.effective_lowers(loaded.period.months), strategy.names
        )
        assert [t.count for t in totals] == [t.count for t in summary.tiers[kind]]


def load_for(opened: Office, kind: StrategyKind) -> StrategyProductions:
    with opened.database.read() as connection:
        return load_for_settings(connection, kind, AS_OF)


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("a", ["A", "B", "D"]),  # ref or name, any case
        ("AMES", ["A"]),
        ("100%", ["C"]),  # % is literal
        ("_", ["D"]),  # _ is literal
        ("zzz", []),
    ],
)
def test_find_clients_by_ref_or_name(
    office: tuple[Office, dict[str, int]], text: str, refs: list[str]
) -> None:
    opened, ids = office
    found = search_subjects(opened.database, IND, text)
    by_id = {v: k for k, v in ids.items()}
    assert [by_id[s.id] for s in found] == refs


def test_find_groups_by_name(office: tuple[Office, dict[str, int]]) -> None:
    opened, _ids = office
    assert [s.label for s in search_subjects(opened.database, GRP, "m")] == [
        "Emp (other)",
        "Fam (other)",
    ]


def test_labels_leave_out_deleted_subjects(office: tuple[Office, dict[str, int]]) -> None:
    opened, ids = office
    with opened.database.read() as connection:
        assert subject_labels(connection, IND, [ids["A"], 999_999]) == {ids["A"]: "A · Ada Ames"}

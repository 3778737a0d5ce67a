"""The segmentation engine: productions, group sums, overrides, active strategies, cancel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import pytest

from seg_desktop.core.engine import (
    Assignment,
    Override,
    RunCancelled,
    RunInputs,
    compute_run,
)
from seg_desktop.core.periods import EffectiveRange, InsufficientData, SegmentationSettings
from seg_desktop.core.tiers import Strategy, StrategyError, StrategyKind
from tests.helpers.office import strategy

AS_OF = dt.date(2026, 3, 15)  # range with M=12, B=1: 2025-03-01 .. 2026-02-28
IND, GRP = StrategyKind.INDIVIDUAL, StrategyKind.GROUP

# Monthly limits: Silver 1,000, Gold 5,000 -> effective 12,000 / 60,000 over 12 months.
INDIVIDUAL = strategy(IND, ("Bronze", 0), ("Silver", 100_000), ("Gold", 500_000))
GROUP = strategy(GRP, ("C", 0), ("B", 250_000), ("A", 1_000_000))  # 30,000 / 120,000


Loader = Callable[[EffectiveRange], Iterable[tuple[int, int]]]


def records_loader(
    records: Iterable[tuple[int, dt.date, int]], seen: list[EffectiveRange] | None = None
) -> Loader:
    """A load_productions that sums the records dated inside the range (as the store does)."""
    rows = list(records)

    def load(period: EffectiveRange) -> Iterable[tuple[int, int]]:
        if seen is not None:
            seen.append(period)
        totals: dict[int, int] = {}
        for client_id, day, amount in rows:
            if period.contains(day):
                totals[client_id] = totals.get(client_id, 0) + amount
        return totals.items()

    return load


def inputs(
    client_ids: Iterable[int] = (1, 2, 3),
    groups: dict[int, list[int]] | None = None,
    overrides: Iterable[Override] = (),
    strategies: tuple[Strategy, ...] = (INDIVIDUAL, GROUP),
    earliest: dt.date | None = dt.date(2020, 1, 1),
    as_of: dt.date = AS_OF,
) -> RunInputs:
    return RunInputs(
        as_of=as_of,
        settings=SegmentationSettings(12, 1),
        strategies=list(strategies),
        earliest_record=earliest,
        client_ids=list(client_ids),
        group_members=groups or {},
        overrides=list(overrides),
    )


def by_subject(assignments: Iterable[Assignment]) -> dict[int, Assignment]:
    return {a.subject_id: a for a in assignments}


def test_production_sums_only_the_records_inside_the_range() -> None:
    seen: list[EffectiveRange] = []
    records = [
        (1, dt.date(2025, 2, 28), 999_999),  # the day before the range
        (1, dt.date(2025, 3, 1), 1_000),  # first day
        (1, dt.date(2026, 2, 28), 2_000),  # last day
        (1, dt.date(2026, 3, 1), 999_999),  # the day after
        (2, dt.date(2026, 3, 14), 5_000_000),  # after the range only
        (3, dt.date(2025, 6, 1), -700),  # a refund
    ]
    result = compute_run(inputs(), records_loader(records, seen))
    assert seen == [EffectiveRange(dt.date(2025, 3, 1), dt.date(2026, 2, 28), 12, False)]
    assert result.range == seen[0]
    assert result.as_of == AS_OF
    individual = result.result_for(IND)
    assert individual is not None
    assert {a.subject_id: a.production for a in individual.assignments} == {1: 3_000, 2: 0, 3: -700}
    assert all(a.tier == 0 for a in individual.assignments)


def test_clients_without_revenue_get_production_zero_and_the_lowest_tier() -> None:
    result = compute_run(inputs(client_ids=[7, 8]), records_loader([]))
    individual = result.result_for(IND)
    assert individual is not None
    assert individual.assignments == (Assignment(7, 0, 0, 0), Assignment(8, 0, 0, 0))
    assert individual.counts() == [2, 0, 0]


def test_tiers_at_the_effective_boundaries() -> None:
    day = dt.date(2025, 10, 10)
    records = [
        (1, day, 1_199_999),  # one cent below 12,000
        (2, day, 1_200_000),  # exactly 12,000 -> Silver
        (3, day, 6_000_000),  # exactly 60,000 -> Gold
        (4, day, 5_999_999),
        (5, day, 1_200_001),
    ]
    result = compute_run(inputs(client_ids=[1, 2, 3, 4, 5]), records_loader(records))
    individual = result.result_for(IND)
    assert individual is not None
    assert {a.subject_id: a.tier for a in individual.assignments} == {1: 0, 2: 1, 3: 2, 4: 1, 5: 1}
    assert individual.counts() == [1, 3, 1]


def test_clipped_range_scales_the_limits_by_the_available_months() -> None:
    # Earliest record in 2026-01: n = 2 (Jan, Feb); Silver starts at 2,000.
    records = [(1, dt.date(2026, 1, 5), 200_000), (2, dt.date(2026, 2, 5), 199_999)]
    result = compute_run(
        inputs(client_ids=[1, 2], earliest=dt.date(2026, 1, 5)), records_loader(records)
    )
    assert result.range.months == 2
    assert result.range.clipped
    individual = result.result_for(IND)
    assert individual is not None
    assert {a.subject_id: a.tier for a in individual.assignments} == {1: 1, 2: 0}


def test_group_production_is_the_sum_of_its_members_and_a_client_counts_in_each_group() -> None:
    day = dt.date(2025, 5, 5)
    records = [
        (1, day, 1_000_000),
        (2, day, 2_000_000),
        (3, day, 5_000),
        (3, dt.date(2024, 1, 1), 10**9),
    ]
    groups = {10: [1, 2], 11: [2, 3], 12: []}
    result = compute_run(inputs(groups=groups), records_loader(records))
    group = result.result_for(GRP)
    assert group is not None
    assigned = by_subject(group.assignments)
    assert assigned[10].production == 3_000_000  # 30,000 = B exactly
    assert assigned[10].tier == 1
    assert assigned[11].production == 2_005_000  # client 2 counts here too
    assert assigned[11].tier == 0
    assert assigned[12].production == 0
    assert assigned[12].tier == 0
    assert group.counts() == [2, 1, 0]


def test_override_pins_the_tier_and_keeps_the_computed_one() -> None:
    records = [(1, dt.date(2025, 5, 5), 100), (2, dt.date(2025, 5, 5), 7_000_000)]
    pins = [
        Override(IND, 1, "Gold", "family of a partner"),
        Override(IND, 2, "Bronze", "disputed", until=AS_OF),  # the end date itself still counts
    ]
    result = compute_run(inputs(client_ids=[1, 2, 3], overrides=pins), records_loader(records))
    individual = result.result_for(IND)
    assert individual is not None
    assigned = by_subject(individual.assignments)
    assert assigned[1] == Assignment(1, 100, computed_tier=0, tier=2, overridden=True)
    assert assigned[2] == Assignment(2, 7_000_000, computed_tier=2, tier=0, overridden=True)
    assert assigned[3] == Assignment(3, 0, 0, 0, False)
    assert individual.counts() == [2, 0, 1]  # counts use the pinned tiers


def test_expired_override_is_ignored() -> None:
    pins = [Override(IND, 1, "Gold", "promo", until=AS_OF - dt.timedelta(days=1))]
    result = compute_run(inputs(client_ids=[1], overrides=pins), records_loader([]))
    individual = result.result_for(IND)
    assert individual is not None
    assert individual.assignments == (Assignment(1, 0, 0, 0, False),)


def test_override_applies_on_its_end_date_and_not_after() -> None:
    pin = Override(IND, 1, "Gold", "promo", until=dt.date(2026, 3, 15))
    assert pin.applies_on(dt.date(2026, 3, 15))
    assert pin.applies_on(dt.date(2020, 1, 1))
    assert not pin.applies_on(dt.date(2026, 3, 16))
    assert Override(IND, 1, "Gold", "for good").applies_on(dt.date(2999, 1, 1))


def test_override_of_a_group_does_not_touch_the_client_with_the_same_id() -> None:
    pins = [Override(GRP, 1, "A", "big employer"), Override(IND, 5, "NoSuchTier", "stale")]
    result = compute_run(
        inputs(client_ids=[1, 5], groups={1: [1]}, overrides=pins), records_loader([])
    )
    individual, group = result.result_for(IND), result.result_for(GRP)
    assert individual is not None
    assert group is not None
    assert individual.assignments == (Assignment(1, 0, 0, 0), Assignment(5, 0, 0, 0))
    assert group.assignments == (Assignment(1, 0, 0, 2, True),)


def test_inactive_strategy_is_not_computed() -> None:
    inactive_group = strategy(GRP, ("C", 0), ("B", 250_000), active=False)
    result = compute_run(
        inputs(groups={10: [1]}, strategies=(INDIVIDUAL, inactive_group)), records_loader([])
    )
    assert result.result_for(GRP) is None
    assert [r.strategy.kind for r in result.results] == [IND]


def test_inactive_strategy_with_no_tiers_is_allowed() -> None:
    empty_group = strategy(GRP, active=False)
    result = compute_run(inputs(strategies=(INDIVIDUAL, empty_group)), records_loader([]))
    assert result.result_for(GRP) is None


def test_invalid_strategy_is_refused_before_anything_is_computed() -> None:
    bad = strategy(IND, ("Bronze", 0), ("Silver", 0))
    loaded: list[EffectiveRange] = []
    with pytest.raises(StrategyError, match="must increase"):
        compute_run(inputs(strategies=(bad, GROUP)), records_loader([], loaded))
    assert loaded == []


@pytest.mark.parametrize("earliest", [None, dt.date(2026, 3, 1)])
def test_insufficient_data_is_raised(earliest: dt.date | None) -> None:
    with pytest.raises(InsufficientData):
        compute_run(inputs(earliest=earliest), records_loader([]))


@pytest.mark.parametrize("cancel_at_check", [1, 2, 3, 4])
def test_cancel_at_any_check_raises_run_cancelled(cancel_at_check: int) -> None:
    checks = 0

    def cancelled() -> bool:
        nonlocal checks
        checks += 1
        return checks >= cancel_at_check

    with pytest.raises(RunCancelled):
        compute_run(inputs(groups={10: [1]}), records_loader([]), cancelled=cancelled)
    assert checks == cancel_at_check


def test_progress_goes_forward_from_zero() -> None:
    reported: list[tuple[float, str]] = []
    compute_run(
        inputs(groups={10: [1]}), records_loader([]), progress=lambda f, m: reported.append((f, m))
    )
    fractions = [f for f, _ in reported]
    assert fractions[0] == 0.0
    assert fractions == sorted(fractions)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(message for _, message in reported)

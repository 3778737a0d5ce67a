"""Tier strategies: validation, assignment at every boundary, editing boundaries."""

from __future__ import annotations

import bisect
import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from seg_desktop.core.tiers import (
    Strategy,
    StrategyError,
    StrategyKind,
    Tier,
    assign_tier,
    boundary_bounds,
    clamp_boundary,
    default_strategy,
    move_boundary,
    snap_amount,
    validate_tiers,
)

INDIVIDUAL = default_strategy(StrategyKind.INDIVIDUAL)  # 0 / 1,000 / 5,000 a month


def test_default_strategies() -> None:
    assert INDIVIDUAL.tiers == (Tier("Bronze", 0), Tier("Silver", 100_000), Tier("Gold", 500_000))
    assert INDIVIDUAL.active
    group = default_strategy(StrategyKind.GROUP)
    assert group.names == ["C Group", "B Group", "A Group"]
    assert [t.monthly_lower for t in group.tiers] == [0, 250_000, 1_000_000]


@pytest.mark.parametrize("months", [1, 7, 12, 120])
def test_effective_lowers_are_monthly_limits_times_months(months: int) -> None:
    assert INDIVIDUAL.effective_lowers(months) == [0, 100_000 * months, 500_000 * months]


@pytest.mark.parametrize("months", [1, 7, 12, 120])
@pytest.mark.parametrize(("boundary", "tier_at"), [(1, 1), (2, 2)])
def test_tier_one_cent_below_at_and_above_every_effective_boundary(
    months: int, boundary: int, tier_at: int
) -> None:
    limit = INDIVIDUAL.tiers[boundary].monthly_lower * months
    assert INDIVIDUAL.tier_of(limit - 1, months) == tier_at - 1
    assert INDIVIDUAL.tier_of(limit, months) == tier_at
    assert INDIVIDUAL.tier_of(limit + 1, months) == tier_at


@pytest.mark.parametrize("production", [0, -1, -100_000_000, 1])
def test_zero_negative_and_tiny_production_is_lowest_tier(production: int) -> None:
    assert INDIVIDUAL.tier_of(production, 12) == 0


def test_huge_production_is_highest_tier() -> None:
    assert INDIVIDUAL.tier_of(10**15, 12) == 2


def test_assign_tier_with_one_tier_and_with_no_tiers() -> None:
    assert assign_tier(-5, [0]) == 0
    assert assign_tier(10**9, [0]) == 0
    assert assign_tier(5, []) == 0


def test_validate_accepts_the_defaults_and_a_single_tier() -> None:
    INDIVIDUAL.validate()
    Strategy(StrategyKind.GROUP, (Tier("Everyone", 0),)).validate()


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ((Tier("Bronze", 1), Tier("Silver", 100)), "starts at 0"),
        ((Tier("Bronze", -100), Tier("Silver", 100)), "starts at 0"),
        ((Tier("Bronze", 0), Tier("Silver", 100), Tier("Gold", 100)), "must increase"),
        ((Tier("Bronze", 0), Tier("Silver", 200), Tier("Gold", 100)), "must increase"),
        ((Tier("Bronze", 0), Tier("Silver", 0)), "must increase"),
        ((Tier("Bronze", 0), Tier("Bronze", 100)), "two tiers are named 'Bronze'"),
        ((Tier("Gold", 0), Tier(" Gold ", 100)), "two tiers are named 'Gold'"),
        ((Tier("Bronze", 0), Tier("  ", 100)), "tier 2 needs a name"),
    ],
)
def test_validate_refuses_tiers_that_break_the_rules(tiers: tuple[Tier, ...], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        Strategy(StrategyKind.INDIVIDUAL, tiers).validate()
    with pytest.raises(StrategyError, match=message):
        validate_tiers(tiers)


def test_names_are_case_sensitive_so_gold_and_GOLD_are_two_tiers() -> None:
    Strategy(StrategyKind.INDIVIDUAL, (Tier("gold", 0), Tier("GOLD", 1))).validate()


def test_activating_a_strategy_with_no_tiers_is_refused_with_a_clear_error() -> None:
    with pytest.raises(StrategyError, match="needs at least one tier before it can be active"):
        Strategy(StrategyKind.GROUP, (), active=True).validate()
    Strategy(StrategyKind.GROUP, (), active=False).validate()


increasing_lowers = st.lists(st.integers(1, 10**9), max_size=8, unique=True).map(
    lambda rest: [0, *sorted(rest)]
)


@given(increasing_lowers, st.integers(-(10**10), 10**10), st.integers(1, 120))
def test_assign_tier_agrees_with_a_linear_oracle_and_bisect(
    monthly: list[int], production: int, months: int
) -> None:
    lowers = [m * months for m in monthly]
    linear = max([i for i, lower in enumerate(lowers) if lower <= production], default=0)
    assert assign_tier(production, lowers) == linear
    assert assign_tier(production, lowers) == max(bisect.bisect_right(lowers, production) - 1, 0)
    strategy = Strategy(
        StrategyKind.INDIVIDUAL, tuple(Tier(f"T{i}", m) for i, m in enumerate(monthly))
    )
    assert strategy.tier_of(production, months) == linear


@given(increasing_lowers, st.integers(1, 120), st.data())
def test_assign_tier_at_each_boundary(monthly: list[int], months: int, data: st.DataObject) -> None:
    lowers = [m * months for m in monthly]
    index = data.draw(st.integers(0, len(lowers) - 1))
    assert assign_tier(lowers[index], lowers) == index
    above = (
        index + 1 if index + 1 < len(lowers) and lowers[index + 1] == lowers[index] + 1 else index
    )
    assert assign_tier(lowers[index] + 1, lowers) == above
    assert assign_tier(lowers[index] - 1, lowers) == max(index - 1, 0)


def test_boundary_bounds_are_the_neighbours_plus_the_gap() -> None:
    assert boundary_bounds(INDIVIDUAL, 1) == (1, 499_999)
    assert boundary_bounds(INDIVIDUAL, 2) == (100_001, None)
    assert boundary_bounds(INDIVIDUAL, 1, min_gap=100) == (100, 499_900)
    for index in (0, 3, -1):
        with pytest.raises(StrategyError, match="above the lowest tier"):
            boundary_bounds(INDIVIDUAL, index)


def test_clamp_boundary_pulls_a_limit_back_inside_its_neighbours() -> None:
    assert clamp_boundary(INDIVIDUAL, 1, 0) == 1
    assert clamp_boundary(INDIVIDUAL, 1, -50) == 1
    assert clamp_boundary(INDIVIDUAL, 1, 500_000) == 499_999
    assert clamp_boundary(INDIVIDUAL, 1, 250_000) == 250_000
    assert clamp_boundary(INDIVIDUAL, 2, 10**12) == 10**12
    assert clamp_boundary(INDIVIDUAL, 2, 100_000) == 100_001


def test_move_boundary_edits_one_limit_and_keeps_the_others() -> None:
    moved = move_boundary(INDIVIDUAL, 1, 200_000)
    assert moved.tiers == (Tier("Bronze", 0), Tier("Silver", 200_000), Tier("Gold", 500_000))
    assert INDIVIDUAL.tiers[1].monthly_lower == 100_000  # the original is untouched
    assert move_boundary(INDIVIDUAL, 1, 123_456, snap=True).tiers[1].monthly_lower == 123_000
    assert move_boundary(INDIVIDUAL, 1, 499_999, snap=True).tiers[1].monthly_lower == 499_999


@given(
    increasing_lowers,
    st.integers(-(10**10), 10**11),
    st.booleans(),
    st.integers(1, 10_000),
    st.data(),
)
def test_move_boundary_never_crosses_its_neighbours(
    monthly: list[int], requested: int, snap: bool, min_gap: int, data: st.DataObject
) -> None:
    assume(len(monthly) >= 2)
    assume(all(b - a >= 2 * min_gap for a, b in itertools.pairwise(monthly)))
    strategy = Strategy(
        StrategyKind.INDIVIDUAL, tuple(Tier(f"T{i}", m) for i, m in enumerate(monthly))
    )
    index = data.draw(st.integers(1, len(monthly) - 1))
    moved = move_boundary(strategy, index, requested, snap=snap, min_gap=min_gap)
    moved.validate()
    new = [t.monthly_lower for t in moved.tiers]
    assert new[:index] == monthly[:index]
    assert new[index + 1 :] == monthly[index + 1 :]
    assert new[index] >= new[index - 1] + min_gap
    if index + 1 < len(new):
        assert new[index] <= new[index + 1] - min_gap
    assert moved.names == strategy.names


@pytest.mark.parametrize(
    ("dragged", "snapped"),
    [
        (123_456, 123_000),  # 1,234.56 -> 1,230
        (1_234_500, 1_230_000),  # 12,345 -> 12,300
        (12_345_600, 12_300_000),  # 123,456 -> 123,000
        (99_949, 99_900),  # 999.49 -> 999
        (99_950, 100_000),  # 999.50 -> 1,000
        (150, 200),  # 1.50 -> 2
        (149, 100),
        (40, 0),
        (0, 0),
        (-12_345, 0),
        (125_000, 125_000),  # 1,250 is already a multiple of its step (10)
    ],
)
def test_snap_amount(dragged: int, snapped: int) -> None:
    assert snap_amount(dragged) == snapped


@given(st.integers(1, 10**13))
def test_snap_amount_stays_within_half_a_step(cents: int) -> None:
    step = 10 ** max(len(str(cents // 100)) - 3, 0) * 100
    snapped = snap_amount(cents)
    assert snapped % step == 0
    assert abs(snapped - cents) <= step // 2

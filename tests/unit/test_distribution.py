"""TierDistribution: per-tier counts and revenue agree with the engine's tier rule, to the cent."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seg_desktop.core.distribution import TierDistribution, TierTotal, revenue_share
from seg_desktop.core.engine import Override, RunInputs, compute_run
from seg_desktop.core.periods import SegmentationSettings
from seg_desktop.core.tiers import Strategy, StrategyKind, Tier, assign_tier

productions_st = st.lists(st.integers(min_value=-(10**9), max_value=10**11), max_size=300)
# Effective lower limits as the engine sees them: 0 first, then strictly increasing.
lowers_st = st.lists(st.integers(min_value=1, max_value=10**11), max_size=6, unique=True).map(
    lambda rest: [0, *sorted(rest)]
)


def oracle(productions: list[int], lowers: list[int]) -> list[tuple[int, int]]:
    counts: Counter[int] = Counter()
    revenue: Counter[int] = Counter()
    for production in productions:
        tier = assign_tier(production, lowers)
        counts[tier] += 1
        revenue[tier] += production
    return [(counts[i], revenue[i]) for i in range(len(lowers))]


@given(productions_st, lowers_st)
def test_counts_and_revenue_agree_with_assign_tier(
    productions: list[int], lowers: list[int]
) -> None:
    distribution = TierDistribution.from_productions(productions)
    assert distribution.counts_and_revenue(lowers) == oracle(productions, lowers)
    assert distribution.total_revenue == sum(productions)


@given(productions_st, lowers_st, st.data())
def test_productions_on_the_limits_agree_with_assign_tier(
    productions: list[int], lowers: list[int], data: st.DataObject
) -> None:
    # Put some productions exactly on, one cent below and one cent above the limits.
    extra = [
        limit + data.draw(st.sampled_from([-1, 0, 1]))
        for limit in data.draw(st.lists(st.sampled_from(lowers), max_size=20))
    ]
    everything = productions + extra
    distribution = TierDistribution.from_productions(everything)
    assert distribution.counts_and_revenue(lowers) == oracle(everything, lowers)


@pytest.mark.parametrize(
    ("production", "tier"),
    [
        (1_199_999, 0),  # one cent below Silver's effective limit
        (1_200_000, 1),  # exactly on it: the higher tier
        (1_200_001, 1),  # one cent above
        (5_999_999, 1),
        (6_000_000, 2),
        (6_000_001, 2),
        (0, 0),
        (-1, 0),
        (-50_000_00, 0),
    ],
)
def test_one_cent_below_on_and_above_each_boundary(production: int, tier: int) -> None:
    lowers = [0, 1_200_000, 6_000_000]  # 0 / 1,000 / 5,000 a month x 12
    counts = TierDistribution.from_productions([production]).counts_and_revenue(lowers)
    expected = [(0, 0)] * 3
    expected[tier] = (1, production)
    assert counts == expected


def test_no_tiers_means_no_counts() -> None:
    assert TierDistribution.from_productions([1, 2, 3]).counts_and_revenue([]) == []


def test_pinned_subjects_count_in_their_pinned_tier() -> None:
    productions = {1: 100, 2: 2_000_000, 3: 7_000_000, 4: -5}
    distribution = TierDistribution(productions, {1: "Gold", 4: "Silver"})
    totals = distribution.totals([0, 1_200_000, 6_000_000], ["Bronze", "Silver", "Gold"])
    assert totals == [
        TierTotal(0, 0, 0),
        TierTotal(2, 2_000_000 - 5, 1),
        TierTotal(2, 7_000_000 + 100, 1),
    ]


def test_a_pin_to_a_tier_that_is_gone_falls_by_production() -> None:
    distribution = TierDistribution({1: 100, 2: 7_000_000}, {1: "Platinum", 2: "Platinum"})
    totals = distribution.totals([0, 1_200_000, 6_000_000], ["Bronze", "Silver", "Gold"])
    assert totals == [TierTotal(1, 100, 0), TierTotal(0, 0, 0), TierTotal(1, 7_000_000, 0)]
    # Without names nothing is pinned at all.
    assert distribution.counts_and_revenue([0, 1_200_000]) == [(1, 100), (1, 7_000_000)]


def test_names_must_match_limits() -> None:
    with pytest.raises(ValueError, match="one tier name per limit"):
        TierDistribution({1: 1}).totals([0, 5], ["Bronze"])


@given(
    st.dictionaries(st.integers(1, 200), st.integers(-(10**6), 10**9), max_size=60),
    st.dictionaries(st.integers(1, 200), st.sampled_from(["Bronze", "Silver", "Gold", "Gone"])),
    st.integers(1, 24),
)
def test_counts_equal_the_engine_run_counts_with_pins(
    productions: dict[int, int], pins: dict[int, str], months: int
) -> None:
    strategy = Strategy(
        StrategyKind.INDIVIDUAL, (Tier("Bronze", 0), Tier("Silver", 100_000), Tier("Gold", 500_000))
    )
    as_of = dt.date(2026, 6, 15)
    inputs = RunInputs(
        as_of=as_of,
        settings=SegmentationSettings(max_months=months, buffer_months=0),
        strategies=[strategy],
        earliest_record=dt.date(2000, 1, 1),
        client_ids=sorted(productions),
        group_members={},
        overrides=[
            Override(StrategyKind.INDIVIDUAL, subject, tier, "why")
            for subject, tier in pins.items()
        ],
    )
    result = compute_run(inputs, lambda _period: productions.items())
    run = result.result_for(StrategyKind.INDIVIDUAL)
    assert run is not None
    distribution = TierDistribution(productions, pins)
    totals = distribution.totals(strategy.effective_lowers(months), strategy.names)
    assert [t.count for t in totals] == run.counts()
    revenue = [0, 0, 0]
    for assignment in run.assignments:
        revenue[assignment.tier] += assignment.production
    assert [t.revenue for t in totals] == revenue
    assert [t.pinned for t in totals] == [
        sum(1 for a in run.assignments if a.overridden and a.tier == i) for i in range(3)
    ]


def test_revenue_share() -> None:
    assert revenue_share(25, 100) == 0.25
    assert revenue_share(5, 0) is None
    assert revenue_share(5, -10) is None

"""How many clients (or groups) and how much revenue each tier holds, fast enough to follow a drag.

The boundary chart asks for the counts on every mouse move, so the
productions are sorted once and summed into prefix totals; each question is
then one `bisect` per boundary (O(k log n) for k tiers and n subjects). Sums
are exact integer cents; nothing goes through a float.

The boundary rule is the engine's (`core.tiers.assign_tier`): a production
equal to an effective limit falls in the higher tier, and anything below the
first boundary, 0 and negative included, falls in the lowest tier.

Manual overrides are applied the way a run applies them: a pinned subject
counts in its pinned tier, whatever its production, while that tier exists
(a pin to a tier that is gone is ignored, as the engine ignores it). So the
chart's counts equal the counts a run would save with the same tiers.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from seg_desktop.core.money import Cents


@dataclass(frozen=True)
class TierTotal:
    """One tier's share of a distribution: how many subjects, their summed production."""

    count: int
    revenue: Cents
    pinned: int = 0
    """How many of `count` are there because of a manual override."""


class _SortedProductions:
    """Productions sorted ascending with prefix sums, for range counts and sums by bisect."""

    def __init__(self, productions: Iterable[Cents]) -> None:
        self.values: list[Cents] = sorted(productions)
        # prefix[i] = sum of the i smallest productions; exact Python integers.
        self.prefix: list[Cents] = [0, *itertools.accumulate(self.values)]

    def __len__(self) -> int:
        return len(self.values)

    @property
    def total(self) -> Cents:
        return self.prefix[-1]

    def split(self, effective_lowers: Sequence[Cents]) -> list[tuple[int, Cents]]:
        """(count, revenue) per tier for these effective lower limits, lowest tier first."""
        if not effective_lowers:
            return []
        values, prefix = self.values, self.prefix
        # Tier 0 starts at minus infinity (it catches negatives); tier i >= 1 starts at the
        # first production >= its limit: bisect_left puts a production equal to the limit
        # into the higher tier, as assign_tier does.
        cuts = [0]
        for limit in effective_lowers[1:]:
            cuts.append(bisect.bisect_left(values, limit))
        cuts.append(len(values))
        return [(high - low, prefix[high] - prefix[low]) for low, high in itertools.pairwise(cuts)]


class TierDistribution:
    """The productions of every subject of a strategy, ready to be split by any set of limits.

    `productions` maps a subject (client or group id) to its production in
    cents; `pins` maps a subject to the name of the tier it is pinned to
    (only the pins that stand on the as-of date).
    """

    def __init__(self, productions: Mapping[int, Cents], pins: Mapping[int, str] | None = None):
        pins = pins or {}
        pinned_by_tier: dict[str, list[Cents]] = {}
        free: list[Cents] = []
        for subject_id, production in productions.items():
            tier_name = pins.get(subject_id)
            if tier_name is None:
                free.append(production)
            else:
                pinned_by_tier.setdefault(tier_name, []).append(production)
        self._free = _SortedProductions(free)
        self._pinned = {name: _SortedProductions(values) for name, values in pinned_by_tier.items()}
        self.subject_count = len(productions)
        self.total_revenue: Cents = self._free.total + sum(p.total for p in self._pinned.values())

    @classmethod
    def from_productions(cls, productions: Iterable[Cents]) -> TierDistribution:
        """A distribution with no overrides (benchmarks and tests)."""
        return cls(dict(enumerate(productions)))

    def counts_and_revenue(
        self, effective_lowers: Sequence[Cents], tier_names: Sequence[str] | None = None
    ) -> list[tuple[int, Cents]]:
        """(count, revenue in cents) per tier for these effective lower limits, lowest first.

        `tier_names` (same length as the limits) places pinned subjects in
        their pinned tier; without names every subject is counted by its
        production alone.
        """
        return [(t.count, t.revenue) for t in self.totals(effective_lowers, tier_names)]

    def totals(
        self, effective_lowers: Sequence[Cents], tier_names: Sequence[str] | None = None
    ) -> list[TierTotal]:
        """Like counts_and_revenue, also saying how many in each tier are pinned there."""
        if not effective_lowers:
            return []
        if tier_names is not None and len(tier_names) != len(effective_lowers):
            raise ValueError("one tier name per limit is needed")
        counts = [list(pair) for pair in self._free.split(effective_lowers)]
        pinned = [0] * len(effective_lowers)
        position = {name: index for index, name in enumerate(tier_names or ())}
        for name, values in self._pinned.items():
            index = position.get(name) if tier_names is not None else None
            if index is None:
                # The tier it was pinned to is gone (or names were not given): the engine
                # then ignores the pin, so these subjects fall by their production.
                for tier, (count, revenue) in enumerate(values.split(effective_lowers)):
                    counts[tier][0] += count
                    counts[tier][1] += revenue
            else:
                counts[index][0] += len(values)
                counts[index][1] += values.total
                pinned[index] += len(values)
        return [
            TierTotal(count, revenue, pins)
            for (count, revenue), pins in zip(counts, pinned, strict=True)
        ]


def revenue_share(revenue: Cents, total: Cents) -> float | None:
    """A tier's share of all production as a fraction (for display), None when total <= 0.

    With refunds a total can be zero or negative; a share of it means nothing.
    """
    if total <= 0:
        return None
    return revenue / total

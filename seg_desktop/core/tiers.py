"""Tier strategies: ordered tiers with monthly lower limits, and tier assignment."""

from __future__ import annotations

import bisect
import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from seg_desktop.core.money import MAX_CENTS, Cents, format_money


class StrategyKind(enum.StrEnum):
    """Who a strategy segments."""

    INDIVIDUAL = "individual"
    GROUP = "group"

    @property
    def label(self) -> str:
        """The strategy's name in the window."""
        return "Individual clients" if self is StrategyKind.INDIVIDUAL else "Client groups"


class StrategyError(ValueError):
    """A strategy that breaks the tier rules; the message says which and why."""


@dataclass(frozen=True)
class Tier:
    """One tier: a name and the monthly lower limit in cents."""

    name: str
    monthly_lower: Cents


@dataclass(frozen=True)
class Strategy:
    """An ordered list of tiers, lowest first, and whether runs use it."""

    kind: StrategyKind
    tiers: tuple[Tier, ...]
    active: bool = True

    def validate(self) -> None:
        """Raise StrategyError unless the tiers follow SPEC section 2."""
        validate_tiers(self.tiers)
        if self.active and not self.tiers:
            raise StrategyError(
                f"{self.kind.label}: a strategy needs at least one tier before it can be active"
            )

    def effective_lowers(self, months: int) -> list[Cents]:
        """Each tier's effective lower limit: monthly limit x available months."""
        return [tier.monthly_lower * months for tier in self.tiers]

    def tier_of(self, production: Cents, months: int) -> int:
        """The index of the tier a production falls in (see assign_tier)."""
        return assign_tier(production, self.effective_lowers(months))

    @property
    def names(self) -> list[str]:
        """The tier names, lowest first."""
        return [tier.name for tier in self.tiers]


def validate_tiers(tiers: Sequence[Tier]) -> None:
    """Names present and unique, lowest limit 0, limits strictly increasing."""
    seen: set[str] = set()
    for position, tier in enumerate(tiers):
        name = tier.name.strip()
        if not name:
            raise StrategyError(f"tier {position + 1} needs a name")
        if name in seen:
            raise StrategyError(f"two tiers are named '{name}'")
        seen.add(name)
    for tier in tiers:
        if abs(tier.monthly_lower) > MAX_CENTS:
            raise StrategyError(
                f"the limit of '{tier.name}' is too large (at most {format_money(MAX_CENTS)})"
            )
    if tiers and tiers[0].monthly_lower != 0:
        raise StrategyError(
            f"the lowest tier ('{tiers[0].name}') starts at 0; it also holds everything below 0"
        )
    for lower, upper in itertools.pairwise(tiers):
        if upper.monthly_lower <= lower.monthly_lower:
            raise StrategyError(
                f"limits must increase: '{upper.name}' ({format_money(upper.monthly_lower)}) "
                f"must be above '{lower.name}' ({format_money(lower.monthly_lower)})"
            )


def assign_tier(production: Cents, effective_lowers: Sequence[Cents]) -> int:
    """The highest tier whose effective lower limit is <= production.

    A production equal to a limit falls in the higher tier; anything below the
    first boundary, 0 and negative included, falls in the lowest tier.
    """
    return max(bisect.bisect_right(effective_lowers, production) - 1, 0)


def default_strategy(kind: StrategyKind) -> Strategy:
    """The strategies a new office starts with."""
    if kind is StrategyKind.INDIVIDUAL:
        tiers = (Tier("Bronze", 0), Tier("Silver", 100_000), Tier("Gold", 500_000))
    else:
        tiers = (Tier("C Group", 0), Tier("B Group", 250_000), Tier("A Group", 1_000_000))
    return Strategy(kind=kind, tiers=tiers, active=True)


# --- Editing boundaries (the table and the chart both call these) -------------------------


def boundary_bounds(
    strategy: Strategy, index: int, min_gap: Cents = 1
) -> tuple[Cents, Cents | None]:
    """The lowest and highest monthly limit tier `index` (>= 1) may take without crossing.

    The lowest tier's limit is fixed at 0; a boundary stays at least `min_gap`
    above its lower neighbour and below its upper one.
    """
    if not 1 <= index < len(strategy.tiers):
        raise StrategyError("only the boundaries above the lowest tier can move")
    low = strategy.tiers[index - 1].monthly_lower + min_gap
    high = (
        strategy.tiers[index + 1].monthly_lower - min_gap
        if index + 1 < len(strategy.tiers)
        else None
    )
    return low, high


def clamp_boundary(
    strategy: Strategy, index: int, monthly_lower: Cents, min_gap: Cents = 1
) -> Cents:
    """A requested limit pulled back inside its neighbours."""
    low, high = boundary_bounds(strategy, index, min_gap)
    value = max(monthly_lower, low)
    return min(value, high) if high is not None else value


def snap_amount(monthly_lower: Cents) -> Cents:
    """Round a dragged limit to a round amount for its size, in major units.

    Limits under 1,000 snap to whole units, then each further digit snaps ten
    times coarser: 1,234.56 -> 1,230; 12,345 -> 12,300; 123,456 -> 123,000.
    """
    if monthly_lower <= 0:
        return 0
    digits = len(str(monthly_lower // 100))
    step_cents = 10 ** max(digits - 3, 0) * 100
    snapped: Cents = ((monthly_lower + step_cents // 2) // step_cents) * step_cents
    return snapped


def move_boundary(
    strategy: Strategy, index: int, monthly_lower: Cents, *, snap: bool = False, min_gap: Cents = 1
) -> Strategy:
    """A copy of the strategy with tier `index`'s lower limit moved, kept in order."""
    value = snap_amount(monthly_lower) if snap else monthly_lower
    value = clamp_boundary(strategy, index, value, min_gap)
    tiers = list(strategy.tiers)
    tiers[index] = replace(tiers[index], monthly_lower=value)
    return replace(strategy, tiers=tuple(tiers))

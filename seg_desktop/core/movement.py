"""Comparing two runs: the movement matrix and who moved up, down, in or out.

Pure functions over plain maps, so the rule is tested without a database:
each run is ``{subject_id: (tier_index, production)}`` plus its tier names.

**How tiers are matched across runs.** A tier is identified by its *position*
in the strategy, lowest first, read in the newer run's snapshot: the older
run's tier ``i`` is compared with the newer run's tier ``i`` and both are shown
under the newer run's name for that position. So renaming a tier between two
runs moves nobody, and a client moved *up* exactly when its tier position went
up. When the older run had more tiers than the newer one, its extra positions
keep the older run's names (marked "(older run)"); when it had fewer, the
newer run's extra positions simply start empty. Moving a limit between the
runs does move clients, and that is what the comparison shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from seg_desktop.core.money import Cents

Placements = Mapping[int, tuple[int, Cents]]
"""``{subject_id: (tier index, production)}`` for one run."""


@dataclass(frozen=True)
class Movement:
    """One subject whose place differs between the two runs.

    ``before`` / ``after`` are tier positions (None: not in that run);
    ``production_before`` / ``production_after`` likewise.
    """

    subject_id: int
    before: int | None
    after: int | None
    production_before: Cents | None
    production_after: Cents | None


@dataclass(frozen=True)
class MatrixCell:
    """The subjects that went from one tier to another: how many, and their production."""

    count: int = 0
    production_before: Cents = 0
    """Their production summed in the older run (0 for those not in it)."""
    production_after: Cents = 0
    """Their production summed in the newer run (0 for those not in it)."""


@dataclass(frozen=True)
class RunComparison:
    """The movement between an older and a newer run of one strategy.

    ``cells[(from, to)]`` is keyed by tier positions; ``None`` as ``from``
    means "not in the older run" (entered), ``None`` as ``to`` "not in the
    newer run" (left). Cells with nobody are absent; :meth:`cell` returns an
    empty one for them.
    """

    tier_names: tuple[str, ...]
    """The name of every position, as the matching rule (module docstring) gives it."""
    cells: Mapping[tuple[int | None, int | None], MatrixCell]
    moved_up: tuple[Movement, ...]
    moved_down: tuple[Movement, ...]
    entered: tuple[Movement, ...]
    left: tuple[Movement, ...]
    stayed: int
    """How many subjects kept their tier position."""

    def cell(self, before: int | None, after: int | None) -> MatrixCell:
        """The cell from one position to another (an empty cell when nobody moved that way)."""
        return self.cells.get((before, after), MatrixCell())

    def row_keys(self) -> list[int | None]:
        """The matrix rows in order: every tier position, then "not in the older run"."""
        return [*range(len(self.tier_names)), None]

    def column_keys(self) -> list[int | None]:
        """The matrix columns in order: every tier position, then "not in the newer run"."""
        return [*range(len(self.tier_names)), None]

    def total(self) -> int:
        """How many subjects appear in either run."""
        return sum(cell.count for cell in self.cells.values())


def tier_labels(older_names: Sequence[str], newer_names: Sequence[str]) -> tuple[str, ...]:
    """The name of each tier position: the newer run's, then the older run's extra ones."""
    extra = [f"{name} (older run)" for name in older_names[len(newer_names) :]]
    return (*newer_names, *extra)


def compare_placements(
    older: Placements,
    newer: Placements,
    older_names: Sequence[str],
    newer_names: Sequence[str],
) -> RunComparison:
    """Compare two runs' placements of one strategy (see the module docstring for the rule).

    The lists are ordered by subject id; callers sort them for display.
    """
    counts: dict[tuple[int | None, int | None], list[int]] = {}
    moved_up: list[Movement] = []
    moved_down: list[Movement] = []
    entered: list[Movement] = []
    left: list[Movement] = []
    stayed = 0

    def add(key: tuple[int | None, int | None], before: Cents, after: Cents) -> None:
        bucket = counts.get(key)
        if bucket is None:
            counts[key] = [1, before, after]
        else:
            bucket[0] += 1
            bucket[1] += before
            bucket[2] += after

    for subject_id in sorted(older.keys() | newer.keys()):
        old = older.get(subject_id)
        new = newer.get(subject_id)
        if old is not None and new is not None:
            (old_tier, old_production), (new_tier, new_production) = old, new
            add((old_tier, new_tier), old_production, new_production)
            if new_tier == old_tier:
                stayed += 1
                continue
            target = moved_up if new_tier > old_tier else moved_down
            target.append(Movement(subject_id, old_tier, new_tier, old_production, new_production))
        elif new is not None:
            add((None, new[0]), 0, new[1])
            entered.append(Movement(subject_id, None, new[0], None, new[1]))
        elif old is not None:
            add((old[0], None), old[1], 0)
            left.append(Movement(subject_id, old[0], None, old[1], None))
    highest = max(
        [-1] + [key for pair in counts for key in pair if key is not None],
    )
    names = tier_labels(older_names, newer_names)
    if highest >= len(names):
        # A position beyond both snapshots (a damaged snapshot): name it rather than fail.
        names = (*names, *(f"Tier {i + 1}" for i in range(len(names), highest + 1)))
    return RunComparison(
        tier_names=names,
        cells={key: MatrixCell(*bucket) for key, bucket in counts.items()},
        moved_up=tuple(moved_up),
        moved_down=tuple(moved_down),
        entered=tuple(entered),
        left=tuple(left),
        stayed=stayed,
    )

"""The movement matrix and the up/down/entered/left lists, from plain placement maps."""

from __future__ import annotations

from seg_desktop.core.movement import MatrixCell, Movement, compare_placements, tier_labels

NAMES = ["Bronze", "Silver", "Gold"]


def test_exact_matrix_and_lists() -> None:
    older = {1: (0, 100), 2: (1, 200), 3: (2, 300), 4: (1, 150), 5: (0, 50)}
    newer = {1: (1, 120), 2: (1, 210), 3: (1, 280), 4: (2, 400), 6: (0, 10)}
    result = compare_placements(older, newer, NAMES, NAMES)
    assert result.tier_names == ("Bronze", "Silver", "Gold")
    assert dict(result.cells) == {
        (0, 1): MatrixCell(1, 100, 120),
        (1, 1): MatrixCell(1, 200, 210),
        (2, 1): MatrixCell(1, 300, 280),
        (1, 2): MatrixCell(1, 150, 400),
        (0, None): MatrixCell(1, 50, 0),
        (None, 0): MatrixCell(1, 0, 10),
    }
    assert result.moved_up == (Movement(1, 0, 1, 100, 120), Movement(4, 1, 2, 150, 400))
    assert result.moved_down == (Movement(3, 2, 1, 300, 280),)
    assert result.entered == (Movement(6, None, 0, None, 10),)
    assert result.left == (Movement(5, 0, None, 50, None),)
    assert result.stayed == 1
    assert result.total() == 6
    assert result.cell(2, 2) == MatrixCell()
    assert result.row_keys() == [0, 1, 2, None]


def test_cells_sum_counts_and_production_of_many_subjects() -> None:
    older = {i: (i % 3, i * 10) for i in range(300)}
    newer = {i: ((i + 1) % 3, i * 11) for i in range(100, 400)}
    result = compare_placements(older, newer, NAMES, NAMES)
    both = older.keys() & newer.keys()
    assert result.cell(0, 1).count == sum(1 for i in both if i % 3 == 0)
    assert result.cell(0, 1).production_after == sum(i * 11 for i in both if i % 3 == 0)
    assert sum(c.count for c in result.cells.values()) == 400
    assert len(result.entered) == 100 and len(result.left) == 100
    # Every pair moved up by one position, except 2 -> 0 (down).
    assert len(result.moved_down) == sum(1 for i in both if i % 3 == 2)
    assert result.stayed == 0


def test_tiers_match_by_position_in_the_newer_snapshot() -> None:
    """A renamed tier moves nobody; the older run's extra tiers keep their names."""
    older_names = ["Bronze", "Silver", "Gold", "Platinum"]
    newer_names = ["Bronze", "Premium", "Gold"]
    older = {1: (1, 500), 2: (3, 9_000)}
    newer = {1: (1, 500), 2: (2, 9_000)}
    result = compare_placements(older, newer, older_names, newer_names)
    assert result.tier_names == ("Bronze", "Premium", "Gold", "Platinum (older run)")
    assert result.stayed == 1  # Silver -> Premium is the same position
    assert result.moved_down == (Movement(2, 3, 2, 9_000, 9_000),)
    assert tier_labels(["A"], ["A", "B"]) == ("A", "B")


def test_no_older_run_means_everyone_entered() -> None:
    result = compare_placements({}, {7: (2, 1)}, [], NAMES)
    assert result.entered == (Movement(7, None, 2, None, 1),)
    assert result.cells == {(None, 2): MatrixCell(1, 0, 1)}

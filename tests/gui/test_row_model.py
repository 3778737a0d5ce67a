"""RowListModel: the base of the small lists (backups, pins, follow-up tasks)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester

from seg_desktop.gui.row_model import RowListModel


class Pairs(RowListModel[tuple[str, int]]):
    def __init__(self) -> None:
        super().__init__(["Name", "Count"])

    def cell(self, row: tuple[str, int], column: int, role: int) -> object:
        if role == Qt.ItemDataRole.DisplayRole:
            return row[column] if column == 0 else f"{row[1]:,}"
        return None


def test_rows_titles_and_cells_pass_qts_model_checks(qtmodeltester: ModelTester) -> None:
    model = Pairs()
    assert (model.rowCount(), model.columnCount()) == (0, 2)
    model.set_rows([("a", 1), ("b", 12_000)])
    qtmodeltester.check(model)
    assert model.rowCount() == 2 and model.rowCount(model.index(0, 0)) == 0
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Count"
    assert model.headerData(2, Qt.Orientation.Horizontal) is None
    assert model.index(1, 1).data() == "12,000"
    assert model.data(QModelIndex()) is None
    assert model.row_at(0) == ("a", 1) and model.rows() == [("a", 1), ("b", 12_000)]
    model.set_rows([])
    assert model.rowCount() == 0

"""WindowStateStore: geometry, splitters and headers round-trip through an INI QSettings."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QRect, QSettings, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QDockWidget,
    QListWidget,
    QMainWindow,
    QSplitter,
    QTableView,
    QTextEdit,
    QTreeView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from seg_desktop.gui.window_state import WindowStateStore


class Parts:
    """A main window like the real one: a dock, a splitter, a table and a tree."""

    def __init__(self, qtbot: QtBot) -> None:
        self.window = QMainWindow()
        self.window.setObjectName("main_window")
        qtbot.addWidget(self.window)

        self.table = QTableView()
        self.table.setObjectName("clients_table")
        self.table.setModel(QStandardItemModel(3, 5, self.table))
        self.tree = QTreeView()
        self.tree.setObjectName("segments_tree")
        self.tree.setModel(QStandardItemModel(2, 3, self.tree))

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("clients_splitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.tree)
        self.window.setCentralWidget(self.splitter)

        self.dock = QDockWidget("Filters")
        self.dock.setObjectName("filters_dock")
        self.dock.setWidget(QListWidget())
        self.window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.window.setGeometry(QRect(40, 50, 640, 480))
        self.splitter.resize(600, 400)


def ini_settings(path: Path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


def customise(parts: Parts) -> None:
    """Do what a user would: move the window, drag the splitter, arrange columns."""
    parts.window.setGeometry(QRect(60, 40, 720, 520))
    parts.splitter.setSizes([200, 500])
    header = parts.table.horizontalHeader()
    header.resizeSection(1, 234)
    header.moveSection(0, 4)
    header.setSectionHidden(2, True)
    header.setSortIndicator(3, Qt.SortOrder.DescendingOrder)
    parts.tree.header().resizeSection(0, 321)
    parts.dock.hide()


def test_whole_window_round_trips_through_an_ini_file(qtbot: QtBot, tmp_path: Path) -> None:
    ini = tmp_path / "state.ini"
    before = Parts(qtbot)
    customise(before)
    saved_sizes = before.splitter.sizes()
    WindowStateStore(ini_settings(ini)).save_all(before.window)

    after = Parts(qtbot)
    assert after.splitter.sizes() != saved_sizes  # otherwise the test proves nothing
    restored = WindowStateStore(ini_settings(ini)).restore_all(after.window)

    # window geometry + dock state, splitter, table header, tree header
    assert restored == 4
    assert after.window.geometry() == QRect(60, 40, 720, 520)
    assert after.dock.isHidden()
    assert after.splitter.sizes() == saved_sizes
    header = after.table.horizontalHeader()
    assert header.sectionSize(1) == 234
    assert header.visualIndex(0) == 4
    assert header.isSectionHidden(2)
    assert header.sortIndicatorSection() == 3
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert after.tree.header().sectionSize(0) == 321


def test_keys_are_namespaced_by_object_name(qtbot: QtBot, tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "state.ini")
    WindowStateStore(settings).save_all(Parts(qtbot).window)

    assert sorted(settings.allKeys()) == [
        "window_state/_layout_version",
        "window_state/clients_splitter/splitter",
        "window_state/clients_table.horizontal_header/header",
        "window_state/main_window/geometry",
        "window_state/main_window/window_state",
        "window_state/segments_tree.horizontal_header/header",
    ]


def test_single_widgets_round_trip(qtbot: QtBot, tmp_path: Path) -> None:
    ini = tmp_path / "state.ini"
    before = Parts(qtbot)
    customise(before)
    store = WindowStateStore(ini_settings(ini))
    store.save_splitter(before.splitter)
    store.save_header(before.table.horizontalHeader())
    ini_settings(ini).sync()

    after = Parts(qtbot)
    store = WindowStateStore(ini_settings(ini))
    assert store.restore_splitter(after.splitter)
    assert store.restore_header(after.table.horizontalHeader())
    assert not store.restore_window(after.window)  # never saved
    assert after.splitter.sizes() == before.splitter.sizes()
    assert after.table.horizontalHeader().sectionSize(1) == 234
    assert after.window.geometry() == QRect(40, 50, 640, 480)


def test_header_state_can_be_restored_before_the_model_is_set(qtbot: QtBot, tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "state.ini")
    before = Parts(qtbot)
    customise(before)
    store = WindowStateStore(settings)
    store.save_header(before.table.horizontalHeader())

    table = QTableView()
    table.setObjectName("clients_table")
    qtbot.addWidget(table)
    assert store.restore_header(table.horizontalHeader())
    table.setModel(QStandardItemModel(3, 5, table))
    assert table.horizontalHeader().sectionSize(1) == 234


def test_nothing_saved_restores_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    parts = Parts(qtbot)
    sizes = parts.splitter.sizes()
    assert WindowStateStore(ini_settings(tmp_path / "empty.ini")).restore_all(parts.window) == 0
    assert parts.window.geometry() == QRect(40, 50, 640, 480)
    assert parts.splitter.sizes() == sizes


def test_corrupt_values_are_ignored(qtbot: QtBot, tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "state.ini")
    settings.setValue("window_state/_layout_version", 1)
    settings.setValue("window_state/main_window/geometry", QByteArray(b"not a geometry"))
    settings.setValue("window_state/clients_splitter/splitter", "hand-edited text")
    parts = Parts(qtbot)

    assert WindowStateStore(settings).restore_all(parts.window) == 0
    assert parts.window.geometry() == QRect(40, 50, 640, 480)


def test_another_layout_version_is_ignored_and_replaced(qtbot: QtBot, tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "state.ini")
    before = Parts(qtbot)
    customise(before)
    WindowStateStore(settings, version=1).save_all(before.window)

    after = Parts(qtbot)
    version_2 = WindowStateStore(settings, version=2)
    assert version_2.restore_all(after.window) == 0
    assert after.window.geometry() == QRect(40, 50, 640, 480)

    # Saving one widget under version 2 must not revive version 1's other entries.
    version_2.save_splitter(after.splitter)
    assert sorted(settings.allKeys()) == [
        "window_state/_layout_version",
        "window_state/clients_splitter/splitter",
    ]
    assert not version_2.restore_window(after.window)


def test_clear_forgets_everything(qtbot: QtBot, tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "state.ini")
    settings.setValue("preferences/max_months", 12)
    store = WindowStateStore(settings)
    store.save_all(Parts(qtbot).window)
    store.clear()
    assert settings.allKeys() == ["preferences/max_months"]


def test_unnamed_widget_is_refused(qtbot: QtBot, tmp_path: Path) -> None:
    store = WindowStateStore(ini_settings(tmp_path / "state.ini"))
    splitter = QSplitter()
    qtbot.addWidget(splitter)
    with pytest.raises(ValueError, match="objectName"):
        store.save_splitter(splitter)
    table = QTableView()
    qtbot.addWidget(table)
    with pytest.raises(ValueError, match="objectName"):
        store.save_header(table.horizontalHeader())
    splitter.setObjectName("a/b")
    with pytest.raises(ValueError, match="contains '/'"):
        store.save_splitter(splitter)


def test_unnamed_children_are_skipped_by_save_all(qtbot: QtBot, tmp_path: Path) -> None:
    settings = ini_settings(tmp_path / "state.ini")
    window = QWidget()
    window.setObjectName("export_dialog")
    qtbot.addWidget(window)
    QSplitter(window)
    QTextEdit(window)
    WindowStateStore(settings).save_all(window)
    assert sorted(settings.allKeys()) == [
        "window_state/_layout_version",
        "window_state/export_dialog/geometry",
    ]


def test_duplicate_names_are_refused(qtbot: QtBot, tmp_path: Path) -> None:
    parts = Parts(qtbot)
    twin = QSplitter(parts.dock)
    twin.setObjectName("clients_splitter")
    with pytest.raises(ValueError, match="clients_splitter"):
        WindowStateStore(ini_settings(tmp_path / "state.ini")).save_all(parts.window)


def test_dialogs_of_the_window_are_not_saved_with_it(qtbot: QtBot, tmp_path: Path) -> None:
    """Regression: two import dialogs (each with a 'bad_rows_view') made quitting abort."""
    from PySide6.QtWidgets import QDialog, QVBoxLayout

    parts = Parts(qtbot)
    for _kind in ("clients", "revenue"):
        dialog = QDialog(parts.window)
        view = QTableView()
        view.setObjectName("bad_rows_view")
        view.setModel(QStandardItemModel(1, 2, view))
        QVBoxLayout(dialog).addWidget(view)
        dialog.show()
        dialog.close()
    settings = QSettings(str(tmp_path / "state.ini"), QSettings.Format.IniFormat)
    store = WindowStateStore(settings)
    store.save_all(parts.window)  # before: ValueError "two widgets are saved as …"
    keys = settings.allKeys()
    assert "window_state/clients_table.horizontal_header/header" in keys
    assert not any("bad_rows_view" in key for key in keys)


@pytest.mark.parametrize(
    "screen", [QRect(0, 0, 1024, 640), QRect(0, 0, 1280, 800), QRect(0, 0, 1920, 1080)]
)
def test_a_first_window_fits_the_screen_with_its_title_bar(qtbot: QtBot, screen: QRect) -> None:
    from PySide6.QtCore import QSize

    from seg_desktop.gui.window_state import TITLE_BAR_ALLOWANCE, fit_to_screen

    window = QMainWindow()
    window.setMinimumSize(900, 560)
    qtbot.addWidget(window)
    fit_to_screen(window, screen, QSize(1280, 800))
    placed = window.geometry()
    with_title = placed.adjusted(0, -TITLE_BAR_ALLOWANCE, 0, 0)
    assert screen.contains(with_title), (placed, screen)
    assert placed.size() == QSize(1280, 800).boundedTo(
        QSize(screen.width(), screen.height() - TITLE_BAR_ALLOWANCE)
    )


def test_a_restored_window_is_brought_back_onto_a_smaller_screen(qtbot: QtBot) -> None:
    from PySide6.QtCore import QSize

    from seg_desktop.gui.window_state import TITLE_BAR_ALLOWANCE, fit_to_screen

    window = QMainWindow()
    window.setMinimumSize(900, 560)
    qtbot.addWidget(window)
    window.setGeometry(QRect(600, 500, 1800, 1000))  # saved on a large screen
    window.move(600, 500)
    small = QRect(0, 0, 1024, 640)
    fit_to_screen(window, small, QSize(1280, 800))
    placed = window.geometry().adjusted(0, -TITLE_BAR_ALLOWANCE, 0, 0)
    assert small.contains(placed), placed
    assert window.minimumSize().height() <= small.height() - TITLE_BAR_ALLOWANCE

"""The main window end to end: runs from the toolbar, cancel, refresh, read-only, close."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from seg_desktop.demo import load_demo
from seg_desktop.gui.app import build_window
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.store.office import Office


@pytest.fixture
def office_path(tmp_path: Path) -> Path:
    path = tmp_path / "office.db"
    office = Office.open(path)
    load_demo(office, clients=80, months=14, seed=3)
    office.run_segmentation()
    office.close()
    return path


@pytest.fixture
def window(qtbot: QtBot, office_path: Path, tmp_path: Path) -> Iterator[MainWindow]:
    office = Office.open(office_path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    main = build_window(office, settings)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    # The views load their data on the worker at start-up; a run asked for meanwhile is
    # refused with a status message, so the tests start from an idle window.
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    yield main
    # Closing while a task runs asks the user first (a modal box); close an idle window.
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    main.close()
    office.close()


def start_run(qtbot: QtBot, window: MainWindow, *, by_key: bool = False) -> None:
    """Ask for a run until the worker takes it (start-up loads may still hold it briefly)."""

    def attempt() -> bool:
        if window.session.runner.current_name() != "Running segmentation":
            if by_key:
                qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
            else:
                window.run_segmentation()
        return window.session.runner.current_name() == "Running segmentation"

    qtbot.waitUntil(attempt, timeout=20_000)


def test_ctrl_r_runs_segmentation_and_the_views_refresh(qtbot: QtBot, window: MainWindow) -> None:
    office = window.session.office
    before = office.current_run()
    assert before is not None
    with qtbot.waitSignal(window.session.run_changed, timeout=20_000) as blocker:
        start_run(qtbot, window, by_key=True)
    summary = blocker.args[0]
    assert summary.id == before.id + 1
    assert office.current_run() == summary
    assert window.run_label.text().startswith(f"Current run: {summary.range.describe()}")
    # The clients table reloads from the new run: every client, every one with a tier.
    qtbot.waitUntil(lambda: window.clients.is_loaded() and not window.clients.is_reload_pending())
    assert len(window.clients.visible_client_ids()) == office.client_count()


def test_a_second_run_request_while_one_runs_does_no_harm(qtbot: QtBot, window: MainWindow) -> None:
    office = window.session.office
    before = office.current_run()
    assert before is not None
    with qtbot.waitSignal(window.session.run_changed, timeout=20_000):
        start_run(qtbot, window)
        window.run_segmentation()  # refused: a message in the status bar, nothing queued
        assert "Wait for" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.session.runner.is_busy())
    assert [run.id for run in office.runs()] == [before.id + 1, before.id]


def test_a_cancelled_run_leaves_the_previous_run_current(qtbot: QtBot, window: MainWindow) -> None:
    office = window.session.office
    before = office.current_run()
    with qtbot.waitSignal(window.session.runner.cancelled, timeout=20_000):
        start_run(qtbot, window)
        window.cancel_action.trigger()
    assert office.current_run() == before
    assert len(office.runs()) == 1
    assert window.run_action.isEnabled()


def test_read_only_window_disables_every_write(
    qtbot: QtBot, office_path: Path, tmp_path: Path
) -> None:
    office = Office.open(office_path, read_only=True)
    settings = QSettings(str(tmp_path / "ro.ini"), QSettings.Format.IniFormat)
    main = build_window(office, settings, today=dt.date.today)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    assert main.windowTitle().endswith("(read-only)")
    assert not main.run_action.isEnabled()
    assert not main.import_clients_action.isEnabled()
    assert not main.editor.save_action.isEnabled()
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    main.close()
    office.close()


def test_closing_stops_the_workers(qtbot: QtBot, window: MainWindow) -> None:
    runner, preview = window.session.runner, window.session.preview_runner
    qtbot.waitUntil(lambda: not runner.is_busy(), timeout=20_000)
    window.close()
    assert not runner.is_busy() and not preview.is_busy()
    assert not runner.submit("after close", lambda _p, _c: None)


def test_connecting_to_another_office_swaps_every_view_to_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_path = tmp_path / "server-stand-in.db"
    other = Office.open(other_path)
    load_demo(other, clients=30, months=14, seed=9)
    other.run_segmentation()
    old = window.session.office
    closed: list[bool] = []
    monkeypatch.setattr(old, "close", lambda: closed.append(True))
    monkeypatch.setattr(
        "seg_desktop.gui.main_window.connect_to_office_server", lambda _parent, _settings: other
    )
    window.connect_action.trigger()
    assert window.session.office is other
    assert window.windowTitle() == f"seg-desktop — {other.target}"
    assert window.database_label.text() == other.target
    qtbot.waitUntil(
        lambda: (
            window.clients.is_loaded()
            and not window.clients.is_reload_pending()
            and len(window.clients.visible_client_ids()) == 30
        ),
        timeout=20_000,
    )
    qtbot.waitUntil(lambda: not window.session.runner.is_busy(), timeout=20_000)
    assert closed == [True]  # the previous office, once nothing used it
    other.close()


def test_connecting_is_refused_while_a_run_is_going(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[object] = []
    monkeypatch.setattr(
        "seg_desktop.gui.main_window.connect_to_office_server",
        lambda parent, _settings: asked.append(parent),
    )
    with qtbot.waitSignal(window.session.run_changed, timeout=20_000):
        start_run(qtbot, window)
        window.connect_action.trigger()
        assert "Wait for" in window.statusBar().currentMessage()
    assert asked == []

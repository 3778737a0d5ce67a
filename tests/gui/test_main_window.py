"""The main window end to end: runs from the toolbar, cancel, refresh, read-only, close."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from seg_desktop.demo import load_demo
from seg_desktop.gui.app import build_window
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.store import runs
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
    # The views load their data on the worker at start-up; the tests start from an
    # idle window so what they count is theirs.
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    yield main
    # Closing while a task runs asks the user first (a modal box); close an idle window.
    qtbot.waitUntil(lambda: not main.session.runner.is_busy(), timeout=20_000)
    main.close()
    office.close()


def start_run(qtbot: QtBot, window: MainWindow, *, by_key: bool = False) -> None:
    """Ask for a run the way a person does: Ctrl+R, or the Run button in the toolbar."""
    if by_key:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    else:
        window.run_action.trigger()


@pytest.fixture
def run_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold every run at its start until the test opens the gate: (entered, gate).

    The run waits inside its transaction on the worker thread, so what a test does
    meanwhile (a second press, Cancel) happens while the run is certainly running.
    """
    entered, gate = threading.Event(), threading.Event()
    original = runs.load_inputs

    def held(*args: object, **kwargs: object) -> object:
        entered.set()
        assert gate.wait(30), "the test never opened the gate"
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runs, "load_inputs", held)
    yield entered, gate
    gate.set()


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


def test_a_run_pressed_while_another_runs_waits_its_turn(
    qtbot: QtBot, window: MainWindow, run_gate: tuple[threading.Event, threading.Event]
) -> None:
    entered, gate = run_gate
    office = window.session.office
    before = office.current_run()
    assert before is not None
    start_run(qtbot, window)
    qtbot.waitUntil(entered.is_set, timeout=20_000)
    # Pressed twice more while the first run runs: one run waits (a second press
    # replaces the waiting one), and the status bar says so. Nothing is refused.
    start_run(qtbot, window)
    start_run(qtbot, window, by_key=True)
    assert window.session.runner.waiting_names() == ["Running segmentation"]
    assert window.progress.waiting == "then 1 more"
    assert window.run_action.isEnabled()
    saved: list[int] = []
    window.session.run_changed.connect(lambda summary: saved.append(summary.id))
    gate.set()
    qtbot.waitUntil(lambda: len(saved) == 2, timeout=20_000)
    assert saved == [before.id + 1, before.id + 2]
    assert [run.id for run in office.runs()] == [before.id + 2, before.id + 1, before.id]
    # The views reload after each run (their loads queue behind it), then nothing waits.
    qtbot.waitUntil(lambda: window.progress.waiting == "", timeout=20_000)


def test_a_cancelled_run_leaves_the_previous_run_current(
    qtbot: QtBot, window: MainWindow, run_gate: tuple[threading.Event, threading.Event]
) -> None:
    entered, gate = run_gate
    office = window.session.office
    before = office.current_run()
    start_run(qtbot, window)
    qtbot.waitUntil(entered.is_set, timeout=20_000)
    with qtbot.waitSignal(window.session.runner.cancelled, timeout=20_000):
        window.cancel_action.trigger()  # while the run is held inside its transaction
        gate.set()
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
        "seg_desktop.gui.main_window.connect_to_office_server",
        lambda _parent, _settings, **_kwargs: other,
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
        lambda parent, _settings, **_kwargs: asked.append(parent),
    )
    with qtbot.waitSignal(window.session.run_changed, timeout=20_000):
        start_run(qtbot, window)
        window.connect_action.trigger()
        assert "Wait for" in window.statusBar().currentMessage()
    assert asked == []


def test_export_current_tiers_from_the_toolbar_asks_for_a_file_and_writes_it(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: triggered(bool) reached the slot as the path ('bool' has no 'suffix')."""
    target = tmp_path / "tiers.csv"
    monkeypatch.setattr(
        "seg_desktop.gui.main_window.QFileDialog.getSaveFileName",
        lambda *_args, **_kwargs: (str(target), "CSV file (*.csv)"),
    )
    window.export_action.trigger()
    qtbot.waitUntil(target.exists, timeout=20_000)
    qtbot.waitUntil(lambda: not window.session.runner.is_busy(), timeout=20_000)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("ref,name,email,status,tags,groups,total_revenue")
    assert len(lines) == 1 + window.session.office.client_count()
    assert f"{len(lines) - 1:,} clients written to {target}" in window.statusBar().currentMessage()

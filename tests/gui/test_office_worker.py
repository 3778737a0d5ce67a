"""The office worker (OfficeSession): one queue that never refuses; every change broadcast once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from seg_desktop.core.rules import Criterion, MatchMode, Operator, RuleField, SegmentDefinition
from seg_desktop.demo import load_demo
from seg_desktop.gui.progress import TaskProgressWidget
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.tasks import CancelledFn, LatestOnlyRunner, ProgressFn, TaskRunner
from seg_desktop.store.changes import Area, Changes
from seg_desktop.store.office import Office

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def session(qtbot: QtBot, tmp_path: Path) -> Iterator[OfficeSession]:
    office = Office.open(tmp_path / "office.db", today=lambda: TODAY)
    load_demo(office, clients=40, months=14, seed=5)
    owner = QObject()
    runner = TaskRunner(owner, cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(owner, cancel_exceptions=CANCEL_EXCEPTIONS)
    worker = OfficeSession(office, runner, preview, lambda: TODAY, owner)
    yield worker
    runner.shutdown(10_000)
    preview.shutdown(10_000)
    office.close()


def held_task(gate: threading.Event, entered: threading.Event) -> object:
    """A task that waits on the worker until the test opens the gate."""

    def work(_progress: ProgressFn, _cancelled: CancelledFn) -> str:
        entered.set()
        assert gate.wait(20), "the test never opened the gate"
        return "held"

    return work


def test_work_submitted_while_busy_waits_its_turn_and_runs_in_order(
    qtbot: QtBot, session: OfficeSession
) -> None:
    gate, entered = threading.Event(), threading.Event()
    done: list[str] = []
    progress = TaskProgressWidget(session.runner)
    qtbot.addWidget(progress)
    session.submit("Holding", held_task(gate, entered), done.append)  # type: ignore[arg-type]
    qtbot.waitUntil(entered.is_set)
    office = session.office
    session.submit("Counting", lambda _p, _c: str(office.client_count()), done.append)
    session.submit("Naming", lambda _p, _c: office.target, done.append)
    assert session.runner.waiting_names() == ["Counting", "Naming"]
    assert progress.waiting == "then 2 more"
    gate.set()
    qtbot.waitUntil(lambda: len(done) == 3)
    assert done == ["held", "40", office.target]
    assert progress.waiting == ""


def test_a_write_broadcasts_its_changes_once_before_its_own_hook(
    qtbot: QtBot, session: OfficeSession
) -> None:
    heard: list[str] = []
    session.changed.connect(lambda changes: heard.append(f"changed {changes.describe()}"))
    session.segments_changed.connect(lambda: heard.append("segments"))
    session.data_changed.connect(lambda: heard.append("data"))
    definition = SegmentDefinition(
        "Big", (Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "1000"),), MatchMode.ALL
    )
    saved: list[int] = []

    def on_saved(segment_id: int) -> None:
        heard.append("saved")
        saved.append(segment_id)

    session.save_segment(definition, None, on_saved)
    qtbot.waitUntil(lambda: bool(saved))
    assert heard == ["changed segments", "segments", "saved"]


def test_a_failure_goes_to_the_hook_of_whoever_asked(qtbot: QtBot, session: OfficeSession) -> None:
    shown: list[str] = []
    errors: list[str] = []
    session.error.connect(lambda what, _error, _trace: errors.append(what))

    def fail(_progress: ProgressFn, _cancelled: CancelledFn) -> None:
        raise ValueError("no such thing")

    session.submit("Failing", fail, None, lambda error, _trace: shown.append(str(error)))
    qtbot.waitUntil(lambda: bool(shown))
    assert shown == ["no such thing"]
    assert errors == []
    # Without a hook of its own, the failure reaches the window's error dialog.
    session.submit("Failing again", fail)
    qtbot.waitUntil(lambda: bool(errors))
    assert errors == ["Failing again"]


def test_apply_now_broadcasts_the_tags_and_the_segments_that_read_them(
    qtbot: QtBot, session: OfficeSession
) -> None:
    """Tags set by a list (or a rule) reach the clients table and the segments at once."""
    office = session.office
    ids = sorted(office.matching_ids(SegmentDefinition("all", (), MatchMode.ALL)))[:7]
    received: list[Changes] = []
    session.changed.connect(received.append)
    session.submit(
        "Tagging",
        lambda _p, _c: office.segment_from_clients("Call back", ids, "call-back"),
    )
    qtbot.waitUntil(lambda: bool(received))
    changes = received[0]
    assert changes.touches(Area.CLIENTS) and changes.touches(Area.SEGMENTS)
    assert changes.clients is not None and set(ids) <= changes.clients
    segment = office.find_segment("Call back")
    assert changes.segment_counts[segment.id] == 7
    assert segment.member_count == 7


def test_window_code_touching_the_database_on_the_gui_thread_is_caught(
    session: OfficeSession, no_office_calls_on_gui_thread: list[str]
) -> None:
    """The fixture that guards every GUI test sees a read made by window code."""
    window_code = compile("office.segments()", "<a view>", "exec")
    exec(window_code, {"__name__": "seg_desktop.gui.a_view", "office": session.office})
    assert len(no_office_calls_on_gui_thread) == 1
    assert (
        "Database.read() on the GUI thread from seg_desktop.gui.a_view"
        in (no_office_calls_on_gui_thread[0])
    )
    no_office_calls_on_gui_thread.clear()  # seen: this test is about the fixture itself
    session.office.segments()  # test code setting things up is not window code
    assert no_office_calls_on_gui_thread == []

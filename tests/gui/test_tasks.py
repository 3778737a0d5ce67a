"""TaskRunner and LatestOnlyRunner: outcomes, threads, cancel, throttling, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QThread
from pytestqt.qtbot import QtBot

from seg_desktop.gui.tasks import (
    CancelledFn,
    LatestOnlyRunner,
    ProgressFn,
    TaskCancelled,
    TaskRunner,
)

# Worker-side waits have a deadline so a broken runner fails the test instead of hanging it.
WORKER_TIMEOUT_S = 10.0


class StopCounting(Exception):
    """A cancel exception defined outside gui, as core code would."""


def wait_until_cancelled(cancelled: CancelledFn) -> None:
    """Inside a task: poll ``cancelled()`` like real work between chunks, then raise."""
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    idle = threading.Event()
    while not cancelled():
        if time.monotonic() > deadline:
            raise TimeoutError("the task was never cancelled")
        idle.wait(0.001)  # one "chunk of work"
    raise TaskCancelled


def blocking_task(
    release: threading.Event, result: object = None
) -> Callable[[ProgressFn, CancelledFn], object]:
    """A task that runs until the test sets ``release``."""

    def fn(progress: ProgressFn, cancelled: CancelledFn) -> object:
        if not release.wait(WORKER_TIMEOUT_S):
            raise TimeoutError("the test never released the task")
        return result

    return fn


def returning(value: object) -> Callable[[ProgressFn, CancelledFn], object]:
    """A task that returns ``value`` at once."""
    return lambda progress, cancelled: value


@pytest.fixture
def runner(qtbot: QtBot) -> Iterator[TaskRunner]:
    task_runner = TaskRunner(cancel_exceptions=(TaskCancelled, StopCounting))
    yield task_runner
    assert task_runner.shutdown(5000)


@pytest.fixture
def latest_runner(qtbot: QtBot) -> Iterator[LatestOnlyRunner]:
    task_runner = LatestOnlyRunner()
    yield task_runner
    assert task_runner.shutdown(5000)


def test_result_is_delivered_on_gui_thread(qtbot: QtBot, runner: TaskRunner) -> None:
    gui_thread = threading.get_ident()
    seen: dict[str, Any] = {}

    def work(progress: ProgressFn, cancelled: CancelledFn) -> int:
        seen["worker"] = threading.get_ident()
        return 42

    def on_done(result: int) -> None:
        seen["on_done"] = (threading.get_ident(), result)

    def on_finished(name: str, result: object) -> None:
        seen["slot"] = threading.get_ident()

    runner.finished.connect(on_finished)
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        assert runner.submit("answer", work, on_done=on_done)

    assert blocker.args == ["answer", 42]
    assert seen["worker"] != gui_thread
    assert seen["on_done"] == (gui_thread, 42)
    assert seen["slot"] == gui_thread
    assert not runner.is_busy()


def test_failure_delivers_exception_and_traceback(qtbot: QtBot, runner: TaskRunner) -> None:
    errors: list[tuple[BaseException, str]] = []

    def compute_tiers(progress: ProgressFn, cancelled: CancelledFn) -> None:
        raise ValueError("boundaries not increasing")

    with (
        qtbot.assertNotEmitted(runner.finished),
        qtbot.waitSignal(runner.failed, timeout=5000) as blocker,
    ):
        runner.submit(
            "Run segmentation", compute_tiers, on_error=lambda e, tb: errors.append((e, tb))
        )

    name, error, traceback_text = blocker.args
    assert name == "Run segmentation"
    assert isinstance(error, ValueError)
    assert str(error) == "boundaries not increasing"
    assert "Traceback (most recent call last)" in traceback_text
    assert "compute_tiers" in traceback_text
    assert "ValueError: boundaries not increasing" in traceback_text
    assert errors == [(error, traceback_text)]
    assert not runner.is_busy()


def test_cancel_mid_task_reports_cancelled(qtbot: QtBot, runner: TaskRunner) -> None:
    entered = threading.Event()
    cancel_sent = threading.Event()
    saw: list[bool] = []
    done: list[object] = []

    def work(progress: ProgressFn, cancelled: CancelledFn) -> str:
        saw.append(cancelled())
        entered.set()
        if not cancel_sent.wait(WORKER_TIMEOUT_S):
            raise TimeoutError
        saw.append(cancelled())
        raise TaskCancelled

    assert runner.submit("long", work, on_done=done.append)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    with (
        qtbot.assertNotEmitted(runner.finished),
        qtbot.assertNotEmitted(runner.failed),
        qtbot.waitSignal(runner.cancelled, timeout=5000) as blocker,
    ):
        runner.cancel()
        cancel_sent.set()

    assert blocker.args == ["long"]
    assert saw == [False, True]
    assert done == []
    assert not runner.is_busy()


@pytest.mark.parametrize("exception", [TaskCancelled, StopCounting])
def test_listed_cancel_exceptions_report_cancelled(
    qtbot: QtBot, runner: TaskRunner, exception: type[Exception]
) -> None:
    def work(progress: ProgressFn, cancelled: CancelledFn) -> None:
        raise exception

    with qtbot.assertNotEmitted(runner.failed), qtbot.waitSignal(runner.cancelled, timeout=5000):
        runner.submit("stops", work)


def test_unlisted_exception_is_a_failure_even_if_named_like_cancel(
    qtbot: QtBot,
) -> None:
    only_custom = TaskRunner(cancel_exceptions=(StopCounting,))

    def work(progress: ProgressFn, cancelled: CancelledFn) -> None:
        raise TaskCancelled

    try:
        with qtbot.waitSignal(only_custom.failed, timeout=5000) as blocker:
            only_custom.submit("x", work)
        assert isinstance(blocker.args[1], TaskCancelled)
    finally:
        assert only_custom.shutdown()


def test_returning_after_cancel_counts_as_finished(qtbot: QtBot, runner: TaskRunner) -> None:
    # The function decides: work that completed (e.g. a run already saved) is reported.
    release = threading.Event()
    assert runner.submit("saved anyway", blocking_task(release, "run 7"))
    runner.cancel()
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        release.set()
    assert blocker.args == ["saved anyway", "run 7"]


def test_a_submit_while_busy_waits_its_turn_in_order(qtbot: QtBot, runner: TaskRunner) -> None:
    release = threading.Event()
    started: list[str] = []
    runner.started.connect(started.append)
    results: list[object] = []

    assert runner.submit("first", blocking_task(release, "one"), on_done=results.append)
    assert runner.is_busy()
    assert runner.current_name() == "first"
    assert runner.submit("second", returning("two"), on_done=results.append)  # never refused
    assert runner.submit("third", returning("three"), on_done=results.append)
    assert runner.waiting_names() == ["second", "third"]

    with qtbot.waitSignal(runner.busy_changed, timeout=5000, check_params_cb=lambda b: not b):
        release.set()
    assert started == ["first", "second", "third"]
    assert results == ["one", "two", "three"]
    assert runner.current_name() is None
    assert runner.waiting_names() == []


def test_a_waiting_task_with_the_same_key_is_replaced(qtbot: QtBot, runner: TaskRunner) -> None:
    release = threading.Event()
    results: list[object] = []
    assert runner.submit("first", blocking_task(release, "one"))
    runner.submit("load", returning("old"), on_done=results.append, key="view")
    runner.submit("save", returning("saved"), on_done=results.append)
    runner.submit("load", returning("new"), on_done=results.append, key="view")
    assert runner.waiting_names() == ["save", "load"]

    with qtbot.waitSignal(runner.busy_changed, timeout=5000, check_params_cb=lambda b: not b):
        release.set()
    assert results == ["saved", "new"]  # the older load never ran


def test_signal_order_and_busy_changes(qtbot: QtBot, runner: TaskRunner) -> None:
    events: list[tuple[str, object]] = []
    runner.busy_changed.connect(lambda busy: events.append(("busy", busy)))
    runner.started.connect(lambda name: events.append(("started", name)))
    runner.finished.connect(lambda name, result: events.append(("finished", result)))

    def work(progress: ProgressFn, cancelled: CancelledFn) -> str:
        progress(0.5, "half")
        return "ok"

    with qtbot.waitSignal(runner.busy_changed, timeout=5000, check_params_cb=lambda b: not b):
        runner.submit("t", work)

    # Idle before finished is emitted, so a finished slot may submit the next task.
    assert events == [("busy", True), ("started", "t"), ("busy", False), ("finished", "ok")]


def test_on_done_may_submit_the_next_task(qtbot: QtBot, runner: TaskRunner) -> None:
    results: list[object] = []

    def chain(result: object) -> None:
        results.append(result)
        assert runner.submit("second", returning("b"), on_done=results.append)

    with qtbot.waitSignals([runner.finished, runner.finished], timeout=5000):
        assert runner.submit("first", returning("a"), on_done=chain)
    qtbot.waitUntil(lambda: results == ["a", "b"], timeout=5000)


def test_submit_from_worker_thread_is_refused_by_assertion(
    qtbot: QtBot, runner: TaskRunner
) -> None:
    def misuse(progress: ProgressFn, cancelled: CancelledFn) -> None:
        runner.submit("nested", returning(None))

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.submit("misuse", misuse)
    assert isinstance(blocker.args[1], AssertionError)


def test_progress_is_throttled_and_ends_with_last_report(qtbot: QtBot, runner: TaskRunner) -> None:
    reports: list[tuple[float, str]] = []
    runner.progress.connect(lambda fraction, message: reports.append((fraction, message)))
    steps = 20_000

    def chatty(progress: ProgressFn, cancelled: CancelledFn) -> None:
        for i in range(steps):
            progress(i / steps, f"step {i}")
        progress(1.0, "done")

    began = time.monotonic()
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.submit("chatty", chatty)
    elapsed = time.monotonic() - began

    assert reports[-1] == (1.0, "done")
    # One at once, then at most one per 33 ms, plus the final report before finished.
    assert len(reports) <= 2 + elapsed / 0.033
    assert len(reports) < steps / 100
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions)


def test_last_report_of_a_burst_arrives_while_task_is_quiet(
    qtbot: QtBot, runner: TaskRunner
) -> None:
    release = threading.Event()
    messages: list[str] = []
    runner.progress.connect(lambda fraction, message: messages.append(message))

    def work(progress: ProgressFn, cancelled: CancelledFn) -> None:
        progress(0.1, "Loading")
        progress(0.2, "Saving")  # within the throttle interval of "Loading"
        if not release.wait(WORKER_TIMEOUT_S):
            raise TimeoutError

    runner.submit("burst", work)
    qtbot.waitUntil(lambda: messages[-1:] == ["Saving"], timeout=5000)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        release.set()


def test_progress_fractions_are_clamped(qtbot: QtBot, runner: TaskRunner) -> None:
    reports: list[float] = []
    runner.progress.connect(lambda fraction, message: reports.append(fraction))

    def work(progress: ProgressFn, cancelled: CancelledFn) -> None:
        progress(1.7, "over")

    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit("clamp", work)
    assert reports == [1.0]


def test_shutdown_stops_thread_and_discards_outcome(
    qtbot: QtBot, started_qthreads: list[QThread]
) -> None:
    runner = TaskRunner()
    entered = threading.Event()

    def work(progress: ProgressFn, cancelled: CancelledFn) -> None:
        entered.set()
        wait_until_cancelled(cancelled)

    assert runner.submit("closing", work)
    qtbot.waitUntil(entered.is_set, timeout=5000)
    assert len(started_qthreads) == 1
    assert started_qthreads[0].isRunning()

    with qtbot.waitSignal(runner.busy_changed, timeout=1000) as blocker:
        assert runner.shutdown(5000)
    assert blocker.args == [False]
    assert not started_qthreads[0].isRunning()
    assert not runner.is_busy()

    with (
        qtbot.assertNotEmitted(runner.cancelled),
        qtbot.assertNotEmitted(runner.finished),
        qtbot.assertNotEmitted(runner.busy_changed),
    ):
        QCoreApplication.processEvents()  # the worker's queued "cancelled" is ignored
    assert not runner.submit("after close", returning(None))
    assert len(started_qthreads) == 1


def test_shutdown_times_out_on_a_task_that_ignores_cancel(
    qtbot: QtBot, started_qthreads: list[QThread]
) -> None:
    runner = TaskRunner()
    entered = threading.Event()
    release = threading.Event()

    def stubborn(progress: ProgressFn, cancelled: CancelledFn) -> None:
        entered.set()
        if not release.wait(WORKER_TIMEOUT_S):
            raise TimeoutError

    assert runner.submit("stubborn", stubborn)
    qtbot.waitUntil(entered.is_set, timeout=5000)

    assert not runner.shutdown(timeout_ms=50)
    assert runner.is_busy()
    assert started_qthreads[0].isRunning()
    release.set()
    assert runner.shutdown(5000)
    assert not started_qthreads[0].isRunning()


def test_idle_runner_starts_no_thread(started_qthreads: list[QThread], qtbot: QtBot) -> None:
    runner = TaskRunner()
    assert runner.shutdown()
    assert started_qthreads == []


def test_runner_reuses_one_thread_for_successive_tasks(
    qtbot: QtBot, runner: TaskRunner, started_qthreads: list[QThread]
) -> None:
    threads: list[int] = []

    def work(progress: ProgressFn, cancelled: CancelledFn) -> None:
        threads.append(threading.get_ident())

    for name in ("a", "b", "c"):
        with qtbot.waitSignal(runner.finished, timeout=5000):
            runner.submit(name, work)
    assert len(set(threads)) == 1
    assert len(started_qthreads) == 1


# -- LatestOnlyRunner ------------------------------------------------------------------------


def test_latest_only_drops_intermediate_submissions_and_runs_the_last(
    qtbot: QtBot, latest_runner: LatestOnlyRunner
) -> None:
    release = threading.Event()
    ran: list[str] = []
    done: list[object] = []
    superseded: list[str] = []
    busy: list[bool] = []
    latest_runner.superseded.connect(superseded.append)
    latest_runner.busy_changed.connect(busy.append)

    def count(text: str) -> Callable[[ProgressFn, CancelledFn], str]:
        def fn(progress: ProgressFn, cancelled: CancelledFn) -> str:
            ran.append(text)
            if text == "G":
                release.wait(WORKER_TIMEOUT_S)
            return f"count for {text}"

        return fn

    assert latest_runner.submit("G", count("G"), on_done=done.append)
    for text in ("Go", "Gol", "Gold"):
        assert latest_runner.submit(text, count(text), on_done=done.append)

    with qtbot.waitSignal(
        latest_runner.finished, timeout=5000, check_params_cb=lambda name, r: name == "Gold"
    ):
        release.set()

    assert ran == ["G", "Gold"]
    assert done == ["count for G", "count for Gold"]
    assert superseded == ["Go", "Gol"]
    assert busy == [True, False]  # no flicker between the two runs
    assert not latest_runner.is_busy()


def test_latest_only_can_cancel_the_stale_running_task(qtbot: QtBot) -> None:
    runner = LatestOnlyRunner(cancel_running=True)
    entered = threading.Event()
    ran: list[str] = []

    def stale(progress: ProgressFn, cancelled: CancelledFn) -> None:
        entered.set()
        wait_until_cancelled(cancelled)

    def fresh(progress: ProgressFn, cancelled: CancelledFn) -> str:
        ran.append("fresh")
        return "fresh"

    outcomes: list[tuple[str, ...]] = []
    runner.cancelled.connect(lambda name: outcomes.append(("cancelled", name)))
    runner.finished.connect(lambda name, result: outcomes.append(("finished", name)))
    try:
        runner.submit("stale", stale)
        qtbot.waitUntil(entered.is_set, timeout=5000)
        with qtbot.waitSignal(runner.finished, timeout=5000):
            runner.submit("fresh", fresh)
        assert outcomes == [("cancelled", "stale"), ("finished", "fresh")]
        assert ran == ["fresh"]
    finally:
        assert runner.shutdown()


def test_latest_only_cancel_drops_the_waiting_submission(
    qtbot: QtBot, latest_runner: LatestOnlyRunner
) -> None:
    release = threading.Event()
    waiting_ran: list[bool] = []
    latest_runner.submit("running", blocking_task(release))
    latest_runner.submit("waiting", lambda p, c: waiting_ran.append(True))

    with qtbot.waitSignal(latest_runner.superseded, timeout=1000) as blocker:
        latest_runner.cancel()
    assert blocker.args == ["waiting"]
    with qtbot.waitSignal(latest_runner.busy_changed, timeout=5000):
        release.set()
    assert waiting_ran == []
    assert not latest_runner.is_busy()


def test_latest_only_refuses_after_shutdown(qtbot: QtBot) -> None:
    runner = LatestOnlyRunner()
    assert runner.shutdown()
    assert not runner.submit("late", returning(1))

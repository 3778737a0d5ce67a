"""Shared set-up for the pytest-qt tests: a headless platform and no leaked threads."""

from __future__ import annotations

import os

# Before anything imports Qt: pytest-qt creates the QApplication on first use, and with
# neither a platform nor a display the run dies with "Fatal Python error: Aborted".
# A value set in the environment (e.g. xcb under Xvfb) still wins.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# LC_ALL=C / no locale makes Qt warn about the locale, and warnings fail tests here.
os.environ.setdefault("LANG", "C.UTF-8")

import ctypes
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, SignalInstance


def _emit_steals_a_reference_to_true() -> bool:
    """Detect the PySide6 6.12.0 bug: ``SignalInstance.emit()`` returns ``True`` without
    taking a reference, so every emit lowers ``True``'s reference count by one.

    On Python 3.11 (where ``True`` is not immortal) the process then dies with "Fatal
    Python error: bool_dealloc" after a few hundred emits (6.11.3 does not do this).
    """

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    emits = 20
    before = sys.getrefcount(True)
    for _ in range(emits):
        probe.ping.emit()
    return sys.getrefcount(True) - before <= -emits


def _give_emit_its_missing_reference() -> None:
    # A test-run workaround only, until the project pins a PySide6 without the bug (or
    # moves to Python >= 3.12); the application itself needs the same fix at start-up.
    original_emit: Callable[..., Any] = SignalInstance.emit

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original_emit(self, *args)
        if result is True:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
        return result

    SignalInstance.emit = emit  # type: ignore[method-assign]


if sys.version_info < (3, 12) and _emit_steals_a_reference_to_true():
    _give_emit_its_missing_reference()

# A thread that would not stop is kept referenced here for the rest of the run: dropping
# the last reference to a running QThread makes Qt abort the whole test process.
_UNSTOPPABLE: list[QThread] = []


@pytest.fixture(autouse=True)
def started_qthreads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[QThread]]:
    """Record every QThread started during the test; fail it if one still runs at the end.

    Yields the list of started threads, so a test can also check them itself.
    """
    started: list[QThread] = []
    original_start: Callable[..., Any] = QThread.start

    def recording_start(self: QThread, *args: Any, **kwargs: Any) -> Any:
        started.append(self)
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield started
    monkeypatch.undo()

    leaked = [t for t in started if shiboken6.isValid(t) and t.isRunning()]
    for thread in leaked:
        # Stop it anyway so the next tests run in a clean process.
        thread.quit()
        if not thread.wait(5000):
            _UNSTOPPABLE.append(thread)
    started.clear()
    if leaked:
        names = ", ".join(repr(t.objectName() or type(t).__name__) for t in leaked)
        pytest.fail(f"QThread still running at teardown: {names}", pytrace=False)

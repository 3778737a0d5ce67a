"""Guards against PySide6 builds known to break the program, so an upgrade cannot slip one in."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal()
    value = Signal(int)


def test_emit_keeps_the_reference_count_of_true() -> None:
    """PySide6 6.12.0's emit() returned True without a reference: on Python 3.11 the
    process died with "Fatal Python error: bool_dealloc" after a few hundred signals
    (the reason pyproject.toml pins 6.11.3)."""
    probe = _Probe()
    probe.ping.connect(lambda: None)
    probe.value.connect(lambda _v: None)
    before = sys.getrefcount(True)
    for number in range(200):
        probe.ping.emit()
        probe.value.emit(number)
    assert sys.getrefcount(True) - before > -100

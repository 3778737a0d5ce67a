"""Dragging a boundary: the time of one move at 50,000 and 250,000 clients.

One move is everything the window does for one mouse move while a line is
dragged: the request from the line, the boundary rules (snap, order), the
counts and revenue per tier, the table, the bands and labels, and a forced
repaint of the chart and the table (`repaint()` paints synchronously, so the
time includes drawing the histogram). The goal is under 16 ms a move (one
frame at 60 Hz) at 250,000.

Run with
`QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest tests/benchmarks/test_drag_bench.py -s`.
Figures are printed; nothing here asserts a time.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LANG", "C.UTF-8")

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from seg_desktop.core.distribution import TierDistribution
from seg_desktop.core.periods import EffectiveRange
from seg_desktop.core.tiers import StrategyKind
from seg_desktop.gui.boundary_chart import x_of
from seg_desktop.gui.session import CANCEL_EXCEPTIONS, OfficeSession
from seg_desktop.gui.strategy_view import LoadedProductions, StrategyView
from seg_desktop.gui.tasks import LatestOnlyRunner, TaskRunner
from seg_desktop.store.strategy_data import StrategyProductions
from tests.helpers.office import client, make_office

AS_OF = dt.date(2026, 3, 15)
PERIOD = EffectiveRange(dt.date(2025, 3, 1), dt.date(2026, 2, 28), 12, clipped=False)
MOVES = 300


def synthetic_productions(count: int, seed: int = 7) -> dict[int, int]:
    """Heavy-tailed yearly productions in cents (log-normal), 5% zero and 1% negative."""
    rng = np.random.default_rng(seed)
    cents = rng.lognormal(mean=np.log(700 * 12 * 100), sigma=1.3, size=count).astype(np.int64)
    cents[rng.random(count) < 0.05] = 0
    negative = rng.random(count) < 0.01
    cents[negative] = -cents[negative] // 20
    return dict(enumerate(cents.tolist(), start=1))


@pytest.fixture
def session(qtbot: QtBot, tmp_path: Path) -> Iterator[OfficeSession]:
    office, _ids = make_office(tmp_path, [client("A")], [("A", dt.date(2025, 3, 1), 100)])
    runner = TaskRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    preview = LatestOnlyRunner(cancel_exceptions=CANCEL_EXCEPTIONS)
    yield OfficeSession(office, runner, preview, today=lambda: AS_OF)
    assert runner.shutdown(5000)
    assert preview.shutdown(5000)
    office.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * fraction), len(ordered) - 1)]


@pytest.mark.parametrize("clients", [50_000, 250_000])
def test_drag_move_time(qtbot: QtBot, session: OfficeSession, clients: int) -> None:
    view = StrategyView(session, StrategyKind.INDIVIDUAL)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.data_loaded, timeout=10_000):
        view.resize(1280, 800)
        view.show()
    qtbot.waitExposed(view)

    productions = synthetic_productions(clients)
    start = time.perf_counter()
    distribution = TierDistribution(productions)
    values = np.fromiter(productions.values(), dtype=np.int64)
    build_ms = (time.perf_counter() - start) * 1000
    data = StrategyProductions(
        StrategyKind.INDIVIDUAL, PERIOD, productions, settings=None, as_of=AS_OF
    )
    start = time.perf_counter()
    view._show_loaded(LoadedProductions(data, distribution, values, AS_OF))
    show_ms = (time.perf_counter() - start) * 1000

    line = view.chart.line_for(1)
    # Silver's line swept from 150 to 4,500 a month and back (Gold is at 5,000).
    sweep = np.linspace(x_of(15_000 * 12), x_of(450_000 * 12), MOVES // 2)
    positions = [*sweep, *sweep[::-1]]
    update_ms: list[float] = []
    move_ms: list[float] = []
    counts_ms: list[float] = []
    strategy = view.strategy
    names = strategy.names
    for x in positions:
        begin = time.perf_counter()
        line.setValue(float(x))
        updated = time.perf_counter()
        view.chart.viewport().repaint()
        view.table.viewport().repaint()
        done = time.perf_counter()
        update_ms.append((updated - begin) * 1000)
        move_ms.append((done - begin) * 1000)
        begin = time.perf_counter()
        distribution.totals(view.strategy.effective_lowers(12), names)
        counts_ms.append((time.perf_counter() - begin) * 1000)
    assert view.undo_stack.count() == 0
    start = time.perf_counter()
    line.sigPositionChangeFinished.emit(line)
    release_ms = (time.perf_counter() - start) * 1000
    assert view.undo_stack.count() == 1
    assert view.totals is not None and sum(t.count for t in view.totals) == clients

    print(
        f"\n[drag] {clients:,} clients, {len(positions)} moves: "
        f"per move (update + repaint) median {statistics.median(move_ms):.2f} ms, "
        f"p95 {percentile(move_ms, 0.95):.2f} ms, max {max(move_ms):.2f} ms; "
        f"update only median {statistics.median(update_ms):.2f} ms, "
        f"p95 {percentile(update_ms, 0.95):.2f} ms; "
        f"counts only median {statistics.median(counts_ms) * 1000:.0f} µs. "
        f"Once per load: distribution {build_ms:.0f} ms, histogram and first show "
        f"{show_ms:.0f} ms; release (one undo command, saved) {release_ms:.1f} ms"
    )


def test_chart_data_load_time(big_office: Path) -> None:
    """What the worker does before the chart can follow a drag: once per data load."""
    from seg_desktop.store.office import Office
    from seg_desktop.store.strategy_data import read_strategy_productions

    office = Office.open(big_office, create=False)
    try:
        for kind in StrategyKind:
            start = time.perf_counter()
            loaded = read_strategy_productions(office.database, kind, dt.date.today())
            read_ms = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            TierDistribution(loaded.productions, loaded.pins_on(dt.date.today()))
            build_ms = (time.perf_counter() - start) * 1000
            print(
                f"\n[load] {kind.label}: {len(loaded.productions):,} subjects, "
                f"read {read_ms:.0f} ms, distribution {build_ms:.0f} ms"
            )
    finally:
        office.close()

"""The window at 50,000 clients: start-up to a shown window, and the editor's preview count.

Run with `.venv/bin/python -m pytest tests/benchmarks/test_window_bench.py -s`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from seg_desktop.core.rules import Criterion, MatchMode, Operator, RuleField, SegmentDefinition
from seg_desktop.store.office import Office

THREE_CRITERIA = SegmentDefinition(
    "Busy, active and tagged",
    (
        Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "20000"),
        Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "90 days ago"),
        Criterion(RuleField.TAGS, Operator.CONTAINS, "news"),
    ),
    MatchMode.ALL,
)


def test_preview_count_latency(big_office: Path, benchmark: BenchmarkFixture) -> None:
    """What the live preview waits for after a change: one count on the worker."""
    office = Office.open(big_office)
    try:
        count = benchmark.pedantic(
            office.count_matching, args=(THREE_CRITERIA,), rounds=20, warmup_rounds=1
        )
    finally:
        office.close()
    assert 0 < count < 50_000
    stats = benchmark.stats.stats
    print(
        f"\n[preview] three-criterion count at 50,000 clients = {count:,}: median "
        f"{stats.median * 1000:.1f} ms, slowest {stats.max * 1000:.1f} ms"
    )


def test_start_up_to_a_shown_window(big_office: Path, benchmark: BenchmarkFixture) -> None:
    """From process start to the window shown, on a copy of the 50,000-client office."""
    folder = Path(tempfile.mkdtemp())
    try:
        db = folder / "office.db"
        shutil.copy(big_office, db)
        environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(folder))
        environment["XDG_CONFIG_HOME"] = str(folder / "config")
        environment["XDG_DATA_HOME"] = str(folder / "data")
        environment["SEG_DESKTOP_SMOKE_EXIT_MS"] = "500"
        times: list[float] = []

        def start_once() -> None:
            start = time.perf_counter()
            with subprocess.Popen(
                [sys.executable, "-m", "seg_desktop", "--db", str(db)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment,
                text=True,
            ) as process:
                assert process.stdout is not None
                for line in process.stdout:
                    if "window shown" in line:
                        times.append(time.perf_counter() - start)
                        break
                process.stdout.read()
                process.wait(timeout=120)

        benchmark.pedantic(start_once, rounds=3, iterations=1)
        assert len(times) == 3
        print(
            f"\n[start-up] to a shown window with 50,000 clients: median "
            f"{statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

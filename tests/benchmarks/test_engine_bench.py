"""Run Segmentation and segment recomputation at 50,000 clients, beside bare SQL baselines.

Run with `.venv/bin/python -m pytest tests/benchmarks/test_engine_bench.py -s`.
Figures are printed; nothing here asserts a time.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seg_desktop.core.engine import Trigger
from seg_desktop.core.periods import SegmentationSettings, effective_range
from seg_desktop.store.office import Office
from tests.benchmarks.conftest import run_measured

AS_OF = dt.date.today()
ROUNDS = 5


def _median_seconds(action: Callable[[], object], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@pytest.fixture(scope="module")
def office_file(big_office: Path) -> Path:
    """The big office with the covering index the bare baseline deserves."""
    with sqlite3.connect(big_office) as connection:
        connection.execute(
            "CREATE INDEX IF NOT EXISTS bench_cover ON revenue (client_id, date, amount_cents)"
        )
    return big_office


def test_run_segmentation(benchmark, office_file: Path) -> None:  # type: ignore[no-untyped-def]
    """A whole run (range, productions, tiers, every assignment, the segments and the rules)."""
    office = Office.open(office_file)
    earliest = office.client_facts([1])[0].first_invoice_date
    period = effective_range(AS_OF, SegmentationSettings(), earliest)
    bare_sql = (
        "SELECT client_id, SUM(amount_cents) FROM revenue "
        "WHERE date BETWEEN ? AND ? GROUP BY client_id"
    )
    bare_connection = sqlite3.connect(office_file)
    bounds = (period.start.isoformat(), period.end.isoformat())
    bare = _median_seconds(lambda: bare_connection.execute(bare_sql, bounds).fetchall())

    def one_run() -> object:
        return office.run_segmentation(AS_OF, Trigger.COMMAND_LINE)

    benchmark.pedantic(one_run, rounds=ROUNDS, iterations=1)
    ours = benchmark.stats.stats.median
    peak = run_measured(
        "from seg_desktop.store.office import Office\n"
        "from seg_desktop.core.engine import Trigger\n"
        "import datetime, time\n"
        f"office = Office.open({str(office_file)!r})\n"
        "start = time.perf_counter()\n"
        "office.run_segmentation(datetime.date.today(), Trigger.COMMAND_LINE)\n"
        "print(__import__('json').dumps({'seconds': time.perf_counter() - start}))\n"
    )
    print(
        f"\n[run] median {ours:.3f} s; bare GROUP BY over statement lines {bare:.3f} s; "
        f"ratio {ours / bare:.2f} (goal <= 1.5); fresh process: {peak['seconds']:.3f} s, "
        f"peak RSS {peak['peak_mb']:.0f} MB"
    )
    office.close()


HAND_WRITTEN = {
    "High-Value Clients": (
        "SELECT client_id FROM revenue GROUP BY client_id HAVING SUM(amount_cents) > 5000000",
        (),
    ),
    "Repeat Customers": (
        "SELECT client_id FROM revenue GROUP BY client_id HAVING COUNT(*) > 5",
        (),
    ),
    "Active Clients": (
        "SELECT client_id FROM revenue GROUP BY client_id HAVING MAX(date) > ?",
        ((AS_OF - dt.timedelta(days=90)).isoformat(),),
    ),
    "Inactive Clients": (
        "SELECT client_id FROM revenue GROUP BY client_id HAVING MAX(date) < ?",
        ((AS_OF - dt.timedelta(days=180)).isoformat(),),
    ),
    "New Clients": (
        "SELECT client_id FROM revenue GROUP BY client_id HAVING MIN(date) > ?",
        ((AS_OF - dt.timedelta(days=30)).isoformat(),),
    ),
}


def test_recompute_segments(benchmark, office_file: Path) -> None:  # type: ignore[no-untyped-def]
    """Recomputing (and storing) every demo segment's membership, beside hand-written SQL."""
    office = Office.open(office_file)
    bare_connection = sqlite3.connect(office_file)

    def hand_written() -> dict[str, int]:
        return {
            name: len(bare_connection.execute(sql, params).fetchall())
            for name, (sql, params) in HAND_WRITTEN.items()
        }

    bare = _median_seconds(hand_written, rounds=3)
    expected = hand_written()
    counts = benchmark.pedantic(
        lambda: office.recompute_segments(AS_OF), rounds=ROUNDS, iterations=1
    )
    by_name = {s.definition.name: s.member_count for s in office.segments()}
    assert all(by_name[name] == count for name, count in expected.items()), (by_name, expected)
    assert len(counts) == len(expected)
    ours = benchmark.stats.stats.median
    print(
        f"\n[segments] recompute all 5 demo segments: median {ours:.3f} s; hand-written SQL over "
        f"statement lines {bare:.3f} s; ratio {ours / bare:.2f} (goal <= 2.0); counts {expected}"
    )
    office.close()

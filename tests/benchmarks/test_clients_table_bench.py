"""Clients table benchmark: 250,000 synthetic clients through the model, the proxy and a view.

Run on demand (not part of the default test run):

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest \\
        tests/benchmarks/test_clients_table_bench.py -s

Measured, and printed at the end (nothing is asserted on time):

* building the ClientTable from rows, and its sort keys and search text
  (the worker's part of a load);
* model + proxy construction on the GUI thread;
* sorting by a money column and by a text column, both directions;
* filtering by search text (first word, then narrowed by typing on) and by a
  segment's 50,000 members;
* "fetch and paint a page": a QTableView of 1280x800, scrolled to random
  rows, timing ``viewport().grab()`` (which fetches the visible cells from the
  model and paints them);
* ``load_client_table`` on the 50,000-client benchmark office, when it has
  been built (tests/benchmarks/conftest.py ``big_office``).

``SEG_BENCH_ROWS`` changes the row count for a quick run.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LANG", "C.UTF-8")

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableView
from pytestqt.qtbot import QtBot

from seg_desktop.gui.clients_model import (
    ClientsProxyModel,
    ClientsTableModel,
    ClientTableKeys,
    column_of,
)
from seg_desktop.store import runs
from seg_desktop.store.clients import ClientTable, client_table_from_rows, load_client_table
from seg_desktop.store.export_rows import ExportRow
from seg_desktop.store.office import Office
from tests.benchmarks.conftest import BENCH_CLIENTS, CACHE

ROWS = int(os.environ.get("SEG_BENCH_ROWS", "250000"))
PAGES = 30
T = TypeVar("T")

_FIRST = [
    "Ada",
    "Alan",
    "Bea",
    "Carl",
    "Dana",
    "Emil",
    "Eva",
    "Finn",
    "Gail",
    "Hugo",
    "Ida",
    "Jörg",
]
_LAST = ["Stone", "Grant", "Kahn", "Costa", "Eng", "Young", "Nash", "Okafor", "Müller", "Petrov"]
_SUFFIX = ["Ltd", "LLC", "GmbH", "& Co", "Partners", "Group", "Holdings", "Studio"]
_TAGS = ["", "vip", "retail", "newsletter;retail", "east;north;vip", "referral", "wholesale;west"]
_STATUSES = ["active", "active", "active", "prospect", "lost", None]
_TIERS = ["Bronze", "Bronze", "Bronze", "Silver", "Silver", "Gold"]

FIGURES: list[tuple[str, str]] = []


def timed(label: str, work: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = work()
    FIGURES.append((label, f"{(time.perf_counter() - start) * 1000:9.1f} ms"))
    return result


def table_mb(table: ClientTable) -> float:
    """The table's own memory: numpy arrays, text tuples, and each distinct string once."""
    total, seen = 0, set()
    for value in vars(table).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, tuple):
            total += sys.getsizeof(value)
            for text in value:
                if text is not None and id(text) not in seen:
                    seen.add(id(text))
                    total += sys.getsizeof(text)
    return total / 1024 / 1024


def synthetic_rows(count: int, seed: int = 11) -> Iterator[ExportRow]:
    """Clients like the demo's: heavy-tailed revenue, refunds, empties, repeated tags and tiers."""
    rng = np.random.default_rng(seed)
    first, last = rng.integers(0, len(_FIRST), count), rng.integers(0, len(_LAST), count)
    suffix, company = rng.integers(0, len(_SUFFIX), count), rng.random(count) < 0.45
    totals = (rng.lognormal(10.5, 1.4, count) * 100).astype(np.int64)
    totals[rng.random(count) < 0.02] *= -1
    counts = rng.integers(0, 400, count)
    starts = rng.integers(0, 1000, count)
    spans = rng.integers(0, 900, count)
    production = (totals * rng.random(count) * 0.4).astype(np.int64)
    tags, statuses, tiers = (
        rng.integers(0, len(values), count) for values in (_TAGS, _STATUSES, _TIERS)
    )
    base = dt.date(2023, 1, 1)
    for i in range(count):
        ref = f"C{i + 1:07d}"
        name = (
            f"{_LAST[last[i]]} {_FIRST[first[i]]} {_SUFFIX[suffix[i]]}"
            if company[i]
            else f"{_FIRST[first[i]]} {_LAST[last[i]]}"
        )
        invoices = int(counts[i])
        has_revenue = invoices > 0
        first_day = base + dt.timedelta(days=int(starts[i]))
        yield ExportRow(
            client_id=i + 1,
            ref=ref,
            name=name,
            email=None if i % 25 == 0 else f"{_FIRST[first[i]].lower()}.{ref.lower()}@example.com",
            status=_STATUSES[statuses[i]],
            tags=_TAGS[tags[i]],
            groups="" if i % 3 else f"{_LAST[last[i]]} family {i // 3}",
            total_revenue=int(totals[i]) if has_revenue else 0,
            invoice_count=invoices,
            first_invoice_date=first_day if has_revenue else None,
            last_invoice_date=first_day + dt.timedelta(days=int(spans[i])) if has_revenue else None,
            average_invoice_amount=int(totals[i]) // invoices if has_revenue else None,
            production=int(production[i]) if i % 40 else None,
            tier=_TIERS[tiers[i]],
            group_tier=None if i % 3 else "B Group",
            computed_tier="Silver" if i % 500 == 0 else None,
        )


@pytest.fixture(scope="module")
def table() -> ClientTable:
    rows = list(synthetic_rows(ROWS))
    built = timed(f"ClientTable from {ROWS:,} rows (columns)", lambda: client_table_from_rows(rows))
    FIGURES.append(
        ("  size of the table (arrays + distinct strings)", f"{table_mb(built):9.1f} MB")
    )
    return built


def test_model_sort_filter_and_paint(qtbot: QtBot, qapp: QApplication, table: ClientTable) -> None:
    keys = timed("sort keys + search text (worker side)", lambda: ClientTableKeys(table))

    def construct() -> tuple[ClientsTableModel, ClientsProxyModel]:
        source = ClientsTableModel()
        source.set_table(table, keys)
        return source, ClientsProxyModel(source)

    model, proxy = timed("model + proxy construction (GUI thread)", construct)
    money, name = column_of("total_revenue"), column_of("name")
    timed("sort total revenue, descending", lambda: proxy.sort(money, Qt.SortOrder.DescendingOrder))
    timed("sort total revenue, ascending", lambda: proxy.sort(money, Qt.SortOrder.AscendingOrder))
    timed("sort name, ascending", lambda: proxy.sort(name, Qt.SortOrder.AscendingOrder))
    timed(
        "sort last invoice date, descending",
        lambda: proxy.sort(column_of("last_invoice_date"), Qt.SortOrder.DescendingOrder),
    )
    timed("search 'a' (every row tested)", lambda: proxy.set_search_text("a"))
    timed("search 'ad' (narrowing the previous matches)", lambda: proxy.set_search_text("ad"))
    timed("search 'ada stone' (two words, narrowing)", lambda: proxy.set_search_text("ada stone"))
    FIGURES.append(("  rows matching 'ada stone'", f"{proxy.rowCount():9,d}"))
    timed("search cleared", lambda: proxy.set_search_text(""))
    members = np.random.default_rng(3).choice(
        table.client_id, size=min(50_000, len(table)), replace=False
    )
    member_list = members.tolist()
    timed("segment filter, 50,000 members", lambda: proxy.set_member_filter(member_list))
    timed("segment filter cleared", lambda: proxy.set_member_filter(None))
    proxy.sort(money, Qt.SortOrder.DescendingOrder)

    view = QTableView()
    qtbot.addWidget(view)
    view.verticalHeader().setSectionResizeMode(view.verticalHeader().ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.setModel(proxy)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    qapp.processEvents()
    rng = np.random.default_rng(5)
    bar = view.verticalScrollBar()
    view.viewport().grab()  # the first paint also fills the glyph caches: not a page's cost
    grabs, scroll_and_grabs = [], []
    for _ in range(PAGES):
        position = int(rng.integers(0, max(bar.maximum(), 1)))
        start = time.perf_counter()
        bar.setValue(position)
        middle = time.perf_counter()
        pixmap = view.viewport().grab()
        end = time.perf_counter()
        assert not pixmap.isNull()
        grabs.append((end - middle) * 1000)
        scroll_and_grabs.append((end - start) * 1000)
    rows_on_page = view.rowAt(view.viewport().height() - 1) - view.rowAt(0) + 1
    FIGURES.append(
        (
            f"fetch and paint a page ({rows_on_page} rows x 14 columns), median",
            f"{statistics.median(grabs):9.1f} ms",
        )
    )
    FIGURES.append((f"fetch and paint a page, slowest of {PAGES}", f"{max(grabs):9.1f} ms"))
    FIGURES.append(
        ("scroll + paint a page, median", f"{statistics.median(scroll_and_grabs):9.1f} ms")
    )
    assert model.rowCount() == len(table)


def test_load_client_table_on_the_benchmark_office() -> None:
    path = CACHE / f"office-{BENCH_CLIENTS}.db"
    if not path.exists():
        pytest.skip(f"{path} has not been built (run the other benchmarks once)")
    office = Office.open(path, create=False)
    try:
        for attempt in ("cold", "warm"):

            def load() -> ClientTable:
                with office.database.read() as connection:
                    return load_client_table(connection, runs.current_run(connection))

            loaded = timed(f"load_client_table, {BENCH_CLIENTS:,}-client office ({attempt})", load)
            timed(
                f"  + sort keys and search text ({attempt})",
                lambda table=loaded: ClientTableKeys(table),  # type: ignore[misc]
            )
        assert len(loaded) == BENCH_CLIENTS
    finally:
        office.close()


def test_print_figures() -> None:
    width = max(len(label) for label, _ in FIGURES)
    print(f"\n[clients table] {ROWS:,} rows")
    for label, figure in FIGURES:
        print(f"  {label:<{width}}  {figure}")

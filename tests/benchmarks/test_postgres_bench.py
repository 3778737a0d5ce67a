"""Run Segmentation and the live preview on PostgreSQL, beside SQLite and a bare GROUP BY.

Run with `SEG_TEST_POSTGRES_URL=... .venv/bin/python -m pytest
tests/benchmarks/test_postgres_bench.py -s`. Skipped without a server.
Figures are printed; nothing here asserts a time.

Sizes: SEG_PG_BENCH_CLIENTS (default "50000,250000"). Each size's office is
the demo office as a SQLite file in the bench cache (built once, like the
other benchmarks'), copied once with `seg_desktop.store.migrate.migrate_office`
into a database `seg_bench_<clients>` on the test server and reused by later
runs on that server. Both get a covering index on revenue (client_id, date,
amount_cents) for the bare GROUP BY, and the server database is ANALYZEd.

Measured per size, each the median of a few rounds:
* Run Segmentation on PostgreSQL and on SQLite (`Office.run_segmentation`: range,
  productions, tiers of both strategies, every assignment saved, one transaction);
* the bare server-side `SELECT client_id, SUM(amount_cents) FROM revenue WHERE
  date BETWEEN … GROUP BY client_id`, fetched, on both engines;
* the live preview of a three-criterion segment (`Office.count_matching`).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from seg_desktop.core.engine import Trigger
from seg_desktop.core.periods import effective_range
from seg_desktop.core.rules import Criterion, Operator, RuleField, SegmentDefinition
from seg_desktop.store import data
from seg_desktop.store.office import Office
from tests.benchmarks.conftest import CACHE
from tests.conftest import postgres_server_url

AS_OF = dt.date.today()
SIZES = [int(n) for n in os.environ.get("SEG_PG_BENCH_CLIENTS", "50000,250000").split(",")]
# Building the 250,000-client office and copying it to the server takes longer than the
# suite's ten-minute limit per test (pyproject), once per machine and server.
pytestmark = pytest.mark.timeout(0)
PREVIEW = SegmentDefinition(
    "Big, frequent and active",
    (
        Criterion(RuleField.TOTAL_REVENUE, Operator.GREATER_THAN, "50000"),
        Criterion(RuleField.INVOICE_COUNT, Operator.GREATER_THAN, "5"),
        Criterion(RuleField.LAST_INVOICE_DATE, Operator.LESS_THAN, "90 days ago"),
    ),
)
COVER = "CREATE INDEX IF NOT EXISTS bench_cover ON revenue (client_id, date, amount_cents)"
BARE = (
    "SELECT client_id, SUM(amount_cents) FROM revenue "
    "WHERE date BETWEEN :start AND :end GROUP BY client_id"
)


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sqlite_office(clients: int) -> Path:
    """The demo office of this size as a SQLite file in the bench cache (built once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"office-{clients}.db"
    if not path.exists():
        from seg_desktop.demo import load_demo

        partial = path.with_suffix(".partial.db")
        for leftover in CACHE.glob(partial.name + "*"):
            leftover.unlink()
        start = time.perf_counter()
        office = Office.open(partial)
        summary = load_demo(office, clients=clients)
        office.close()
        partial.rename(path)
        print(
            f"\n[pg bench] SQLite demo office, {clients:,} clients, "
            f"{summary.revenue_records:,} records: {time.perf_counter() - start:.0f} s"
        )
    with sqlite3.connect(path) as connection:
        connection.execute(COVER)
    return path


def postgres_office(server: str, clients: int, source: Path) -> str:
    """The same office on the server, copied once into seg_bench_<clients>, then reused."""
    from seg_desktop.store.migrate import migrate_office

    name = f"seg_bench_{clients}"
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists and not _complete(url, clients):
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                exists = None
            if not exists:
                connection.execute(
                    text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
                )
                start = time.perf_counter()
                report = migrate_office(source, url)
                rows = sum(t.target_rows for t in report.tables)
                print(
                    f"\n[pg bench] migrate_office {clients:,} clients, {rows:,} rows to "
                    f"PostgreSQL: {time.perf_counter() - start:.0f} s"
                )
    finally:
        admin.dispose()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(COVER))
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return url


def _complete(url: str, clients: int) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT COUNT(*) FROM client")).scalar()
        return count == clients
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server() -> str:
    found = postgres_server_url()
    if found is None:
        pytest.skip("set SEG_TEST_POSTGRES_URL to benchmark PostgreSQL")
    return found


@pytest.fixture(scope="module", params=SIZES, ids=[f"{n // 1000}k" for n in SIZES])
def offices(request: pytest.FixtureRequest, server: str) -> Iterator[tuple[int, Office, Office]]:
    """(clients, the SQLite office, the same office on PostgreSQL)."""
    clients = request.param
    source = sqlite_office(clients)
    url = postgres_office(server, clients, source)
    on_sqlite, on_postgres = Office.open(source), Office.open(url)
    yield clients, on_sqlite, on_postgres
    on_sqlite.close()
    on_postgres.close()


def bare_group_by(office: Office) -> float:
    with office.database.read() as connection:
        earliest = data.earliest_record_date(connection)
    period = effective_range(AS_OF, office.settings().segmentation, earliest)
    bounds = {"start": period.start, "end": period.end}
    if office.database.is_sqlite:
        bounds = {key: value.isoformat() for key, value in bounds.items()}

    def query() -> object:
        with office.database.engine.connect() as connection:
            return connection.execute(text(BARE), bounds).all()

    return median_seconds(query, 5)


def test_run_segmentation_on_postgresql_beside_sqlite_and_a_bare_group_by(
    offices: tuple[int, Office, Office],
) -> None:
    clients, on_sqlite, on_postgres = offices
    rounds = 3 if clients <= 50_000 else 2
    figures = {}
    for label, office in (("PostgreSQL", on_postgres), ("SQLite", on_sqlite)):
        run = median_seconds(
            lambda office=office: office.run_segmentation(AS_OF, Trigger.COMMAND_LINE),
            rounds,
        )
        figures[label] = (run, bare_group_by(office))
    pg_run, pg_bare = figures["PostgreSQL"]
    lite_run, lite_bare = figures["SQLite"]
    print(
        f"\n[pg bench] Run Segmentation at {clients:,} clients: PostgreSQL {pg_run:.2f} s, "
        f"SQLite {lite_run:.2f} s; bare server-side GROUP BY (covering index) "
        f"PostgreSQL {pg_bare:.2f} s, SQLite {lite_bare:.2f} s; run / bare on PostgreSQL "
        f"{pg_run / pg_bare:.1f}x"
    )


def test_live_preview_of_a_three_criterion_segment(offices: tuple[int, Office, Office]) -> None:
    clients, on_sqlite, on_postgres = offices
    matching = on_postgres.count_matching(PREVIEW, AS_OF)
    assert matching == on_sqlite.count_matching(PREVIEW, AS_OF)  # one answer on both engines
    pg = median_seconds(lambda: on_postgres.count_matching(PREVIEW, AS_OF), 9)
    lite = median_seconds(lambda: on_sqlite.count_matching(PREVIEW, AS_OF), 9)
    print(
        f"\n[pg bench] live preview (3 criteria, {matching:,} of {clients:,} match): "
        f"PostgreSQL {pg * 1000:.0f} ms, SQLite {lite * 1000:.0f} ms"
    )

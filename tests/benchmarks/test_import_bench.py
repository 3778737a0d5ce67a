"""Importing a ≈3.4M-line revenue CSV (50,000 clients x 36 months), beside a bare executemany.

Run with `.venv/bin/python -m pytest tests/benchmarks/test_import_bench.py -s`.
Each side runs in a fresh process so its peak resident size (VmHWM) is its own.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.benchmarks.conftest import BENCH_CLIENTS, CACHE, run_measured


@pytest.fixture(scope="module")
def revenue_csv() -> Path:
    """The demo's revenue as an office would export it: client ref, date, amount, reference."""
    from seg_desktop.demo import generate

    path = CACHE / f"revenue-{BENCH_CLIENTS}.csv"
    clients_path = CACHE / f"clients-{BENCH_CLIENTS}.csv"
    if path.exists() and clients_path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    new_clients, _groups, revenue = generate(BENCH_CLIENTS)
    ids = {client.ref: number for number, client in enumerate(new_clients, start=1)}
    refs = {number: ref for ref, number in ids.items()}
    with clients_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ref", "name", "email", "status", "tags", "groups"])
        for client in new_clients:
            writer.writerow(
                [
                    client.ref,
                    client.name,
                    client.email or "",
                    client.status or "",
                    ";".join(sorted(client.tags)),
                    ";".join(client.groups),
                ]
            )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["client_ref", "date", "amount", "reference"])
        for record in revenue(ids):
            cents = record.amount_cents
            sign = "-" if cents < 0 else ""
            writer.writerow(
                [
                    refs[record.client_id],
                    record.date.isoformat(),
                    f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}",
                    record.reference or "",
                ]
            )
    return path


def test_import_revenue_csv(revenue_csv: Path, tmp_path: Path) -> None:
    """Rows per second and peak memory of `import revenue`, and of a bare executemany."""
    clients_csv = revenue_csv.with_name(f"clients-{BENCH_CLIENTS}.csv")
    db = tmp_path / "import.db"
    ours = run_measured(
        "import time, json\n"
        "from pathlib import Path\n"
        "from seg_desktop.store.office import Office\n"
        "from seg_desktop.io.importing import import_file\n"
        "from seg_desktop.io.readers import ImportOptions\n"
        f"office = Office.open({str(db)!r})\n"
        f"import_file(office, 'clients', Path({str(clients_csv)!r}), ImportOptions())\n"
        "start = time.perf_counter()\n"
        f"result = import_file(office, 'revenue', Path({str(revenue_csv)!r}), ImportOptions())\n"
        "seconds = time.perf_counter() - start\n"
        "again = time.perf_counter()\n"
        f"second = import_file(office, 'revenue', Path({str(revenue_csv)!r}), ImportOptions())\n"
        "print(json.dumps({'seconds': seconds, 'rows': result.rows_read, 'added': result.added,"
        " 'problems': result.problem_count, 'second_added': second.added,"
        " 'second_seconds': time.perf_counter() - again}))\n"
    )
    bare_db = tmp_path / "bare.db"
    bare = run_measured(
        "import csv, sqlite3, time, json\n"
        f"rows = list(csv.reader(open({str(revenue_csv)!r}, newline='')))[1:]\n"
        "rows = [(r[0], r[1], int(r[2].replace('.', '')), r[3] or None) for r in rows]\n"
        f"connection = sqlite3.connect({str(bare_db)!r})\n"
        "connection.execute('CREATE TABLE revenue (client_ref TEXT, date TEXT,"
        " amount_cents INTEGER, reference TEXT)')\n"
        "start = time.perf_counter()\n"
        "connection.executemany('INSERT INTO revenue VALUES (?, ?, ?, ?)', rows)\n"
        "connection.commit()\n"
        "print(json.dumps({'seconds': time.perf_counter() - start, 'rows': len(rows)}))\n"
    )
    rows = ours["rows"]
    assert ours["added"] == rows and ours["problems"] == 0 and ours["second_added"] == 0
    print(
        f"\n[import] {int(rows):,} revenue rows: {ours['seconds']:.1f} s "
        f"({rows / ours['seconds']:,.0f} rows/s), peak {ours['peak_mb']:.0f} MB; "
        f"re-import adds {int(ours['second_added'])} in {ours['second_seconds']:.1f} s\n"
        f"[import] bare sqlite3 executemany of the same {int(bare['rows']):,} rows (parsed "
        f"beforehand, no index, no matching): {bare['seconds']:.1f} s "
        f"({bare['rows'] / bare['seconds']:,.0f} rows/s), peak {bare['peak_mb']:.0f} MB "
        "(it holds every row in memory)"
    )

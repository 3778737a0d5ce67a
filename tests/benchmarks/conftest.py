"""Shared fixtures for the benchmarks: one large demo office, built once and reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

BENCH_CLIENTS = int(os.environ.get("SEG_BENCH_CLIENTS", "50000"))
CACHE = Path(os.environ.get("SEG_BENCH_DIR", Path(tempfile.gettempdir()) / "seg_desktop_bench"))


def run_measured(code: str) -> dict[str, float]:
    """Run Python code in a fresh process; returns the JSON it prints plus its peak RSS (VmHWM).

    The code's last statement prints a JSON object; the process's peak
    resident size is read from /proc just before it exits.
    """
    wrapper = (
        code
        + "\nimport json as _j\n"
        + "_hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        + "print(_j.dumps({'__vmhwm_kb': int(_hwm.split()[1])}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = {}
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            figures.update(json.loads(line))
    figures["peak_mb"] = figures.pop("__vmhwm_kb") / 1024
    return figures


@pytest.fixture(scope="session")
def big_office() -> Path:
    """A demo office with BENCH_CLIENTS clients x 36 months, built once per machine."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"office-{BENCH_CLIENTS}.db"
    if not path.exists():
        partial = path.with_suffix(".partial.db")
        for leftover in CACHE.glob(partial.name + "*"):
            leftover.unlink()
        figures = run_measured(
            "import time\n"
            "from seg_desktop.store.office import Office\n"
            "from seg_desktop.demo import load_demo\n"
            "start = time.perf_counter()\n"
            f"office = Office.open({str(partial)!r})\n"
            f"summary = load_demo(office, clients={BENCH_CLIENTS})\n"
            "office.close()\n"
            "print(json.dumps({'seconds': time.perf_counter() - start,"
            " 'records': summary.revenue_records}))\n".replace(
                "json.dumps", "__import__('json').dumps"
            )
        )
        print(
            f"\n[demo] {BENCH_CLIENTS:,} clients, {int(figures['records']):,} records: "
            f"{figures['seconds']:.1f} s, peak {figures['peak_mb']:.0f} MB"
        )
        partial.rename(path)
    return path

"""kill -9 at random moments, at least 100 times: nothing half-written, nothing committed lost.

Slow (about 2-3 minutes on 2 cores) and POSIX-only, so it is not in the default
run: ``.venv/bin/python -m pytest tests/crash -s``. The harness and its checks
are described in ``crash_harness.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.crash.crash_harness import SCENARIOS, run_campaign

ATTEMPTS_PER_SCENARIO = int(os.environ.get("SEG_CRASH_ATTEMPTS", "40"))


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_kill_9_during_import_run_and_backup_leaves_every_database_whole(tmp_path: Path) -> None:
    figures = run_campaign(tmp_path, attempts_per_scenario=ATTEMPTS_PER_SCENARIO)
    print()
    for line in figures.lines():
        print(line)

    assert len(figures.attempts) >= 3 * ATTEMPTS_PER_SCENARIO
    if ATTEMPTS_PER_SCENARIO >= 34:
        assert len(figures.attempts) >= 100
    failures = [f"{a.scenario}: {f}" for a in figures.attempts for f in a.failures]
    assert not failures + figures.final_failures
    # The kills must have hit the work itself, not only start-up and exit.
    mid_operation = figures.count(landed="database open") + figures.count(landed="unknown")
    assert mid_operation >= len(figures.attempts) // 3
    # Both outcomes occurred: work lost whole (killed before its commit) and saved whole.
    for scenario in ("import", "run"):
        assert figures.count(scenario=scenario, outcome="unchanged") > 0, scenario
        assert figures.count(scenario=scenario, outcome="committed") > 0, scenario
    assert set(SCENARIOS) == {a.scenario for a in figures.attempts}

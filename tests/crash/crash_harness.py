"""kill -9 at random moments during an import, Run Segmentation and a backup; then check.

Each attempt starts the real command in a child process (``python -m
seg_desktop import revenue ...``, ``python -m seg_desktop run ...``, or a
child taking a series of backups with thinning), sleeps a random, seeded
time and sends SIGKILL. Then:

* ``PRAGMA integrity_check`` is ok and ``seg-desktop check`` says OK;
* every saved run is complete (an assignment for every client and group, and
  its snapshot counts summing to them), and the current run is the previous one
  or a complete new one, never a mix;
* the revenue record count is the count before, or before + the file's lines,
  never in between, and an import that printed its summary is never lost;
* every listed backup passes the quick check, the newest backup the child
  reported is still there, and the database file and backups are private (0600).

Kill moments are drawn between the moment the child opens the database and a
little after it ends (measured by a few unkilled calibration runs), so most
land while the database is open; on Linux each kill is classified by looking
at the child's open files just before it is sent.

Run it as ``.venv/bin/python -m pytest tests/crash -s`` (the test) or
``.venv/bin/python -m tests.crash.crash_harness --attempts 40`` (figures only).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seg_desktop.demo import load_demo
from seg_desktop.store.backup import backups_folder, list_backups
from seg_desktop.store.office import Office
from seg_desktop.store.quick_check import diagnose

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 300
MONTHS = 12
LINES_PER_IMPORT = 3_000
BACKUPS_PER_CHILD = 12
SCENARIOS = ("import", "run", "backup")

BACKUP_CHILD = textwrap.dedent(
    """
    import datetime as dt, sys
    from seg_desktop.store.backup import take_backup
    db, first_day, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start = dt.datetime(2026, 1, 1, 9, 0)
    for day in range(first_day, first_day + count):
        made = take_backup(db, "daily", now=start + dt.timedelta(days=day))
        print("BACKUP", made, flush=True)
    """
)


@dataclass
class State:
    """What the database holds, as the checks see it."""

    revenue: int
    clients: int
    groups: int
    run_ids: list[int]


@dataclass
class Attempt:
    """One kill: where it landed, what it left, and whether every check passed."""

    scenario: str
    delay: float
    landed: str
    """'database open', 'before open' (still starting), 'after exit', or 'unknown'."""
    outcome: str
    """'unchanged' (the work was lost whole) or 'committed' (saved whole)."""
    summary_seen: bool
    failures: list[str] = field(default_factory=list)


@dataclass
class Figures:
    """Every attempt of a campaign and its timing."""

    attempts: list[Attempt] = field(default_factory=list)
    seconds: float = 0.0
    calibration: dict[str, tuple[float, float]] = field(default_factory=dict)
    partials_left: int = 0
    """Temporary backup files left by killed children before the final, clean backup."""
    backups_kept: int = 0
    final_failures: list[str] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        """Whether every check of every attempt, and the final ones, passed."""
        return not self.final_failures and all(not a.failures for a in self.attempts)

    def count(self, **match: str | bool) -> int:
        """How many attempts have these attribute values."""
        return sum(
            all(getattr(attempt, key) == value for key, value in match.items())
            for attempt in self.attempts
        )

    def lines(self) -> list[str]:
        """The figures as printed."""
        out = [
            f"[kill -9] {len(self.attempts)} attempts in {self.seconds:.0f} s "
            f"({CLIENTS} clients, {MONTHS} months, {LINES_PER_IMPORT:,} lines per import, "
            f"{BACKUPS_PER_CHILD} backups per backup child)"
        ]
        out.append(
            f"  {'scenario':9} {'attempts':>8} {'db open':>8} {'starting':>8} {'exited':>8} "
            f"{'lost':>6} {'saved':>6} {'summary':>8} {'failed':>7}"
        )
        for scenario in SCENARIOS:
            out.append(
                f"  {scenario:9} {self.count(scenario=scenario):>8} "
                f"{self.count(scenario=scenario, landed='database open'):>8} "
                f"{self.count(scenario=scenario, landed='before open'):>8} "
                f"{self.count(scenario=scenario, landed='after exit'):>8} "
                f"{self.count(scenario=scenario, outcome='unchanged'):>6} "
                f"{self.count(scenario=scenario, outcome='committed'):>6} "
                f"{self.count(scenario=scenario, summary_seen=True):>8} "
                f"{sum(bool(a.failures) for a in self.attempts if a.scenario == scenario):>7}"
            )
        landed_mid = self.count(landed="database open") + self.count(landed="before open")
        out.append(
            f"  kills landed mid-operation {landed_mid} (with the database open "
            f"{self.count(landed='database open')}), after completion "
            f"{self.count(landed='after exit')}; all checks passed: {self.all_ok}"
        )
        out.append(
            f"  partial backup files left by killed children: {self.partials_left}, removed by "
            f"the next backup; backups kept after thinning: {self.backups_kept}"
        )
        for scenario, (opened, total) in self.calibration.items():
            out.append(
                f"  calibration {scenario}: database opened at {opened * 1000:.0f} ms, "
                f"done at {total * 1000:.0f} ms"
            )
        for attempt in self.attempts:
            for failure in attempt.failures:
                out.append(f"  FAILED {attempt.scenario} after {attempt.delay:.3f} s: {failure}")
        out.extend(f"  FAILED at the end: {failure}" for failure in self.final_failures)
        return out


# --- the office and its files ----------------------------------------------------------------


def build_office(db: Path, seed: int) -> list[str]:
    """A small demo office with one run; returns its client refs."""
    office = Office.open(db)
    try:
        load_demo(office, clients=CLIENTS, months=MONTHS, seed=seed)
        office.run_segmentation()
        with office.database.read() as connection:
            return [str(row[0]) for row in connection.exec_driver_sql("SELECT ref FROM client")]
    finally:
        office.close()


def write_revenue_file(path: Path, refs: Sequence[str], tag: str, rng: random.Random) -> None:
    """LINES_PER_IMPORT new revenue lines (unique references, so each is one new record)."""
    lines = ["client_ref,date,amount,reference"]
    for number in range(LINES_PER_IMPORT):
        day = dt.date(2026, rng.randint(1, 10), rng.randint(1, 28))
        cents = rng.randint(-20_000, 900_000)
        sign = "-" if cents < 0 else ""
        lines.append(
            f"{rng.choice(refs)},{day.isoformat()},{sign}{abs(cents) // 100}.{abs(cents) % 100:02},"
            f"{tag}-{number}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_state(db: Path) -> State:
    """Counts read with a plain connection (recovering the log as the next start would)."""
    connection = sqlite3.connect(db)
    try:
        revenue, clients, groups = connection.execute(
            "SELECT (SELECT count(*) FROM revenue), (SELECT count(*) FROM client), "
            "(SELECT count(*) FROM client_group)"
        ).fetchone()
        run_ids = [int(row[0]) for row in connection.execute("SELECT id FROM run ORDER BY id")]
    finally:
        connection.close()
    return State(int(revenue), int(clients), int(groups), run_ids)


def check_everything(db: Path, before: State, reported_backups: Sequence[Path]) -> list[str]:
    """Every check of the module docstring; returns the failures."""
    failures: list[str] = []
    connection = sqlite3.connect(db)
    try:
        verdict = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
        if verdict != ["ok"]:
            failures.append(f"integrity_check: {verdict[:3]}")
        runs = {
            int(run_id): json.loads(snapshot)
            for run_id, snapshot in connection.execute("SELECT id, snapshot FROM run")
        }
        assigned: dict[tuple[int, str], int] = {
            (int(run_id), str(kind)): int(count)
            for run_id, kind, count in connection.execute(
                "SELECT run_id, kind, count(*) FROM run_assignment GROUP BY run_id, kind"
            )
        }
    finally:
        connection.close()
    after = read_state(db)
    subjects = {"individual": after.clients, "group": after.groups}
    for run_id, snapshot in runs.items():
        for kind, tiers in snapshot.items():
            counted = sum(int(tier["count"]) for tier in tiers)
            if assigned.get((run_id, kind), 0) != subjects[kind] or counted != subjects[kind]:
                failures.append(
                    f"run {run_id} {kind}: {assigned.get((run_id, kind), 0)} assignments, "
                    f"snapshot counts {counted}, expected {subjects[kind]}"
                )
    if after.run_ids[: len(before.run_ids)] != before.run_ids:
        failures.append(f"runs lost: before {before.run_ids}, after {after.run_ids}")
    if len(after.run_ids) - len(before.run_ids) not in (0, 1):
        failures.append(f"runs: before {before.run_ids}, after {after.run_ids}")
    if after.revenue not in (before.revenue, before.revenue + LINES_PER_IMPORT):
        failures.append(f"revenue: {before.revenue} -> {after.revenue} (a partial import)")
    check = subprocess.run(
        [sys.executable, "-m", "seg_desktop", "check", "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if check.returncode != 0 or "OK:" not in check.stdout:
        failures.append(f"seg-desktop check: {check.stdout.strip()} {check.stderr.strip()}")
    for backup in list_backups(db, verify=True):
        if not backup.ok:
            failures.append(f"backup {backup.path.name}: {backup.problem}")
        if backup.path.stat().st_mode & 0o077:
            failures.append(f"backup {backup.path.name} is readable by others")
    if reported_backups and not reported_backups[-1].exists():
        failures.append(f"the newest backup {reported_backups[-1].name} was lost")
    if db.stat().st_mode & 0o077:
        failures.append(f"{db.name} is readable by others")
    return failures


# --- children and kills ----------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # what was printed before the kill is in the pipe
    return env


def _has_open(pid: int, db: Path) -> bool | None:
    """Whether the process has the database (or its log) open; None where /proc is missing."""
    folder = Path(f"/proc/{pid}/fd")
    if not folder.is_dir():
        return None
    names = {str(db), str(db) + "-wal"}
    try:
        for entry in folder.iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(entry) in names:
                    return True
    except OSError:
        return None
    return False


def calibrate(command: Sequence[str], db: Path, runs: int = 3) -> tuple[float, float]:
    """Median seconds until the child opens the database, and until it exits (not killed)."""
    opened_at: list[float] = []
    totals: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=_child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen: float | None = None
        while child.poll() is None:
            if seen is None and _has_open(child.pid, db):
                seen = time.perf_counter() - started
            time.sleep(0.002)
        totals.append(time.perf_counter() - started)
        opened_at.append(seen if seen is not None else 0.0)
    return statistics.median(opened_at), statistics.median(totals)


def kill_at(command: Sequence[str], db: Path, delay: float) -> tuple[str, str, int | None]:
    """Run the child, SIGKILL it after `delay` seconds; returns (landed, stdout, returncode)."""
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    if child.poll() is not None:
        landed = "after exit"
    else:
        opened = _has_open(child.pid, db)
        landed = {True: "database open", False: "before open", None: "unknown"}[opened]
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
    stdout, _stderr = child.communicate()
    return landed, stdout, child.returncode


# --- the campaign ----------------------------------------------------------------------------


def run_campaign(
    workdir: Path,
    *,
    attempts_per_scenario: int = 40,
    seed: int = 20261124,
    log: Callable[[str], None] = print,
) -> Figures:
    """Build a small office in `workdir` and kill each scenario's child that many times."""
    started = time.perf_counter()
    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "office.db"
    refs = build_office(db, seed)
    python = [sys.executable, "-m", "seg_desktop"]
    backup_day = 0
    figures = Figures()

    def import_command(number: int) -> list[str]:
        path = workdir / f"revenue-{number:03}.csv"
        write_revenue_file(path, refs, f"K{number:03}", rng)
        return [*python, "import", "revenue", str(path), "--db", str(db)]

    def backup_command() -> list[str]:
        nonlocal backup_day
        command = [sys.executable, "-c", BACKUP_CHILD, str(db), str(backup_day)]
        backup_day += BACKUPS_PER_CHILD
        return [*command, str(BACKUPS_PER_CHILD)]

    run_command = [*python, "run", "--db", str(db)]
    figures.calibration = {
        "import": calibrate(import_command(999), db),
        "run": calibrate(run_command, db),
        "backup": calibrate(backup_command(), db),
    }
    order = [scenario for scenario in SCENARIOS for _ in range(attempts_per_scenario)]
    rng.shuffle(order)
    for number, scenario in enumerate(order):
        before = read_state(db)
        command = (
            import_command(number)
            if scenario == "import"
            else run_command
            if scenario == "run"
            else backup_command()
        )
        opened, total = figures.calibration[scenario]
        # From the moment the calibration saw the database open to just after the end: most
        # kills land with the database open, some after the work was saved or the child left.
        delay = rng.uniform(opened, total + 0.03)
        landed, stdout, _code = kill_at(command, db, delay)
        reported = [
            Path(line.split(" ", 1)[1])
            for line in stdout.splitlines()
            if line.startswith("BACKUP ")
        ]
        if scenario == "import":
            summary_seen = "revenue records" in stdout
        elif scenario == "run":
            summary_seen = stdout.startswith("Run ")
        else:
            summary_seen = bool(reported)
        failures = check_everything(db, before, reported)
        after = read_state(db)
        if scenario == "import":
            committed = after.revenue != before.revenue
        elif scenario == "run":
            committed = after.run_ids != before.run_ids
        else:
            committed = bool(reported)
        if (
            summary_seen
            and scenario == "import"
            and after.revenue != before.revenue + LINES_PER_IMPORT
        ):
            failures.append("an import that printed its summary was lost")
        if summary_seen and scenario == "run" and after.run_ids == before.run_ids:
            failures.append("a run that printed its summary was lost")
        attempt = Attempt(
            scenario,
            delay,
            landed,
            "committed" if committed else "unchanged",
            summary_seen,
            failures,
        )
        figures.attempts.append(attempt)
        if failures:
            log(f"attempt {number} ({scenario}, {delay:.3f} s): {failures}")
    # A last, unkilled backup: it must clear every partial file a killed one left.
    figures.partials_left = len(list(backups_folder(db).glob(".*.partial")))
    subprocess.run(
        [sys.executable, "-c", BACKUP_CHILD, str(db), str(backup_day), "1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    leftovers = list(backups_folder(db).glob(".*.partial"))
    if leftovers:
        figures.final_failures.append(f"partial backups left after a clean backup: {leftovers}")
    final = diagnose(db, full=True)
    if final is not None:
        figures.final_failures.append(final.message)
    figures.backups_kept = len(list_backups(db))
    figures.seconds = time.perf_counter() - started
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run a campaign from the command line and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--attempts", type=int, default=40, help="kills per scenario (40)")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--dir", type=Path, help="work folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="seg-crash-") as scratch:
        figures = run_campaign(
            args.dir or Path(scratch), attempts_per_scenario=args.attempts, seed=args.seed
        )
    for line in figures.lines():
        print(line)
    return 0 if figures.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())

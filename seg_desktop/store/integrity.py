"""The "Check database" command: engine checks, then the office's own invariants."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import BigInteger, Connection, cast, func, select

from seg_desktop.store.data import refresh_rollups
from seg_desktop.store.database import open_database
from seg_desktop.store.errors import StoreError
from seg_desktop.store.records import CheckReport as CheckReport
from seg_desktop.store.schema import ClientMonth, ClientStats, Revenue, Run, RunAssignment


def check_database(db: str | os.PathLike[str]) -> CheckReport:
    """Run every check on an existing database; never modifies it."""
    report = CheckReport(target=str(db))
    raw = os.fspath(db)
    if "://" not in raw:
        # A SQLite file: the full page check, read-only, before anything opens it for
        # writing (which could fold a stale log into it or make a new office of a 0-byte file).
        from seg_desktop.store.backup import describe_problem_with_backup
        from seg_desktop.store.quick_check import Problem, diagnose

        if not Path(raw).exists() or Path(raw).stat().st_size == 0:
            what = "does not exist" if not Path(raw).exists() else "is empty: not an office yet"
            report.problems.append(f"{raw} {what}")
            report.opened = False
            return report
        found = diagnose(raw, full=True)
        if found is not None:
            if found.problem is Problem.DISK_FULL:  # the file is fine: no backup is called for
                report.problems.append(found.message)
            else:
                report.problems.append(describe_problem_with_backup(raw, found.message.rstrip(".")))
            report.opened = bool(found.problem.is_damage)  # damage: DAMAGED; not ours: NOT CHECKED
            return report
        report.lines.append("SQLite integrity check: ok")
    try:
        database = open_database(db, create=False)
    except StoreError as error:
        report.problems.append(str(error))
        report.opened = False
        return report
    report.target = database.target
    try:
        with database.read() as connection:
            if database.is_sqlite:
                keys = list(connection.exec_driver_sql("PRAGMA foreign_key_check"))
                if keys:
                    report.problems.append(f"{len(keys)} rows point to records that do not exist")
                else:
                    report.lines.append("Foreign keys: ok")
            _check_rollups(connection, report)
            _check_runs(connection, report)
    except StoreError as error:
        report.problems.append(str(error))
    finally:
        database.close()
    return report


def _check_rollups(connection: Connection, report: CheckReport) -> None:
    revenue_total = connection.execute(
        select(cast(func.coalesce(func.sum(Revenue.amount_cents), 0), BigInteger), func.count())
    ).one()
    month_total = connection.execute(
        select(
            cast(func.coalesce(func.sum(ClientMonth.amount_cents), 0), BigInteger),
            func.coalesce(func.sum(ClientMonth.line_count), 0),
        )
    ).one()
    stats_total = connection.execute(
        select(
            cast(func.coalesce(func.sum(ClientStats.total_cents), 0), BigInteger),
            func.coalesce(func.sum(ClientStats.invoice_count), 0),
        )
    ).one()
    records = (int(revenue_total[0]), int(revenue_total[1]))
    if (int(month_total[0]), int(month_total[1])) != records or (
        int(stats_total[0]),
        int(stats_total[1]),
    ) != records:
        report.problems.append("the monthly totals do not match the revenue records")
    else:
        report.lines.append(f"Revenue rollups: ok ({records[1]:,} records)")


def _check_runs(connection: Connection, report: CheckReport) -> None:
    runs = int(connection.execute(select(func.count()).select_from(Run)).scalar() or 0)
    orphans = int(
        connection.execute(
            select(func.count())
            .select_from(RunAssignment)
            .where(RunAssignment.run_id.not_in(select(Run.id)))
        ).scalar()
        or 0
    )
    if orphans:
        report.problems.append(f"{orphans} run assignments belong to no run")
    else:
        report.lines.append(f"Runs: ok ({runs} saved)")


def repair_rollups(db: str | os.PathLike[str]) -> None:
    """Rebuild every rollup from the revenue records."""
    database = open_database(db, create=False)
    try:
        with database.write() as connection:
            refresh_rollups(connection)
    finally:
        database.close()

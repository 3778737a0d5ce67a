"""The command line: the window by default, and every job headless for schedulers and scripts.

Errors print one line to stderr and exit non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from seg_desktop import __version__

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INSUFFICIENT = 0, 1, 2, 3


class CommandError(Exception):
    """A failure to report to the user as one line."""


def default_database() -> Path:
    """The user's default office database in the platform's app-data folder."""
    from platformdirs import user_data_path

    folder = user_data_path("seg-desktop", appauthor=False)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / "office.db"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command (SPEC section 5)."""
    parser = argparse.ArgumentParser(
        prog="seg-desktop",
        description="Segment an office's clients into revenue tiers and rule-based segments.",
    )
    parser.add_argument("--version", action="version", version=f"seg-desktop {__version__}")
    db_help = "SQLite file or database URL (default: your office database in the app-data folder)"
    parser.add_argument("--db", help=db_help)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", help=db_help, default=argparse.SUPPRESS)
        return sub

    demo = command("demo", "create a demo office with realistic clients and revenue")
    demo.add_argument("--clients", type=_positive, default=2_000, help="how many clients (2000)")
    demo.add_argument("--months", type=_positive, default=36, help="months of revenue (36)")
    demo.add_argument(
        "--seed", type=int, default=7, help="random seed: the same seed, the same office"
    )

    importer = command("import", "import clients or revenue from a .csv or .xlsx file")
    importer.add_argument("kind", choices=["clients", "revenue"])
    importer.add_argument("file", type=Path)
    importer.add_argument("--dry-run", action="store_true", help="show the preview, change nothing")
    importer.add_argument(
        "--encoding", help="file encoding (default: detect UTF-8 or Windows-1252)"
    )
    importer.add_argument("--delimiter", help="CSV delimiter: , ; or tab (default: detect)")
    importer.add_argument("--decimal", choices=[".", ","], default=".", help="decimal separator")
    importer.add_argument(
        "--date-format", choices=["iso", "dmy", "mdy"], help="how dates are written in the file"
    )
    importer.add_argument("--sheet", help="the Excel sheet to read (default: the first)")
    importer.add_argument("--header-row", type=_positive, help="the row holding the column names")
    importer.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a field to a column header, e.g. --map ref='Account No' (repeatable)",
    )

    defs = command("definitions", "import or export strategies, settings and segments (TOML)")
    defs.add_argument("action", choices=["import", "export"])
    defs.add_argument("file", type=Path)

    run = command("run", "run segmentation and save the run")
    run.add_argument("--as-of", type=_date, help="as-of date (default: today)")
    run.add_argument("--json", action="store_true", help="print the saved run as JSON")

    export = command("export", "export the current run's tiers, or a segment's members")
    export.add_argument("--out", type=Path, required=True, help="output file (.xlsx or .csv)")
    export.add_argument("--segment", help="export this segment's members")
    export.add_argument(
        "--as-of", type=_date, help="date the segment is evaluated on (default: today)"
    )

    tasks = command("tasks", "list the open follow-up tasks by due date")
    tasks.add_argument("--all", action="store_true", help="include the tasks already done")
    tasks.add_argument("--segment", help="only the tasks of this segment's members")
    tasks.add_argument("--client", metavar="REF", help="only this client's tasks")

    activity = command("activity", "list or export what the automation rules did")
    activity.add_argument("--out", type=Path, help="write the log to this .csv file")
    activity.add_argument(
        "--limit", type=_positive, help="only the newest LIMIT entries (listing only)"
    )

    command("check", "check the database's integrity and print a verdict")

    listing = command("backups", "list the backups of a database file")
    listing.add_argument("--check", action="store_true", help="check each backup's pages too")
    command("backup", "take a backup of a database file now")
    restore = command("restore", "put a backup in place of the database (the current file is kept)")
    restore.add_argument("backup", type=Path, help="the backup file (see `seg-desktop backups`)")
    restore.add_argument(
        "--other-office",
        action="store_true",
        help="restore a backup of another office (it replaces this office entirely)",
    )

    move = commands.add_parser(
        "migrate",
        help="copy a whole office to another database (e.g. SQLite to PostgreSQL)",
        description="Copy a whole office to another, empty database and check both sides.",
    )
    move.add_argument("--from", dest="source", required=True, help="the office to copy")
    move.add_argument("--to", dest="target", required=True, help="a new, empty database")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `seg-desktop` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: _window,
        "demo": _demo,
        "import": _import,
        "definitions": _definitions,
        "run": _run,
        "export": _export,
        "check": _check,
        "tasks": _tasks,
        "activity": _activity,
        "migrate": _migrate,
        "backups": _backups,
        "backup": _backup,
        "restore": _restore,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("seg-desktop: interrupted; nothing more was saved", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # the one place every failure becomes a line, not a traceback
        print(f"seg-desktop: error: {_message(error)}", file=sys.stderr)
        return EXIT_ERROR


def _message(error: BaseException) -> str:
    from seg_desktop.io.readers import ImportFileError
    from seg_desktop.store.errors import StoreError

    if isinstance(error, CommandError | StoreError | ImportFileError | ValueError | OSError):
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            where = f" holding {error.filename}" if error.filename else ""
            return f"the disk{where} is full; free some space and try again"
        if isinstance(error, OSError) and error.strerror:
            name = f"{error.filename}: " if error.filename else ""
            return f"{name}{error.strerror}"
        return str(error)
    return f"unexpected {type(error).__name__}: {error}"


def _database(args: argparse.Namespace) -> str:
    db = getattr(args, "db", None)
    return str(db) if db else str(default_database())


@contextlib.contextmanager
def _writing(args: argparse.Namespace) -> Iterator[str]:
    """The database to write to, under the one-writer lock, with the day's backup taken.

    A server database needs neither: PostgreSQL serialises writers itself and is
    backed up by its own tools.
    """
    db = _database(args)
    if "://" in db:
        yield db
        return
    from seg_desktop.store.backup import daily_backup_if_due
    from seg_desktop.store.errors import BackupError
    from seg_desktop.store.lock import acquire_writer_lock

    with acquire_writer_lock(db):
        if Path(db).exists() and Path(db).stat().st_size > 0:
            try:
                daily_backup_if_due(db)
            except BackupError as error:
                print(f"seg-desktop: warning: no daily backup: {error}", file=sys.stderr)
        yield db


def _sqlite_path(args: argparse.Namespace) -> Path:
    db = _database(args)
    if "://" in db:
        raise CommandError(
            "backups are for desktop database files; back up a server with its tools"
        )
    return Path(db)


def _backups(args: argparse.Namespace) -> int:
    from seg_desktop.store.backup import list_backups

    found = list_backups(_sqlite_path(args), verify=args.check)
    if not found:
        print("No backups yet.")
    for info in found:
        state = "" if info.ok is None else ("  ok" if info.ok else f"  DAMAGED: {info.problem}")
        print(
            f"{info.taken_at:%Y-%m-%d %H:%M:%S}  {info.reason_label:<20} "
            f"{info.size / 1_048_576:8.1f} MB  {info.path}{state}"
        )
    return EXIT_OK


def _backup(args: argparse.Namespace) -> int:
    from seg_desktop.store.backup import take_backup
    from seg_desktop.store.lock import acquire_writer_lock

    path = _sqlite_path(args)
    with acquire_writer_lock(path):
        made = take_backup(path, "manual")
    print(f"Backup written to {made}")
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from seg_desktop.store.backup import is_backup_of, office_identity, restore_backup
    from seg_desktop.store.lock import acquire_writer_lock

    path = _sqlite_path(args)
    with acquire_writer_lock(path):
        other = is_backup_of(path, args.backup) is False
        origin = office_identity(args.backup)
        aside = restore_backup(path, args.backup, other_office=args.other_office)
    kept = f"; the replaced file is kept as {aside}" if aside is not None else ""
    of = f" (a backup of another office: {origin.describe()})" if other and origin else ""
    print(f"Restored {args.backup.name}{of} to {path}{kept}")
    return EXIT_OK


def _window(args: argparse.Namespace) -> int:
    try:
        from seg_desktop.gui.app import run_window
    except ImportError as error:
        raise CommandError(f"the window cannot start: {error}") from None
    return run_window(_database(args), db_given=bool(getattr(args, "db", None)))


def _demo(args: argparse.Namespace) -> int:
    from seg_desktop.demo import load_demo
    from seg_desktop.store.office import Office

    with _writing(args) as db:
        office = Office.open(db)
        try:
            summary = load_demo(office, clients=args.clients, months=args.months, seed=args.seed)
        finally:
            office.close()
    print(
        f"Demo office created in {office.target}: {summary.clients:,} clients, "
        f"{summary.revenue_records:,} revenue records from {summary.first_date} to "
        f"{summary.last_date}, {summary.groups:,} client groups."
    )
    print("Next: seg-desktop run --db ... to segment it.")
    return EXIT_OK


def _definitions(args: argparse.Namespace) -> int:
    from seg_desktop.io.definitions_file import read_definitions, write_definitions
    from seg_desktop.store.office import Office

    if args.action == "export":
        office = Office.open(_database(args), create=False)
        try:
            write_definitions(args.file, office.export_definitions())
        finally:
            office.close()
        print(f"Definitions written to {args.file}")
        return EXIT_OK
    with _writing(args) as db:
        office = Office.open(db)
        try:
            new = read_definitions(args.file, office.settings())
            office.replace_definitions(new)
        finally:
            office.close()
    strategies, segments = len(new.strategies), len(new.segments)
    print(
        f"Definitions imported from {args.file}: {'settings, ' if new.settings else ''}"
        f"{strategies} strateg{'y' if strategies == 1 else 'ies'}, "
        f"{segments} segment{'' if segments == 1 else 's'}."
    )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from seg_desktop.core.engine import Trigger
    from seg_desktop.core.periods import InsufficientData
    from seg_desktop.store.office import Office
    from seg_desktop.store.records import AutomationOutcome

    with _writing(args) as db:
        office = Office.open(db, create=False)
        try:
            summary, changes = office.run_segmentation(args.as_of, Trigger.COMMAND_LINE)
            rules = [info for info in office.automation_rules() if not info.rule.paused]
            outcome = changes.automation or AutomationOutcome()
        except InsufficientData as why:
            print(
                f"seg-desktop: insufficient data: {why}; the previous run stays current",
                file=sys.stderr,
            )
            return EXIT_INSUFFICIENT
        finally:
            office.close()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
        return EXIT_OK
    print(f"Run {summary.id} saved: {summary.range.describe()}, as of {summary.as_of.isoformat()}.")
    for kind, tiers in summary.tiers.items():
        counts = ", ".join(f"{tier.name} {tier.count:,}" for tier in tiers)
        print(f"  {kind.label}: {counts}")
    if rules:
        # Emails are only prepared here: they are sent from the window, after review.
        print(f"Automation: {outcome.describe()}.")
    broken = [info.rule.name for info in rules if info.broken is not None]
    if broken:
        print(
            f"seg-desktop: warning: automation rules not run (broken): {', '.join(broken)}",
            file=sys.stderr,
        )
    return EXIT_OK


def _tasks(args: argparse.Namespace) -> int:
    from seg_desktop.store.office import Office

    office = Office.open(_database(args), create=False)
    try:
        segment_id = office.find_segment(args.segment).id if args.segment else None
        client_id = None
        if args.client is not None:
            found = office.client_id_of(args.client)
            if found is None:
                raise CommandError(f"there is no client with the ref '{args.client}'")
            client_id = found
        tasks = office.tasks(args.all, segment_id, client_id)
        counts = office.task_counts()
    finally:
        office.close()
    for task in tasks:
        state = "done" if task.done else ("OVERDUE" if task.due < dt.date.today() else "")
        who = f"  [{task.assignee}]" if task.assignee else ""
        print(
            f"{task.due.isoformat()}  {state:<7}  {task.client_ref}  {task.client_name}: "
            f"{task.title}{who}"
        )
    print(
        f"{counts.open:,} open task{'' if counts.open == 1 else 's'} "
        f"({counts.due_today:,} due today, {counts.overdue:,} overdue)."
    )
    return EXIT_OK


def _activity(args: argparse.Namespace) -> int:
    from seg_desktop.store.office import Office

    office = Office.open(_database(args), create=False)
    try:
        entries = office.activity(limit=None if args.out else args.limit)
    finally:
        office.close()
    if args.out is not None:
        from seg_desktop.io.activity_export import write_activity_csv

        count = write_activity_csv(args.out, entries)
        print(f"{count:,} automation actions written to {args.out}")
        return EXIT_OK
    for entry in reversed(entries):
        print(
            f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.rule_name}  {entry.client_ref} "
            f"{entry.client_name}: {entry.detail} ({entry.cause})"
        )
    if not entries:
        print("No automation actions yet.")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from seg_desktop.io.exporting import export_clients
    from seg_desktop.store.office import Office

    office = Office.open(_database(args), create=False)
    try:
        if args.segment is not None:
            office.find_segment(args.segment)  # a clear error before any file is touched
        count = export_clients(office, args.out, args.segment, args.as_of)
    finally:
        office.close()
    what = f"members of '{args.segment}'" if args.segment else "clients with their tiers"
    print(f"{count:,} {what} written to {args.out}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    """`seg-desktop import clients|revenue FILE`: print the preview; non-zero if nothing imports."""
    try:
        from seg_desktop.io.importing import import_file, options_from_args
        from seg_desktop.io.readers import ImportFileError, check_import_file
    except ImportError:
        raise CommandError("importing files is not available in this build") from None
    from seg_desktop.store.office import Office

    if args.file.exists():
        check_import_file(args.file)  # a pipe or a device: refused before the lock is taken
    options = options_from_args(args)
    path = Path(args.file)
    if not path.exists():
        raise ImportFileError(f"{path} does not exist")
    with _writing(args) as db:
        office = Office.open(db)
        try:
            result = import_file(office, args.kind, path, options, dry_run=args.dry_run)
        finally:
            office.close()
    print(("Preview (nothing changed): " if args.dry_run else "") + result.summary())
    for problem in result.problems[:20]:
        print(f"  row {problem.row_number}: {problem.reason}")
    if result.problem_count > 20:
        print(f"  … and {result.problem_count - 20:,} more bad rows")
    if result.rows_read and not result.accepted:
        print("seg-desktop: error: no row of the file could be imported", file=sys.stderr)
        return 1
    if result.rows_read == 0:
        print("seg-desktop: error: the file holds no data rows", file=sys.stderr)
        return 1
    return 0


def _check(args: argparse.Namespace) -> int:
    from seg_desktop.store.integrity import check_database

    report = check_database(_database(args))
    for line in report.lines:
        print(line)
    print(report.verdict)
    return EXIT_OK if report.ok else EXIT_ERROR


def _migrate(args: argparse.Namespace) -> int:
    from seg_desktop.store.migrate import migrate_office

    report = migrate_office(args.source, args.target)
    for table in report.tables:
        print(f"  {table.name}: {table.source_rows:,} rows copied")
    total = report.target_revenue_cents
    print(
        f"Office copied from {report.source} to {report.target}; every table's row count and "
        f"the revenue total ({total // 100:,}.{total % 100:02d}) match. The source is unchanged."
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

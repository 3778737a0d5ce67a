"""When the nightly run is due, whether start-up must catch up, and the scheduler's command.

Pure functions of the clock's reading, so the window's timer and the tests
share one rule (SPEC section 2, "Nightly run"):

* while the program is open, segmentation runs once a day at the set time;
* at start-up it catches up when the last scheduled run (nightly, or the
  ``run`` command a system scheduler starts) is more than a day old, or there
  never was one;
* a catch-up that the set time would follow within :data:`CATCH_UP_GRACE`
  waits for it instead, so two runs never come minutes apart.

Times are naive local times, like the runs' ``created_at``.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

DAY = dt.timedelta(days=1)
CATCH_UP_GRACE = dt.timedelta(hours=1)
"""A catch-up this close before the set time is left to the set time."""
DEFAULT_TIME = dt.time(2, 0)


def next_due(now: dt.datetime, time_of_day: dt.time) -> dt.datetime:
    """The next time the nightly run is due: today at ``time_of_day`` if still ahead, else tomorrow.

    "Ahead" is strict: at exactly the set time the run is due now and the
    next one is tomorrow's.
    """
    today = dt.datetime.combine(now.date(), time_of_day)
    return today if today > now else today + DAY


def is_stale(last_run: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether the last scheduled run is more than a day old (or there never was one)."""
    return last_run is None or now - last_run > DAY


@dataclass(frozen=True)
class NightlyPlan:
    """What the scheduler does now and next."""

    run_now: bool
    """Run a catch-up at once."""
    next_at: dt.datetime | None
    """When the timer should next run segmentation (None: nightly runs are off)."""
    reason: str
    """The decision in words, for the settings page and the log."""


def plan_at_startup(
    now: dt.datetime, enabled: bool, time_of_day: dt.time, last_run: dt.datetime | None
) -> NightlyPlan:
    """The start-up decision: catch up now or not, and when the next nightly run is due."""
    if not enabled:
        return NightlyPlan(False, None, "Nightly runs are off.")
    due = next_due(now, time_of_day)
    at = due.strftime("%Y-%m-%d %H:%M")
    if not is_stale(last_run, now):
        assert last_run is not None
        return NightlyPlan(
            False,
            due,
            f"The last scheduled run ({last_run:%Y-%m-%d %H:%M}) is less than a day old; "
            f"next run {at}.",
        )
    if due - now <= CATCH_UP_GRACE:
        return NightlyPlan(False, due, f"The scheduled run at {at} is less than an hour away.")
    if last_run is None:
        missed = "There has been no scheduled run yet"
    else:
        missed = f"The last scheduled run ({last_run:%Y-%m-%d %H:%M}) is more than a day old"
    return NightlyPlan(True, due, f"{missed}: catching up now; next run {at}.")


def describe_next(now: dt.datetime, next_at: dt.datetime | None) -> str:
    """ "Next nightly run: today at 02:00" (or tomorrow, or a date) for the settings page."""
    if next_at is None:
        return "Nightly runs are off."
    if next_at.date() == now.date():
        day = "today"
    elif next_at.date() == now.date() + dt.timedelta(days=1):
        day = "tomorrow"
    else:
        day = next_at.date().isoformat()
    return f"Next nightly run: {day} at {next_at:%H:%M}."


# --- the command for the system's scheduler ------------------------------------------------


@dataclass(frozen=True)
class SchedulerCommand:
    """The ``run`` command for an office, and the line for the platform's scheduler."""

    command: str
    """The command itself, quoted for the platform's shell."""
    scheduler_line: str
    """A ready line: a crontab entry, or a ``schtasks`` command on Windows."""
    scheduler_name: str
    """What the scheduler is called ("cron", "Task Scheduler", "launchd or cron")."""


def _quote(argument: str, windows: bool) -> str:
    if not windows:
        return shlex.quote(argument)
    # cmd.exe: double quotes around anything with a space or a special character.
    if argument and not any(c in argument for c in ' \t&|<>^()"%'):
        return argument
    return '"' + argument.replace('"', '""') + '"'


def scheduler_command(
    program: Sequence[str], database: str, time_of_day: dt.time, platform: str
) -> SchedulerCommand:
    """The command a system scheduler runs when the program is closed.

    ``program`` is how to start seg-desktop (e.g. ``["/opt/seg/bin/seg-desktop"]``
    or ``[python, "-m", "seg_desktop"]``), full paths because schedulers run
    with a bare PATH; ``database`` the ``--db`` value; ``platform`` is
    ``sys.platform`` ("win32", "darwin", "linux").
    """
    windows = platform.startswith("win")
    parts = [*program, "run", "--db", database]
    command = " ".join(_quote(part, windows) for part in parts)
    if windows:
        inner = command.replace('"', '\\"')
        line = (
            f'schtasks /Create /SC DAILY /ST {time_of_day:%H:%M} /TN "seg-desktop nightly run" '
            f'/TR "{inner}"'
        )
        name = "Task Scheduler"
    else:
        line = f"{time_of_day.minute} {time_of_day.hour} * * * {command}"
        name = "launchd or cron" if platform == "darwin" else "cron"
    return SchedulerCommand(command=command, scheduler_line=line, scheduler_name=name)

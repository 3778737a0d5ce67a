"""Smoke test of the frozen application: build it, then use it as a user would, headless.

    .venv/bin/python packaging/smoke_test.py            # build dist/seg-desktop/, then test it
    .venv/bin/python packaging/smoke_test.py --reuse    # test the dist/ already built

In a fresh temporary HOME (XDG folders inside it), with `QT_QPA_PLATFORM=offscreen`:
`--version` must print pyproject's version; `demo`, `run`, `import clients`,
`export` to .xlsx and `check` must work on a SQLite office; the PostgreSQL driver
must load (a real office on the server when SEG_TEST_POSTGRES_URL is set, as in
`.ci/run`; else a connection to a closed port must fail as a connection error,
not as a missing module); the window must open, find its icon and Qt's German
translations, and close itself cleanly (gui/app.py's SEG_DESKTOP_SMOKE_EXIT_MS).
Any non-zero exit, unexpected output on stderr (a missing module or plugin,
a Qt warning) or file written inside dist/seg-desktop/ fails the test. Last, it
times the start-up to a shown window, frozen and `python -m seg_desktop`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dist" / "seg-desktop"
# On Windows seg-desktop.exe is a GUI program with no stdout; its console twin runs the
# same code, so the smoke test drives that one.
EXECUTABLE = APP / ("seg-desktop-cli.exe" if sys.platform == "win32" else "seg-desktop")
SMOKE_EXIT_VARIABLE = "SEG_DESKTOP_SMOKE_EXIT_MS"
SHOWN = "seg-desktop: window shown"
# Signs that the frozen app lacks a module or library, in a failure's message.
MISSING = ("ModuleNotFoundError", "ImportError", "No module named", "Cannot load library")
# What the offscreen platform always says when a main window is shown; nothing else
# may appear on stderr (a Qt warning such as "qt.qpa..." or "Could not find..." fails).
HARMLESS = ("This plugin does not support propagateSizeHints()",)
TIMEOUT = 300
WINDOW_TIMEOUT = 120


class SmokeFailure(Exception):
    """A step of the smoke test failed."""


def project_version() -> str:
    """The version in pyproject.toml, the one place it is written."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def environment(home: Path) -> dict[str, str]:
    """A clean environment: the temporary home, offscreen Qt, no Python settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "PSYCOPG", "QT_", "XDG_", "LC_", "LANGUAGE", "SEG_"))
    }
    env.update(
        HOME=str(home),
        USERPROFILE=str(home),
        APPDATA=str(home / "AppData" / "Roaming"),
        LOCALAPPDATA=str(home / "AppData" / "Local"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(home / "runtime"),
        QT_QPA_PLATFORM="offscreen",
        LANG="C.UTF-8",
        # psycopg must use the libpq bundled with psycopg_binary, not fall back to a
        # system libpq that a user's machine may not have
        PSYCOPG_IMPL="binary",
    )
    (home / "runtime").mkdir(parents=True, exist_ok=True, mode=0o700)
    return env


def check_stderr(step: str, stderr: str) -> None:
    """Fail on anything on stderr but the offscreen platform's one known line."""
    unexpected = [
        line for line in stderr.splitlines() if line.strip() and line.strip() not in HARMLESS
    ]
    if unexpected:
        raise SmokeFailure(f"{step}: unexpected output on stderr:\n" + "\n".join(unexpected))


def run_app(
    step: str,
    arguments: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    expect_code: int = 0,
    stderr_allowed: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the frozen app and check its exit code and stderr."""
    started = time.monotonic()
    result = subprocess.run(
        [str(EXECUTABLE), *arguments],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    elapsed = time.monotonic() - started
    if result.returncode != expect_code:
        raise SmokeFailure(
            f"{step}: exit code {result.returncode}, expected {expect_code}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    if not stderr_allowed:
        check_stderr(step, result.stderr)
    first = (result.stdout.strip().splitlines() or [""])[0]
    print(f"  ok  {step} ({elapsed:.1f} s): {first}")
    return result


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder` with its size and modification time."""
    entries: dict[str, tuple[int, int]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        entries[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return entries


def compare_listings(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> None:
    """Fail if anything inside the application folder was added, removed or changed."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
    if added or removed or changed:
        raise SmokeFailure(
            f"the app wrote inside its own folder {APP}: added {added[:10]}, "
            f"removed {removed[:10]}, changed {changed[:10]}"
        )


def xlsx_rows(path: Path) -> int:
    """How many rows the first sheet of an .xlsx has (a light check without openpyxl)."""
    with zipfile.ZipFile(path) as book:
        names = [name for name in book.namelist() if name.startswith("xl/worksheets/sheet")]
        if not names:
            raise SmokeFailure(f"{path} has no worksheet")
        return book.read(sorted(names)[0]).decode("utf-8").count("<row ")


def desktop_files() -> None:
    """On Linux: the desktop entry (valid, if desktop-file-validate is installed) and the
    icon theme's sizes are in the application folder."""
    if not sys.platform.startswith("linux"):
        return
    share = APP / "share"
    entry = share / "applications" / "seg-desktop.desktop"
    icons = [
        share / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "seg-desktop.png" for n in (16, 48, 256)
    ]
    missing = [str(path.relative_to(APP)) for path in [entry, *icons] if not path.is_file()]
    if missing:
        raise SmokeFailure(f"missing from the application folder: {missing}")
    validator = shutil.which("desktop-file-validate")
    if validator:
        result = subprocess.run([validator, str(entry)], capture_output=True, text=True)
        if result.returncode != 0 or result.stdout.strip():
            raise SmokeFailure(f"{entry.name} is not valid: {result.stdout}{result.stderr}")
    checked = "validated" if validator else "present (desktop-file-validate not installed)"
    print(f"  ok  desktop entry and icons {checked}")


def sqlite_steps(env: dict[str, str], work: Path) -> Path:
    """demo, run, import, export, check on a SQLite office; returns the office."""
    office = work / "o.db"
    db = ["--db", str(office)]
    run_app("demo", ["demo", *db, "--clients", "200"], env, work)
    run_app("run", ["run", *db], env, work)
    clients = work / "clients.csv"
    clients.write_text(
        "ref,name,email\nSMOKE-1,Smoke Test One,one@example.com\n"
        "SMOKE-2,Smoke Test Two,two@example.com\n",
        encoding="utf-8",
    )
    imported = run_app("import clients", ["import", "clients", str(clients), *db], env, work)
    if "added 2 clients" not in imported.stdout:
        raise SmokeFailure(f"import clients: expected 2 clients added, got: {imported.stdout}")
    run_app("run again", ["run", *db], env, work)
    out = work / "x.xlsx"
    run_app("export xlsx", ["export", *db, "--out", str(out)], env, work)
    rows = xlsx_rows(out)
    if rows != 203:  # a header and 202 clients
        raise SmokeFailure(f"export xlsx: {rows} rows in {out}, expected 203")
    run_app("check", ["check", *db], env, work)
    return office


def postgres_steps(env: dict[str, str], work: Path) -> None:
    """Show the PostgreSQL driver works: a real office on SEG_TEST_POSTGRES_URL, if set."""
    server = os.environ.get("SEG_TEST_POSTGRES_URL")
    if not server:
        result = run_app(
            "PostgreSQL driver loads (no server given: a refused connection is expected)",
            ["check", "--db", "postgresql+psycopg://smoke@127.0.0.1:9/none"],
            env,
            work,
            expect_code=1,
            stderr_allowed=True,
        )
        output = result.stdout + result.stderr
        # the driver got as far as libpq trying the port: the message is libpq's own
        if "connection failed" not in output or any(sign in output for sign in MISSING):
            raise SmokeFailure(f"PostgreSQL driver: unexpected failure: {output}")
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"seg_smoke_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        db = ["--db", url]
        run_app("PostgreSQL demo", ["demo", *db, "--clients", "50"], env, work)
        run_app("PostgreSQL run", ["run", *db], env, work)
        run_app("PostgreSQL export", ["export", *db, "--out", str(work / "pg.csv")], env, work)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_window(
    command: Sequence[str], env: dict[str, str], cwd: Path, step: str, language: str = "de"
) -> float:
    """Start the window, wait for it to be shown and to close itself; returns the seconds
    from starting the process to the window being shown."""
    env = dict(env, **{SMOKE_EXIT_VARIABLE: "200", "LANGUAGE": language})
    lines: list[tuple[float, str]] = []  # (seconds since start, line) as the app prints them
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stderr_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr_file, text=True
        )
        stdout = process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.append((time.perf_counter() - started, line.rstrip("\n")))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            process.wait(timeout=WINDOW_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise SmokeFailure(
                f"{step}: the window did not close itself within {WINDOW_TIMEOUT} s "
                f"(does gui/app.py honour {SMOKE_EXIT_VARIABLE}?)"
            ) from None
        finally:
            reader.join(timeout=10)
        stderr_file.seek(0)
        stderr = stderr_file.read()
    shown = [(seconds, line) for seconds, line in lines if line.startswith(SHOWN)]
    if process.returncode != 0 or not shown:
        output = "\n".join(line for _seconds, line in lines)
        raise SmokeFailure(
            f"{step}: exit code {process.returncode}, window shown: {bool(shown)}\n"
            f"stdout:\n{output}\nstderr:\n{stderr}"
        )
    check_stderr(step, stderr)
    shown_after, report = shown[0]
    if "icon found" not in report:
        raise SmokeFailure(f"{step}: the window icon was not found: {report}")
    if language == "de" and "Qt translations de" not in report:
        raise SmokeFailure(f"{step}: Qt's German translations were not loaded: {report}")
    return shown_after


def startup_times(env: dict[str, str], work: Path, office: Path, runs: int) -> None:
    """Print the median start-up time to a shown window, frozen and from the venv."""
    frozen = [str(EXECUTABLE), "--db", str(office)]
    # from the repository root, so `-m` finds this checkout's package first
    source = [sys.executable, "-m", "seg_desktop", "--db", str(office)]
    times: dict[str, list[float]] = {"frozen": [], "python -m seg_desktop": []}
    for _ in range(runs):  # interleaved, so a busy moment on the machine hits both alike
        times["frozen"].append(open_window(frozen, env, work, "timing (frozen)"))
        times["python -m seg_desktop"].append(
            open_window(source, env, ROOT, "timing (python -m seg_desktop)")
        )
    for label, seconds in times.items():
        values = ", ".join(f"{value:.2f}" for value in seconds)
        print(
            f"  start-up to a shown window, {label}: median {statistics.median(seconds):.2f} s"
            f" ({values})"
        )


def main(argv: list[str] | None = None) -> int:
    """Build (unless --reuse), run every step, report; returns the exit code."""
    parser = argparse.ArgumentParser(description="Smoke-test the frozen seg-desktop.")
    parser.add_argument(
        "--reuse", action="store_true", help="test dist/seg-desktop/ as built, if it exists"
    )
    parser.add_argument(
        "--timing-runs", type=int, default=3, help="start-up timings per variant (3)"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    if not (args.reuse and EXECUTABLE.exists()):
        build = [sys.executable, str(ROOT / "packaging" / "build.py")]
        if subprocess.run(build, cwd=ROOT).returncode != 0:
            print("smoke test: FAILED: the build failed", file=sys.stderr)
            return 1
    built = time.monotonic()
    print(f"smoke test: {EXECUTABLE.relative_to(ROOT)}")
    before = listing(APP)
    with tempfile.TemporaryDirectory(prefix="seg-smoke-") as folder:
        work = Path(folder)
        env = environment(work / "home")
        try:
            version = run_app("--version", ["--version"], env, work).stdout.strip()
            if version != f"seg-desktop {project_version()}":
                raise SmokeFailure(f"--version: {version!r}, pyproject: {project_version()}")
            office = sqlite_steps(env, work)
            postgres_steps(env, work)
            seconds = open_window([str(EXECUTABLE), "--db", str(office)], env, work, "window")
            print(f"  ok  window shown after {seconds:.2f} s with its icon and Qt translations")
            desktop_files()
            compare_listings(before, listing(APP))
            print("  ok  nothing written inside the application folder")
            if args.timing_runs > 0:
                startup_times(env, work, office, args.timing_runs)
        except (SmokeFailure, subprocess.TimeoutExpired) as failure:
            print(f"smoke test: FAILED: {failure}", file=sys.stderr)
            return 1
    finished = time.monotonic()
    print(f"smoke test: passed (build {built - started:.0f} s, tests {finished - built:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

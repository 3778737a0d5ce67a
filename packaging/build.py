"""Build seg-desktop into `dist/seg-desktop/` with one command.

    .venv/bin/python packaging/build.py

Steps: compile the Designer forms, resources and icons (`compile_forms.py`), then
run PyInstaller on `packaging/seg_desktop.spec` from the same Python (the venv,
with the `build` extra installed), replacing any previous `dist/seg-desktop/`.
Prints the folder's size and how long the build took. PyInstaller's work files
go to `build/pyinstaller/` (ignored by git); both folders are safe to delete.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "seg_desktop.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP = DIST / "seg-desktop"


def folder_size(folder: Path) -> int:
    """The bytes of every file under a folder (symlinks not followed)."""
    files = (path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
    return sum(path.lstat().st_size for path in files)


def describe_size(size: int) -> str:
    """A size in MB, as `du` would round it."""
    return f"{size / 1_000_000:.0f} MB"


def build(clean: bool = False) -> Path:
    """Compile the forms, run PyInstaller, and return the application folder."""
    subprocess.run([sys.executable, str(ROOT / "packaging" / "compile_forms.py")], check=True)
    if importlib.util.find_spec("PyInstaller") is None:
        raise SystemExit(
            "build: PyInstaller is not installed in this Python; run "
            "`.venv/bin/pip install -e '.[build]'`"
        )
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC),
    ]  # fmt: skip
    if clean:
        command.insert(3, "--clean")
    subprocess.run(command, check=True, cwd=ROOT)
    return APP


def main(argv: list[str] | None = None) -> int:
    """Build and report; returns the exit code."""
    parser = argparse.ArgumentParser(description="Build seg-desktop into dist/seg-desktop/.")
    parser.add_argument(
        "--clean", action="store_true", help="discard PyInstaller's cache and build from scratch"
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        app = build(clean=args.clean)
    except subprocess.CalledProcessError as error:
        print(f"build: failed: {' '.join(map(str, error.cmd))}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - start
    print(
        f"build: {app.relative_to(ROOT)} built in {elapsed:.0f} s, "
        f"{describe_size(folder_size(app))}; run it with {app.relative_to(ROOT)}/seg-desktop"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

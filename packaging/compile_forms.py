"""Compile the Designer forms, the resources and the icons into the package.

    python packaging/compile_forms.py           # write what changed
    python packaging/compile_forms.py --check   # exit 1 naming anything stale or missing

Sources and what is made from them:

* `resources/icons/seg-desktop.svg` → the PNGs, `.ico` and `.icns` beside it
  (`render_icons.py`; Qt draws them, nothing else is needed; a committed PNG
  within a few levels per pixel of the fresh rendering counts as current);
* `ui/*.ui` → `seg_desktop/gui/forms/ui_*.py` (pyside6-uic);
* `resources/seg_desktop.qrc` → `seg_desktop/gui/forms/seg_desktop_rc.py`
  (pyside6-rcc); a compiled form imports it with `from . import seg_desktop_rc`.

The compiled files are committed, so a fresh clone runs (and the package
installs) without anyone running a compiler; the test run calls `--check`
(`tests/unit/test_forms_fresh.py`), so a source edited without recompiling fails
CI. The output is deterministic: the compilers' version lines are replaced,
resources get a fixed timestamp and no compression, and line endings are `\\n`,
so the same sources give the same bytes on every machine with the pinned PySide6.
Everything is first compiled into a temporary folder, then compared or copied.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from render_icons import ICON_NAME, PNG_SIZES, icon_files

ROOT = Path(__file__).resolve().parents[1]
UI_DIR = ROOT / "ui"
RESOURCES = ROOT / "resources"
ICONS = RESOURCES / "icons"
QRC = RESOURCES / "seg_desktop.qrc"
FORMS = ROOT / "seg_desktop" / "gui" / "forms"
STAMP = "Compiled by packaging/compile_forms.py from {source}: edit the source, then run it"


def tool(name: str) -> str:
    """The path of a PySide6 tool installed beside this Python (the venv's), else on PATH."""
    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"compile_forms: {name} not found; install PySide6-Essentials")
    return found


def run(command: list[str], cwd: Path) -> str:
    """Run a compiler and return its standard output, failing loudly with its message."""
    env = dict(os.environ, QT_RCC_SOURCE_DATE_OVERRIDE="1")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"compile_forms: {' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def normalise(text: str, source: str) -> str:
    """Compiler output without the lines that change with the compiler's version."""
    text = text.replace("\r\n", "\n")
    text = re.sub(r"^## Created by: .*\n##\n", "", text, flags=re.MULTILINE)  # uic
    text = re.sub(r"^# Created by: .*\n", "", text, flags=re.MULTILINE)  # rcc
    stamp = STAMP.format(source=source)
    # uic starts with a "#### ... ####" banner, rcc with "# Resource object code"
    if text.startswith("# -*- coding: utf-8 -*-\n"):
        text = text.replace("## Form generated", f"## {stamp}\n## Form generated", 1)
    else:
        text = f"# {stamp}\n" + text
    return text.rstrip("\n") + "\n"


def expected_files(work: Path) -> dict[Path, bytes]:
    """Every compiled file with the bytes it should have, keyed by its path in the repo."""
    expected: dict[Path, bytes] = {}
    committed = {}
    for size in PNG_SIZES:
        data = read(ICONS / f"{ICON_NAME}-{size}.png")
        if data is not None:
            committed[size] = data
    icons = icon_files(ICONS / f"{ICON_NAME}.svg", committed)
    for name, data in icons.items():
        expected[ICONS / name] = data

    # rcc reads the icons from disk: compile a copy of resources/ holding the fresh ones,
    # so --check judges the .qrc's output by what the sources say, not by stale files.
    resources = work / "resources"
    shutil.copytree(RESOURCES, resources)
    for name, data in icons.items():
        (resources / "icons" / name).write_bytes(data)
    rcc = [tool("pyside6-rcc"), "-g", "python", "--no-compress", QRC.name]
    expected[FORMS / f"{QRC.stem}_rc.py"] = normalise(
        run(rcc, resources), f"resources/{QRC.name}"
    ).encode()

    uic = tool("pyside6-uic")
    for ui in sorted(UI_DIR.glob("*.ui")):
        text = run([uic, "-g", "python", "--from-imports", ui.name], UI_DIR)
        expected[FORMS / f"ui_{ui.stem}.py"] = normalise(text, f"ui/{ui.name}").encode()
    return expected


def orphans(expected: dict[Path, bytes]) -> list[Path]:
    """Compiled forms whose source is gone."""
    compiled = set(FORMS.glob("ui_*.py")) | set(FORMS.glob("*_rc.py"))
    return sorted(compiled - set(expected))


def read(path: Path) -> bytes | None:
    """A file's bytes with `\\n` line endings for text (a checkout may have made them
    `\\r\\n`), or None when it does not exist."""
    if not path.exists():
        return None
    data = path.read_bytes()
    return data.replace(b"\r\n", b"\n") if path.suffix == ".py" else data


def main(argv: list[str] | None = None) -> int:
    """Compile, or with --check report what is stale; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if anything is stale"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seg-forms-") as work:
        expected = expected_files(Path(work))
    problems: list[str] = []
    for path, data in expected.items():
        current = read(path)
        if current == data:
            continue
        state = "missing" if current is None else "stale"
        shown = path.relative_to(ROOT)
        if args.check:
            problems.append(f"{state}: {shown}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"compile_forms: wrote {shown} ({state} before)")
    for path in orphans(expected):
        shown = path.relative_to(ROOT)
        if args.check:
            problems.append(f"no source: {shown}")
        else:
            path.unlink()
            print(f"compile_forms: removed {shown} (its source is gone)")
    if problems:
        print("compile_forms: compiled files do not match their sources:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        print("run: python packaging/compile_forms.py (then commit the result)", file=sys.stderr)
        return 1
    if args.check:
        print(f"compile_forms: {len(expected)} compiled files are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())

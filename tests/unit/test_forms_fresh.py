"""The compiled forms, resources and icons in the repository match their sources.

`packaging/compile_forms.py --check` recompiles `ui/*.ui`, `resources/seg_desktop.qrc`
and the icons rendered from `resources/icons/seg-desktop.svg` into a temporary
folder and compares; it runs in a subprocess so this test imports no Qt itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_compiled_forms_match_their_sources() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "compile_forms.py"), "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout

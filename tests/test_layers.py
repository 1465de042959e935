"""The layer rule, held by machine: core never imports OpenCV/SciPy/Qt; nothing but gui
imports Qt, and no library module loads matplotlib or swaps the SIGINT handler on import.
Checked in a fresh interpreter so earlier imports in this process cannot hide it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import tracker_annotate

ALL = sorted(
    m.name
    for m in pkgutil.walk_packages(tracker_annotate.__path__, "tracker_annotate.")
    if ".gui" not in m.name and not m.name.endswith("__main__")
)


def _imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("module", [m for m in ALL if m.startswith("tracker_annotate.core")])
def test_core_imports_numpy_only(module: str) -> None:
    mods = _imported_after(module)
    assert not {m for m in mods if m.split(".")[0] in {"cv2", "scipy", "filterpy", "PyQt6"}}


def test_non_gui_layers_never_import_qt_nor_matplotlib_nor_seize_sigint() -> None:
    """One fresh interpreter imports every non-gui module (and registers every CLI command's
    options): no PyQt6, no matplotlib (library code picks no backend; ``bench`` imports it
    only to draw), and the SIGINT handler untouched (the CLI, not the library, owns it)."""
    assert "tracker_annotate.bench.render" in ALL and "tracker_annotate.app.batch" in ALL
    code = (
        "import json, signal, sys\n"
        "before = signal.getsignal(signal.SIGINT)\n"
        + "".join(f"import {m}\n" for m in ALL)
        + "from tracker_annotate.cli.main import build_parser\n"
        "build_parser()\n"
        "loaded = lambda top: sorted(m for m in sys.modules if m.split('.')[0] == top)\n"
        "print(json.dumps({'qt': loaded('PyQt6'), 'mpl': loaded('matplotlib'),"
        " 'same': signal.getsignal(signal.SIGINT) is before}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["qt"] == [], out.stderr
    assert got == {"qt": [], "mpl": [], "same": True}

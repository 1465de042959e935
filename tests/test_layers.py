"""The layer rule, held by machine: core never imports OpenCV/SciPy/Qt; nothing but gui
imports Qt. Checked in a fresh interpreter so earlier imports in this process cannot hide it."""

from __future__ import annotations

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


def test_non_gui_layers_never_import_qt() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in ALL)
        + ("print(any(m.split('.')[0] == 'PyQt6' for m in sys.modules))")
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr

"""The core install (``pip install tracker_annotate``) is the CLI, the engine and the formats,
with no Qt and no matplotlib; ``[gui]`` adds PyQt6 and ``[bench]`` matplotlib. (filterpy
1.4.5 itself declares matplotlib, for plotting helpers its Kalman filter never imports; so
pip still fetches it, and nothing of ours imports it.)

``make core`` runs ``tests/cli`` and ``tests/app`` in a venv holding only the core install
and the ``[test]`` tools, with filterpy's matplotlib removed (``TA_REQUIRE_CORE_INSTALL=1``):
there the first test proves the environment really lacks PyQt6 and matplotlib. In the full
venv the same CLI runs are made in a fresh interpreter where importing either package
fails, so a stray import is caught by every run of the suite, not only by CI.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_videos"
GUI_ONLY = ("PyQt6", "matplotlib")

# A fresh interpreter in which PyQt6 and matplotlib cannot be imported (as if not installed),
# then the real command line. It prints which of them ended up in sys.modules.
_RUN_WITHOUT = """
import importlib.abc, sys
BLOCKED = {blocked!r}

class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Absent())
from tracker_annotate.cli.main import main
code = main({argv!r})
print("LOADED:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)))
sys.exit(code)
"""


def _cli_without(
    argv: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    code = _RUN_WITHOUT.format(blocked=GUI_ONLY, argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


@pytest.mark.skipif(
    os.environ.get("TA_REQUIRE_CORE_INSTALL") != "1", reason="only in the core-install venv"
)
def test_the_core_install_has_no_qt_and_no_matplotlib() -> None:
    present = [m for m in GUI_ONLY if importlib.util.find_spec(m) is not None]
    assert present == [], f"the core-install venv holds {present}: `make core` proves nothing"


def test_pyproject_keeps_qt_and_matplotlib_out_of_the_core_install() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = " ".join(meta["dependencies"]).lower()
    extras = meta["optional-dependencies"]
    assert "pyqt6" not in core and "matplotlib" not in core
    assert any(d.lower().startswith("pyqt6") for d in extras["gui"])
    assert any(d.lower().startswith("matplotlib") for d in extras["bench"])
    # the README's commands install everything through [dev]
    assert any("gui" in d and "bench" in d for d in extras["dev"] if d.startswith("tracker"))


@pytest.mark.skipif(not (SAMPLE / "synthetic.mp4").is_file(), reason="no sample_videos")
def test_track_status_and_export_run_without_qt_or_matplotlib(tmp_path: Path) -> None:
    init = tmp_path / "first_box.txt"
    init.write_text((SAMPLE / "keyframes.txt").read_text().splitlines()[0] + "\n")
    out = tmp_path / "result.taproj"
    video = str(SAMPLE / "synthetic.mp4")
    track = _cli_without(
        ["track", video, "--init", str(init), "--out", str(out), "--quiet", "--tracker", "nano"]
    )
    assert track.returncode == 0, track.stderr
    assert track.stdout.strip().endswith("LOADED:"), track.stdout
    assert out.is_file() and out.stat().st_size > 0
    for argv in (
        ["info", video],
        ["status", str(out)],
        ["export", str(out), str(tmp_path / "a.xml")],
    ):
        run = _cli_without(argv)
        assert run.returncode == 0, (argv, run.stderr)
        assert run.stdout.strip().endswith("LOADED:"), (argv, run.stdout)
    assert "<annotations>" in (tmp_path / "a.xml").read_text()


def test_the_gui_command_without_pyqt6_names_the_extra(tmp_path: Path) -> None:
    run = _cli_without(["gui", str(tmp_path)], env={"QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode != 0
    assert "tracker_annotate[gui]" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr

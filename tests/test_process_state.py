"""Library code does not seize process state: drawing the benchmark's plots picks no
backend; the CLI's Ctrl+C handler is installed only while a batch runs and restored after.
(That importing any non-gui module leaves SIGINT alone and loads no matplotlib is checked
with the layer rule, in tests/test_layers.py, in the same fresh interpreter.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tracker_annotate.cli.interrupt import cancel_on_sigint
from tracker_annotate.tracking.api import CancelToken


def _run(code: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    got: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def test_drawing_the_plots_chooses_no_backend(tmp_path: Path) -> None:
    """write_plots uses Figure objects: no pyplot, so a caller's backend is untouched."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from tracker_annotate.bench.render import write_plots\n"
        "res = {'sequences': {'s': {'per_frame': {'seconds': 10.0},"
        " 'interpolation': {'seconds': 4.0}}}, 'tau': 0.7, 'tradeoff': [], 'summary': {}}\n"
        f"paths = write_plots(res, Path({str(tmp_path)!r}))\n"
        "print(json.dumps({'paths': [Path(p).name for p in paths],"
        " 'pyplot': 'matplotlib.pyplot' in sys.modules}))"
    )
    got = _run(code)
    assert got["pyplot"] is False
    assert "seconds_per_sequence.png" in got["paths"]  # type: ignore[operator]
    assert (tmp_path / "seconds_per_sequence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cancel_on_sigint_cancels_then_restores_the_handler() -> None:
    before = signal.getsignal(signal.SIGINT)
    token = CancelToken()
    with cancel_on_sigint(token):
        assert signal.getsignal(signal.SIGINT) is not before
        signal.raise_signal(signal.SIGINT)  # first Ctrl+C: cancel, no exception
        assert token.cancelled
        with pytest.raises(KeyboardInterrupt):  # second: stop now
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before

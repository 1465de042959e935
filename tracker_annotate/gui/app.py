"""Start the desktop app: ``run_gui(path)`` (used by ``tracker-annotate gui [PATH]``)."""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Sequence

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from tracker_annotate import __version__
from tracker_annotate.gui import errors
from tracker_annotate.gui.main_window import MainWindow

log = logging.getLogger(__name__)


#: glibc's ``mallopt`` parameter number for the mmap threshold
_M_MMAP_THRESHOLD = -3
FRAME_MMAP_THRESHOLD = 512 * 1024


def limit_heap_retention(threshold: int = FRAME_MMAP_THRESHOLD) -> bool:
    """Give every allocation above ``threshold`` bytes its own mapping (glibc only).

    Decoded frames (0.9 MB at 640x480, 6 MB at 1080p) come and go with the frame cache.
    By default glibc raises its mmap threshold after the first large frees and from then
    on serves frames from the heap, which keeps what the cache evicted: the app grew to
    ~1.7x its cache budget on a 1080p video (benchmarks/results/gui.md). With a fixed
    threshold an evicted frame goes back to the system. Returns whether it applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False


def make_app(argv: Sequence[str] | None = None) -> QApplication:
    """The application object (created once), with the process-wide memory policy."""
    limit_heap_retention()
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName("tracker_annotate")
    app.setApplicationName("tracker-annotate")
    app.setApplicationVersion(__version__)
    return app


def run_gui(path: str | None = None) -> int:
    """Open the main window (and ``path`` if given) and run until it closes."""
    app = make_app()
    errors.install_excepthook()
    win = MainWindow()
    win.restore_layout()
    win.show()
    if path:
        QTimer.singleShot(0, lambda: win.open_path(path))
    return int(app.exec())

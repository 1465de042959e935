"""Start the desktop app: ``run_gui(path)`` (used by ``tracker-annotate gui [PATH]``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from tracker_annotate import __version__
from tracker_annotate.gui import errors
from tracker_annotate.gui.main_window import MainWindow

log = logging.getLogger(__name__)


def make_app(argv: Sequence[str] | None = None) -> QApplication:
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

"""The Qt side of an open document: the background length scan and the view-save timer.

The document itself (store, source, session, open and relink flows) is Qt-free, in
:mod:`tracker_annotate.app.document`; :func:`open_document` here opens one with these two
adapters handed in. A new video's first frame shows at once: its real length is counted
by a :class:`LengthScan` thread (the header's claim is used until it finishes and
corrected if it lied), and frame, zoom and selection are saved a second after they change.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PyQt6.QtCore import QThread, QTimer, pyqtSignal

from tracker_annotate.app.document import (
    ChooseMedia,
    ChooseProjectPath,
    Document,
    count_frames,
)
from tracker_annotate.app.document import open_document as open_headless
from tracker_annotate.io.media import MediaConfig, MediaSource

__all__ = ["LengthScan", "ViewSaveTimer", "open_document", "start_length_scan"]


class LengthScan(QThread):
    """Counts a video's decodable frames off the GUI thread (media caches the result per
    file, so the GUI's own source picks it up without scanning again)."""

    counted = pyqtSignal(int)

    def __init__(self, source: MediaSource) -> None:
        super().__init__()
        self._source = source

    def run(self) -> None:
        n = count_frames(self._source)
        if n is not None:
            self.counted.emit(n)


def start_length_scan(source: MediaSource, on_counted: Callable[[int], None]) -> LengthScan:
    """The document's length-scan factory: ``on_counted`` is connected here, on the GUI
    thread, so the count arrives queued on it."""
    scan = LengthScan(source)
    scan.counted.connect(on_counted)
    scan.start()
    return scan


class ViewSaveTimer:
    """A single-shot ``QTimer`` that is not restarted by a trigger while it runs: playing
    would postpone the save forever."""

    def __init__(self, interval_ms: int, callback: Callable[[], None]) -> None:
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(callback)

    def trigger(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def open_document(
    path: str | os.PathLike[str],
    *,
    media_config: MediaConfig | None = None,
    choose_project_path: ChooseProjectPath,
    choose_media: ChooseMedia,
) -> Document | None:
    """:func:`tracker_annotate.app.document.open_document` with the Qt length scan and
    view-save timer."""
    return open_headless(
        path,
        media_config=media_config,
        choose_project_path=choose_project_path,
        choose_media=choose_media,
        length_scan=start_length_scan,
        view_timer=ViewSaveTimer,
    )

"""Runs a tracking job off the GUI thread.

The job (a :class:`~tracker_annotate.app.jobs.TrackingJob`: the project's snapshot, and
its own handle on the media, which it opens and closes) is prepared on the GUI thread.
The worker reports progress and partial results through Qt signals, which arrive queued
on the GUI thread; the finished :class:`TrackingRun` is applied there, as one undo step,
by the caller. A failure leaves the project untouched and is reported as one readable
message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PyQt6.QtCore import QThread, pyqtSignal

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.tracking.api import (
    CancelToken,
    PartialCallback,
    ProgressCallback,
    TrackingRun,
)

log = logging.getLogger(__name__)

#: ``job(progress, cancel, on_partial) -> TrackingRun``, run in the worker thread.
Job = Callable[[ProgressCallback, CancelToken, PartialCallback], TrackingRun]


class TrackingWorker(QThread):
    """One engine run. Connect the signals, then ``start()``; ``cancel()`` asks it to stop
    between frames (what finished is still delivered, with ``run.cancelled`` set)."""

    progress = pyqtSignal(int, int, float)  # done, total, object-frames per second
    partial = pyqtSignal(int, object)  # track_id, list[FrameBox]
    done = pyqtSignal(object)  # TrackingRun
    failed = pyqtSignal(str)

    def __init__(self, job: Job, description: str) -> None:
        super().__init__()
        self._job = job
        self.description = description
        self.token = CancelToken()
        self._t0 = 0.0

    def cancel(self) -> None:
        self.token.cancel()

    def _progress(self, done: int, total: int) -> None:
        elapsed = max(1e-6, time.perf_counter() - self._t0)
        self.progress.emit(done, total, done / elapsed)

    def _partial(self, track_id: int, boxes: list[FrameBox]) -> None:
        self.partial.emit(track_id, list(boxes))

    def run(self) -> None:
        self._t0 = time.perf_counter()
        try:
            result = self._job(self._progress, self.token, self._partial)
        except TrackerAnnotateError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # never let a worker take the app down silently
            log.exception("tracking worker failed")
            self.failed.emit(f"the tracker stopped unexpectedly ({type(exc).__name__}: {exc})")
        else:
            self.done.emit(result)

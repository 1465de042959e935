"""The work record in the app: the Qt side of :class:`~tracker_annotate.app.worklog.WorkRecorder`.

:class:`WorkRecordHook` starts a recorder when a document opens (if Preferences record
work), hands it to the controller (whose gestures note their actions), turns playbacks
into ``watch`` actions, notices input for the idle spells, and flushes the batch on a
timer and when the document closes. It records no frames and no screen content: only
which action, which box, and when.

Noticing input costs the step nothing. Every command of the window (a frame step, an
accept...) is a ``QAction``, whose ``triggered`` counts as input: one Python call per
command. An application-wide event filter, which would run Python for every event of the
application (measured ~2-7 us each, dozens per step), is installed only after
:data:`ARM_AFTER_S` seconds without input or action, to catch the exact moment the
annotator is back, and removed at the first input it sees.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QApplication

from tracker_annotate.app.document import Document
from tracker_annotate.app.worklog import FLUSH_EVERY_S, WorkRecorder
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.gui.controller import Controller
from tracker_annotate.gui.preferences import Preferences

log = logging.getLogger(__name__)

#: Quiet seconds after which the input filter is armed (far below the idle threshold).
ARM_AFTER_S = 2.0

_T = QEvent.Type
#: What counts as the annotator being there (a mouse move event needs the mouse to move).
_INPUT = frozenset(
    (_T.KeyPress, _T.MouseButtonPress, _T.MouseMove, _T.Wheel, _T.TabletPress, _T.TouchBegin)
)


class WorkRecordHook(QObject):
    def __init__(
        self, controller: Controller, actions: Iterable[QAction], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.recorder: WorkRecorder | None = None
        self._doc: Document | None = None
        self._play_from = 0
        self._armed = False
        for action in actions:
            action.triggered.connect(self._touched)
        self._timer = QTimer(self)
        self._timer.setInterval(int(FLUSH_EVERY_S * 1000))
        self._timer.timeout.connect(self._tick)

    def attach(self, doc: Document, prefs: Preferences) -> None:
        """Start recording ``doc``'s session when ``prefs.record_work``."""
        self.detach()
        if not prefs.record_work or doc.store.closed:
            return
        self._doc = doc
        self.recorder = WorkRecorder(doc.store, prefs.annotator)
        self.controller.worklog = self.recorder
        doc.session.playing_changed.connect(self._on_playing)
        self._timer.start()

    def detach(self) -> None:
        """Stop recording; what waits is written."""
        rec, doc = self.recorder, self._doc
        if rec is None or doc is None:
            return
        self._timer.stop()
        self._disarm()
        doc.session.playing_changed.disconnect(self._on_playing)
        self.controller.worklog = None
        self.recorder, self._doc = None, None
        rec.close()

    def flush(self) -> None:
        rec = self.recorder
        if rec is None:
            return
        try:
            rec.flush()
        except ProjectError as exc:  # kept and retried; the edits' own save reports the disk
            log.warning("work record not saved yet: %s", exc)

    @property
    def armed(self) -> bool:
        """Whether the input filter is installed (after a quiet spell)."""
        return self._armed

    def _tick(self) -> None:
        rec = self.recorder
        if rec is not None and not self._armed and rec.quiet_for() >= ARM_AFTER_S:
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self)
                self._armed = True
        self.flush()

    def _disarm(self) -> None:
        if self._armed:
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self)
            self._armed = False

    def _touched(self) -> None:
        rec = self.recorder
        if rec is not None:
            rec.activity()
            self._disarm()

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if event is not None and event.type() in _INPUT:
            self._touched()
        return False

    def _on_playing(self, playing: bool) -> None:
        rec, doc = self.recorder, self._doc
        if rec is None or doc is None:
            return
        s = doc.session
        if playing:
            self._play_from = s.frame
            self._disarm()
            rec.watch_started()
            return
        lo, hi = sorted((self._play_from, s.frame))
        p = doc.project
        rec.watch_stopped(sum(not b.outside for f in range(lo, hi + 1) for _, b in p.boxes_at(f)))

"""The work record in the app: the Qt side of :class:`~tracker_annotate.app.worklog.WorkRecorder`.

:class:`WorkRecordHook` starts a recorder when a document opens (if Preferences record
work), hands it to the controller (whose gestures note their actions), watches every
input event for idle spells, turns playbacks into ``watch`` actions, and flushes the
batch on a timer and when the document closes. It records no frames and no screen
content: only which action, which box, and when.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtWidgets import QApplication

from tracker_annotate.app.document import Document
from tracker_annotate.app.worklog import FLUSH_EVERY_S, WorkRecorder
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.gui.controller import Controller
from tracker_annotate.gui.preferences import Preferences

log = logging.getLogger(__name__)

_T = QEvent.Type
#: What counts as the annotator being there (not moves of a mouse nobody touches: a
#: mouse move event needs the mouse to move).
_INPUT = frozenset(
    int(t.value)
    for t in (
        _T.KeyPress,
        _T.MouseButtonPress,
        _T.MouseMove,
        _T.Wheel,
        _T.TabletPress,
        _T.TouchBegin,
    )
)


class WorkRecordHook(QObject):
    def __init__(self, controller: Controller, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.recorder: WorkRecorder | None = None
        self._doc: Document | None = None
        self._play_from = 0
        self._timer = QTimer(self)
        self._timer.setInterval(int(FLUSH_EVERY_S * 1000))
        self._timer.timeout.connect(self.flush)

    def attach(self, doc: Document, prefs: Preferences) -> None:
        """Start recording ``doc``'s session when ``prefs.record_work``."""
        self.detach()
        if not prefs.record_work or doc.store.closed:
            return
        self._doc = doc
        self.recorder = WorkRecorder(doc.store, prefs.annotator)
        self.controller.worklog = self.recorder
        doc.session.playing_changed.connect(self._on_playing)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._timer.start()

    def detach(self) -> None:
        """Stop recording; what waits is written."""
        rec, doc = self.recorder, self._doc
        if rec is None or doc is None:
            return
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
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

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        rec = self.recorder
        if rec is not None and event is not None and int(event.type().value) in _INPUT:
            rec.activity()
            if rec.wants_flush:
                self._timer.start(0)  # soon, from the event loop, not inside this event
        return False

    def _on_playing(self, playing: bool) -> None:
        rec, doc = self.recorder, self._doc
        if rec is None or doc is None:
            return
        s = doc.session
        if playing:
            self._play_from = s.frame
            rec.watch_started()
            return
        lo, hi = sorted((self._play_from, s.frame))
        p = doc.project
        rec.watch_stopped(sum(not b.outside for f in range(lo, hi + 1) for _, b in p.boxes_at(f)))

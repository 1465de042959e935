"""Recording the annotator's work while the app runs (Qt-free; the GUI feeds it).

:class:`WorkRecorder` turns "this action just took effect" and "the user touched the mouse
or keyboard" into :class:`~tracker_annotate.core.worklog.WorkAction` records with the
timing convention of :mod:`tracker_annotate.core.worklog`, and appends them to the
project file in batches.

Cost. :meth:`WorkRecorder.note` builds one small record and appends it to a list (a few
microseconds, measured in ``benchmarks/bench_report.py``); nothing touches the disk on the
user's click. :meth:`WorkRecorder.flush` writes the batch in one transaction of its own,
called by the app on a timer once the event loop is idle (:data:`FLUSH_EVERY_S`), when
:data:`FLUSH_AT` records wait, and when the project is closed.

Crash safety. A flushed batch survives the process being killed, like an edit (the same
WAL file). What a kill can lose is the last unflushed batch: at most
:data:`FLUSH_EVERY_S` seconds of *timing records*, never an annotation (edits are
committed by the store on their own, before the action is noted). A failed write keeps
the batch in memory and retries it with the next flush.
"""

from __future__ import annotations

import getpass
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from tracker_annotate import __version__
from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.worklog import (
    ActionKind,
    Outcome,
    Subject,
    WorkAction,
    WorkSession,
)
from tracker_annotate.io import store_worklog
from tracker_annotate.io.store import ProjectStore

log = logging.getLogger(__name__)

#: No mouse or key input for longer than this is an idle spell, not work. Lower catches
#: short breaks but cuts into long looks at a hard frame; 30 s is longer than any single
#: box takes in the annotation-time literature (25.5 s for the slow ILSVRC protocol).
IDLE_AFTER_S = 30.0
#: The app flushes the batch this often (seconds); a kill loses at most this much record.
FLUSH_EVERY_S = 1.0
#: ... and at once when this many records wait.
FLUSH_AT = 256


def default_annotator() -> str:
    """The OS user's name (the Preferences' default), or ``"annotator"`` if unknown."""
    try:
        return getpass.getuser() or "annotator"
    except (KeyError, OSError):  # no passwd entry, no USER variables (a bare container)
        return os.environ.get("USERNAME", "annotator")


@dataclass(frozen=True)
class RecorderConfig:
    """``idle_after_s``: see :data:`IDLE_AFTER_S`; ``flush_at``: see :data:`FLUSH_AT`."""

    idle_after_s: float = IDLE_AFTER_S
    flush_at: int = FLUSH_AT

    def __post_init__(self) -> None:
        if not self.idle_after_s > 0:
            raise ProjectError(f"idle_after_s must be > 0 seconds, got {self.idle_after_s}")
        if self.flush_at < 1:
            raise ProjectError(f"flush_at must be >= 1, got {self.flush_at}")


class WorkRecorder:
    """The record of one session on ``store``'s project by ``annotator``.

    ``clock`` (monotonic seconds) and ``wall`` (Unix seconds) are injectable for tests.
    Call :meth:`activity` on every input event, :meth:`note` when an action took effect,
    :meth:`watch_started`/:meth:`watch_stopped` around a playback, :meth:`flush` now and
    then and :meth:`close` at the end.
    """

    def __init__(
        self,
        store: ProjectStore,
        annotator: str,
        *,
        config: RecorderConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        app_version: str = __version__,
    ) -> None:
        self.store = store
        self.config = config or RecorderConfig()
        self._clock = clock
        self._wall0 = wall() - clock()  # Unix time = monotonic + offset
        now = clock()
        self.session = WorkSession(annotator or default_annotator(), app_version, now + self._wall0)
        self._session_id: int | None = None
        self._pending: list[WorkAction] = []
        self._mark = now  # when the attention that the next action costs began
        self._last_input = now
        self._watch_from: float | None = None
        self._closed = False

    # -- feeding --------------------------------------------------------------------------
    def activity(self, now: float | None = None) -> None:
        """The user touched the mouse or keyboard. After a gap above the idle threshold
        (not during a playback) the gap is recorded as idle and the next action's time
        starts now."""
        t = self._clock() if now is None else now
        gap = t - self._last_input
        if gap > self.config.idle_after_s and self._watch_from is None:
            self._append(WorkAction("idle", self._last_input + self._wall0, gap, n_boxes=0))
            self._mark = max(self._mark, t)
        self._last_input = t

    def quiet_for(self) -> float:
        """Seconds since the last input or action (0 while a playback runs)."""
        if self._watch_from is not None:
            return 0.0
        return self._clock() - self._last_input

    def note(
        self,
        kind: ActionKind,
        track_id: int | None = None,
        frame: int | None = None,
        *,
        box: FrameBox | None = None,
        n_boxes: int = 1,
        flags_delta: int | None = None,
        subject: Subject = "box",
        outcome: Outcome | None = None,
    ) -> None:
        """Record that a ``kind`` action on the box ``track_id``/``frame`` just took effect.

        ``box`` is the box as it was before the action: its confidence is recorded, and
        (unless ``flags_delta`` is given) a flagged box reviewed counts as one flag less.
        """
        t = self._clock()
        self.activity(t)
        if flags_delta is None:
            flags_delta = -1 if box is not None and box.flagged else 0
        self._append(
            WorkAction(
                kind,
                self._mark + self._wall0,
                max(0.0, t - self._mark),
                track_id,
                frame,
                n_boxes,
                None if box is None else float(box.confidence),
                flags_delta,
                subject,
                outcome,
            )
        )
        self._mark = t

    def note_run(self, seconds: float, n_boxes: int, flags_delta: int) -> None:
        """A tracking run was applied: machine time (not work) and the flags it changed.
        The annotator's clock is not reset: waiting for a run is part of the next action."""
        t = self._clock()
        self._append(
            WorkAction(
                "run",
                t - seconds + self._wall0,
                max(0.0, seconds),
                n_boxes=n_boxes,
                flags_delta=flags_delta,
            )
        )

    def watch_started(self) -> None:
        t = self._clock()
        self.activity(t)
        self._watch_from = t

    def watch_stopped(self, n_boxes: int) -> None:
        """The playback stopped after showing ``n_boxes`` boxes: one ``watch`` action (from
        the end of the previous action, like any other). Idle detection is off while a
        playback runs: watching is work without input."""
        if self._watch_from is None:
            return
        t = self._clock()
        self._watch_from = None
        self._last_input = t
        self._append(
            WorkAction("watch", self._mark + self._wall0, max(0.0, t - self._mark), n_boxes=n_boxes)
        )
        self._mark = t

    def _append(self, action: WorkAction) -> None:
        self._pending.append(action)

    @property
    def pending(self) -> int:
        """Records waiting for :meth:`flush`."""
        return len(self._pending)

    @property
    def wants_flush(self) -> bool:
        return len(self._pending) >= self.config.flush_at

    # -- writing --------------------------------------------------------------------------
    def flush(self) -> int:
        """Write the waiting records in one transaction; returns how many. On a failure
        (:class:`ProjectError`) they stay waiting and are retried next time."""
        if not self._pending or self.store.closed:
            return 0
        batch = list(self._pending)
        session_id = self._session_id

        def write(con: sqlite3.Connection) -> int:
            sid = session_id
            if sid is None:
                sid = store_worklog.insert_session(con, self.session)
            store_worklog.insert_actions(con, sid, batch)
            return sid

        self._session_id = self.store.write_side_table(write)
        del self._pending[: len(batch)]
        return len(batch)

    def close(self) -> None:
        """Stop a running playback's record and write what waits (a failure is logged: a
        lost timing record never blocks closing the project)."""
        if self._closed:
            return
        self._closed = True
        if self._watch_from is not None:
            self.watch_stopped(0)
        try:
            self.flush()
        except ProjectError:
            log.warning(
                "%s: the last %d work records could not be saved", self.store.path, self.pending
            )

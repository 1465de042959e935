"""What the user's gestures mean: canvas and key actions turned into model commands,
and tracking runs started, streamed and applied.

The controller owns no state a view shows: the project, the session and the history are
the model's. It holds only the running worker, the queued re-tracks and the streaming
preview. Everything it does to the project is one :mod:`~tracker_annotate.core.commands`
call (one undo step); every failure becomes ``error`` (shown by the window), never a
traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from tracker_annotate.core import audit, commands
from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError, ProjectError, TrackerAnnotateError
from tracker_annotate.core.project import Project, Transaction
from tracker_annotate.core.review import flagged_positions
from tracker_annotate.core.session import Session
from tracker_annotate.gui.audit_flow import AuditFlow
from tracker_annotate.gui.document import Document
from tracker_annotate.gui.preferences import Preferences
from tracker_annotate.gui.tracking_worker import Job, TrackingWorker, snapshot_project
from tracker_annotate.tracking.api import (
    CancelToken,
    PartialCallback,
    ProgressCallback,
    TrackingRun,
    apply_run,
)

log = logging.getLogger(__name__)


class Controller(QObject):
    status = pyqtSignal(str)
    error = pyqtSignal(object)  # exception or message
    busy_changed = pyqtSignal(bool)
    progress = pyqtSignal(int, int, float)  # done, total, object-frames/s
    preview_changed = pyqtSignal(object)  # {track_id: {frame: FrameBox}}

    def __init__(self, prefs: Preferences, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs
        self.doc: Document | None = None
        self.worker: TrackingWorker | None = None
        self.current_label: Callable[[], str | None] = lambda: None
        # (track_id, edited frame) awaiting their re-track, oldest first; each is marked
        # stale in the project, in the edit's own transaction, until its run is applied
        self._pending_retrack: list[tuple[int, int]] = []
        self._running_retrack: tuple[int, int] | None = None
        # the edit step each re-track belongs to: the run joins it (one Ctrl+Z for both)
        self._edit_steps: dict[tuple[int, int], Transaction | None] = {}
        self._preview: dict[int, dict[int, FrameBox]] = {}
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(100)  # stream results at 10 Hz, not per frame
        self._preview_timer.timeout.connect(lambda: self.preview_changed.emit(self._preview))
        self.audit = AuditFlow(self)
        from tracker_annotate.gui.detect_flow import DetectFlow

        self.detect = DetectFlow(self)

    # -- helpers -------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project if self.doc is not None else None

    @property
    def session(self) -> Session | None:
        return self.doc.session if self.doc is not None else None

    def _do(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except TrackerAnnotateError as exc:
            self.error.emit(exc)
        except OSError as exc:
            self.error.emit(exc)
        return None

    def _selected_box(self) -> tuple[int, int] | None:
        p, s = self.project, self.session
        if p is None or s is None or s.selected is None:
            self.status.emit("Select a box first (click it, or press F for the next flag)")
            return None
        if p.box(s.selected, s.frame) is None:
            self.status.emit(f"Track {s.selected} has no box on frame {s.frame}")
            return None
        return s.selected, s.frame

    # -- box edits -------------------------------------------------------------------------
    def draw_box(self, frame: int, xyxy: BoxXYXY, *, into_selected: bool = False) -> None:
        """A box dragged on empty image: a new track, or (``into_selected``) a keyframe of
        the selected track on this frame."""
        p, s = self.project, self.session
        if p is None or s is None:
            return
        if into_selected and s.selected is not None:
            tid = s.selected
            self._edit_then_retrack(tid, frame, lambda: commands.add_box(p, tid, frame, xyxy))
            return
        tid = self._do(lambda: commands.add_track(p, frame, xyxy, self.current_label()))
        if tid is not None:
            s.select(tid)
            self.status.emit(f"New track {tid} on frame {frame}; press T to track it")

    def edit_box(self, track_id: int, frame: int, xyxy: BoxXYXY) -> None:
        p = self.project
        if p is None or self.detect.fix(track_id, frame, xyxy):
            return
        if self.audit.pending_at(track_id, frame):  # a corrected audit sample was wrong
            self._edit_then_retrack(
                track_id,
                frame,
                lambda: audit.check_sample(p, track_id, frame, "wrong", xyxy),
            )
        else:
            self._edit_then_retrack(
                track_id, frame, lambda: commands.set_box_geometry(p, track_id, frame, xyxy)
            )

    def delete_selected_box(self) -> None:
        p, sel = self.project, self._selected_box()
        if p is None or sel is None or self.detect.reject(*sel):
            return
        if self.audit.pending_at(*sel):  # a box where the object is not: the sample was wrong

            def reject() -> None:
                with p.edit(f"Audit: delete wrong box of track {sel[0]}"):
                    audit.record_outcome(p, sel[0], sel[1], "wrong")
                    commands.delete_box(p, *sel)

            self._do(reject)
        else:
            self._do(lambda: commands.delete_box(p, *sel))
        self._advance_review()

    def mark_outside(self) -> None:
        p, sel = self.project, self._selected_box()
        if p is None or sel is None:
            return
        self._do(lambda: commands.mark_outside(p, *sel))
        self.status.emit(f"Track {sel[0]} marked outside from frame {sel[1]}")
        self._advance_review()

    def accept_selected(self) -> None:
        p, sel = self.project, self._selected_box()
        if p is None or sel is None or self.detect.accept(*sel):
            return
        if self.audit.pending_at(*sel):
            self._do(lambda: audit.check_sample(p, sel[0], sel[1], "ok"))
        else:
            self._do(lambda: commands.accept_box(p, *sel))
        self._advance_review()

    def accept_stretch(self) -> None:
        """Accept the selected track's whole run of consecutive flagged frames around the
        current one (one undo step): a stretch the annotator has played through and found
        right, without pressing Enter on every frame of it."""
        p, sel = self.project, self._selected_box()
        if p is None or sel is None:
            return
        tid, frame = sel
        boxes = p.boxes(tid)

        def needs_look(f: int) -> bool:
            b = boxes.get(f)
            return b is not None and b.flagged and not b.verified

        if not needs_look(frame):
            self.status.emit(f"Track {tid} is not flagged on frame {frame}: Enter verifies it")
            return
        first, last = frame, frame
        while needs_look(first - 1):
            first -= 1
        while needs_look(last + 1):
            last += 1
        n = last - first + 1
        frames = f"frame {first}" if n == 1 else f"frames {first}\u2013{last}"
        desc = f"Accept {frames} of track {tid}"

        def accept_all() -> bool:
            with p.edit(desc):
                for f in range(first, last + 1):
                    commands.accept_box(p, tid, f)
            return True

        if self._do(accept_all) is None:
            return
        self.status.emit(f"{desc} ({n} box{'es' if n > 1 else ''}); Ctrl+Z undoes it")
        self._advance_review()

    def copy_to_next(self) -> None:
        p, s, sel = self.project, self.session, self._selected_box()
        if p is None or s is None or sel is None:
            return
        if sel[1] + 1 >= s.n_frames:
            self.status.emit("Already on the last frame")
            return
        self._do(lambda: commands.copy_box_to_frame(p, sel[0], sel[1], sel[1] + 1))
        s.step(1)

    def set_label(self, name: str) -> None:
        p, s = self.project, self.session
        if p is None or s is None or s.selected is None:
            return
        tid = s.selected
        self._do(lambda: commands.relabel(p, tid, name))

    def select_next_on_frame(self) -> None:
        p, s = self.project, self.session
        if p is None or s is None:
            return
        tids = [t for t, _ in p.boxes_at(s.frame) if not p.tracks[t].hidden]
        if tids:
            later = [t for t in tids if s.selected is None or t > s.selected]
            s.select(later[0] if later else tids[0])

    advance_after_review = True

    def _advance_review(self) -> None:
        if self.advance_after_review:
            self.go_to_flag()

    def go_to_flag(self, *, backward: bool = False) -> bool:
        """Go to the next (previous) flagged box in review order (the list's) and select it; past
        the last one, wrap around to the first (last), so a walk that started mid-video, or
        a re-track that flagged earlier frames, still reaches every flag. Returns whether it
        moved."""
        p, s = self.project, self.session
        if p is None or s is None:
            return False
        if s.next_flag(backward=backward) is not None:
            return True
        left = flagged_positions(p)
        if not left:
            if self.audit.walk(backward=backward):
                return True
            self.status.emit("No flagged box left \u2713")
            return False
        frame, tid = left[-1] if backward else left[0]
        if (frame, tid) == (s.frame, s.selected):
            self.status.emit("This is the only flagged box left")
            return False
        s.go_to(frame, tid)
        where = "last" if backward else "first"
        self.status.emit(f"Wrapped around to the {where} flagged box ({len(left)} left)")
        return True

    def undo(self) -> None:
        p = self.project
        if p is not None:
            text = p.history.undo_text()
            if self._do(p.history.undo) is not None:
                self.status.emit(f"Undid: {text}")

    def redo(self) -> None:
        p = self.project
        if p is not None:
            text = p.history.redo_text()
            if self._do(p.history.redo) is not None:
                self.status.emit(f"Redid: {text}")

    # -- tracking ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def track(self, *, selected_only: bool) -> None:
        p, s, doc = self.project, self.session, self.doc
        if p is None or s is None or doc is None:
            return
        if doc.source is None:
            self.error.emit(ProjectError("this project has no media to track on"))
            return
        if selected_only and s.selected is None:
            self.status.emit("Select a track to track it (or press T to track all)")
            return
        tids = [s.selected] if selected_only and s.selected is not None else None
        if tids is None and not p.tracks:
            self.status.emit("Draw a box first: drag on the image")
            return
        config = self.prefs.tracker_config()
        src = doc.source

        def job(
            progress: ProgressCallback, cancel: CancelToken, partial: PartialCallback
        ) -> TrackingRun:
            from tracker_annotate.tracking.engine import track_project

            own = src.reopen()
            try:
                run = track_project(
                    snap,
                    own,
                    config,
                    track_ids=tids,
                    progress=progress,
                    cancel=cancel,
                    on_partial=partial,
                )
                if tids is None:  # Track all: new objects and lost tracks, by the detector
                    self.detect.after_run(snap, own, run, config)
                return run
            finally:
                own.close()

        snap = snapshot_project(p)
        what = f"Track {tids[0]}" if tids else "Track all"
        self._start(job, what)

    def _will_retrack(self, track_id: int) -> bool:
        p = self.project
        return (
            self.prefs.auto_retrack
            and self.doc is not None
            and self.doc.source is not None
            and p is not None
            and track_id in p.tracks
        )

    def _edit_then_retrack(self, track_id: int, frame: int, edit: Callable[[], None]) -> None:
        """Do ``edit`` and, when a re-track will follow, mark its stretch stale *in the
        same transaction*: a crash between the edit and its re-track then leaves a mark the
        next open flags and re-tracks, never a stretch silently off its new keyframe."""
        p = self.project
        if p is None:
            return
        retrack = self._will_retrack(track_id)

        def run() -> bool:
            with p.edit("") as tx:  # the command names the step
                edit()
                if retrack and not tx.is_empty() and track_id in p.tracks:
                    tx.mark_stale(track_id, frame)
            return True

        if self._do(run) is None or not retrack or (track_id, frame) not in p.stale:
            return
        self._queue_retrack(track_id, frame, p.history.last)

    def _queue_retrack(self, track_id: int, frame: int, step: Transaction | None) -> None:
        key = (track_id, frame)
        if key not in self._pending_retrack:
            self._pending_retrack.append(key)
        self._edit_steps[key] = step
        if not self.busy:
            self._run_pending_retrack()

    def resume_stale(self) -> None:
        """After opening: stretches an edit left without their re-track (the app was
        killed in between) are flagged, then re-tracked when auto re-track is on."""
        p = self.project
        if p is None or not p.stale:
            return
        n = self._do(lambda: commands.flag_stale_stretches(p))
        stale = sorted(p.stale)
        self.status.emit(
            f"{len(stale)} stretch{'es' if len(stale) > 1 else ''} left without its re-track "
            f"by an interruption: {n or 0} boxes flagged"
            + ("; re-tracking them" if self.prefs.auto_retrack else " (press T to re-track)")
        )
        for tid, frame in stale:
            if self._will_retrack(tid):
                self._queue_retrack(tid, frame, None)

    def _run_pending_retrack(self) -> None:
        p, doc = self.project, self.doc
        if not self._pending_retrack or p is None or doc is None or doc.source is None:
            return
        track_id, frame = self._pending_retrack.pop(0)
        if track_id not in p.tracks:
            self._edit_steps.pop((track_id, frame), None)
            self._run_pending_retrack()
            return
        config = self.prefs.tracker_config()
        src = doc.source
        snap = snapshot_project(p)

        def job(
            progress: ProgressCallback, cancel: CancelToken, partial: PartialCallback
        ) -> TrackingRun:
            from tracker_annotate.tracking.engine import retrack_after_edit

            own = src.reopen()
            try:
                return retrack_after_edit(
                    snap, own, config, track_id, frame, progress=progress, cancel=cancel
                )
            finally:
                own.close()

        self._running_retrack = (track_id, frame)
        self._start(job, f"Re-track {track_id} after edit")

    def _start(self, job: Job, description: str) -> None:
        if self.worker is not None:
            self.status.emit("Tracking is already running; cancel it (Esc) or wait")
            return
        w = TrackingWorker(job, description)
        w.progress.connect(self.progress)
        w.partial.connect(self._on_partial)
        w.done.connect(self._on_done)
        w.failed.connect(self._on_failed)
        w.finished.connect(self._on_finished)
        self.worker = w
        self._preview = {}
        self.busy_changed.emit(True)
        self.status.emit(f"{description}: running (Esc cancels)")
        w.start()

    def cancel_tracking(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            # their stale marks stay in the project: the next open flags and re-tracks them
            self._pending_retrack.clear()
            self._edit_steps.clear()
            self.status.emit("Cancelling tracking…")

    def _on_partial(self, track_id: int, boxes: list[FrameBox]) -> None:
        lane = self._preview.setdefault(track_id, {})
        for b in boxes:
            lane[b.frame] = b
        if not self._preview_timer.isActive():
            self._preview_timer.start()

    def _on_done(self, run: TrackingRun) -> None:
        p, w = self.project, self.worker
        if p is None or w is None:
            return
        key, self._running_retrack = self._running_retrack, None
        step = self._edit_steps.pop(key, None) if key is not None else None
        if step is not None and not p.history.is_done(step):
            # its edit was undone while the run went: the result fits a state that is gone
            self.status.emit(f"{w.description}: dropped, its edit was undone")
            return
        desc = w.description + (" (cancelled, kept what finished)" if run.cancelled else "")
        # the project may have lost a track while the run was going: skip those
        run.boxes = {t: b for t, b in run.boxes.items() if t in p.tracks}
        run.spans = {t: sp for t, sp in run.spans.items() if t in p.tracks}
        clears: set[tuple[int, int]] = set()
        if not run.cancelled:
            if key is not None:
                if key not in self._pending_retrack:  # not edited again meanwhile
                    clears.add(key)
            else:  # a whole-track run recomputed every stretch of its tracks
                clears = {(t, f) for t, f in p.stale if t in run.spans}
        flags_before = len(flagged_positions(p))
        changes: list[object] = []
        p.changed.connect(changes.append)
        try:
            if self._do(lambda: self._apply(p, run, desc, clears)) is None:
                return
        finally:
            p.changed.disconnect(changes.append)
        n = sum(len(b) for b in run.boxes.values())
        if not changes:
            # an empty run pushes no undo step: "Ctrl+Z undoes the run" would undo the
            # annotator's last edit instead (a run cancelled before its first frame)
            self.status.emit(f"{desc}: no box changed, nothing to undo")
            return
        undoes = "Ctrl+Z undoes the whole run"
        if step is not None and p.history.merge_last_two(step, f"{step.description} + re-track"):
            undoes = "Ctrl+Z undoes the fix and its re-track"
        rate = run.object_frames / run.seconds if run.seconds > 0 else 0.0
        # a re-track replaces the stretch after an edit, flags included: say what that did
        # to the review counter, or a fix that raised it looks like a bug
        flags_after = len(flagged_positions(p))
        flags = (
            f"; flags {flags_before} \u2192 {flags_after}" if flags_after != flags_before else ""
        )
        if flags_after:
            flags += " (F: next flag)"
        self.status.emit(
            f"{desc}: {n} boxes in {run.seconds:.1f} s ({rate:.0f} object-frames/s){flags}"
            f"{self.detect.note}; {undoes}"
        )

    def _apply(self, p: Project, run: TrackingRun, desc: str, clears: set[tuple[int, int]]) -> bool:
        # apply_run adds the run's proposed tracks itself (adding them here too made every
        # detection-proposed track twice); the detector's finds and the stale marks the
        # run answers join the same undo step
        with p.edit(desc) as tx:
            apply_run(p, run, desc)
            self.detect.install_pending(p)
            for track_id, frame in sorted(clears):
                tx.clear_stale(track_id, frame)
        return True

    def _on_failed(self, message: str) -> None:
        self._pending_retrack.clear()
        self._edit_steps.clear()
        self._running_retrack = None
        self.error.emit(f"Tracking failed; the project is unchanged.\n\n{message}")

    def _on_finished(self) -> None:
        if self.worker is not None:
            # ``finished`` is emitted just before the thread ends: let it end before the
            # last reference (and with it the QThread) goes away
            self.worker.wait()
        self.worker = None
        self._running_retrack = None
        self._preview = {}
        self._preview_timer.stop()
        self.preview_changed.emit({})
        self.busy_changed.emit(False)
        if self._pending_retrack:
            self._run_pending_retrack()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop tracking before closing: what was committed is already saved; a run that
        did not finish is dropped (nothing half-applied); stretches it left stale keep
        their marks for the next open."""
        self._pending_retrack.clear()
        self._edit_steps.clear()
        self._running_retrack = None
        w = self.worker
        if w is not None:
            w.done.disconnect(self._on_done)
            w.cancel()
            w.wait(timeout_ms)
            self.worker = None

    def import_detections(self, path: str) -> None:
        """Read detections and let the engine turn unmatched ones into proposed tracks."""
        p, doc = self.project, self.doc
        if p is None or doc is None or doc.source is None:
            return
        try:
            from tracker_annotate.io.formats.detections import read_detections

            dets = read_detections(path)
        except (TrackerAnnotateError, OSError) as exc:
            self.error.emit(exc)
            return
        if len(dets) == 0:
            # like an empty annotation import: change nothing (no tracking run) and say so
            self.error.emit(
                FormatError("the file holds no detections; nothing was changed", path=path)
            )
            return
        config = self.prefs.tracker_config()
        src = doc.source
        snap = snapshot_project(p)

        def job(
            progress: ProgressCallback, cancel: CancelToken, partial: PartialCallback
        ) -> TrackingRun:
            from tracker_annotate.tracking.engine import track_project

            own = src.reopen()
            try:
                return track_project(
                    snap,
                    own,
                    config,
                    progress=progress,
                    cancel=cancel,
                    on_partial=partial,
                    detections=dets,
                )
            finally:
                own.close()

        self._start(job, f"Import detections {path}")

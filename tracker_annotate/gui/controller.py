"""What the user's gestures mean: canvas and key actions turned into model commands,
and tracking runs started, streamed and applied.

The controller owns no state a view shows: the project, the session and the history are
the model's. What a gesture does is a core command or query
(:mod:`~tracker_annotate.core.commands`, :mod:`~tracker_annotate.core.review`: one undo
step each); what a tracking run does, from its snapshot to its undo step and the re-track
queue, is the Qt-free :class:`~tracker_annotate.app.jobs.TrackingJobs`. The controller
holds only the running worker thread and the streaming preview, and turns results into
status text; every failure becomes ``error`` (shown by the window), never a traceback.
The audit and detector flows get it as their host: they declare what they use of it
(:class:`~.audit_flow.AuditHost`, :class:`~.detect_flow.DetectHost`), never import it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from tracker_annotate.app.document import Document
from tracker_annotate.app.jobs import (
    ImportRequest,
    JobRequest,
    TrackingJob,
    TrackingJobs,
    TrackRequest,
    prepare_job,
)
from tracker_annotate.app.worklog import WorkRecorder
from tracker_annotate.core import audit, commands, recal_report, recalibration, review
from tracker_annotate.core import proposals as props
from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.errors import FormatError, ProjectError, TrackerAnnotateError
from tracker_annotate.core.project import Project
from tracker_annotate.core.session import Session
from tracker_annotate.core.worklog import ActionKind
from tracker_annotate.gui.audit_flow import AuditFlow
from tracker_annotate.gui.detect_flow import DetectFlow
from tracker_annotate.gui.preferences import Preferences
from tracker_annotate.gui.tracking_worker import TrackingWorker
from tracker_annotate.tracking.api import TrackingRun

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
        self._job: TrackingJob | None = None  # the worker's
        self.current_label: Callable[[], str | None] = lambda: None
        # the re-track queue and what a finished run does to the project
        self.jobs = TrackingJobs()
        self._preview: dict[int, dict[int, FrameBox]] = {}
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(100)  # stream results at 10 Hz, not per frame
        self._preview_timer.timeout.connect(lambda: self.preview_changed.emit(self._preview))
        self.audit = AuditFlow(self)
        self.detect = DetectFlow(self)
        #: The work record (:mod:`~.work_record` sets it when Preferences say to record);
        #: each gesture below notes its action once its command took effect.
        self.worklog: WorkRecorder | None = None

    # -- helpers -------------------------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.doc.project if self.doc is not None else None

    @property
    def session(self) -> Session | None:
        return self.doc.session if self.doc is not None else None

    def say(self, text: str) -> None:
        """Show ``text`` in the status bar."""
        self.status.emit(text)

    def do(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, or ``None`` with the failure shown (the library's errors, OSError)."""
        try:
            return fn()
        except TrackerAnnotateError as exc:
            self.error.emit(exc)
        except OSError as exc:
            self.error.emit(exc)
        return None

    def did(self, fn: Callable[[], Any]) -> bool:
        """``fn()``; whether it succeeded (a failure is shown, as in :meth:`do`)."""
        ok = False

        def run() -> None:
            nonlocal ok
            fn()
            ok = True

        self.do(run)
        return ok

    def _note(
        self,
        kind: ActionKind,
        track_id: int | None,
        frame: int | None,
        box: FrameBox | None,
        **kw: Any,
    ) -> None:
        if self.worklog is not None:
            self.worklog.note(kind, track_id, frame, box=box, **kw)

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
            old = p.box(tid, frame)
            if self.edit_then_retrack(tid, frame, lambda: commands.add_box(p, tid, frame, xyxy)):
                self._note("draw", tid, frame, old)
            return
        tid = self.do(lambda: commands.add_track(p, frame, xyxy, self.current_label()))
        if tid is not None:
            self._note("draw", tid, frame, None)
            s.select(tid)
            self.status.emit(f"New track {tid} on frame {frame}; press T to track it")

    def edit_box(self, track_id: int, frame: int, xyxy: BoxXYXY) -> None:
        p = self.project
        if p is None:
            return
        old = p.box(track_id, frame) if track_id in p.tracks else None
        if self.detect.fix(track_id, frame, xyxy):
            self._note("adjust", track_id, frame, old, subject="proposal")
            return
        if self.audit.pending_at(track_id, frame):  # a corrected audit sample was wrong
            if self.edit_then_retrack(
                track_id,
                frame,
                lambda: audit.check_sample(p, track_id, frame, "wrong", xyxy),
            ):
                self._note("audit", track_id, frame, old, subject="sample", outcome="wrong")
        elif self.edit_then_retrack(
            track_id, frame, lambda: commands.set_box_geometry(p, track_id, frame, xyxy)
        ):
            self._note("adjust", track_id, frame, old)

    def delete_selected_box(self) -> None:
        p, sel = self.project, self._selected_box()
        if p is None or sel is None:
            return
        old = p.box(*sel)
        if self.detect.reject(*sel):
            self._note("reject", *sel, old, subject="proposal")
            return
        if self.audit.pending_at(*sel):  # a box where the object is not: the sample was wrong

            def reject() -> None:
                with p.edit(f"Audit: delete wrong box of track {sel[0]}"):
                    audit.record_outcome(p, sel[0], sel[1], "wrong")
                    commands.delete_box(p, *sel)

            if self.did(reject):
                self._note("audit", *sel, old, subject="sample", outcome="wrong")
        elif self.did(lambda: commands.delete_box(p, *sel)):
            self._note("reject", *sel, old)
        self.advance_review()

    def mark_outside(self) -> None:
        p, sel = self.project, self._selected_box()
        if p is None or sel is None:
            return
        old = p.box(*sel)
        if not self.did(lambda: commands.mark_outside(p, *sel)):
            return
        self._note("outside", *sel, old)
        self.status.emit(f"Track {sel[0]} marked outside from frame {sel[1]}")
        self.advance_review()

    def accept_selected(self) -> None:
        p, sel = self.project, self._selected_box()
        if p is None or sel is None:
            return
        old = p.box(*sel)
        proposal = old is not None and old.flag_reason != props.REASON_REFOUND
        if self.detect.accept(*sel):
            self._note("accept", *sel, old, subject="proposal" if proposal else "refound")
            return
        if self.audit.pending_at(*sel):
            if self.did(lambda: audit.check_sample(p, sel[0], sel[1], "ok")):
                self._note("audit", *sel, old, subject="sample", outcome="ok")
        elif self.did(lambda: commands.accept_box(p, *sel)):
            self._note("accept", *sel, old)
        self.advance_review()

    def accept_stretch(self) -> None:
        """Accept the selected track's whole run of consecutive flagged frames around the
        current one (one undo step; :func:`~tracker_annotate.core.review.accept_stretch`)."""
        p, sel = self.project, self._selected_box()
        if p is None or sel is None:
            return
        tid, frame = sel
        if review.flagged_stretch(p, tid, frame) is None:
            self.status.emit(f"Track {tid} is not flagged on frame {frame}: Enter verifies it")
            return
        done = self.do(lambda: review.accept_stretch(p, tid, frame))
        if done is None:
            return
        n = done.count
        self._note("stretch", tid, frame, p.box(tid, frame), n_boxes=n, flags_delta=-n)
        self.status.emit(f"{done.description} ({n} box{'es' if n > 1 else ''}); Ctrl+Z undoes it")
        self.advance_review()

    def swap_identities(self, track_ids: Sequence[int] = ()) -> None:
        """Two tracks switched objects where they crossed: swap their boxes from the
        current frame on (one undo step, :func:`~tracker_annotate.core.commands.
        swap_identities`), and with auto re-track re-track both around it (joining that
        step). The tracks are the two of ``track_ids`` (the Tracks list's selection), or the
        selected track and the one it crosses on this frame
        (:func:`~tracker_annotate.core.review.crossing_partner`)."""
        p, s = self.project, self.session
        if p is None or s is None:
            return
        pair = self._swap_pair(sorted(set(track_ids)))
        if pair is None:
            return
        a, b = pair
        frame = s.frame
        moved: list[int] = []
        queued = self.do(
            lambda: self.jobs.edit_then_queue_all(
                p,
                [(a, frame), (b, frame)],
                lambda: moved.append(commands.swap_identities(p, a, b, frame)),
                retrack=self._will_retrack(a),
            )
        )
        if queued is None:
            return
        then = "; re-tracking both around it" if queued else ""
        self.status.emit(
            f"Tracks {a} and {b} swapped identities from frame {frame} "
            f"({moved[0]} boxes changed tracks){then}; Ctrl+Z undoes it"
        )
        if queued and not self.busy:
            self._run_pending_retrack()

    def _swap_pair(self, ids: list[int]) -> tuple[int, int] | None:
        p, s = self.project, self.session
        assert p is not None and s is not None
        if len(ids) == 2:
            return ids[0], ids[1]
        if len(ids) > 2:
            self.status.emit(f"Select two tracks to swap, not {len(ids)}")
            return None
        sel = ids[0] if ids else s.selected
        partner = review.crossing_partner(p, sel, s.frame) if sel is not None else None
        if sel is None or partner is None:
            where = "No track selected"
            if sel is not None:
                where = f"Track {sel} crosses no other track on frame {s.frame}"
            self.status.emit(
                f"{where}: select the two tracks to swap (Ctrl+click in the Tracks list), "
                "or a box where two tracks cross"
            )
            return None
        return sel, partner

    def copy_to_next(self) -> None:
        p, s, sel = self.project, self.session, self._selected_box()
        if p is None or s is None or sel is None:
            return
        if sel[1] + 1 >= s.n_frames:
            self.status.emit("Already on the last frame")
            return
        self.do(lambda: commands.copy_box_to_frame(p, sel[0], sel[1], sel[1] + 1))
        s.step(1)

    def set_label(self, name: str) -> None:
        p, s = self.project, self.session
        if p is None or s is None or s.selected is None:
            return
        tid = s.selected
        self.do(lambda: commands.relabel(p, tid, name))

    def select_next_on_frame(self) -> None:
        p, s = self.project, self.session
        if p is None or s is None:
            return
        tids = [t for t, _ in p.boxes_at(s.frame) if not p.tracks[t].hidden]
        if tids:
            later = [t for t in tids if s.selected is None or t > s.selected]
            s.select(later[0] if later else tids[0])

    advance_after_review = True

    def advance_review(self) -> None:
        self.learn()
        if self.advance_after_review:
            self.go_to_flag()

    def learn(self) -> None:
        """Recalibrate the confidence from the verdicts when due (every few reviews, or
        when the queue is empty: :func:`~tracker_annotate.core.recalibration.
        maybe_recalibrate`), as its own undo step; not while a re-track is running or
        queued (a fix and its re-track stay one step; it runs when they are applied)."""
        p = self.project
        if p is None or self.busy or self.jobs.pending:
            return
        thr = recalibration.flag_threshold(p, self.prefs.flag_threshold)
        q = p.quality
        target = q.target if q.threshold is not None else None  # once a target is applied
        if self.do(lambda: recalibration.maybe_recalibrate(p, thr, target=target)) is not None:
            self.status.emit(f"{recal_report.summary(p)}; Ctrl+Z undoes it")

    def go_to_flag(self, *, backward: bool = False) -> bool:
        """Go to the next (previous) flagged box in review order (the list's) and select it,
        wrapping around past the last (first) one (:func:`~tracker_annotate.core.review.
        flag_hop`); with no flag left, walk the proposed objects, then the audit's samples.
        Returns whether it moved."""
        p, s = self.project, self.session
        if p is None or s is None:
            return False
        hop = review.flag_hop(p, s.frame, s.selected, backward=backward)
        if hop is None:
            if self.detect.walk(backward=backward) or self.audit.walk(backward=backward):
                return True
            self.status.emit("No flagged box left \u2713")
            return False
        if not hop.moved:
            self.status.emit("This is the only flagged box left")
            return False
        s.go_to(hop.frame, hop.track_id)
        if hop.wrapped:
            where = "last" if backward else "first"
            self.status.emit(f"Wrapped around to the {where} flagged box ({hop.left} left)")
        return True

    def undo(self) -> None:
        p = self.project
        if p is not None:
            text = p.history.undo_text()
            if self.do(p.history.undo) is not None:
                self._note("undo", None, None, None, n_boxes=0)
                self.status.emit(f"Undid: {text}")

    def redo(self) -> None:
        p = self.project
        if p is not None:
            text = p.history.redo_text()
            if self.do(p.history.redo) is not None:
                self._note("undo", None, None, None, n_boxes=0)
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
        if not selected_only and not p.tracks:
            self.status.emit("Draw a box first: drag on the image")
            return
        if selected_only and s.selected is not None:
            request = TrackRequest((s.selected,), focus=s.frame)
        else:  # Track all: new objects and lost tracks too, by the detector (in the worker)
            request = TrackRequest(None, after_run=self.detect.after_run, focus=s.frame)
        self._start(request)

    def _will_retrack(self, track_id: int) -> bool:
        p = self.project
        return (
            self.prefs.auto_retrack
            and self.doc is not None
            and self.doc.source is not None
            and p is not None
            and track_id in p.tracks
        )

    def edit_then_retrack(self, track_id: int, frame: int, edit: Callable[[], None]) -> bool:
        """Do ``edit`` and, when a re-track will follow, mark its stretch stale in the same
        transaction and queue the re-track (:meth:`TrackingJobs.edit_then_queue`). Returns
        whether the edit succeeded."""
        p = self.project
        if p is None:
            return False
        retrack = self._will_retrack(track_id)
        queued = self.do(
            lambda: self.jobs.edit_then_queue(p, track_id, frame, edit, retrack=retrack)
        )
        if queued and not self.busy:
            self._run_pending_retrack()
        return queued is not None

    def resume_stale(self) -> None:
        """After opening: stretches an edit left without their re-track (the app was
        killed in between) are flagged, then re-tracked when auto re-track is on."""
        p = self.project
        if p is None or not p.stale:
            return
        n = self.do(lambda: commands.flag_stale_stretches(p))
        stale = sorted(p.stale)
        self.status.emit(
            f"{len(stale)} stretch{'es' if len(stale) > 1 else ''} left without its re-track "
            f"by an interruption: {n or 0} boxes flagged"
            + ("; re-tracking them" if self.prefs.auto_retrack else " (press T to re-track)")
        )
        for tid, frame in stale:
            if self._will_retrack(tid):
                self.jobs.queue_retrack(tid, frame, None)
        if not self.busy:
            self._run_pending_retrack()

    def _run_pending_retrack(self) -> None:
        p, doc = self.project, self.doc
        if not self.jobs.pending or p is None or doc is None or doc.source is None:
            return
        job = self.jobs.next_retrack(p, doc.source, self.prefs.tracker_config())
        if job is not None:
            self._run(job)

    def _start(self, request: JobRequest) -> None:
        """Prepare a job for ``request`` (the snapshot is taken now) and run it."""
        p, doc = self.project, self.doc
        if p is None or doc is None or doc.source is None:
            return
        if self.worker is not None:
            self.status.emit("Tracking is already running; cancel it (Esc) or wait")
            return
        self._run(prepare_job(p, doc.source, self.prefs.tracker_config(), request))

    def _run(self, job: TrackingJob) -> None:
        """Run ``job`` in a worker thread (callers make sure none is running)."""
        w = TrackingWorker(job, job.description)
        w.progress.connect(self.progress)
        w.partial.connect(self._on_partial)
        w.done.connect(self._on_done)
        w.failed.connect(self._on_failed)
        w.finished.connect(self._on_finished)
        self.worker, self._job = w, job
        self._preview = {}
        self.busy_changed.emit(True)
        self.status.emit(f"{job.description}: running (Esc cancels)")
        w.start()

    def cancel_tracking(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            # their stale marks stay in the project: the next open flags and re-tracks them
            self.jobs.forget()
            self.status.emit("Cancelling tracking…")

    def _on_partial(self, track_id: int, boxes: list[FrameBox]) -> None:
        lane = self._preview.setdefault(track_id, {})
        for b in boxes:
            lane[b.frame] = b
        if not self._preview_timer.isActive():
            self._preview_timer.start()

    def _on_done(self, run: TrackingRun) -> None:
        p, job = self.project, self._job
        if p is None or self.worker is None or job is None:
            return
        done = self.do(lambda: self.jobs.apply(p, job, run))
        if done is None:
            return
        if done.dropped:
            self.status.emit(f"{done.description}: dropped, its edit was undone")
            return
        if self.worklog is not None:
            self.worklog.note_run(run.seconds, done.boxes, done.flags_after - done.flags_before)
        if not done.changed:
            # an empty run pushes no undo step: "Ctrl+Z undoes the run" would undo the
            # annotator's last edit instead (a run cancelled before its first frame)
            self.status.emit(f"{done.description}: no box changed, nothing to undo")
            return
        undoes = "Ctrl+Z undoes the whole run"
        if done.merged:
            undoes = "Ctrl+Z undoes the fix and its re-track"
        # a re-track replaces the stretch after an edit, flags included: say what that did
        # to the review counter, or a fix that raised it looks like a bug
        before, after = done.flags_before, done.flags_after
        flags = f"; flags {before} \u2192 {after}" if after != before else ""
        if after:
            flags += " (F: next flag)"
        self.status.emit(
            f"{done.description}: {done.boxes} boxes in {run.seconds:.1f} s "
            f"({done.rate:.0f} object-frames/s){flags}{done.note}; {undoes}"
        )

    def _on_failed(self, message: str) -> None:
        self.jobs.forget()
        self.error.emit(f"Tracking failed; the project is unchanged.\n\n{message}")

    def _on_finished(self) -> None:
        if self.worker is not None:
            # ``finished`` is emitted just before the thread ends: let it end before the
            # last reference (and with it the QThread) goes away
            self.worker.wait()
        self.worker, self._job = None, None
        self._preview = {}
        self._preview_timer.stop()
        self.preview_changed.emit({})
        self.busy_changed.emit(False)
        self.learn()  # after a fix's re-track (its verdict), before the next re-track
        self._run_pending_retrack()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop tracking before closing: what was committed is already saved; a run that
        did not finish is dropped (nothing half-applied); stretches it left stale keep
        their marks for the next open."""
        self.jobs.forget()
        w = self.worker
        if w is not None:
            w.done.disconnect(self._on_done)
            w.cancel()
            w.wait(timeout_ms)
            self.worker, self._job = None, None

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
        self._start(ImportRequest(dets, path))

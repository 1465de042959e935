"""Tracking jobs on an open project, without Qt: prepare, run in a worker, apply.

Every run a front end starts (Track / Track all, the re-track after an edit, Import
detections) takes one path:

1. :func:`prepare_job`, on the thread that owns the project: a *snapshot* of it (the
   annotator keeps editing the live one while the job runs) and the request;
2. :meth:`TrackingJob.__call__`, in the worker: reopen the media on a handle of its own,
   with a small frame cache (:data:`WORKER_CACHE_MIB`, not the viewer's budget), run the
   engine, and always close the handle, on success, failure or cancel alike;
3. :meth:`TrackingJobs.apply`, back on the owning thread: the run becomes one undo step.

:class:`TrackingJobs` also keeps the re-track bookkeeping: the queue of edits waiting for
their re-track (each marked stale in the project, in the edit's own transaction, until its
run is applied), the edit step each run joins (one Ctrl+Z undoes the fix and its
re-track), which stale marks a run answers, and the runs that no longer fit (their edit
was undone meanwhile; tracks deleted while the run went). The GUI's controller only wires
it to a worker thread and the status bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import ChangeSet, Project, Transaction, snapshot_project
from tracker_annotate.core.review import flagged_positions
from tracker_annotate.io.frame_cache import MIB
from tracker_annotate.io.media import MediaSource
from tracker_annotate.tracking.api import (
    CancelToken,
    PartialCallback,
    ProgressCallback,
    TrackerConfig,
    TrackingRun,
    apply_run,
)

log = logging.getLogger(__name__)

#: Frame-cache budget of a worker's own handle on the media (the viewer keeps its own,
#: larger one). A run reads forward once, so a forward sweep needs only its read-ahead;
#: a backward sweep keeps one chunk of frames ending at each miss, and a budget below the
#: chunk decodes frames again (at 1080p, ~6 MiB a frame, 128 MiB holds 21: a 300-frame
#: backward read decodes ~1.3x the frames, 64 MiB ~2.5x). Raising it spends RAM per
#: running sweep; never more than the viewer's own budget is used.
WORKER_CACHE_MIB = 128


class AfterRunResult(Protocol):
    """What an after-run pass found (e.g. :class:`~tracker_annotate.app.detector_pass.
    DetectorFinds`): installed in the run's undo step, its note ending the run's status."""

    @property
    def note(self) -> str: ...

    def install(self, project: Project) -> None: ...


#: ``after_run(snapshot, source, run, config)``, in the worker after a Track run: e.g. the
#: detector's new-object and re-find pass, on the job's snapshot and handle. What it
#: returns stays with its job (never shared between runs) until the job is applied.
AfterRun = Callable[[Project, FrameSource, TrackingRun, TrackerConfig], AfterRunResult | None]


@dataclass(frozen=True)
class TrackRequest:
    """Track the given tracks (``None``: every track) between and beyond their keyframes;
    the stretches around ``focus`` (the frame the annotator is on) first."""

    track_ids: tuple[int, ...] | None = None
    after_run: AfterRun | None = None
    focus: int | None = None

    def __post_init__(self) -> None:
        if self.track_ids is not None and not self.track_ids:
            raise ProjectError("a Track request names no track (None tracks them all)")


@dataclass(frozen=True)
class RetrackRequest:
    """Re-track the stretch of ``track_id`` around an edit on ``frame``."""

    track_id: int
    frame: int


@dataclass(frozen=True)
class ImportRequest:
    """Track every track with ``detections`` as extra measurements; unmatched detections
    become proposed tracks. ``path`` names the file they came from."""

    detections: Detections
    path: str


JobRequest = TrackRequest | RetrackRequest | ImportRequest


def describe(request: JobRequest) -> str:
    """The job's name, as the status bar and the undo step say it."""
    if isinstance(request, RetrackRequest):
        return f"Re-track {request.track_id} after edit"
    if isinstance(request, ImportRequest):
        return f"Import detections {request.path}"
    if request.track_ids is None:
        return "Track all"
    return "Track " + ", ".join(str(t) for t in request.track_ids)


def worker_source(source: MediaSource) -> MediaSource:
    """A new handle on ``source``'s media for a worker thread, with the worker's small
    cache (:data:`WORKER_CACHE_MIB`, or the viewer's budget if that is smaller)."""
    budget = min(WORKER_CACHE_MIB * MIB, source.config.cache_bytes)
    return source.reopen(replace(source.config, cache_bytes=budget))


class TrackingJob:
    """One prepared run: ``job(progress, cancel, on_partial) -> TrackingRun`` in a worker.

    Holds the snapshot taken when it was prepared; reopens the media itself (see
    :func:`worker_source`) and closes it whatever happens. ``opened`` is the handle of
    the last call (closed by then), for whoever wants to know what it read with.
    """

    def __init__(
        self, snapshot: Project, source: MediaSource, config: TrackerConfig, request: JobRequest
    ) -> None:
        self.snapshot = snapshot
        self.source = source
        self.config = config
        self.request = request
        self.description = describe(request)
        self.opened: MediaSource | None = None
        #: what the request's after-run pass returned (set in the worker, read once the
        #: worker has handed the run back)
        self.after: AfterRunResult | None = None

    @property
    def retrack_key(self) -> tuple[int, int] | None:
        """``(track_id, frame)`` of the edit a re-track answers; ``None`` for other jobs."""
        r = self.request
        return (r.track_id, r.frame) if isinstance(r, RetrackRequest) else None

    def __call__(
        self, progress: ProgressCallback, cancel: CancelToken, partial: PartialCallback
    ) -> TrackingRun:
        from tracker_annotate.tracking.engine import retrack_after_edit, track_project

        own = worker_source(self.source)
        self.opened = own
        try:
            r, snap, config = self.request, self.snapshot, self.config
            if isinstance(r, RetrackRequest):
                return retrack_after_edit(
                    snap, own, config, r.track_id, r.frame, progress=progress, cancel=cancel
                )
            if isinstance(r, ImportRequest):
                return track_project(
                    snap,
                    own,
                    config,
                    progress=progress,
                    cancel=cancel,
                    on_partial=partial,
                    detections=r.detections,
                )
            run = track_project(
                snap,
                own,
                config,
                track_ids=r.track_ids,
                progress=progress,
                cancel=cancel,
                on_partial=partial,
                focus=r.focus,
            )
            self.after = None
            if r.after_run is not None:
                self.after = r.after_run(snap, own, run, config)
            return run
        finally:
            own.close()


def prepare_job(
    project: Project, source: MediaSource, config: TrackerConfig, request: JobRequest
) -> TrackingJob:
    """Snapshot ``project`` now (call on the thread that owns it) for a job that runs
    ``request`` on ``source``'s media with ``config``."""
    return TrackingJob(snapshot_project(project), source, config, request)


@dataclass(frozen=True)
class Applied:
    """What :meth:`TrackingJobs.apply` did with a run."""

    description: str  # the undo step's name ("... (cancelled, kept what finished)")
    dropped: bool = False  # its edit was undone while it ran: nothing applied
    changed: bool = False  # False: no box changed, so no undo step was pushed
    boxes: int = 0  # boxes the run delivered (for tracks that still exist)
    merged: bool = False  # joined its edit's undo step (one Ctrl+Z for both)
    flags_before: int = 0
    flags_after: int = 0
    rate: float = 0.0  # object-frames per second
    note: str = ""  # what the job's after-run pass did ("" when it had none)


class TrackingJobs:
    """The jobs of one open project: the re-track queue and applying what runs return.

    Not thread-safe: call it on the thread that owns the project; only the prepared
    :class:`TrackingJob` goes to a worker.
    """

    def __init__(self) -> None:
        # (track_id, edited frame) awaiting their re-track, oldest first
        self._pending: list[tuple[int, int]] = []
        # the edit step each re-track belongs to: the run joins it (one Ctrl+Z for both)
        self._edit_steps: dict[tuple[int, int], Transaction | None] = {}

    @property
    def pending(self) -> tuple[tuple[int, int], ...]:
        """Re-tracks waiting, oldest first."""
        return tuple(self._pending)

    def edit_then_queue(
        self,
        project: Project,
        track_id: int,
        frame: int,
        edit: Callable[[], None],
        *,
        retrack: bool,
    ) -> bool:
        """Do ``edit`` and, when ``retrack``, mark its stretch stale *in the same
        transaction* and queue its re-track: a crash between the edit and its re-track
        then leaves a mark the next open flags and re-tracks, never a stretch silently off
        its new keyframe. Returns whether a re-track was queued (an edit that changed
        nothing, or deleted the track, queues none). Errors of ``edit`` propagate, with
        nothing changed."""
        return self.edit_then_queue_all(project, [(track_id, frame)], edit, retrack=retrack)

    def edit_then_queue_all(
        self,
        project: Project,
        stretches: Sequence[tuple[int, int]],
        edit: Callable[[], None],
        *,
        retrack: bool,
    ) -> bool:
        """:meth:`edit_then_queue` for an edit that changes several stretches at once
        (``(track_id, frame)`` each: a swap of identities changes two tracks): all marked
        stale in the edit's transaction, each re-track joining the edit's undo step."""
        with project.edit("") as tx:  # the command names the step
            edit()
            if retrack and not tx.is_empty():
                for track_id, frame in stretches:
                    if track_id in project.tracks:
                        tx.mark_stale(track_id, frame)
        queued = [k for k in stretches if retrack and k in project.stale]
        for track_id, frame in queued:
            self.queue_retrack(track_id, frame, project.history.last)
        return bool(queued)

    def queue_retrack(self, track_id: int, frame: int, step: Transaction | None) -> None:
        """Queue a re-track of the stretch around ``(track_id, frame)``; ``step`` is the
        edit's undo step that its run joins (``None``: a stale mark from an earlier
        session)."""
        key = (track_id, frame)
        if key not in self._pending:
            self._pending.append(key)
        self._edit_steps[key] = step

    def next_retrack(
        self, project: Project, source: MediaSource, config: TrackerConfig
    ) -> TrackingJob | None:
        """The oldest queued re-track whose track still exists, prepared (taken off the
        queue); ``None`` when none is left."""
        while self._pending:
            track_id, frame = key = self._pending.pop(0)
            if track_id in project.tracks:
                return prepare_job(project, source, config, RetrackRequest(track_id, frame))
            self._edit_steps.pop(key, None)
        return None

    def forget(self) -> None:
        """Drop the queue (cancel, failure, shutdown): the stale marks stay in the
        project, so the next open flags and re-tracks those stretches."""
        self._pending.clear()
        self._edit_steps.clear()

    def apply(
        self,
        project: Project,
        job: TrackingJob,
        run: TrackingRun,
    ) -> Applied:
        """Apply ``job``'s finished ``run`` to the live project as one undo step (with what
        its after-run pass found, e.g. the detector's finds), clearing the stale marks it
        answers; a re-track joins its edit's step. Errors propagate, with the project
        unchanged."""
        key = job.retrack_key
        step = self._edit_steps.pop(key, None) if key is not None else None
        if step is not None and not project.history.is_done(step):
            # its edit was undone while the run went: the result fits a state that is gone
            return Applied(job.description, dropped=True)
        desc = job.description + (" (cancelled, kept what finished)" if run.cancelled else "")
        # the project may have lost a track while the run was going: skip those
        run.boxes = {t: b for t, b in run.boxes.items() if t in project.tracks}
        run.spans = {t: sp for t, sp in run.spans.items() if t in project.tracks}
        clears: set[tuple[int, int]] = set()
        if not run.cancelled:
            if key is not None:
                if key not in self._pending:  # not edited again meanwhile
                    clears.add(key)
            else:  # a whole-track run recomputed every stretch of its tracks
                clears = {(t, f) for t, f in project.stale if t in run.spans}
        flags_before = len(flagged_positions(project))
        changes: list[ChangeSet] = []
        project.changed.connect(changes.append)
        try:
            # apply_run adds the run's proposed tracks itself (adding them here too made
            # every detection-proposed track twice); the after-run finds and the stale marks
            # the run answers join the same undo step
            after = job.after
            with project.edit(desc) as tx:
                apply_run(project, run, desc)
                if after is not None:
                    after.install(project)
                for track_id, frame in sorted(clears):
                    tx.clear_stale(track_id, frame)
        finally:
            project.changed.disconnect(changes.append)
        n = sum(len(b) for b in run.boxes.values())
        if not changes:
            # an empty run pushes no undo step
            return Applied(desc, boxes=n, flags_before=flags_before, flags_after=flags_before)
        note = after.note if after is not None else ""
        suffix = "" if step is None or step.description.endswith(" + re-track") else " + re-track"
        merged = step is not None and project.history.merge_last_two(
            step, f"{step.description}{suffix}"
        )
        if merged:
            # an edit of several stretches queued a re-track for each: the ones still
            # waiting join the merged step (the edit's own is no longer on the stack)
            joined = project.history.last
            for k, s in self._edit_steps.items():
                if s is step:
                    self._edit_steps[k] = joined
        return Applied(
            desc,
            changed=True,
            boxes=n,
            merged=merged,
            flags_before=flags_before,
            flags_after=len(flagged_positions(project)),
            rate=run.object_frames / run.seconds if run.seconds > 0 else 0.0,
            note=note,
        )

"""The tracking-jobs service headless, on real media (a rendered scene written to an MJPG
video or a PNG folder and decoded by OpenCV): prepare (snapshot) -> run in a worker thread
on its own small-cache handle -> apply as one undo step; the re-track queue; the handle is
closed after a failure too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scene_files import N, scene, write_images, write_video

from tracker_annotate.app.jobs import (
    WORKER_CACHE_MIB,
    ImportRequest,
    RetrackRequest,
    TrackingJob,
    TrackingJobs,
    TrackRequest,
    prepare_job,
    worker_source,
)
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, iou_xyxy
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import MediaError, ProjectError, TrackingError
from tracker_annotate.core.project import Project
from tracker_annotate.io.frame_cache import MIB
from tracker_annotate.io.media import MediaConfig, MediaSource, open_media, probe_media
from tracker_annotate.tracking.api import CancelToken, TrackerConfig, TrackingRun

TRUTH = scene()
CONFIG = TrackerConfig(tracker="cascade", threads=1)


def truth_box(f: int) -> BoxXYXY:
    return BoxXYXY(*(float(v) for v in TRUTH.truth(0, f)))


def project_on(path: Path, keyframes: tuple[int, ...] = (0, 30)) -> tuple[Project, int]:
    p = Project(probe_media(path))
    tid = commands.add_track(p, keyframes[0], truth_box(keyframes[0]))
    for f in keyframes[1:]:
        commands.add_box(p, tid, f, truth_box(f))
    p.history.clear()
    return p, tid


def run_in_thread(job: TrackingJob) -> TrackingRun | BaseException:
    """Run the job on a worker thread, as the GUI's TrackingWorker does."""
    out: list[TrackingRun | BaseException] = []
    progress: list[tuple[int, int]] = []

    def work() -> None:
        try:
            out.append(job(lambda d, t: progress.append((d, t)), CancelToken(), lambda t, b: None))
        except BaseException as exc:  # handed back to the test thread
            out.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join(120)
    assert not t.is_alive() and len(out) == 1
    return out[0]


def assert_closed(source: MediaSource | None) -> None:
    assert source is not None
    with pytest.raises(MediaError, match="after close"):
        source.read(0)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi", TRUTH)


@pytest.fixture
def viewer(video: Path) -> Iterator[MediaSource]:
    src = open_media(video)  # the viewer's handle, with the default (large) cache
    yield src
    src.close()


def test_track_runs_on_a_small_cache_handle_and_applies_as_one_step(
    video: Path, viewer: MediaSource
) -> None:
    p, tid = project_on(video)
    job = prepare_job(p, viewer, CONFIG, TrackRequest((tid,)))
    assert job.description == f"Track {tid}"
    run = run_in_thread(job)
    assert isinstance(run, TrackingRun) and not run.cancelled
    # the worker read through its own handle with the small budget, and closed it
    assert job.opened is not None and job.opened is not viewer
    assert job.opened.cache.budget_bytes == WORKER_CACHE_MIB * MIB
    assert viewer.cache.budget_bytes == MediaConfig().cache_bytes > WORKER_CACHE_MIB * MIB
    assert_closed(job.opened)
    assert viewer.read(3).shape == (240, 320, 3)  # the viewer's handle is untouched

    done = TrackingJobs().apply(p, job, run)
    assert done.changed and not done.dropped and done.boxes > 0
    derived = {f: b for f, b in p.boxes(tid).items() if b.source is BoxSource.TRACKED}
    assert set(range(1, 30)) <= set(derived)
    worst = min(iou_xyxy(derived[f].xyxy.to_array(), TRUTH.truth(0, f)) for f in range(1, 30))
    assert worst > 0.6, worst
    assert p.history.undo_text() == f"Track {tid}"
    p.history.undo()
    assert sorted(p.boxes(tid)) == [0, 30]  # one undo step takes the whole run back


def test_the_snapshot_is_taken_when_the_job_is_prepared(video: Path, viewer: MediaSource) -> None:
    p, tid = project_on(video)
    other = commands.add_track(p, 0, BoxXYXY(200, 150, 240, 190))
    job = prepare_job(p, viewer, CONFIG, TrackRequest(None))
    assert job.description == "Track all" and job.snapshot is not p
    commands.delete_track(p, other)  # the annotator goes on editing while it runs
    commands.add_box(p, tid, 10, truth_box(10))
    assert other in job.snapshot.tracks and job.snapshot.box(tid, 10) is None
    run = run_in_thread(job)
    assert isinstance(run, TrackingRun) and other in run.boxes
    done = TrackingJobs().apply(p, job, run)
    assert done.changed and other not in p.tracks  # a track deleted meanwhile stays deleted
    assert p.box(tid, 10) is not None and p.box(tid, 10).source is BoxSource.MANUAL  # type: ignore[union-attr]


def test_the_handle_is_closed_after_a_failure_too(tmp_path: Path) -> None:
    folder = write_images(tmp_path / "seq", TRUTH)
    (folder / "0030.png").write_bytes(b"not a png")  # the keyframe 30 does not decode
    viewer = open_media(folder)
    try:
        p, tid = project_on(folder)
        before = {f: b for f, b in p.boxes(tid).items()}
        job = prepare_job(p, viewer, CONFIG, TrackRequest((tid,)))
        failed = run_in_thread(job)
        assert isinstance(failed, TrackingError) and "keyframe frame 30" in str(failed)
        assert_closed(job.opened)
        assert job.opened is not None and job.opened.cache.budget_bytes == WORKER_CACHE_MIB * MIB
        assert dict(p.boxes(tid)) == before  # nothing was applied
    finally:
        viewer.close()


def test_a_failing_after_run_hook_still_closes_the_handle(video: Path, viewer: MediaSource) -> None:
    p, _ = project_on(video)
    seen: list[int] = []

    def after_run(snap: Project, src: object, run: TrackingRun, config: TrackerConfig) -> None:
        seen.append(len(run.boxes))
        raise ProjectError("the after-run pass failed")

    job = prepare_job(p, viewer, CONFIG, TrackRequest(None, after_run=after_run))
    failed = run_in_thread(job)
    assert isinstance(failed, ProjectError) and seen == [1]
    assert_closed(job.opened)


class _Finds:
    """An after-run result: adds a label when installed (as the detector's finds add
    proposals), and says so."""

    note = "; after-run: 1 label"

    def __init__(self) -> None:
        self.installed_in: list[str | None] = []

    def install(self, project: Project) -> None:
        self.installed_in.append(project.history.undo_text())
        commands.add_label(project, "found")


def test_an_after_run_result_joins_its_runs_step_and_stays_with_its_job(
    video: Path, viewer: MediaSource
) -> None:
    p, tid = project_on(video)
    finds = _Finds()
    jobs = TrackingJobs()
    job = prepare_job(p, viewer, CONFIG, TrackRequest(None, after_run=lambda *a: finds))
    run = run_in_thread(job)
    assert isinstance(run, TrackingRun) and job.after is finds
    done = jobs.apply(p, job, run)
    assert done.changed and done.note == finds.note and len(finds.installed_in) == 1
    assert "found" in p.labels and any(b.is_derived for b in p.boxes(tid).values())
    p.history.undo()  # one step: the run and what its after-run pass found
    assert "found" not in p.labels and not any(b.is_derived for b in p.boxes(tid).values())
    p.history.redo()
    # the next job has no after-run pass: neither its step nor its status gets the last one's
    commands.add_box(p, tid, 15, truth_box(15))  # a new keyframe: the run changes boxes
    later = prepare_job(p, viewer, CONFIG, TrackRequest((tid,)))
    run2 = run_in_thread(later)
    assert isinstance(run2, TrackingRun)
    done2 = jobs.apply(p, later, run2)
    assert done2.changed and done2.note == "" and len(finds.installed_in) == 1


def test_a_worker_never_caches_more_than_the_viewer(video: Path) -> None:
    small = open_media(video, MediaConfig(cache_bytes=16 * MIB, readahead=2))
    try:
        own = worker_source(small)
        assert own.cache.budget_bytes == 16 * MIB and own.config.readahead == 2
        own.close()
    finally:
        small.close()


def test_a_retrack_joins_its_edit_and_clears_its_stale_mark(
    video: Path, viewer: MediaSource
) -> None:
    p, tid = project_on(video)
    jobs = TrackingJobs()
    first = run_in_thread(prepare_job(p, viewer, CONFIG, TrackRequest((tid,))))
    assert isinstance(first, TrackingRun)
    jobs.apply(p, prepare_job(p, viewer, CONFIG, TrackRequest((tid,))), first)
    moved = BoxXYXY(*(truth_box(15).to_array() + np.array([2, 1, 2, 1])))

    queued = jobs.edit_then_queue(
        p, tid, 15, lambda: commands.set_box_geometry(p, tid, 15, moved), retrack=True
    )
    assert queued and p.stale == {(tid, 15)} and jobs.pending == ((tid, 15),)
    edit_step = p.history.undo_text()
    job = jobs.next_retrack(p, viewer, CONFIG)
    assert job is not None and job.request == RetrackRequest(tid, 15) and not jobs.pending
    assert job.description == f"Re-track {tid} after edit"
    run = run_in_thread(job)
    assert isinstance(run, TrackingRun)
    assert_closed(job.opened)
    done = jobs.apply(p, job, run)
    assert done.changed and done.merged and not p.stale
    assert p.history.undo_text() == f"{edit_step} + re-track"
    p.history.undo()  # one Ctrl+Z takes back the fix and its re-track
    b = p.box(tid, 15)
    assert b is not None and b.source is BoxSource.TRACKED and b.xyxy != moved


def test_a_retrack_whose_edit_was_undone_is_dropped(video: Path, viewer: MediaSource) -> None:
    p, tid = project_on(video)
    jobs = TrackingJobs()
    assert jobs.edit_then_queue(
        p, tid, 10, lambda: commands.add_box(p, tid, 10, truth_box(10)), retrack=True
    )
    job = jobs.next_retrack(p, viewer, CONFIG)
    assert job is not None
    run = run_in_thread(job)
    p.history.undo()  # while it ran
    assert isinstance(run, TrackingRun)
    boxes = dict(p.boxes(tid))
    done = jobs.apply(p, job, run)
    assert done.dropped and not done.changed and dict(p.boxes(tid)) == boxes


def test_queued_retracks_of_deleted_tracks_are_skipped(video: Path, viewer: MediaSource) -> None:
    p, tid = project_on(video)
    jobs = TrackingJobs()
    gone = commands.add_track(p, 0, BoxXYXY(200, 150, 240, 190))
    jobs.queue_retrack(gone, 0, None)
    jobs.queue_retrack(tid, 30, None)
    jobs.queue_retrack(gone, 0, None)  # queued once
    assert jobs.pending == ((gone, 0), (tid, 30))
    commands.delete_track(p, gone)
    job = jobs.next_retrack(p, viewer, CONFIG)
    assert job is not None and job.retrack_key == (tid, 30)
    assert jobs.next_retrack(p, viewer, CONFIG) is None
    jobs.queue_retrack(tid, 5, None)
    jobs.forget()
    assert jobs.pending == ()


def test_an_edit_without_retrack_marks_nothing(video: Path) -> None:
    p, tid = project_on(video)
    jobs = TrackingJobs()
    assert not jobs.edit_then_queue(
        p, tid, 4, lambda: commands.add_box(p, tid, 4, truth_box(4)), retrack=False
    )
    assert not p.stale and not jobs.pending and p.box(tid, 4) is not None


def test_imported_detections_become_a_proposed_track(tmp_path: Path) -> None:
    two = scene()
    two.objects.append(type(two.objects[0])((220, 40, 260, 90), (-1.0, 1.0), seed=9))
    two.__post_init__()
    video = write_video(tmp_path / "two.avi", two)
    viewer = open_media(video)
    try:
        p, _ = project_on(video)
        frames = np.arange(N)
        dets = Detections(
            frames=frames,
            xyxy=np.stack([two.truth(1, int(f)) for f in frames]),
            scores=np.full(N, 0.95),
            class_ids=np.zeros(N, dtype=np.int64),
        )
        job = prepare_job(p, viewer, CONFIG, ImportRequest(dets, "det.txt"))
        assert job.description == "Import detections det.txt"
        run = run_in_thread(job)
        assert isinstance(run, TrackingRun)
        assert_closed(job.opened)
        done = TrackingJobs().apply(p, job, run)
        assert done.changed
        proposed = [t for t, info in p.tracks.items() if info.proposed]
        assert len(proposed) == 1
        b = p.box(proposed[0], 20)
        assert b is not None and iou_xyxy(b.xyxy.to_array(), two.truth(1, 20)) > 0.7
    finally:
        viewer.close()


def test_a_track_request_names_at_least_one_track() -> None:
    with pytest.raises(ProjectError, match="names no track"):
        TrackRequest(())

"""Swapping two tracks' identities re-tracks both around the swap frame, on real decoded
video: each re-track joins the swap's undo step (one Ctrl+Z takes back all three), and
both tracks end up on their own objects."""

from __future__ import annotations

import threading
from pathlib import Path

from scene_files import write_video
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.app.jobs import TrackingJob, TrackingJobs, TrackRequest, prepare_job
from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY, iou_xyxy
from tracker_annotate.core.project import Project
from tracker_annotate.io.media import open_media, probe_media
from tracker_annotate.tracking.api import CancelToken, TrackerConfig, TrackingRun

CONFIG = TrackerConfig(tracker="cascade", threads=1)
N, SWAP = 30, 14
TWO = ArraySource(
    [
        MovingObject((30, 40, 80, 100), (2.0, 0.5), seed=3),
        MovingObject((220, 130, 270, 190), (-2.0, -0.5), seed=8),
    ],
    n=N,
)


def _run(job: TrackingJob) -> TrackingRun:
    out: list[object] = []
    t = threading.Thread(
        target=lambda: out.append(job(lambda d, t: None, CancelToken(), lambda t, b: None))
    )
    t.start()
    t.join(120)
    assert isinstance(out[0], TrackingRun)
    return out[0]


def _on_object(p: Project, tid: int, obj: int, frames: range) -> bool:
    boxes = [p.box(tid, f) for f in frames]
    return all(
        b is not None and iou_xyxy(b.xyxy.to_array(), TWO.truth(obj, b.frame)) > 0.5 for b in boxes
    )


def test_a_swap_re_tracks_both_tracks_into_its_own_undo_step(tmp_path: Path) -> None:
    video = write_video(tmp_path / "two.avi", TWO)
    p = Project(probe_media(video))
    a = commands.add_track(p, 0, BoxXYXY(*(float(v) for v in TWO.truth(0, 0))))
    b = commands.add_track(p, 0, BoxXYXY(*(float(v) for v in TWO.truth(1, 0))))
    src = open_media(video)
    try:
        jobs = TrackingJobs()
        run = _run(prepare_job(p, src, CONFIG, TrackRequest(None)))
        jobs.apply(p, prepare_job(p, src, CONFIG, TrackRequest(None)), run)
        # the tracker's identity switch, as the annotator finds it: from SWAP on, track a
        # follows object 1 and track b object 0
        commands.swap_identities(p, a, b, SWAP, anchor=False)
        assert _on_object(p, a, 1, range(SWAP, N)) and _on_object(p, b, 0, range(SWAP, N))
        p.history.clear()
        before = {t: dict(p.boxes(t)) for t in (a, b)}

        assert jobs.edit_then_queue_all(
            p,
            [(a, SWAP), (b, SWAP)],
            lambda: commands.swap_identities(p, a, b, SWAP),
            retrack=True,
        )
        assert p.stale == {(a, SWAP), (b, SWAP)} and jobs.pending == ((a, SWAP), (b, SWAP))
        swap_step = p.history.undo_text()
        for _ in range(2):
            job = jobs.next_retrack(p, src, CONFIG)
            assert job is not None
            done = jobs.apply(p, job, _run(job))
            assert not done.dropped and done.merged
        assert jobs.next_retrack(p, src, CONFIG) is None
        assert not p.stale
        assert _on_object(p, a, 0, range(N)) and _on_object(p, b, 1, range(N))
        assert p.history.undo_text() == f"{swap_step} + re-track"
        p.history.undo()  # the swap and both re-tracks, at once
        assert {t: dict(p.boxes(t)) for t in (a, b)} == before and not p.history.can_undo()
    finally:
        src.close()

"""Accuracy pinned on the project's synthetic sample (exact GT), decoded by OpenCV.

The sample has 7 tracks with crossings, look-alikes, an 8.8x scale change, an exit and
re-entry, a camera pan, shadow and brightness flicker (sample_videos/README.md). Seeded
with each track's first keyframe (sample_videos/keyframes.txt), scored on every GT box
after it. The pinned value is what the engine reached when this test was written, with a
tolerance for platform differences; a drop below it is a regression to investigate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tracker_annotate.app.pipeline import track_file
from tracker_annotate.core.boxes import iou_matrix
from tracker_annotate.tracking.api import TrackerConfig

SAMPLE = Path(__file__).resolve().parents[2] / "sample_videos"
PINNED_MEAN_IOU = 0.80  # committee, the default (0.801 when pinned; nano reached 0.830)
TOLERANCE = 0.03


def _read_mot(path: Path) -> dict[tuple[int, int], np.ndarray]:
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return {(int(r[0]), int(r[1])): np.array([r[2], r[3], r[2] + r[4], r[3] + r[5]]) for r in rows}


def score(out: Path) -> tuple[float, float]:
    gt = _read_mot(SAMPLE / "synthetic" / "gt" / "gt.txt")
    keys = _read_mot(SAMPLE / "keyframes.txt")
    got = _read_mot(out)
    first = {tid: f for f, tid in keys}
    ious = []
    for (f, tid), xyxy in gt.items():
        if tid not in first or f <= first[tid]:
            continue
        b = got.get((f, tid))
        ious.append(0.0 if b is None else float(iou_matrix(b[None], xyxy[None])[0, 0]))
    return float(np.mean(ious)), float(np.mean(np.array(ious) >= 0.5))


@pytest.mark.skipif(not (SAMPLE / "synthetic").is_dir(), reason="sample_videos not generated")
def test_sample_accuracy_is_pinned(tmp_path: Path) -> None:
    out = tmp_path / "result.txt"
    summary = track_file(SAMPLE / "synthetic", SAMPLE / "keyframes.txt", out, TrackerConfig())
    assert summary["tracks"] == 7
    mean_iou, success = score(out)
    assert mean_iou >= PINNED_MEAN_IOU - TOLERANCE, (mean_iou, success)


#: OTB-Couple (140 frames, moving camera, a look-alike pair), seeded with the first GT box
#: alone and with the first and last: mean IoU over every GT box between, a missing box 0.
#: Values reached by the default ``committee`` engine when pinned (0.738 and 0.761,
#: benchmarks/results/tracking.md; the ``nano`` engine reached 0.687 and 0.727).
PINNED_COUPLE = {"first": 0.73, "first+last": 0.76}


@pytest.mark.shared_data
@pytest.mark.parametrize("seeding", sorted(PINNED_COUPLE))
def test_shared_sequence_accuracy_is_pinned(shared_data: Path, seeding: str) -> None:
    from tracker_annotate.core.boxes import BoxXYXY, FrameBox
    from tracker_annotate.core.project import MediaRef, Project, TrackInfo
    from tracker_annotate.io.media import open_media
    from tracker_annotate.tracking.engine import track_project

    seq = shared_data / "sequences" / "OTB-Couple"
    rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
    gt = {int(r[0]) - 1: np.array([r[2], r[3], r[2] + r[4], r[3] + r[5]]) for r in rows}
    frames = sorted(gt)
    src = open_media(seq)
    try:
        p = Project(MediaRef(str(seq), src.n_frames, src.width, src.height))
        keys = [frames[0]] if seeding == "first" else [frames[0], frames[-1]]
        with p.edit("seed") as tx:
            tx.set_track(TrackInfo(1))
            for f in keys:
                tx.set_box(1, FrameBox(f, BoxXYXY.from_array(gt[f])))
        run = track_project(p, src, TrackerConfig(extend=seeding == "first"))
    finally:
        src.close()
    got = {b.frame: b.xyxy.to_array() for b in run.boxes[1]}
    scored = [f for f in frames if f not in keys]
    ious = [
        0.0 if f not in got else float(iou_matrix(got[f][None], gt[f][None])[0, 0]) for f in scored
    ]
    assert np.mean(ious) >= PINNED_COUPLE[seeding] - TOLERANCE, np.mean(ious)

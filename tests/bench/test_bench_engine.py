"""The benchmark with the REAL engine on tiny rendered sequences.

The main claim tested here: the tracker sees ground truth only through the simulated
annotator's actions. Two annotators whose GT differs only off their keyframes get the same
engine output, box for box; a control shows that changing a keyframe does change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import moving, static
from conftest import MakeSequence

from tracker_annotate.bench.costs import CostModel
from tracker_annotate.bench.sequences import (
    GroundTruthSequence,
    GroundTruthTrack,
    load_mot_sequence,
)
from tracker_annotate.bench.strategies import (
    RealEngine,
    run_tracker_flagged,
    run_tracker_oracle,
)
from tracker_annotate.core.project import Project
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun

CFG = TrackerConfig(tracker="nano")  # what is tested is the bench's leak-freedom, not the engine


@dataclass
class RecordingEngine:
    """The real engine, with every run it returns recorded (not a double: it only listens)."""

    runs: list[TrackingRun] = field(default_factory=list)
    inner: RealEngine = field(default_factory=RealEngine)

    def track_project(
        self, project: Project, source: object, config: TrackerConfig, *, track_ids: object = None
    ) -> TrackingRun:
        run = self.inner.track_project(project, source, config)  # type: ignore[arg-type]
        self.runs.append(run)
        return run

    def retrack_after_edit(
        self, project: Project, source: object, config: TrackerConfig, track_id: int, frame: int
    ) -> TrackingRun:
        run = self.inner.retrack_after_edit(project, source, config, track_id, frame)  # type: ignore[arg-type]
        self.runs.append(run)
        return run


def _boxes(run: TrackingRun) -> list[tuple]:
    return [
        (tid, b.frame, b.xyxy.as_tuple(), b.confidence, b.flagged, b.outside)
        for tid in sorted(run.boxes)
        for b in sorted(run.boxes[tid], key=lambda b: b.frame)
    ]


def _perturbed(gt: GroundTruthSequence, keep: set[int], seed: int) -> GroundTruthSequence:
    """The same sequence with every GT box jittered except on frames in ``keep``."""
    rng = np.random.default_rng(seed)
    tracks = {}
    for tid, t in gt.tracks.items():
        xyxy = t.xyxy.copy()
        for i, f in enumerate(t.frames.tolist()):
            if f not in keep:
                xyxy[i] += rng.uniform(-8, 8, 2).repeat(2)
        tracks[tid] = GroundTruthTrack(tid, t.frames, xyxy)
    return GroundTruthSequence(gt.name, gt.path, gt.n_frames, gt.width, gt.height, gt.fps, tracks)


@pytest.fixture
def rendered(make_sequence: MakeSequence) -> Path:
    """Two textured objects on a gradient: one drifting right, one still, 30 frames."""
    return make_sequence(
        {1: moving(range(30), 10, 20, 2.0, 0.5, w=28, h=36), 2: static(range(4, 24), 110, 60)},
        30,
        images=True,
    )


@pytest.mark.parametrize("strategy", ["tracker_flagged", "tracker_oracle"])
def test_engine_output_ignores_gt_beyond_the_annotators_keyframes(
    rendered: Path, strategy: str
) -> None:
    gt = load_mot_sequence(rendered)
    # flagged draws each first frame; oracle also the last one
    keep = {0, 29, 4, 23}
    other = _perturbed(gt, keep, seed=1)
    assert not np.allclose(other.tracks[1].xyxy, gt.tracks[1].xyxy)
    first = {}
    for name, truth in (("gt", gt), ("perturbed", other)):
        rec = RecordingEngine()
        with open_media(rendered) as source:
            if strategy == "tracker_flagged":
                run_tracker_flagged(truth, rec, source, CFG, 0.7)
            else:
                run_tracker_oracle(truth, rec, source, CFG, 0.7)
        first[name] = _boxes(rec.runs[0])
    assert first["gt"], "the engine produced no boxes"
    assert first["gt"] == first["perturbed"]

    # control: moving the first keyframe (something the annotator draws) changes the output
    moved = GroundTruthSequence(
        gt.name,
        gt.path,
        gt.n_frames,
        gt.width,
        gt.height,
        gt.fps,
        {**gt.tracks, 1: GroundTruthTrack(1, gt.tracks[1].frames, gt.tracks[1].xyxy + 6.0)},
    )
    rec = RecordingEngine()
    with open_media(rendered) as source:
        run_tracker_flagged(moved, rec, source, CFG, 0.7)
    assert _boxes(rec.runs[0]) != first["gt"]


def test_flagged_with_real_engine_leaves_no_flag_and_prices_its_actions(rendered: Path) -> None:
    gt = load_mot_sequence(rendered)
    rec = RecordingEngine()
    with open_media(rendered) as source:
        r = run_tracker_flagged(gt, rec, source, CFG, 0.7)
    c = r.counts
    assert c.draws == 2 and c.end_marks == 2  # one first box and one end mark per track
    assert r.extra["engine_calls"] == 1 + c.corrections  # one propagation + one per fix
    assert c.seconds(CostModel()) == pytest.approx(
        7.0 * (c.draws + c.corrections) + 1.6 * (c.verifications + c.end_marks)
    )
    # boxes that are still bad were never shown to the annotator
    assert r.quality.unseen_below_tau == r.quality.below_tau
    assert r.quality.mean_iou > 0.5

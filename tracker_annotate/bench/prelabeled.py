"""The ``tracker_prelabeled`` strategy: the flagged workflow started from detector proposals.

The annotator of ``tracker_flagged`` draws each track's first box (``draw_s``). Here the
shipped detector runs on each object's first frame first (the app's "detect objects on
this frame" key on frame 0; for an object that enters mid-video, the new-object schedule
walking back to where it appears, assumed to land on its first GT frame):

* a proposal that overlaps the object by IoU 0.5 or more starts its track: accepted as is
  (``verify_s``) when its IoU reaches ``tau``, else dragged onto the object
  (``correct_s``); the accepted box, not the GT box, is the keyframe;
* an object no proposal covers is drawn (``draw_s``);
* a proposal on none of the labelled objects visible there is rejected (``verify_s``:
  unlabelled people in TUD-Campus count against it);
* after the first run, the detector re-finds tracks that ended lost
  (:func:`tracker_annotate.tracking.proposals.refind_lost`, with the app's call budget from
  :func:`~tracker_annotate.tracking.proposals.split_budget`); a re-found box is reviewed
  like any flag, and accepting it re-tracks from it, as in the app;
* with ``ask`` (off by default: on TUD-Campus it accepted 6 of 36 detector boxes, cost
  more annotator time than it saved, and doubled the detector's share), on a wrong flagged
  box the annotator first presses ``P`` (the app's re-find on the
  selected track, :func:`tracker_annotate.tracking.refind.refind_on_frame`): a detector box
  with IoU >= ``tau`` is accepted (``verify_s``, then re-tracked); a worse one was looked at
  for nothing (``verify_s``) and the box is redrawn (``correct_s``); no box found costs
  nothing (the status bar says so).

The rest (end marks, review of flagged boxes) is ``tracker_flagged``'s loop, same cost
model. The detector's wall time is reported apart from the engine's.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker_annotate.bench.annotator import SimulatedAnnotator
from tracker_annotate.bench.sequences import GroundTruthSequence
from tracker_annotate.bench.strategies import (
    Engine,
    StrategyResult,
    _Driver,
    _flag_stats,
    engine_result,
    review_flags,
)
from tracker_annotate.core.boxes import BoxXYXY, iou_matrix
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.proposals import REASON_REFOUND
from tracker_annotate.tracking.api import TrackerConfig

#: A proposal overlapping the object by this IoU is worth starting from (else drawn).
COVER_IOU = 0.5
#: A proposal overlapping any labelled object by this IoU is explained (not rejected).
EXPLAINED_IOU = 0.3


def _gt_on(gt: GroundTruthSequence, gid: int, frame: int) -> np.ndarray | None:
    t = gt.tracks[gid]
    i = t.index_of(frame)
    return None if i is None else t.xyxy[i]


def run_tracker_prelabeled(
    gt: GroundTruthSequence,
    engine: Engine,
    source: FrameSource,
    config: TrackerConfig,
    tau: float,
    *,
    detector: Any,
    min_score: float = 0.5,
    refind: bool = True,
    ask: bool = False,
    accept_iou: float | None = None,
) -> StrategyResult:
    """See the module docstring. ``detector`` meets
    :class:`tracker_annotate.tracking.detector.Detector`. ``accept_iou`` (default ``tau``)
    is the IoU from which the annotator accepts a proposal as a track's first keyframe
    instead of fixing it (a sensitivity knob: a stricter annotator starts tracks from
    better keyframes)."""
    ann = SimulatedAnnotator(gt)
    driver = _Driver(engine, source, config)
    det_s, det_calls = 0.0, 0
    first = {gid: ann.runs(gid)[0][0] for gid in ann.gt_track_ids}
    by_frame: dict[int, list[int]] = {}
    for gid, f in first.items():
        by_frame.setdefault(f, []).append(gid)
    stats = {"accepted": 0, "corrected": 0, "drawn": 0, "rejected": 0}
    for f in sorted(by_frame):
        t0 = time.perf_counter()
        dets = detector.detect(source.read(f), f).with_min_score(min_score)
        det_s += time.perf_counter() - t0
        det_calls += 1
        gids = by_frame[f]
        gt_xyxy = np.stack([gt.tracks[g].xyxy[gt.tracks[g].index_of(f)] for g in gids])
        used: set[int] = set()
        covered: dict[int, int] = {}
        if len(dets):
            m = iou_matrix(gt_xyxy, dets.xyxy)
            for r, c in zip(*linear_sum_assignment(-m), strict=True):
                if m[r, c] >= COVER_IOU:
                    covered[gids[int(r)]] = int(c)
                    used.add(int(c))
        for gid in gids:
            if gid in covered:
                xyxy = BoxXYXY.from_array(dets.xyxy[covered[gid]])
                before = ann.counts.verifications
                ann.start_from_proposal(gid, f, xyxy, tau if accept_iou is None else accept_iou)
                stats["accepted" if ann.counts.verifications > before else "corrected"] += 1
            else:
                ann.draw(gid, f)
                stats["drawn"] += 1
        visible = [b for g in ann.gt_track_ids if (b := _gt_on(gt, g, f)) is not None]
        for c in range(len(dets)):
            if c in used:
                continue
            if visible and float(iou_matrix(dets.xyxy[c][None], np.stack(visible)).max()) >= (
                EXPLAINED_IOU
            ):
                continue  # on a labelled object: that object's track explains it
            ann.reject_proposal(f, BoxXYXY.from_array(dets.xyxy[c]))
            stats["rejected"] += 1
    for gid in ann.gt_track_ids:
        for i, (start, last) in enumerate(ann.runs(gid)):
            if i > 0:  # the object comes back: its track exists, the box is drawn
                ann.draw(gid, start)
            ann.mark_end(gid, last)
    driver.track_all(ann.project)
    precision, recall = _flag_stats(ann, tau)
    n_refound = 0
    if refind and driver.last_run is not None:
        from tracker_annotate.tracking.proposals import split_budget
        from tracker_annotate.tracking.refind import install_refound, refind_lost

        n_calls, _every = split_budget(gt.n_frames, driver.seconds, 1000.0 * det_s / det_calls)
        found, cost = refind_lost(
            ann.project,
            source,
            detector,
            driver.last_run,
            flag_threshold=config.flag_threshold,
            max_calls=n_calls,
        )
        install_refound(ann.project, found)
        det_s += cost.seconds
        det_calls += cost.calls
        n_refound = len(found)
    asked = {"calls": 0, "accepted": 0, "seconds": 0.0}

    def ask_detector(gid: int, frame: int) -> bool:
        """``P`` on a wrong box: the detector's box for this track, when it has one."""
        from tracker_annotate.tracking.refind import refind_on_frame

        tid = ann.track_id(gid)
        t0 = time.perf_counter()
        got = refind_on_frame(ann.project, source, detector, track_id=tid, frame=frame)
        asked["seconds"] += time.perf_counter() - t0
        asked["calls"] += 1
        if got is None:  # the status bar says "no box like track N": nothing to look at
            return False
        ok = ann.accept_detector_box(gid, frame, got.xyxy, tau)
        asked["accepted"] += ok
        return ok

    visits = review_flags(
        ann,
        driver,
        tau,
        lambda b: b.flag_reason == REASON_REFOUND,
        ask_detector if ask else None,
    )
    det_s += asked["seconds"]
    det_calls += int(asked["calls"])
    return engine_result(
        gt,
        "tracker_prelabeled",
        tau,
        ann,
        driver,
        flags=(precision, recall),
        flag_visits=visits,
        gt_tracks=len(gt.tracks),
        proposals_accepted=stats["accepted"],
        proposals_corrected=stats["corrected"],
        first_boxes_drawn=stats["drawn"],
        proposals_rejected=stats["rejected"],
        refound=n_refound,
        asked_detector=int(asked["calls"]),
        asked_accepted=int(asked["accepted"]),
        detector_calls=det_calls,
        detector_seconds=round(det_s, 3),
    )

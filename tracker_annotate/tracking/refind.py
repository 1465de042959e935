"""Re-finding lost and doubtful tracks with the detector.

* :func:`refind_lost`: for a track whose pass ended lost, or whose confidence stays low for
  ``low_conf_frames`` frames, the detector runs on that frame (and, for a lost track, a few
  frames after it); a detection in the Kalman filter's gate around the predicted box that
  looks like the track's keyframes (NCC) is returned, to be installed flagged
  "re-found by the detector: same object?" (:func:`install_refound`).
* :func:`refind_on_frame`: the same search on one frame the annotator asked about (``P`` on
  a wrong box).

The detector calls are bounded (``max_calls``, see
:func:`tracker_annotate.tracking.proposals.split_budget`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.core.proposals import REASON_REFOUND
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun
from tracker_annotate.tracking.appearance import Gray, Template, score_box
from tracker_annotate.tracking.confidence import REASON_END
from tracker_annotate.tracking.detector import Detector
from tracker_annotate.tracking.kalman import BoxKalman
from tracker_annotate.tracking.params import AssocParams
from tracker_annotate.tracking.proposals import (
    DetectorCost,
    FloatArray,
    ProposalConfig,
    _occupancy,
    _Runner,
)


@dataclass(frozen=True)
class Refound:
    """A detection taken to be track ``track_id`` on ``frame`` (``why``: lost / low)."""

    track_id: int
    frame: int
    xyxy: BoxXYXY
    score: float
    appearance: float
    why: str


def refind_targets(
    project: Project,
    run: TrackingRun,
    n_frames: int,
    config: ProposalConfig,
    flag_threshold: float,
    *,
    lost_end_conf: float = AssocParams().lost_end_conf,
) -> list[tuple[int, str, list[int]]]:
    """``(track_id, why, frames to look at)`` for each track the run left lost or doubtful.

    A track is lost when its last box is flagged as the end with a confidence at or below
    ``lost_end_conf`` (the cap :mod:`.assemble` puts on a lost end)."""
    out = []
    for tid in sorted(run.boxes):
        boxes = sorted(run.boxes[tid], key=lambda b: b.frame)
        if not boxes:
            continue
        last = boxes[-1]
        later_keys = [k for k in project.keyframes(tid) if k > last.frame]
        stop = min(later_keys, default=n_frames)  # never past the track's next keyframe
        if (
            last.flag_reason == REASON_END
            and last.confidence <= lost_end_conf
            and last.frame < stop - 1
        ):
            hi = min(stop - 1, last.frame + config.refind_horizon)
            k = max(config.refind_tries, 1)
            looks = sorted(
                {min(hi, last.frame + 1 + round(j * (hi - last.frame - 1) / k)) for j in range(k)}
            )
            out.append((tid, "lost", looks))
        low = [
            b.frame
            for b in boxes[:-1]
            if b.flagged and b.confidence < flag_threshold and not b.outside
        ]
        runs: list[list[int]] = []
        for f in low:
            if runs and f == runs[-1][-1] + 1:
                runs[-1].append(f)
            else:
                runs.append([f])
        for r in runs:
            if len(r) >= max(config.low_conf_frames, 1):
                out.append((tid, "low confidence", [r[len(r) // 2]]))
    return out


def _kalman_to(project: Project, tid: int, frame: int, n_fit: int = 10) -> BoxKalman | None:
    """The track's motion model fitted on its last ``n_fit`` confident boxes before ``frame``
    and predicted up to ``frame``."""
    good = sorted(
        (f, b)
        for f, b in project.boxes(tid).items()
        if f < frame and not b.outside and (b.is_keyframe or not b.flagged)
    )[-n_fit:]
    if not good:
        return None
    kf = BoxKalman(good[0][1].xyxy.to_array())
    f_cur = good[0][0]
    for f, b in good[1:]:
        for _ in range(f - f_cur):
            kf.predict()
        kf.update(b.xyxy.to_array())
        f_cur = f
    for _ in range(frame - f_cur):
        kf.predict()
    return kf


def _templates(project: Project, source: FrameSource, tid: int, limit: int = 4) -> list[Template]:
    import cv2

    out = []
    for f in project.keyframes(tid)[:limit]:
        b = project.boxes(tid)[f]
        if not b.outside:
            gray = cv2.cvtColor(source.read(f), cv2.COLOR_BGR2GRAY)
            out.append(Template.from_box(gray, b.xyxy.to_array(), f))
    return out


def refind_lost(
    project: Project,
    source: FrameSource,
    detector: Detector,
    run: TrackingRun,
    config: ProposalConfig = ProposalConfig(),  # noqa: B008 - frozen, so sharing is safe
    *,
    flag_threshold: float = TrackerConfig().flag_threshold,
    max_calls: int | None = None,
) -> tuple[list[Refound], DetectorCost]:
    """Detections that re-find tracks the run left lost or doubtful (see the module doc).

    A candidate must lie in the Kalman gate around the prediction (or overlap the track's
    own box there by ``refind_own_iou``), look like the track's keyframes (NCC >=
    ``refind_app``), and not sit on another track's box. A lost track takes the first frame
    it is re-found on. Looks go round the targets (every target's first look, then every
    second look...) until ``max_calls`` detector calls are spent.
    """
    import cv2

    runner = _Runner(source, detector, config.refind_min_score)
    occupied = _occupancy(project)
    out: list[Refound] = []
    done_lost: set[int] = set()
    targets = refind_targets(project, run, source.n_frames, config, flag_threshold)
    temps_of: dict[int, list[Template]] = {}
    rounds = max((len(looks) for _, _, looks in targets), default=0)
    order = [(t, r) for r in range(rounds) for t in range(len(targets)) if r < len(targets[t][2])]
    for t, r in order:
        tid, why, looks = targets[t]
        f = looks[r]
        if why == "lost" and tid in done_lost:
            continue
        if max_calls is not None and runner.cost.calls >= max_calls and not runner.cached(f):
            break
        if tid not in temps_of:
            temps_of[tid] = _templates(project, source, tid)
        temps = temps_of[tid]
        if not temps:
            continue
        dets = runner(f)
        if not len(dets):
            continue
        gray = cv2.cvtColor(source.read(f), cv2.COLOR_BGR2GRAY)
        best = _best_match(
            project,
            gray,
            dets,
            tid=tid,
            f=f,
            temps=temps,
            occupied=occupied,
            config=config,
            must_beat_own=why != "lost",
        )
        if best is not None:
            best = Refound(best.track_id, f, best.xyxy, best.score, best.appearance, why)
        if best is not None:
            out.append(best)
            if why == "lost":
                done_lost.add(tid)
    return out, runner.cost


def _best_match(
    project: Project,
    gray: Gray,
    dets: Detections,
    *,
    tid: int,
    f: int,
    temps: list[Template],
    occupied: dict[int, list[FloatArray]],
    config: ProposalConfig,
    must_beat_own: bool,
) -> Refound | None:
    """The detection on frame ``f`` most like track ``tid``'s keyframes among those in its
    Kalman gate (or overlapping its own box there by ``refind_own_iou``) and on no other
    track's box (``refind_taken_iou``);
    with ``must_beat_own`` it must also look more like the keyframes than the track's box."""
    own = project.box(tid, f)
    kf = _kalman_to(project, tid, f)
    own_xyxy = own.xyxy.to_array() if own is not None and not own.outside else None
    others = [x for x in occupied.get(f, []) if own_xyxy is None or not np.array_equal(x, own_xyxy)]
    own_app = score_box(gray, own_xyxy, temps) if own_xyxy is not None and must_beat_own else -1.0
    best: Refound | None = None
    for i in range(len(dets)):
        d = dets.xyxy[i]
        near = kf is not None and kf.gate(d)
        if own_xyxy is not None:
            own_iou = float(iou_matrix(d[None], own_xyxy[None])[0, 0])
            near = near or own_iou >= config.refind_own_iou
        if not near:
            continue
        taken = float(iou_matrix(d[None], np.stack(others)).max()) if others else 0.0
        if others and taken >= config.refind_taken_iou:
            continue
        app = score_box(gray, d, temps)
        if app < config.refind_app or app <= own_app:
            continue
        if best is None or app > best.appearance:
            best = Refound(tid, f, BoxXYXY.from_array(d), float(dets.scores[i]), app, "")
    return best


def refind_on_frame(
    project: Project,
    source: FrameSource,
    detector: Detector,
    *,
    track_id: int,
    frame: int,
    config: ProposalConfig = ProposalConfig(),  # noqa: B008 - frozen, so sharing is safe
) -> Refound | None:
    """The detector's box for track ``track_id`` on ``frame`` (the annotator asked: the
    track's box there looks wrong), or ``None``: the same tests as :func:`refind_lost`,
    except that the annotator, not the track's own box, judges whether it is better."""
    import cv2

    temps = _templates(project, source, track_id)
    if not temps:
        return None
    img = source.read(frame)
    dets = detector.detect(img, frame).with_min_score(config.refind_min_score)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    got = _best_match(
        project,
        gray,
        dets,
        tid=track_id,
        f=frame,
        temps=temps,
        occupied=_occupancy(project),
        config=config,
        must_beat_own=False,
    )
    if got is None:
        return None
    return Refound(track_id, frame, got.xyxy, got.score, got.appearance, "asked")


#: Confidence a re-found box gets: below the flag threshold, so it is reviewed.
REFOUND_CONF = 0.45


def install_refound(project: Project, refound: Sequence[Refound]) -> None:
    """Put each re-found box on its track as a flagged ``IMPORTED`` box (one undo step).
    Keyframes are never overwritten. Accepting it makes it a keyframe to re-track from."""
    if not refound:
        return
    with project.edit("Re-find lost tracks") as tx:
        for r in refound:
            cur = project.box(r.track_id, r.frame)
            if cur is not None and cur.is_keyframe:
                continue
            tx.set_box(
                r.track_id,
                FrameBox(
                    r.frame,
                    r.xyxy,
                    BoxSource.IMPORTED,
                    REFOUND_CONF,
                    flagged=True,
                    flag_reason=REASON_REFOUND,
                ),
            )

"""One directional pass of one track: seed on a keyframe, step frame by frame.

A pass is stepped in two halves so the engine can look across tracks on each frame:
:meth:`TrackPass.propose` predicts (Kalman), measures (back-end) and, for ``cascade``,
checks the result against the track's keyframe templates and searches when unsure;
:meth:`TrackPass.commit` accepts or rejects the candidate (cross-track conflicts, detection
matches) and records a :class:`StepSignals` for the confidence model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.boxes import iou_xyxy, shift_in_sizes
from tracker_annotate.tracking.appearance import Template, ncc, score_box, search, warp_box
from tracker_annotate.tracking.backends import backend as backend_info
from tracker_annotate.tracking.kalman import BoxKalman
from tracker_annotate.tracking.measure import FrameData, Measurement, lk_median_flow
from tracker_annotate.tracking.params import CascadeParams, KalmanParams

if TYPE_CHECKING:
    from tracker_annotate.tracking.api import TrackerConfig

FloatArray = npt.NDArray[np.float64]


#: What a pass covers: ``between`` two keyframes, ``extend`` past the last one, ``leave``
#: forward up to an "outside" keyframe (the object leaves), ``enter`` backward down to one
#: (the object appears after it).
PassKind = Literal["between", "extend", "leave", "enter"]

#: Why a pass stopped: ``""`` not (yet), ``left`` the image, ``lost`` the object, ``stop``
#: reached its last frame.
EndReason = Literal["", "left", "lost", "stop"]


@dataclass(frozen=True)
class PassPlan:
    """Seed ``init_xyxy`` on frame ``start``; produce boxes up to ``stop`` (inclusive)."""

    track_id: int
    start: int
    stop: int
    step: int  # +1 forward, -1 backward
    init_xyxy: tuple[float, float, float, float]
    kind: PassKind

    @property
    def n_steps(self) -> int:
        return abs(self.stop - self.start)


#: Evidence whose worst value since the seed is remembered (``StepSignals.extra``'s
#: ``chain_*`` keys).
CHAIN_KEYS: tuple[str, ...] = ("agree", "sim")

#: A pass ends as "left the image" when less than this share of its box is inside. Raising
#: it ends tracks earlier at the border; lowering it tracks boxes that are mostly guesswork.
LEFT_VIS = 0.35


@dataclass
class StepSignals:
    """What one step knew; the confidence model turns it into a number and a reason."""

    frame: int
    xyxy: FloatArray
    app: float  # best NCC to the track's keyframe templates, in [-1, 1]
    app_recent: float  # NCC to the running template
    quality: float  # measurement step's own belief, [0, 1]
    coasted: int  # consecutive frames without an accepted measurement
    maha: float  # squared Mahalanobis distance of the innovation / gate (0 when coasting)
    vis: float  # share of the box inside the image
    method: str
    conflict: bool = False
    unreadable: bool = False
    detection: bool = False
    #: Frames without an accepted measurement just before this one, when this step
    #: re-acquired the object after them (0 otherwise): the frame an identity switch happens.
    reacquired: int = 0
    #: The back-end's own score (NanoTrack's), nan when it gives none.
    score: float = math.nan
    #: Committee: IoU of the back-end's box with a one-step LK median-flow box from the
    #: previous box (nan when not computed). Low when the back-end jumped unlike the pixels.
    lk_iou: float = math.nan
    #: IoU of the measured box with the Kalman prediction (innovation as an overlap).
    pred_iou: float = math.nan
    #: Frames since the pass's seed keyframe.
    age: int = 0
    #: |log| of the box area over the seed's area (drift often grows or shrinks a box).
    size_change: float = 0.0
    #: How far the box moved from the seed, in seed sizes (centre and size, L2).
    motion: float = 0.0
    #: Memory of committee alarms: the largest recent ``1 - lk_iou``, decaying by 5% a
    #: frame. A back-end that jumped onto a look-alike looks consistent again on the next
    #: frame; the alarm says it jumped a while ago.
    alarm: float = 0.0
    #: NCC to the keyframes on the pass's first frames minus now: objects differ in how
    #: well NCC matches them at all, so the drop says more than the level.
    app_drop: float = 0.0
    #: The back-end's further evidence (the committee's: agreement, response maps, learned
    #: similarity to the seed), and the chain's memory of it (``chain_*``: the worst
    #: agreement and similarity since the seed: a box downstream of an unresolved jump is
    #: no surer than the jump).
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Candidate:
    pred_xyxy: FloatArray
    xyxy: FloatArray | None
    score: float  # appearance score used for decisions (max of keyframe and running)
    app: float
    app_recent: float
    quality: float
    method: str
    gated_ok: bool
    maha: float
    score_own: float = math.nan
    lk_iou: float = math.nan
    pred_iou: float = math.nan
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class TrackPass:
    plan: PassPlan
    backend: str
    key_templates: list[Template]
    max_coast: int
    params: CascadeParams = field(default_factory=CascadeParams)
    kalman_params: KalmanParams = field(default_factory=KalmanParams)
    out: list[StepSignals] = field(default_factory=list)
    done: bool = False
    end_reason: EndReason = ""
    #: Self-contained back-ends: frames of continuous committee collapse before "lost"
    #: (0: never on appearance; see FusionParams.lost_after).
    lost_after: int = 0
    #: Steps already streamed to a preview (``sweep.Progress.stream``).
    streamed: int = 0
    #: The run's configuration, for the back-end's own parameters (``BackendInfo.create``).
    config: TrackerConfig | None = None

    def begin(self, frame: FrameData) -> None:
        box = np.array(self.plan.init_xyxy, dtype=np.float64)
        self.info = backend_info(self.backend)
        self.kf = BoxKalman(box, self.kalman_params)
        self.measurer = self.info.create(self.config)
        self.measurer.start(frame, box)
        self._seed_area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1.0)
        self._seed = box
        self._alarm = 0.0
        self._app0: list[float] = []
        self._chain: dict[str, float] = {}
        self.recent = Template.from_box(frame.gray, box, frame.index)
        self._recent_f = self.recent.pixels.astype(np.float32)
        self.prev = frame
        self.prev_xyxy = box
        self.searches = 0  # frames where the cheap step was unsure (for statistics)
        self.last_score = 1.0
        self.low_run = 0
        self.border_run = 0
        self.refound = False
        self.cand: Candidate | None = None
        if self.plan.n_steps == 0:
            self.done = True

    def frames_done(self) -> int:
        return len(self.out)

    # ------------------------------------------------------------------ step, part 1
    def propose(self, cur: FrameData) -> Candidate:
        pred = self.kf.predict()
        m = self.measurer.measure(self.prev, cur, self.prev_xyxy, pred)
        cand = self._check(cur, m, pred)
        cand.extra = m.extra
        if self.info.self_contained and cand.xyxy is not None:
            # A coarse LK step is enough for a vote (the box comes from the back-end).
            lk = lk_median_flow(self.prev, cur, self.prev_xyxy, pred, grid=5, max_object=48.0)
            cand.lk_iou = 0.0 if lk.xyxy is None else iou_xyxy(lk.xyxy, cand.xyxy)
            cand.pred_iou = iou_xyxy(pred, cand.xyxy)
            cand.score_own = m.score
        research = self.params.research_after
        if self.info.self_contained and research > 0 and self.low_run >= research:
            cand = self._research(cur, cand, pred)
        if self.info.engine_search and self._unsure(cand):
            self.searches += 1
            cand = self._search(cur, cand, pred)
        if cand.xyxy is not None:
            cand.maha = self.kf.mahalanobis2(
                cand.xyxy, max(cand.quality, self.kf.params.gate_quality_floor)
            )
            cand.gated_ok = cand.maha <= self.kf.params.gate_chi2
        self.cand = cand
        return cand

    def _check(self, cur: FrameData, m: Measurement, pred: FloatArray) -> Candidate:
        if m.xyxy is None:
            return Candidate(pred, None, -1.0, -1.0, -1.0, 0.0, m.method, False, math.inf)
        box = m.xyxy
        app = score_box(cur.gray, box, self.key_templates)
        if self.info.self_contained:  # the running template only serves cascade's search
            return Candidate(pred, box, app, app, app, m.quality, m.method, True, 0.0)
        rec = ncc(warp_box(cur.gray, box, self.recent.size), self.recent.pixels)
        return Candidate(pred, box, max(app, rec), app, rec, m.quality, m.method, True, 0.0)

    def _research(self, cur: FrameData, cand: Candidate, pred: FloatArray) -> Candidate:
        """The back-end's box no longer looks like the keyframes: search for them around the
        Kalman prediction, in a window that widens while the collapse lasts, and re-start
        the back-end on a clearly better hit (it is flagged as a re-acquisition)."""
        p = self.params
        self.searches += 1
        radius = p.search_radius * (1.0 + 0.5 * min(self.low_run, 8))
        c = ((pred[0] + pred[2]) / 2.0, (pred[1] + pred[3]) / 2.0)
        size = (float(pred[2] - pred[0]), float(pred[3] - pred[1]))
        best = None
        for t in self.key_templates[:2]:
            hit = search(cur.gray, c, size, t, radius=radius)
            if hit is None:
                continue
            distinct = float(np.clip(hit.margin / p.distinct_margin, 0.0, 1.0))
            if best is None or hit.score > best[0].score:
                best = (hit, distinct)
        if best is None:
            return cand
        hit, distinct = best
        if cand.xyxy is not None and iou_xyxy(hit.xyxy, cand.xyxy) >= p.research_same_iou:
            return cand  # the keyframes are where the back-end already is
        app = score_box(cur.gray, hit.xyxy, self.key_templates)
        if (
            app >= p.research_score
            and distinct * app >= p.reacquire_quality
            and app >= cand.app + p.research_margin
        ):
            self.measurer.start(cur, hit.xyxy)
            self.refound = True
            return Candidate(
                pred,
                hit.xyxy,
                app,
                app,
                app,
                distinct * app,
                "search",
                True,
                0.0,
                score_own=math.nan,
                lk_iou=math.nan,
                pred_iou=iou_xyxy(pred, hit.xyxy),
            )
        return cand

    def _unsure(self, c: Candidate) -> bool:
        p = self.params
        return (
            c.xyxy is None
            or c.quality < p.unsure_quality
            or c.score < p.unsure_score
            or c.score < self.last_score - p.unsure_drop
            or self.kf.coasted > 1
        )

    def _search(self, cur: FrameData, cand: Candidate, pred: FloatArray) -> Candidate:
        p = self.params
        radius = p.search_radius * (1.0 + 0.25 * min(self.kf.coasted, 8))
        centers = [((pred[0] + pred[2]) / 2.0, (pred[1] + pred[3]) / 2.0)]
        size = (float(pred[2] - pred[0]), float(pred[3] - pred[1]))
        best = cand
        templates = [self.recent, *self.key_templates[:2]]
        for t in templates:
            for c in centers:
                hit = search(cur.gray, c, size, t, radius=radius)
                if hit is None:
                    continue
                if best.xyxy is not None and hit.score <= best.score + p.switch_margin:
                    continue
                app = score_box(cur.gray, hit.xyxy, self.key_templates)
                rec = ncc(warp_box(cur.gray, hit.xyxy, self.recent.size), self.recent.pixels)
                score = max(app, rec)
                # Distinct peak: a look-alike nearby (crowd, texture) makes a jump risky.
                distinct = float(np.clip(hit.margin / p.distinct_margin, 0.0, 1.0))
                q = distinct * float(np.clip(score, 0, 1))
                if q < p.min_search_quality:
                    continue
                if best.xyxy is None or score > best.score + p.switch_margin:
                    best = Candidate(pred, hit.xyxy, score, app, rec, q, "search", True, 0.0)
        return best

    # ------------------------------------------------------------------ step, part 2
    def commit(
        self,
        cur: FrameData,
        *,
        reject: bool = False,
        detection_xyxy: FloatArray | None = None,
        detection_score: float = 0.0,
    ) -> StepSignals:
        """Accept (or, with ``reject``, refuse) the candidate and record the step."""
        c = self.cand
        if c is None:
            raise RuntimeError("commit() without propose()")
        p = self.params
        coasting = self.kf.coasted > 1
        if self.info.self_contained:
            return self._commit_trusted(cur, c, reject)
        accept = (
            not reject
            and c.xyxy is not None
            and c.score >= p.min_score
            and c.quality >= p.min_quality
            and (c.gated_ok or c.score >= p.reacquire_score + p.ungated_margin)
            and (
                not coasting or (c.score >= p.reacquire_score and c.quality >= p.reacquire_quality)
            )
        )
        maha = 0.0
        gap = self.kf.coasted - 1 if accept else 0  # predicts since the last update, minus this one
        if accept and c.xyxy is not None:
            maha = c.maha / self.kf.params.gate_chi2
            if not c.gated_ok:  # strong re-acquisition far from the prediction
                self.kf.reset(c.xyxy)
            else:
                self.kf.update(c.xyxy, max(c.quality, self.kf.params.update_quality_floor))
        used_det = False
        if detection_xyxy is not None and not reject:
            kp = self.kf.params
            quality = max(kp.detection_quality_floor, kp.detection_score_weight * detection_score)
            self.kf.update(detection_xyxy, quality)
            used_det = True
        box = self.kf.xyxy
        if used_det:
            self.kf.coasted = 0
        if accept:
            self.last_score = c.score
            self._adapt(cur, box, c)
        vis = _visible_fraction(box, cur.width, cur.height)
        app = c.app if accept else score_box(cur.gray, box, self.key_templates)
        sig = StepSignals(
            frame=cur.index,
            xyxy=box,
            app=app,
            app_recent=c.app_recent,
            quality=c.quality if accept else 0.0,
            coasted=self.kf.coasted,
            maha=maha,
            vis=vis,
            method=c.method,
            conflict=reject,
            detection=used_det,
            reacquired=max(gap, 0),
        )
        self.out.append(sig)
        self.prev = cur
        self.prev_xyxy = box
        self._check_end(sig)
        return sig

    def _commit_trusted(self, cur: FrameData, c: Candidate, conflict: bool) -> StepSignals:
        """A back-end with its own model (NanoTrack, CSRT): its box is the output whenever it
        gives one; the Kalman filter predicts (for the committee and for coasting through
        frames the back-end cannot read). A cross-track conflict is a signal, not a veto:
        vetoing it left the filter coasting while the back-end stayed where it was."""
        accept = c.xyxy is not None
        gap = self.kf.coasted - 1 if accept else 0
        if self.refound:  # a re-acquisition: always worth a look (identity switch)
            gap = max(gap, self.low_run, 3)
            self.refound = False
            self.low_run = 0
        if accept and c.xyxy is not None:
            maha = min(c.maha / self.kf.params.gate_chi2, 50.0)
            if c.gated_ok:
                self.kf.update(c.xyxy, 1.0)
            else:
                self.kf.reset(c.xyxy)
            box = np.asarray(c.xyxy, dtype=np.float64)
        else:
            maha = 0.0
            box = self.kf.xyxy
        area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1.0)
        app_now = c.app if accept else score_box(cur.gray, box, self.key_templates)
        lk_alarm = 1.0 - c.lk_iou if math.isfinite(c.lk_iou) else (0.0 if accept else 1.0)
        self._alarm = max(self._alarm * self.params.alarm_decay, lk_alarm)
        if len(self.out) < 3:
            self._app0.append(app_now)
        extra = dict(c.extra) if accept else {}
        for k in CHAIN_KEYS:
            v = extra.get(k, math.nan)
            if math.isfinite(v):
                self._chain[k] = min(self._chain.get(k, v), v)
            if k in self._chain:
                extra["chain_" + k] = self._chain[k]
        sig = StepSignals(
            frame=cur.index,
            xyxy=box,
            app=app_now,
            app_recent=c.app_recent,
            quality=c.quality if accept else 0.0,
            coasted=self.kf.coasted,
            maha=maha,
            vis=_visible_fraction(box, cur.width, cur.height),
            method=c.method,
            conflict=conflict,
            reacquired=max(gap, 0),
            score=c.score_own,
            lk_iou=c.lk_iou,
            pred_iou=c.pred_iou,
            age=len(self.out) + 1,
            size_change=abs(math.log(area / self._seed_area)),
            motion=shift_in_sizes(box, self._seed),
            alarm=self._alarm,
            app_drop=max(0.0, float(np.mean(self._app0)) - app_now),
            extra=extra,
        )
        self.out.append(sig)
        self.prev = cur
        self.prev_xyxy = box
        self._check_end(sig)
        return sig

    def skip(self, index: int) -> StepSignals:
        """The frame could not be decoded: coast on the prediction, flag it."""
        box = self.kf.predict()
        sig = StepSignals(
            index, box, -1.0, -1.0, 0.0, self.kf.coasted, 0.0, 1.0, "none", unreadable=True
        )
        self.out.append(sig)
        self._check_end(sig)
        return sig

    def _adapt(self, cur: FrameData, box: FloatArray, c: Candidate) -> None:
        if c.score < self.params.adapt_score or c.quality < self.params.adapt_quality:
            return
        new = warp_box(cur.gray, box, self.recent.size).astype(np.float32)
        r = self.params.template_rate
        self._recent_f = (1.0 - r) * self._recent_f + r * new
        self.recent = Template(np.clip(self._recent_f, 0, 255).astype(np.uint8), cur.index)

    def _check_end(self, sig: StepSignals) -> None:
        if sig.frame == self.plan.stop:
            self.done, self.end_reason = True, "stop"
        elif sig.vis < LEFT_VIS:
            self.done, self.end_reason = True, "left"
        elif sig.coasted > self.max_coast:
            self.done, self.end_reason = True, "lost"
        elif self.info.self_contained:
            # Its own model decides where the object is. Such trackers clamp their box to the
            # image, so an object that left leaves a box parked on the border: a box on the
            # border that no longer looks like the keyframes has left.
            at_border = _touches_border(sig.xyxy, self.prev.width, self.prev.height)
            looks_gone = sig.app < self.params.border_app
            self.border_run = self.border_run + 1 if at_border and looks_gone else 0
            # Only a long appearance collapse (nothing like the keyframes) ends it as lost.
            self.low_run = self.low_run + 1 if sig.app < self.params.collapse_app else 0
            if self.border_run >= self.params.border_frames:
                self.done, self.end_reason = True, "left"
            elif self.lost_after > 0 and self.low_run >= self.lost_after:
                self.done, self.end_reason = True, "lost"
        else:
            # Confidence collapse: no longer looks like the keyframes. The running template
            # is no guide here: it adapts to whatever the tracker sits on, so a tracker parked
            # on the background keeps matching it (vtest.avi: tracks ran on a lamp post for
            # 600 frames, every box flagged). Ending the pass flags the end once instead.
            self.low_run = self.low_run + 1 if sig.app < self.params.collapse_app else 0
            if self.low_run > max(5, self.max_coast):
                self.done, self.end_reason = True, "lost"


def _touches_border(xyxy: FloatArray, width: int, height: int, tol: float = 1.5) -> bool:
    return bool(
        xyxy[0] <= tol or xyxy[1] <= tol or xyxy[2] >= width - tol or xyxy[3] >= height - tol
    )


def _visible_fraction(xyxy: FloatArray, width: int, height: int) -> float:
    area = max(float((xyxy[2] - xyxy[0]) * (xyxy[3] - xyxy[1])), 1e-9)
    ix = max(0.0, min(float(xyxy[2]), width) - max(float(xyxy[0]), 0.0))
    iy = max(0.0, min(float(xyxy[3]), height) - max(float(xyxy[1]), 0.0))
    return ix * iy / area

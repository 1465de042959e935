"""Between two keyframes, never worse than a straight line.

For a segment from keyframe ``a`` to keyframe ``b`` there are three candidate paths: the
forward pass (seeded on ``a``, run through ``b``), the backward pass (seeded on ``b``, run
through ``a``) and the straight line (CVAT's interpolation). :func:`fuse_segment` combines
them frame by frame:

1. **Pinning.** A pass that *reached* the far keyframe (its box there overlaps the keyframe,
   :attr:`FusionParams.reach_iou`) followed the object all the way; its drift at the far end
   is spread linearly back over the segment, so it hits both keyframes exactly. A pass that
   did not reach it is trusted only near its own keyframe.
2. **Committee.** Each pass gets a weight at each frame: full near its own keyframe, falling
   to its reach far from it, times its step evidence (agreement with LK flow, appearance).
   Where the two passes agree their boxes are averaged by weight. Where they disagree, a
   pass that reached the far keyframe is kept (it followed the object); where neither did,
   the straight line wins: at least one pass is on something else and nothing says which.
3. The result's evidence (agreement between the paths, reach, distance to the nearest
   keyframe...) becomes a feature row for the calibrated confidence
   (:mod:`tracker_annotate.tracking.calibration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.ndimage import minimum_filter1d

from tracker_annotate.core.boxes import iou_xyxy as iou
from tracker_annotate.core.boxes import shift_in_sizes
from tracker_annotate.tracking.calibration import COMMITTEE_ONLY, feature_row, log_age
from tracker_annotate.tracking.params import FusionParams
from tracker_annotate.tracking.passes import StepSignals

FloatArray = npt.NDArray[np.float64]

REASON_DRIFT = "appearance drift"
REASON_JUMP = "tracker jumped unlike the image motion: same object?"
REASON_DISAGREE = "forward/backward disagree"
REASON_LEFT = "left the frame?"
REASON_OCCLUSION = "possible occlusion"
REASON_FAR = "far from any keyframe"
REASON_LINE = "trackers unsure: straight line between keyframes"
REASON_SPLIT = "the trackers disagree here: same object?"
REASON_CHAIN = "after a frame where the trackers disagreed: still the same object?"
REASON_UNLIKE = "no longer looks like the keyframe (learned similarity)"


@dataclass
class FusedBox:
    """One frame of a fused segment: the box, its evidence row and what to say if flagged."""

    frame: int
    xyxy: FloatArray
    features: FloatArray
    reason: str
    #: "fwd", "bwd", "both", "line": which path the box came from.
    source: str
    #: The frame could not be decoded (the box is a coasted guess).
    unreadable: bool = False
    #: The back-end was re-started on a search hit here (a re-acquisition: flag it).
    reacquired: bool = False


def _evidence(s: StepSignals) -> float:
    """A pass's own per-frame trust in [0, 1]: committee agreement and appearance."""
    lk = 0.0 if math.isnan(s.lk_iou) else s.lk_iou
    app = float(np.clip((s.app - 0.1) / 0.5, 0.0, 1.0))
    coast = 0.7**s.coasted
    return float(np.clip(0.5 * lk + 0.5 * app, 0.05, 1.0)) * coast


def _reason(s: StepSignals | None, fb: float, chose_line: bool, age: int) -> str:
    if chose_line:
        return REASON_LINE
    if s is None:
        return REASON_DISAGREE
    factors = {
        REASON_LEFT: float(np.clip((s.vis - 0.3) / 0.5, 0.0, 1.0)),
        REASON_OCCLUSION: 0.8**s.coasted,
        REASON_JUMP: 1.0 if math.isnan(s.lk_iou) else s.lk_iou + 0.2,
        REASON_DRIFT: float(np.clip((s.app - 0.1) / 0.5, 0.0, 1.0)),
        REASON_DISAGREE: fb + 0.1,
        REASON_FAR: 1.0 - min(age / 300.0, 0.5),
    }
    if s.extra:  # a committee's own evidence
        factors[REASON_SPLIT] = s.extra.get("win_agree", s.extra.get("agree", 1.0)) + 0.05
        factors[REASON_CHAIN] = s.extra.get("chain_agree", 1.0) + 0.15
        factors[REASON_UNLIKE] = s.extra.get("sim", 1.0) + 0.1
    return min(factors, key=lambda k: factors[k])


#: Half-width (frames) of the window over which a pass's committee evidence is also taken
#: at its worst (annotation is offline: the frames after a box are known too). A jump
#: shows as a frame or two of disagreement; the boxes around it are in doubt with it.
WINDOW_HALF = 8


def window_evidence(sigs: list[StepSignals], half: int = WINDOW_HALF) -> None:
    """Set ``win_agree`` and ``win_sim`` in each step's ``extra``: the worst committee
    agreement and learned similarity within ``half`` steps either side (idempotent)."""
    for key in ("agree", "sim"):
        vals = np.array([s.extra.get(key, math.nan) for s in sigs], dtype=np.float64)
        if not np.isfinite(vals).any():
            continue
        filled = np.where(np.isfinite(vals), vals, np.inf)
        # a running minimum (edges padded with their own value, which leaves the min as is)
        worst = minimum_filter1d(filled, size=2 * half + 1, mode="nearest")
        for s, w in zip(sigs, worst.tolist(), strict=True):
            if math.isfinite(w):
                s.extra["win_" + key] = w


def committee_evidence(s: StepSignals | None) -> dict[str, float]:
    """The committee's columns of a step's feature row (none for other back-ends)."""
    if s is None or not s.extra:
        return {}
    return {k: v for k, v in s.extra.items() if k in COMMITTEE_ONLY}


def step_features(s: StepSignals, age: int) -> FloatArray:
    """The evidence row of a single pass's box (after the last keyframe: no second pass)."""
    return feature_row(
        **committee_evidence(s),
        app=s.app,
        lk_iou=s.lk_iou,
        pred_iou=s.pred_iou,
        score=s.score,
        log_age=log_age(age),
        size_change=s.size_change,
        vis=s.vis,
        coasted=min(s.coasted, 30),
        between=0.0,
        fb_iou=0.0,
        lin_iou=0.0,
        reach=0.0,
        motion=s.motion,
        alarm=s.alarm,
        app_drop=s.app_drop,
    )


def extension_boxes(sigs: list[StepSignals]) -> list[FusedBox]:
    """Boxes after a track's last keyframe: the forward pass alone."""
    out = []
    for s in sigs:
        age = s.age
        out.append(
            FusedBox(
                s.frame,
                s.xyxy,
                step_features(s, age),
                _reason(s, 1.0, False, age),
                "fwd",
                s.unreadable,
                s.reacquired >= 3,
            )
        )
    return out


def fuse_segment(  # noqa: PLR0917 - two keyframes and two passes, in segment order
    a_frame: int,
    a_xyxy: FloatArray,
    b_frame: int,
    b_xyxy: FloatArray,
    fwd: dict[int, StepSignals],
    bwd: dict[int, StepSignals],
    params: FusionParams | None = None,
) -> list[FusedBox]:
    """Fused boxes for frames ``a_frame+1 .. b_frame-1`` (see the module docstring).

    ``fwd`` holds the forward pass's signals by frame (it may include ``b_frame``), ``bwd``
    the backward pass's (it may include ``a_frame``). Either may stop early (lost, left).
    """
    p = params or FusionParams()
    n = b_frame - a_frame
    a_xyxy = np.asarray(a_xyxy, dtype=np.float64)
    b_xyxy = np.asarray(b_xyxy, dtype=np.float64)

    f_end = fwd.get(b_frame)
    b_end = bwd.get(a_frame)
    reach_f = iou(f_end.xyxy, b_xyxy) if f_end is not None else 0.0
    reach_b = iou(b_end.xyxy, a_xyxy) if b_end is not None else 0.0
    ok_f, ok_b = reach_f >= p.reach_iou, reach_b >= p.reach_iou
    err_f = b_xyxy - f_end.xyxy if (f_end is not None and ok_f) else np.zeros(4)
    err_b = a_xyxy - b_end.xyxy if (b_end is not None and ok_b) else np.zeros(4)
    out: list[FusedBox] = []
    lines: dict[int, FloatArray] = {}
    pair_d2: list[float] = []  # how far the corrected passes disagree where both are used
    for f in range(a_frame + 1, b_frame):
        t = (f - a_frame) / n
        lin = lines[f] = (1.0 - t) * a_xyxy + t * b_xyxy
        sf, sb = fwd.get(f), bwd.get(f)
        cf = sf.xyxy + t * err_f if sf is not None else None
        cb = sb.xyxy + (1.0 - t) * err_b if sb is not None else None
        # Trust: full near the pass's own keyframe, its reach far from it, times evidence.
        wf = ((1.0 - t) + t * reach_f) * _evidence(sf) if sf is not None else 0.0
        wb = (t + (1.0 - t) * reach_b) * _evidence(sb) if sb is not None else 0.0
        fb = iou(cf, cb) if cf is not None and cb is not None else 0.0
        chosen: FloatArray
        src: str
        avg = (wf * cf + wb * cb) / max(wf + wb, 1e-9) if cf is not None and cb is not None else lin
        if fb >= p.agree_iou and (ok_f or ok_b or iou(avg, lin) >= p.agree_iou):
            # Two passes agree. If neither reached the far keyframe and together they leave
            # the straight line, they may both have followed the same other object (an
            # occluder, a look-alike): that case falls through to the line below.
            chosen, src = avg, "both"
            if cf is not None and cb is not None:  # always, when they agree
                pair_d2.append(shift_in_sizes(cf, cb) ** 2)
        elif cf is not None and ok_f and (cb is None or not ok_b or wf >= wb):
            chosen, src = cf, "fwd"  # it followed the object all the way to b
        elif cb is not None and ok_b:
            chosen, src = cb, "bwd"
        else:
            # No pass reached the far keyframe and they disagree here: at least one is on
            # something else, and nothing says which. The straight line is the safe bet.
            chosen, src = lin, "line"
        age = min(f - a_frame, b_frame - f)
        main = sf if src == "fwd" else sb if src == "bwd" else (sf if wf >= wb else sb)
        if main is None:
            main = sf if sf is not None else sb
        lin_iou = iou(chosen, lin)
        feats = feature_row(
            **committee_evidence(main),
            app=main.app if main is not None else -1.0,
            lk_iou=main.lk_iou if main is not None else 0.0,
            pred_iou=main.pred_iou if main is not None else 0.0,
            score=main.score if main is not None else 0.0,
            log_age=log_age(age),
            size_change=main.size_change if main is not None else 0.0,
            vis=main.vis if main is not None else 1.0,
            coasted=min(main.coasted, 30) if main is not None else 30,
            between=1.0,
            fb_iou=fb,
            lin_iou=lin_iou,
            reach=max(reach_f, reach_b),
            motion=min(shift_in_sizes(chosen, a_xyxy), shift_in_sizes(chosen, b_xyxy)),
            alarm=main.alarm if main is not None else 1.0,
            app_drop=main.app_drop if main is not None else 0.0,
        )
        unreadable = any(x is not None and x.unreadable for x in (sf, sb))
        reason = _reason(main, fb, src == "line", age)
        reacq = main is not None and main.reacquired >= 3 and src != "line"
        out.append(FusedBox(f, chosen, feats, reason, src, unreadable, reacq))
    out = _shrink_to_line(out, lines, pair_d2, p.line_noise_floor)
    return out


def _shrink_to_line(
    out: list[FusedBox], lines: dict[int, FloatArray], pair_d2: list[float], floor: float
) -> list[FusedBox]:
    """Shrink the visual path towards the straight line as far as the evidence allows.

    The visual path V has its own noise: its variance is estimated from how far the two
    corrected passes disagree (E) plus a floor for what both share (the back-end's bias,
    :attr:`FusionParams.line_noise_floor`). Its mean squared distance from the line (D^2)
    holds the line's error plus that noise. The line's share of the error is what is left,
    so the combination keeps ``lambda = max(0, 1 - var_v / D^2)`` of the visual deviation:
    where walking people move on straight lines the visual jitter is shrunk away; where the
    camera swings the deviation is far above the noise and V is kept. (James-Stein-style
    shrinkage, per segment.)
    """
    vis = [b for b in out if b.source in ("both", "fwd", "bwd")]
    if not vis or floor < 0:
        return out
    d2 = [shift_in_sizes(b.xyxy, lines[b.frame]) ** 2 for b in vis]
    mean_d2 = float(np.mean(d2))
    var_v = (float(np.mean(pair_d2)) / 2.0 if pair_d2 else 0.0) + floor**2
    lam = max(0.0, 1.0 - var_v / mean_d2) if mean_d2 > 0 else 0.0
    for b in vis:
        b.xyxy = lines[b.frame] + lam * (b.xyxy - lines[b.frame])
    return out


def line_segment(
    a_frame: int, a_xyxy: FloatArray, b_frame: int, b_xyxy: FloatArray
) -> list[FusedBox]:
    """The ``linear`` back-end: the straight line, with the features of an unseen path."""
    out = []
    n = b_frame - a_frame
    for f in range(a_frame + 1, b_frame):
        t = (f - a_frame) / n
        xyxy = (1.0 - t) * np.asarray(a_xyxy) + t * np.asarray(b_xyxy)
        age = min(f - a_frame, b_frame - f)
        feats = feature_row(
            app=0.0,
            lk_iou=0.0,
            pred_iou=0.0,
            score=0.0,
            log_age=log_age(age),
            size_change=0.0,
            vis=1.0,
            coasted=0,
            between=1.0,
            fb_iou=0.0,
            lin_iou=1.0,
            reach=0.0,
            motion=min(
                shift_in_sizes(xyxy, np.asarray(a_xyxy)), shift_in_sizes(xyxy, np.asarray(b_xyxy))
            ),
            alarm=0.0,
            app_drop=0.0,
        )
        out.append(FusedBox(f, xyxy, feats, REASON_FAR, "line"))
    return out

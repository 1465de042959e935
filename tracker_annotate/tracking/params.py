"""Every tunable number of the tracking engine, in frozen dataclasses (no OpenCV here).

:class:`~tracker_annotate.tracking.api.TrackerConfig` holds one of each, so every knob is
reachable from the one config the CLI, the app and the benchmark pass around. Each field
says what raising it buys and what it risks.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker_annotate.core.errors import ConfigError


def require_unit_interval(config: object, *names: str) -> None:
    """Raise :class:`ConfigError` naming the first of ``config``'s fields ``names`` that is
    not in [0, 1] (NaN included): the check every config's ``__post_init__`` makes."""
    for name in names:
        v = getattr(config, name)
        if not 0.0 <= v <= 1.0:
            raise ConfigError(f"{name} must be in [0, 1], got {v}")


#: chi-square 0.99 quantile for 4 degrees of freedom (the default gate).
CHI2_4DOF_99 = 13.28


@dataclass(frozen=True)
class KalmanParams:
    """Noise model. Each value is a standard deviation relative to the box size."""

    #: Position process noise. Raising it follows sudden turns faster but smooths less.
    pos_std: float = 0.04
    #: Velocity process noise. Raising it adapts to acceleration faster but jitters more.
    vel_std: float = 0.015
    #: Size process noise (relative). Raising it follows zooms faster but lets the size wobble.
    size_std: float = 0.03
    #: Per-frame factor on the size velocity. Lowering it resists runaway scale drift but
    #: follows steady zooms with more lag.
    size_velocity_decay: float = 0.9
    #: Measurement noise at quality 1. Raising it smooths more but lags the object.
    meas_std: float = 0.03
    #: Gate on the squared Mahalanobis distance of the innovation. Raising it accepts wilder
    #: measurements (fast motion) but lets jumps onto other objects through.
    gate_chi2: float = CHI2_4DOF_99 * 2.5
    #: Measurement qualities are floored before they scale the measurement noise: for the
    #: gate's Mahalanobis distance (``gate_quality_floor``), for a visual update
    #: (``update_quality_floor``) and for a matched detection (``detection_quality_floor``,
    #: whose quality is otherwise ``detection_score_weight`` x its score). Lowering a floor
    #: lets a poor measurement count for less (a wider gate, a weaker pull) but lets the
    #: filter drift on its prediction; raising ``detection_score_weight`` trusts the
    #: detector more than the visual box.
    gate_quality_floor: float = 0.3
    update_quality_floor: float = 0.15
    detection_quality_floor: float = 0.2
    detection_score_weight: float = 0.6


@dataclass(frozen=True)
class CascadeParams:
    """Thresholds of the cheap-then-heavy measurement logic (and of loss detection)."""

    #: LK quality below which the step is "unsure" and the template search runs. Raising it
    #: searches more often: more robust to fast motion and blur, but slower.
    unsure_quality: float = 0.55
    #: Appearance score (NCC) below which the step is "unsure". Same trade-off.
    unsure_score: float = 0.65
    #: Drop of the appearance score against the previous frame that makes the step unsure.
    unsure_drop: float = 0.12
    #: A search hit replaces the LK box when it scores this much better. Raising it trusts
    #: LK's smooth motion more; lowering it jumps to look-alikes more easily.
    switch_margin: float = 0.04
    #: Search window reach in box sizes beyond the predicted box (grows while coasting).
    search_radius: float = 0.75
    #: Search hits whose peak distinctness x score is below this are ignored. Raising it
    #: avoids jumps onto look-alikes but re-acquires fewer objects after occlusions.
    min_search_quality: float = 0.25
    #: Below this appearance score a measurement is not trusted: the Kalman filter coasts.
    #: Raising it coasts through partial occlusions instead of following occluders, but
    #: loses objects whose appearance changes quickly.
    min_score: float = 0.3
    #: Measurements whose step quality is below this are not trusted (scattered LK points,
    #: an ambiguous search peak). Raising it coasts more often; lowering it follows noise.
    min_quality: float = 0.08
    #: While coasting, a candidate must score at least this (and be at least this distinct)
    #: to re-acquire the object. Raising them avoids re-acquiring look-alikes but bridges
    #: fewer occlusions.
    reacquire_score: float = 0.55
    reacquire_quality: float = 0.35
    #: Self-contained back-ends (NanoTrack): frames of appearance collapse (NCC to the
    #: keyframes below ``collapse_app``) before the engine searches for the keyframes
    #: around the Kalman prediction and may re-start the back-end there. Raising it
    #: searches later (cheaper, fewer jumps to look-alikes) but leaves the back-end on the
    #: wrong thing longer.
    #: 0 never searches. Measured on the shared sequences, a looser rule (3 frames, NCC
    #: 0.55, margin 0.3) jumped to the look-alike in OTB-Couple (mean IoU 0.70 -> 0.64).
    research_after: int = 5
    #: NCC to the keyframes a search hit needs to re-start the back-end.
    research_score: float = 0.7
    #: A search hit must look this much more like the keyframes than the back-end's box
    #: (NCC) to re-start the back-end. Raising it re-acquires less often but more safely.
    research_margin: float = 0.45
    #: Self-contained back-ends clamp their box to the image, so an object that left leaves
    #: a box parked on the border: a box on the border whose NCC to the keyframes stays
    #: below ``border_app`` for ``border_frames`` frames has left. Raising ``border_app`` or
    #: lowering ``border_frames`` ends tracks at the border sooner, also ones still there
    #: (0.3 / 3 frames cost TUD-Stadtmitte 0.08 mean IoU).
    border_app: float = 0.1
    border_frames: int = 5
    #: Blend rate of the running template (appearance adapts to slow change).
    template_rate: float = 0.1
    #: The running template adapts only on steps scoring at least ``adapt_score`` (NCC)
    #: with quality ``adapt_quality``. Lowering them follows appearance change sooner but
    #: lets an occluder's look creep into the template.
    adapt_score: float = 0.5
    adapt_quality: float = 0.3
    #: A measurement outside the Kalman gate is still taken (a re-acquisition far from the
    #: prediction, which resets the filter) when it scores ``reacquire_score`` plus this.
    #: Raising it follows fewer sudden jumps, right or wrong.
    ungated_margin: float = 0.2
    #: A search peak this much (NCC) above the next best is fully distinct; a smaller
    #: margin lowers the hit's quality (a look-alike nearby makes a jump risky).
    distinct_margin: float = 0.2
    #: A re-search hit overlapping the back-end's own box by this IoU is where the
    #: back-end already is: nothing to re-start.
    research_same_iou: float = 0.5
    #: NCC to the keyframes below which a step counts towards an appearance collapse
    #: (``research_after``, ``FusionParams.lost_after``, and the end of a pass past its last
    #: keyframe that no longer looks like anything it was shown).
    collapse_app: float = 0.1
    #: Per-frame decay of the committee's alarm memory (the NanoTrack box against a one-step
    #: LK box), a confidence feature: an alarm fades over ~1 / (1 - decay) frames. The fitted
    #: confidence model (``confidence_model.json``) was trained with this value; change it
    #: only with a re-fit (``benchmarks/fit_confidence.py``).
    alarm_decay: float = 0.95


@dataclass(frozen=True)
class FusionParams:
    """How the forward pass, the backward pass and the straight line between two keyframes
    are combined, and when a self-contained back-end (NanoTrack, CSRT) counts as lost.

    Fitted on synthetic sequences (``benchmarks/fit_confidence.py``), checked
    leave-one-sequence-out on the shared ones.
    """

    #: A pass whose box on the far keyframe overlaps it at least this much (IoU) "reached"
    #: it: it followed the object all the way, so its drift is spread back over the segment
    #: and it is trusted far from its own keyframe. Raising it trusts fewer passes.
    reach_iou: float = 0.5
    #: Two candidate paths (forward, backward, straight line) agree at this IoU. Raising it
    #: falls back to the straight line more often.
    agree_iou: float = 0.5
    #: The visual path's shared noise (both passes err alike: the back-end's bias), in box
    #: sizes; the fusion shrinks the visual path towards the straight line by as much as its
    #: deviation from the line can be explained by noise. Raising it trusts the line more;
    #: a negative value turns the shrinkage off. Fitted on generated sequences (keyframes
    #: every 20 frames, mean IoU; synth-001 / synth-002): off 0.919 / 0.908, 0.03 0.941 /
    #: 0.933, 0.06 0.933 / 0.928, 0.1 - / 0.918. On the real TUD-Campus and OTB-Couple
    #: (not used to choose) 0.03 and 0.06 differ by < 0.003.
    line_noise_floor: float = 0.03
    #: Frames of continuous very low committee agreement (NanoTrack vs LK flow and keyframe
    #: appearance) after which a self-contained pass past the last keyframe counts as lost
    #: and ends, flagged "track end: confirm". 0 never ends on appearance (only when the
    #: object leaves the image). Raising it keeps boxes on objects through long
    #: disturbances; lowering it drops wrong tails sooner but ends tracks that were right.
    lost_after: int = 0


@dataclass(frozen=True)
class AssocParams:
    """Across-track rules (:mod:`.assoc`, :mod:`.assemble`, :mod:`.sweep`): when two tracks
    sit on one object, how unmatched detections link into proposed tracks, and the
    confidence of the boxes a rule (not the calibrated model) flags.

    The values are the engine's since v1; the regression pins hold them.
    """

    #: IoU at or above which two tracks' boxes are taken to be on one object: the one that
    #: looks less like its keyframes is not measured there, and the overlap is flagged.
    #: Raising it lets tracks come closer before they count as swapped, but misses switches
    #: between objects that overlap only partly.
    conflict_iou: float = 0.5
    #: Confidence ceiling of a box flagged for an overlap ("two tracks on one object",
    #: "tracks parted"). Such a box is always flagged, whatever the flag threshold: its
    #: confidence is also capped ``overlap_margin`` below the threshold, so a low threshold
    #: (0.3) shows overlaps as a high one does (a fixed 0.4 cap used to hide every overlap
    #: flag at thresholds <= 0.4).
    overlap_conf: float = 0.4
    overlap_margin: float = 0.1
    #: Proposed tracks from detections: unmatched detections on consecutive frames link
    #: when they overlap by this IoU, across gaps of up to ``max_gap`` frames, and a chain
    #: becomes a proposal with ``min_hits`` detections. Raising ``min_hits`` proposes fewer
    #: flickering false objects but misses short-lived ones; raising ``max_gap`` bridges
    #: missed detections but joins different objects more often.
    chain_iou: float = 0.3
    min_hits: int = 3
    max_gap: int = 2
    #: Confidence ceiling of a track's end when it was lost ("track end: confirm"). The
    #: re-find (:mod:`.refind`) takes an end at or below it as lost. Raising it ranks lost
    #: ends with the other doubtful boxes instead of among the first to review.
    lost_end_conf: float = 0.3
    #: Confidence of a box interpolated across a hole both passes lost (always flagged).
    gap_conf: float = 0.1

    def __post_init__(self) -> None:
        require_unit_interval(
            self,
            "conflict_iou",
            "overlap_conf",
            "overlap_margin",
            "chain_iou",
            "lost_end_conf",
            "gap_conf",
        )
        if self.min_hits < 1:
            raise ConfigError(f"min_hits must be >= 1 detection, got {self.min_hits}")
        if self.max_gap < 0:
            raise ConfigError(f"max_gap must be >= 0 frames, got {self.max_gap}")

    def overlap_cap(self, flag_threshold: float) -> float:
        """The confidence of an overlap-flagged box is at most this: ``overlap_conf``, and
        ``overlap_margin`` below ``flag_threshold`` (never below 0)."""
        return max(0.0, min(self.overlap_conf, flag_threshold - self.overlap_margin))


@dataclass(frozen=True)
class CommitteeParams:
    """How the members' boxes are combined and when a member is re-started."""

    #: Two member boxes agree at this IoU (they are on the same object). Raising it splits
    #: the committee more often (more doubt), lowering it averages boxes on neighbours.
    agree_iou: float = 0.5
    #: Weight of a box's IoU with the Kalman prediction in its support (the motion so far
    #: as one more voter). Raising it resists jumps but follows sudden real motion less.
    pred_weight: float = 0.5
    #: Where the members disagree, weight of each box's learned similarity to the seed
    #: keyframe (the first member's embedding, cosine) in its support: the network itself
    #: re-checks which box still looks like what the annotator drew. Raising it trusts
    #: appearance over the motion and the majority.
    sim_weight: float = 1.0
    #: A member whose box overlaps the chosen one less than this for ``restart_after``
    #: frames, while two others agree, is re-started on the chosen box. Raising the IoU or
    #: lowering the frames re-starts sooner: a jumped member is back sooner, but a member
    #: that was right against a wrong majority is overruled sooner.
    restart_iou: float = 0.3
    restart_after: int = 3

    def __post_init__(self) -> None:
        require_unit_interval(self, "agree_iou", "pred_weight", "restart_iou", "sim_weight")
        if self.restart_after < 1:
            raise ConfigError(f"committee restart_after must be >= 1, got {self.restart_after}")

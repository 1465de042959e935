"""The ``committee`` back-end: several learned trackers follow each object; where they
disagree, a box is in doubt.

Each member (:class:`~tracker_annotate.tracking.siamese.SiameseMember`: NanoTrack v2 and v3,
FEAR-XS) runs on its own from the pass's seed box. Per frame:

1. **Choice.** Every member's box gets a support: the summed IoU with the other members'
   boxes, plus :attr:`CommitteeParams.pred_weight` x its IoU with the Kalman prediction
   (the motion so far), plus its response peak as a tie-breaker. The best-supported box and
   every member box overlapping it by :attr:`CommitteeParams.agree_iou` are averaged,
   weighted by their peaks: the answer of the majority, or of the member that agrees with
   the motion when nobody agrees.
2. **Re-start.** A member whose box has stayed off the chosen box (IoU below
   :attr:`CommitteeParams.restart_iou`) for :attr:`CommitteeParams.restart_after` frames
   while at least two other members agree with each other has left the object: it is
   re-started on the chosen box, so one member's jump to a look-alike does not stay in the
   committee.
3. **Evidence** for the confidence (:data:`COMMITTEE_FEATURES`): the members' agreement
   (mean pairwise IoU, and the share of members on the chosen box), their response maps
   (mean peak, peak-to-sidelobe ratio, second peak outside the target over the peak,
   entropy), and a learned re-check: the cosine similarity of the chosen box's embedding
   (the first member's template branch) with the seed keyframe's.

The members run one after another on the frame; their cost adds up (see
``benchmarks/results/tracking.md`` for what each member adds and costs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tracker_annotate.core.boxes import iou_xyxy
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.tracking.calibration import COMMITTEE_ONLY
from tracker_annotate.tracking.measure import FloatArray, FrameData, Measurement
from tracker_annotate.tracking.params import CommitteeParams  # set by TrackerConfig.committee
from tracker_annotate.tracking.siamese import MemberResult, SiameseMember, trackable

#: The evidence a committee step adds to a box (``Measurement.extra`` keys): the
#: confidence's committee columns but for the pass's memory of them (``chain_*``) and their
#: window (``win_*``), which the engine derives.
COMMITTEE_FEATURES: tuple[str, ...] = tuple(
    f for f in COMMITTEE_ONLY if not f.startswith(("chain_", "win_"))
)


@dataclass
class Choice:
    """One frame's decision: the fused box, which members agreed, and the evidence."""

    xyxy: FloatArray
    chosen: int
    agreeing: list[int]
    extra: dict[str, float] = field(default_factory=dict)


def choose(
    results: list[MemberResult],
    pred_xyxy: FloatArray,
    params: CommitteeParams,
    sims: list[float] | None = None,
) -> Choice:
    """The committee's box for one frame from its members' answers (see the module doc).

    ``sims``: each member box's learned similarity to the seed keyframe, when the caller
    computed them (it does when the members disagree); they add
    :attr:`CommitteeParams.sim_weight` x sim to each box's support."""
    n = len(results)
    boxes = [np.asarray(r.xyxy, dtype=np.float64) for r in results]
    ious = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            ious[i, j] = ious[j, i] = iou_xyxy(boxes[i], boxes[j])
    peaks = np.array([max(r.stats.peak, 0.0) for r in results])
    support = np.array(
        [
            ious[i].sum()
            - 1.0
            + params.pred_weight * iou_xyxy(boxes[i], pred_xyxy)
            + (params.sim_weight * sims[i] if sims is not None else 0.0)
            + 0.01 * peaks[i]
            for i in range(n)
        ]
    )
    best = int(np.argmax(support))
    agreeing = [i for i in range(n) if i == best or ious[best, i] >= params.agree_iou]
    w = np.array([peaks[i] + 1e-3 for i in agreeing])
    fused = np.sum([w[k] * boxes[i] for k, i in enumerate(agreeing)], axis=0) / w.sum()
    pair = [ious[i, j] for i in range(n) for j in range(i + 1, n)]
    extra = {
        "agree": float(np.mean(pair)) if pair else 1.0,
        "on_choice": len(agreeing) / n,
        "peak": float(np.mean([r.stats.peak for r in results])),
        "psr": float(np.mean([min(r.stats.psr, 20.0) for r in results])),
        "second": float(np.mean([min(r.stats.second_ratio, 2.0) for r in results])),
        "entropy": float(np.mean([r.stats.entropy for r in results])),
    }
    return Choice(fused, best, agreeing, extra)


class CommitteeMeasurer:
    """Several :class:`SiameseMember` trackers on one object (the ``committee`` back-ends)."""

    def __init__(
        self, *member_names: str, name: str = "committee", params: CommitteeParams | None = None
    ) -> None:
        if len(member_names) < 2:
            raise ConfigError(f"a committee needs two or more members, got {member_names}")
        self.name = name
        self.params = params or CommitteeParams()
        self.members: list[SiameseMember] = [_member(m) for m in member_names]
        self._off = [0] * len(self.members)
        self._key: np.ndarray | None = None
        self._ok = False

    @classmethod
    def of(
        cls, members: list[SiameseMember], params: CommitteeParams | None = None
    ) -> CommitteeMeasurer:
        """A committee of ready-made members (tests, experiments)."""
        self = cls.__new__(cls)
        self.name = "committee"
        self.params = params or CommitteeParams()
        self.members = list(members)
        self._off = [0] * len(self.members)
        self._key = None
        self._ok = False
        return self

    def start(self, frame: FrameData, xyxy: FloatArray) -> None:
        box = np.asarray(xyxy, dtype=np.float64)
        self._ok = trackable(box, frame)
        self._off = [0] * len(self.members)
        if not self._ok:
            return
        for m in self.members:
            m.init(frame.bgr, box)
        if self._key is None:  # the seed keyframe; a re-start on a search hit keeps it
            self._key = self.members[0].embed(frame.bgr, box)

    def measure(
        self, prev: FrameData, cur: FrameData, prev_xyxy: FloatArray, pred_xyxy: FloatArray
    ) -> Measurement:
        if not self._ok:
            return Measurement(None, method=self.name)
        results = [m.update(cur.bgr) for m in self.members]
        sims = None
        if self._key is not None and not _unanimous(results, self.params.agree_iou):
            sims = [
                float(np.dot(self.members[0].embed(cur.bgr, r.xyxy), self._key)) for r in results
            ]
        c = choose(results, pred_xyxy, self.params, sims)
        p = self.params
        others_agree = len(c.agreeing) >= 2
        for i, r in enumerate(results):
            off = iou_xyxy(r.xyxy, c.xyxy) < p.restart_iou
            self._off[i] = self._off[i] + 1 if off else 0
            if others_agree and self._off[i] >= p.restart_after:
                self.members[i].init(cur.bgr, c.xyxy)
                self._off[i] = 0
        sim = math.nan
        if sims is not None and c.agreeing == [c.chosen]:
            sim = sims[c.chosen]  # the box is that member's own: its similarity is known
        elif self._key is not None:
            emb = self.members[0].embed(cur.bgr, c.xyxy)
            sim = float(np.dot(emb, self._key))
        c.extra["sim"] = sim
        quality = float(np.clip(c.extra["on_choice"] * c.extra["peak"], 0.0, 1.0))
        return Measurement(
            c.xyxy, quality=quality, method=self.name, score=c.extra["peak"], extra=c.extra
        )


def _unanimous(results: list[MemberResult], agree_iou: float) -> bool:
    first = results[0].xyxy
    return all(iou_xyxy(first, r.xyxy) >= agree_iou for r in results[1:])


def _member(name: str) -> SiameseMember:
    """The member behind the back-end ``name`` (one of the registry's learned trackers)."""
    from tracker_annotate.tracking.backends import make_measurer

    m = make_measurer(name)
    member = getattr(m, "member", None)
    if member is None:
        raise ConfigError(f"committee member {name!r} is not a learned (Siamese) tracker")
    result: SiameseMember = member
    return result

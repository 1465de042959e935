"""The simulated annotator: the only holder of ground truth in the benchmark.

It acts on a :class:`~tracker_annotate.core.project.Project` exclusively through the user
commands of :mod:`tracker_annotate.core.commands` (what the GUI calls), and counts every
action so a :class:`~tracker_annotate.bench.costs.CostModel` can price it. The engine sees
the project, never this object: whatever ground truth reaches the tracker does so as a box
the annotator drew, corrected or accepted.

Conventions: the annotator's boxes are the GT boxes exactly (a perfect human); a box the
annotator drew, corrected, accepted or watched during playback counts as *shown*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracker_annotate.bench.costs import ActionCounts
from tracker_annotate.bench.interpolate import paired_iou
from tracker_annotate.bench.sequences import GroundTruthSequence, GroundTruthTrack
from tracker_annotate.core import commands, proposals
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.project import MediaRef, Project

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Quality:
    """Final boxes against GT, counted over GT boxes (plus boxes where GT has none).

    ``missing`` GT boxes have no visible final box and score IoU 0. ``extra`` are visible
    final boxes on frames where the object has no GT box. ``unseen_below_*`` count boxes
    (bad GT matches plus extras) that no human was shown.
    """

    n_gt_boxes: int
    iou_sum: float
    missing: int
    extra: int
    below_half: int
    below_tau: int
    unseen_below_half: int
    unseen_below_tau: int

    @property
    def mean_iou(self) -> float:
        return self.iou_sum / self.n_gt_boxes if self.n_gt_boxes else 1.0


class SimulatedAnnotator:
    """A perfect, tireless human with the ground truth of one sequence.

    ``project`` starts empty (one track per GT track appears when the annotator draws its
    first box). All edits go through :mod:`tracker_annotate.core.commands`.
    """

    def __init__(self, gt: GroundTruthSequence, project: Project | None = None) -> None:
        self._gt = gt
        self.project = project if project is not None else Project(media_ref(gt))
        self.counts = ActionCounts()
        self._project_tid: dict[int, int] = {}
        self._watched_all = False
        self._shown: set[tuple[int, int]] = set()  # (project track id, frame)

    # -- what a human knows by looking at the video ---------------------------------------
    @property
    def gt_track_ids(self) -> list[int]:
        return sorted(self._gt.tracks)

    def span(self, gt_id: int) -> tuple[int, int]:
        """First and last frame the object is visible (a human sees it by scrubbing)."""
        t = self._gt.tracks[gt_id]
        return t.first, t.last

    def runs(self, gt_id: int) -> list[tuple[int, int]]:
        """Inclusive frame runs during which the object is visible (see
        :meth:`GroundTruthTrack.runs`); one run for an object that never leaves."""
        return self._gt.tracks[gt_id].runs()

    def gt_frames(self, gt_id: int) -> npt.NDArray[np.int64]:
        """The frames on which the object is visible (0-based, increasing)."""
        return self._gt.tracks[gt_id].frames

    def track_id(self, gt_id: int) -> int:
        """The project track the annotator created for GT track ``gt_id``."""
        return self._project_tid[gt_id]

    def gt_id_of(self, track_id: int) -> int | None:
        for gid, tid in self._project_tid.items():
            if tid == track_id:
                return gid
        return None

    # -- actions (each counted) ------------------------------------------------------------
    def _gt_xyxy(self, gt_id: int, frame: int) -> BoxXYXY:
        t = self._gt.tracks[gt_id]
        i = t.index_of(frame)
        if i is None:
            raise ValueError(f"GT track {gt_id} has no box on frame {frame}")
        return BoxXYXY.from_array(t.xyxy[i])

    def draw(self, gt_id: int, frame: int) -> int:
        """Draw the object's box on ``frame`` from scratch (a manual keyframe); returns the
        project track id (created on the first draw)."""
        xyxy = self._gt_xyxy(gt_id, frame)
        if gt_id in self._project_tid:
            tid = self._project_tid[gt_id]
            commands.add_box(self.project, tid, frame, xyxy)
        else:
            tid = commands.add_track(self.project, frame, xyxy, name=f"gt{gt_id}")
            self._project_tid[gt_id] = tid
        self.counts.draws += 1
        self._shown.add((tid, frame))
        return tid

    def correct(self, gt_id: int, frame: int) -> None:
        """Redraw a proposed box that is wrong (a manual keyframe)."""
        tid = self._project_tid[gt_id]
        commands.set_box_geometry(self.project, tid, frame, self._gt_xyxy(gt_id, frame))
        self.counts.corrections += 1
        self._shown.add((tid, frame))

    def delete(self, gt_id: int, frame: int) -> None:
        """Delete a proposed box on a frame where the object is not visible (priced as a
        correction)."""
        tid = self._project_tid[gt_id]
        commands.delete_box(self.project, tid, frame)
        self.counts.corrections += 1
        self._shown.add((tid, frame))

    def start_from_proposal(self, gt_id: int, frame: int, xyxy: BoxXYXY, tau: float) -> int:
        """Start the object's track from a detector's proposal on ``frame`` (the app's
        Enter on a proposal): accepted as is when its IoU with the object reaches ``tau``
        (a verification), else dragged onto the object first (a correction). Returns the
        project track id."""
        (tid,) = proposals.add_proposals(
            self.project, [proposals.Proposal(frame, xyxy, 1.0, next(iter(self.project.labels)))]
        )
        commands.rename_track(self.project, tid, f"gt{gt_id}")
        gt = self._gt_xyxy(gt_id, frame)
        if gt.iou(xyxy) >= tau:
            proposals.accept_proposal(self.project, tid)
            self.counts.verifications += 1
        else:
            proposals.accept_proposal(self.project, tid, xyxy=gt)
            self.counts.corrections += 1
        self._project_tid[gt_id] = tid
        self._shown.add((tid, frame))
        return tid

    def accept_detector_box(self, gt_id: int, frame: int, xyxy: BoxXYXY, tau: float) -> bool:
        """On a wrong box, the annotator asked the detector (``P``) and got ``xyxy``: it is
        accepted (a verification, the box becomes a keyframe) when its IoU with the object
        reaches ``tau``; else it was looked at for nothing (a verification too) and the
        caller redraws. Returns whether it was accepted."""
        self.counts.verifications += 1
        tid = self._project_tid[gt_id]
        if self._gt_xyxy(gt_id, frame).iou(xyxy) < tau:
            return False
        from tracker_annotate.tracking.refind import Refound, install_refound

        with self.project.edit("Re-found by the detector, accepted"):  # as the app does
            install_refound(self.project, [Refound(tid, frame, xyxy, 1.0, 1.0, "asked")])
            commands.accept_box(self.project, tid, frame)
        self._shown.add((tid, frame))
        return True

    def reject_proposal(self, frame: int, xyxy: BoxXYXY) -> None:
        """Look at a detector's proposal that is no labelled object and reject it (priced
        as a verification); the project remembers the rejection."""
        (tid,) = proposals.add_proposals(
            self.project, [proposals.Proposal(frame, xyxy, 1.0, next(iter(self.project.labels)))]
        )
        proposals.reject_proposal(self.project, tid)
        self.counts.verifications += 1

    def verify(self, gt_id: int, frame: int) -> None:
        """Look at a proposed box and accept it (it becomes a keyframe)."""
        tid = self._project_tid[gt_id]
        commands.accept_box(self.project, tid, frame)
        self.counts.verifications += 1
        self._shown.add((tid, frame))

    def watch(self, gt_id: int, frames: list[int]) -> None:
        """Watch a stretch of proposed boxes play (``watch_s`` per box)."""
        tid = self._project_tid[gt_id]
        self.counts.watched += len(frames)
        self._shown.update((tid, f) for f in frames)

    def accept_stretch(self, gt_id: int, frames: list[int]) -> None:
        """Accept a watched stretch in one action (Shift+Enter): one verification."""
        tid = self._project_tid[gt_id]
        with self.project.edit(f"Accept stretch of track {tid}"):
            for f in frames:
                commands.accept_box(self.project, tid, f)
        self.counts.verifications += 1
        self._shown.update((tid, f) for f in frames)

    def is_wrong(self, gt_id: int, frame: int, tau: float) -> bool:
        """Whether the project's box on ``frame`` fails the annotator's standard: IoU
        below ``tau``, or a visible box where the object is not."""
        iou = self.iou_at(gt_id, frame)
        if iou is None:
            b = self.project.box(self._project_tid[gt_id], frame)
            return b is not None and not b.outside
        return iou < tau

    def mark_end(self, gt_id: int, last: int | None = None) -> bool:
        """Mark where the object stops being visible: an ``outside`` box on the frame after
        ``last`` (default: the track's last GT frame; pass a run's last frame for an object
        that leaves and comes back).

        Costs one end mark either way; when the object is visible until the video's last
        frame there is no frame to write on, and the method returns ``False`` (the human
        confirmed "until the end", which the project represents by no outside box).
        """
        tid = self._project_tid[gt_id]
        self.counts.end_marks += 1
        end = (self._gt.tracks[gt_id].last if last is None else last) + 1
        if end >= self._gt.n_frames:
            return False
        commands.mark_outside(self.project, tid, end)
        return True

    def watch_playback(self) -> None:
        """Play the whole result back, watching every GT box once."""
        self.counts.watched += self._gt.n_boxes
        self._watched_all = True

    # -- judging -----------------------------------------------------------------------------
    def final_xyxy(self, gt_id: int) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """The project's current boxes on the GT frames of ``gt_id`` as ``(N, 4)`` xyxy
        (NaN where the project has no visible box) and a keyframe mask."""
        t = self._gt.tracks[gt_id]
        out = np.full((t.n_boxes, 4), np.nan)
        key = np.zeros(t.n_boxes, dtype=bool)
        tid = self._project_tid.get(gt_id)
        if tid is None:
            return out, key
        boxes = self.project.boxes(tid)
        for i, f in enumerate(t.frames.tolist()):
            b = boxes.get(f)
            if b is not None and not b.outside:
                out[i] = (b.xyxy.x1, b.xyxy.y1, b.xyxy.x2, b.xyxy.y2)
                key[i] = b.is_keyframe
        return out, key

    def ious(self, gt_id: int) -> FloatArray:
        """IoU of the project's box with GT on each GT frame of ``gt_id`` (0 when missing)."""
        xyxy, _ = self.final_xyxy(gt_id)
        return paired_iou(xyxy, self._gt.tracks[gt_id].xyxy)

    def iou_at(self, gt_id: int, frame: int) -> float | None:
        """IoU of the project's box on ``frame``; ``None`` when GT has no box there."""
        t: GroundTruthTrack = self._gt.tracks[gt_id]
        i = t.index_of(frame)
        if i is None:
            return None
        b = self.project.box(self._project_tid[gt_id], frame)
        if b is None or b.outside:
            return 0.0
        return float(paired_iou(b.xyxy.to_array(), t.xyxy[i])[0])

    def track_stops_early(self, gt_id: int, frame: int) -> bool:
        """True when the project's track has no visible box on ``frame + 1`` although the
        object is still there: the engine ended the track (or lost it) too soon."""
        t = self._gt.tracks[gt_id]
        if t.index_of(frame + 1) is None:
            return False
        b = self.project.box(self._project_tid[gt_id], frame + 1)
        return b is None or b.outside

    def extra_frames(self, gt_id: int) -> list[int]:
        """Frames with a visible project box where the object has no GT box."""
        tid = self._project_tid.get(gt_id)
        if tid is None:
            return []
        t = self._gt.tracks[gt_id]
        gt_frames = set(t.frames.tolist())
        return sorted(
            f for f, b in self.project.boxes(tid).items() if not b.outside and f not in gt_frames
        )

    def quality(self, tau: float) -> Quality:
        """The final project against GT (see :class:`Quality`)."""
        iou_sum = 0.0
        missing = extra = below_half = below_tau = unseen_half = unseen_tau = 0
        n = 0
        for gid in self.gt_track_ids:
            t = self._gt.tracks[gid]
            xyxy, _key = self.final_xyxy(gid)
            ious = paired_iou(xyxy, t.xyxy)
            tid = self._project_tid.get(gid)
            shown = np.array(
                [self._watched_all or (tid, f) in self._shown for f in t.frames.tolist()],
                dtype=bool,
            )
            n += t.n_boxes
            iou_sum += float(ious.sum())
            missing += int(np.isnan(xyxy[:, 0]).sum())
            below_half += int((ious < 0.5).sum())
            below_tau += int((ious < tau).sum())
            unseen_half += int(((ious < 0.5) & ~shown).sum())
            unseen_tau += int(((ious < tau) & ~shown).sum())
            for f in self.extra_frames(gid):
                extra += 1
                if not (self._watched_all or (tid, f) in self._shown):
                    unseen_half += 1
                    unseen_tau += 1
        return Quality(n, iou_sum, missing, extra, below_half, below_tau, unseen_half, unseen_tau)


def media_ref(gt: GroundTruthSequence) -> MediaRef:
    """The project's media reference for a sequence (geometry from ``seqinfo.ini``)."""
    return MediaRef(gt.path, gt.n_frames, gt.width, gt.height, gt.fps)

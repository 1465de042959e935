"""Which passes a track needs, from its keyframes alone.

Keyframes are law. For consecutive keyframes ``a < b`` of a track:

* both visible: a forward pass ``a -> b-1`` and a backward pass ``b -> a+1`` (blended later);
* ``a`` visible, ``b`` an *outside* marker (the object left): forward ``a -> b-1`` only;
* ``a`` outside, ``b`` visible (the object came back): backward ``b -> a+1`` until lost;
* both outside: nothing.

After the last keyframe, if it is visible and ``extend`` is on, a forward pass runs to the
end of the video (it stops earlier when the object leaves or is lost). Nothing is tracked
before the first keyframe. Derived boxes are never read.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from tracker_annotate.core.boxes import FrameBox, validate_in_image
from tracker_annotate.core.errors import BoxError, TrackingError
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.passes import PassPlan


@dataclass(frozen=True)
class Segment:
    """Keyframe ``a`` to keyframe ``b`` (``b`` is ``None`` for the extension after the last)."""

    track_id: int
    a: FrameBox
    b: FrameBox | None
    end: int  # last frame the segment may produce (inclusive)

    @property
    def span(self) -> tuple[int, int]:
        return self.a.frame, self.end


def track_keyframes(
    project: Project, track_id: int, n_frames: int, width: int, height: int
) -> list[FrameBox]:
    """The track's keyframes in frame order, validated against the media."""
    out = []
    for f in project.keyframes(track_id):
        box = project.box(track_id, f)
        if box is None:
            continue
        if f >= n_frames:
            raise TrackingError(
                f"track {track_id}: keyframe on frame {f} (0-based) is beyond the last frame "
                f"{n_frames - 1} of the media"
            )
        if not box.outside:
            try:
                validate_in_image(
                    box.xyxy, width, height, what=f"track {track_id} keyframe on frame {f}"
                )
            except BoxError as exc:
                raise TrackingError(str(exc)) from exc
        out.append(box)
    return out


def segments_for(
    keyframes: list[FrameBox], track_id: int, n_frames: int, extend: bool
) -> list[Segment]:
    segs = []
    for a, b in itertools.pairwise(keyframes):
        if b.frame - a.frame > 1 and not (a.outside and b.outside):
            segs.append(Segment(track_id, a, b, b.frame))
    if keyframes and extend and not keyframes[-1].outside and keyframes[-1].frame < n_frames - 1:
        segs.append(Segment(track_id, keyframes[-1], None, n_frames - 1))
    return segs


def passes_for(seg: Segment) -> list[PassPlan]:
    a, b = seg.a, seg.b
    tid = seg.track_id
    if b is None:
        return [PassPlan(tid, a.frame, seg.end, +1, a.xyxy.as_tuple(), "extend")]
    out = []
    if not a.outside:
        out.append(
            PassPlan(
                tid,
                a.frame,
                # A pass between two keyframes runs onto the far one: its error there tells
                # the fusion whether it followed the object and how far it drifted.
                b.frame if not b.outside else b.frame - 1,
                +1,
                a.xyxy.as_tuple(),
                "between" if not b.outside else "leave",
            )
        )
    if not b.outside:
        out.append(
            PassPlan(
                tid,
                b.frame,
                a.frame if not a.outside else a.frame + 1,
                -1,
                b.xyxy.as_tuple(),
                "between" if not a.outside else "enter",
            )
        )
    return out


def affected_segments(segs: list[Segment], frame: int) -> list[Segment]:
    """Segments whose closed frame range contains ``frame`` (an edit there changes them)."""
    return [s for s in segs if s.a.frame <= frame <= s.end]

"""User-level edits. Each is one undoable transaction on the project.

The GUI and the CLI call these; none of them touches Qt or files. A box a human draws or
edits becomes a ``MANUAL`` keyframe with confidence 1. An edit the model refuses raises a
:class:`~tracker_annotate.core.errors.ProjectError` and leaves the project as it was.
Edits of several tracks at once (merge, delete, hide/show, end, accept) are one step too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from numbers import Integral

from tracker_annotate.core import review_log
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.labels import Label, distinct_color
from tracker_annotate.core.project import Project, TrackInfo


def _require_box(project: Project, track_id: int, frame: int) -> FrameBox:
    box = project.box(track_id, frame)
    if box is None:
        raise ProjectError(f"track {track_id} has no box on frame {frame}")
    return box


def _manual(frame: int, xyxy: BoxXYXY, *, occluded: bool = False) -> FrameBox:
    return FrameBox(frame, xyxy, BoxSource.MANUAL, 1.0, occluded=occluded)


def add_track(
    project: Project, frame: int, xyxy: BoxXYXY, label: str | None = None, name: str = ""
) -> int:
    """Create a track with one manual keyframe; returns its new id."""
    with project.edit("Add track") as tx:
        tid = tx.new_track_id()
        lab = label if label is not None else next(iter(project.labels))
        tx.set_track(TrackInfo(tid, lab, name))
        tx.set_box(tid, _manual(frame, xyxy))
    return tid


def add_box(project: Project, track_id: int, frame: int, xyxy: BoxXYXY) -> None:
    """Draw (or redraw) a track's box on a frame: a manual keyframe."""
    project.track(track_id)
    with project.edit("Add box") as tx:
        review_log.note_review(project, track_id, project.box(track_id, frame), right=False)
        tx.set_box(track_id, _manual(frame, xyxy))


def set_box_geometry(
    project: Project, track_id: int, frame: int, xyxy: BoxXYXY, description: str = "Move box"
) -> None:
    """Move or resize a box. The result is a manual keyframe (it is now human truth)."""
    old = project.box(track_id, frame)
    with project.edit(description) as tx:
        review_log.note_review(project, track_id, old, right=False)
        tx.set_box(
            track_id, _manual(frame, xyxy, occluded=old.occluded if old is not None else False)
        )


def delete_box(project: Project, track_id: int, frame: int) -> None:
    """Delete one box. Deleting a track's last box leaves the (empty) track in place:
    only :func:`delete_track` removes a track, so no day's work vanishes by accident."""
    box = _require_box(project, track_id, frame)
    with project.edit("Delete box") as tx:
        review_log.note_review(project, track_id, box, right=False)
        tx.remove_box(track_id, frame)


def delete_track(project: Project, track_id: int) -> None:
    project.track(track_id)
    with project.edit(f"Delete track {track_id}") as tx:
        tx.remove_track(track_id)


def relabel(project: Project, track_id: int, label: str) -> None:
    info = project.track(track_id)
    with project.edit(f"Relabel track {track_id}") as tx:
        tx.set_track(project.copy_info(info, label=label))


def rename_track(project: Project, track_id: int, name: str) -> None:
    info = project.track(track_id)
    with project.edit(f"Rename track {track_id}") as tx:
        tx.set_track(project.copy_info(info, name=name))


def set_track_hidden(project: Project, track_id: int, hidden: bool) -> None:
    info = project.track(track_id)
    with project.edit("Hide track" if hidden else "Show track") as tx:
        tx.set_track(project.copy_info(info, hidden=hidden))


def accept_proposed_track(project: Project, track_id: int) -> None:
    info = project.track(track_id)
    with project.edit(f"Accept proposed track {track_id}") as tx:
        tx.set_track(project.copy_info(info, proposed=False))


def merge_tracks(project: Project, keep_id: int, other_id: int) -> None:
    """Move every box of ``other_id`` into ``keep_id`` and delete ``other_id``.

    Where both have a box on a frame, a keyframe beats a derived box, and between equals
    the higher confidence wins.
    """
    if keep_id == other_id:
        raise ProjectError(f"cannot merge track {keep_id} with itself")
    project.track(keep_id)
    project.track(other_id)
    with project.edit(f"Merge track {other_id} into {keep_id}") as tx:
        for frame, box in sorted(project.boxes(other_id).items()):
            mine = project.box(keep_id, frame)
            if mine is None or (box.is_keyframe, box.confidence) > (
                mine.is_keyframe,
                mine.confidence,
            ):
                tx.set_box(keep_id, box)
        tx.remove_track(other_id)


def import_tracks(
    project: Project, imported: Project, description: str, *, replace: bool = False
) -> list[int]:
    """Put every track of ``imported`` into ``project`` as one undoable edit.

    Labels the project lacks are added. Added tracks get new ids; with ``replace`` every
    old track goes and the imported ids stay. Returns the ids the tracks got, in order.
    """
    new_ids: list[int] = []
    with project.edit(description) as tx:
        if replace:
            for tid in list(project.tracks):
                tx.remove_track(tid)
        for lab in imported.labels.values():
            if lab.name not in project.labels:
                tx.set_label(Label(lab.name, lab.color))
        for tid in sorted(imported.tracks):
            new = tid if replace else tx.new_track_id()
            tx.set_track(project.copy_info(imported.tracks[tid], track_id=new))
            for box in imported.boxes(tid).values():
                tx.set_box(new, box)
            new_ids.append(new)
    return new_ids


def split_track(project: Project, track_id: int, frame: int) -> int:
    """Move the boxes on ``frame`` and later into a new track; returns the new id."""
    info = project.track(track_id)
    later = sorted((f, b) for f, b in project.boxes(track_id).items() if f >= frame)
    if not later:
        raise ProjectError(f"track {track_id} has no boxes on or after frame {frame} to split")
    if len(later) == len(project.boxes(track_id)):
        raise ProjectError(f"track {track_id} starts at frame {frame}; nothing would remain")
    with project.edit(f"Split track {track_id} at frame {frame}") as tx:
        new_id = tx.new_track_id()
        tx.set_track(TrackInfo(new_id, info.label, info.name))
        for f, b in later:
            tx.remove_box(track_id, f)
            tx.set_box(new_id, b)
    return new_id


#: The app's key for :func:`swap_identities`; the overlap flags name it in their reason.
SWAP_IDENTITIES_KEY = "X"
#: What an overlap flag's reason adds: where two tracks cross, identities may switch.
SWAP_HINT = f"{SWAP_IDENTITIES_KEY} swaps identities"


def swap_identities(
    project: Project, track_a: int, track_b: int, frame: int, *, anchor: bool = True
) -> int:
    """The tracks switched objects where they crossed: from ``frame`` on, every box of
    ``track_a`` (any source; keyframe, flag, outside and occluded marks as they are) goes
    to ``track_b`` and every box of ``track_b`` to ``track_a``, as one step. The tracks keep
    their ids, labels and names: the boxes move, the identities stay. Boxes before
    ``frame`` stay where they are. Returns how many boxes moved.

    What followed the boxes follows them too: the stale marks (:attr:`Project.stale`) and
    the audit samples on or after ``frame``. With ``anchor`` the derived boxes on
    ``frame`` itself, where the annotator saw which object is which, become verified
    keyframes (flag cleared): the re-track of the stretches around ``frame`` then starts
    from them instead of following the tracker into the same switch again.

    Raises :class:`ProjectError`, changing nothing, for one track given twice, an unknown
    track, a frame outside the media, or no box on or after ``frame`` in either track.
    """
    if track_a == track_b:
        raise ProjectError(f"cannot swap track {track_a} with itself: select two tracks")
    project.track(track_a)
    project.track(track_b)
    if isinstance(frame, bool) or not isinstance(frame, Integral) or frame < 0:
        raise ProjectError(f"frame must be a 0-based frame number, got {frame!r}")
    if project.media is not None and frame >= project.media.n_frames:
        raise ProjectError(
            f"frame {frame} is beyond the last frame {project.media.n_frames - 1} of "
            f"{project.media.path}"
        )
    later = {
        t: {f: b for f, b in project.boxes(t).items() if f >= frame} for t in (track_a, track_b)
    }
    if not later[track_a] and not later[track_b]:
        raise ProjectError(
            f"neither track {track_a} nor track {track_b} has a box on or after frame "
            f"{frame}: nothing to swap"
        )
    other = {track_a: track_b, track_b: track_a}
    with project.edit(
        f"Swap identities of tracks {track_a} and {track_b} from frame {frame}"
    ) as tx:
        for t, boxes in later.items():
            for f in boxes:
                tx.remove_box(t, f)
        for t, boxes in later.items():
            for f, box in boxes.items():
                seen_here = anchor and f == frame and box.is_derived and not box.outside
                tx.set_box(other[t], box.with_(verified=True, flagged=False) if seen_here else box)
        moved = sorted((t, f) for t, f in project.stale if t in other and f >= frame)
        for t, f in moved:
            tx.clear_stale(t, f)
        for t, f in moved:
            tx.mark_stale(other[t], f)
        q = project.quality
        rounds = tuple(
            replace(
                r,
                samples=tuple(
                    replace(s, track_id=other[s.track_id])
                    if s.track_id in other and s.frame >= frame
                    else s
                    for s in r.samples
                ),
            )
            for r in q.rounds
        )
        if rounds != q.rounds:
            tx.set_quality(replace(q, rounds=rounds))
    return len(later[track_a]) + len(later[track_b])


def mark_outside(project: Project, track_id: int, frame: int) -> None:
    """Mark the track's end: the object is not visible from ``frame`` on.

    Writes a manual ``outside`` box on ``frame`` (at the last known place, as CVAT does)
    and deletes the derived boxes after it; manual boxes after it are kept.
    """
    boxes = project.boxes(track_id)
    before = [f for f in boxes if f <= frame and not boxes[f].outside]
    if not before:
        raise ProjectError(f"track {track_id} has no visible box on or before frame {frame}")
    last = boxes[max(before)]
    with project.edit(f"Mark track {track_id} outside at frame {frame}") as tx:
        for f, b in list(boxes.items()):
            if f > frame and b.is_derived:
                tx.remove_box(track_id, f)
        tx.set_box(track_id, FrameBox(frame, last.xyxy, BoxSource.MANUAL, 1.0, outside=True))


def accept_box(project: Project, track_id: int, frame: int) -> None:
    """The annotator confirms a derived box: verified, flag cleared. It is now truth."""
    box = _require_box(project, track_id, frame)
    with project.edit("Accept box") as tx:
        review_log.note_review(project, track_id, box, right=True)
        tx.set_box(track_id, box.with_(verified=True, flagged=False, flag_reason=""))


def set_occluded(project: Project, track_id: int, frame: int, occluded: bool) -> None:
    box = _require_box(project, track_id, frame)
    with project.edit("Mark occluded" if occluded else "Mark visible") as tx:
        tx.set_box(track_id, box.with_(occluded=occluded))


def copy_box_to_frame(project: Project, track_id: int, frame: int, to_frame: int) -> None:
    """Copy a box to another frame as a manual keyframe (the "copy to next frame" action)."""
    box = _require_box(project, track_id, frame)
    with project.edit("Copy box") as tx:
        tx.set_box(track_id, _manual(to_frame, box.xyxy, occluded=box.occluded))


def set_label(project: Project, label: Label) -> None:
    with project.edit(f"Set label {label.name}") as tx:
        tx.set_label(label)


def remove_label(project: Project, name: str) -> None:
    with project.edit(f"Remove label {name}") as tx:
        tx.remove_label(name)


def _new_label_name(project: Project, name: str, what: str) -> str:
    clean = name.strip()
    if not clean:
        raise ProjectError(f"{what}: a label needs a non-empty name")
    if clean in project.labels:
        raise ProjectError(f"{what}: label {clean!r} already exists")
    return clean


def add_label(project: Project, name: str) -> Label:
    """Add a label named ``name`` (surrounding spaces dropped) with a new distinct colour.

    Raises :class:`ProjectError` for an empty name or one the project already has.
    """
    label = Label(
        _new_label_name(project, name, "new label"), distinct_color(len(project.labels) + 3)
    )
    set_label(project, label)
    return label


def rename_label(project: Project, old: str, new: str) -> None:
    """Rename label ``old`` to ``new`` and relabel every track using it, as one step.

    The colour and the place in the label order stay (undo restores both). Renaming to the
    same name does nothing; an unknown ``old``, an empty ``new`` or one the project already
    has raise :class:`ProjectError`.
    """
    if old not in project.labels:
        raise ProjectError(f"no label {old!r} to rename; known: {sorted(project.labels)}")
    if new.strip() == old:
        return
    new = _new_label_name(project, new, f"renaming label {old!r}")
    color = project.labels[old].color
    # the new name takes the old one's place: the number key that picked it still does
    order = [new if name == old else name for name in project.labels]
    with project.edit(f"Rename label {old} to {new}") as tx:
        tx.set_label(Label(new, color))
        for info in list(project.tracks.values()):
            if info.label == old:
                tx.set_track(project.copy_info(info, label=new))
        tx.remove_label(old)
        tx.order_labels(order)


# -- several tracks at once ----------------------------------------------------------------
def _track_ids(project: Project, track_ids: Iterable[int]) -> list[int]:
    """The ids in ascending order (the order the edits run in), each an existing track."""
    ids = sorted(set(track_ids))
    if not ids:
        raise ProjectError("no track given: select one or more tracks")
    unknown = [t for t in ids if t not in project.tracks]
    if unknown:
        raise ProjectError(f"no track {', '.join(map(str, unknown))} in the project")
    return ids


def _each_track(
    project: Project, track_ids: Iterable[int], description: str, edit: Callable[[int], None]
) -> list[int]:
    """Run ``edit`` on each track as one undo step named ``description`` (an empty one
    takes the single edit's own name); one failure undoes them all."""
    ids = _track_ids(project, track_ids)
    with project.edit(description):
        for tid in ids:
            edit(tid)
    return ids


def merge_tracks_into(project: Project, track_ids: Iterable[int]) -> int:
    """Merge all of ``track_ids`` into the lowest of them (see :func:`merge_tracks`), as
    one step; returns the id that remains. Needs two or more tracks."""
    ids = _track_ids(project, track_ids)
    if len(ids) < 2:
        raise ProjectError(f"merging needs two or more tracks; got track {ids[0]} only")
    keep = ids[0]
    _each_track(
        project, ids[1:], f"Merge tracks into {keep}", lambda t: merge_tracks(project, keep, t)
    )
    return keep


def delete_tracks(project: Project, track_ids: Iterable[int]) -> None:
    """Delete the tracks and all their boxes, as one step."""
    ids = _track_ids(project, track_ids)
    _each_track(project, ids, f"Delete {len(ids)} track(s)", lambda t: delete_track(project, t))


def set_tracks_hidden(project: Project, track_ids: Iterable[int], hidden: bool) -> None:
    """Hide (or show) the tracks, as one step."""
    _each_track(
        project,
        track_ids,
        "Hide tracks" if hidden else "Show tracks",
        lambda t: set_track_hidden(project, t, hidden),
    )


def toggle_tracks_hidden(project: Project, track_ids: Iterable[int]) -> bool:
    """Show the tracks if all are hidden, else hide them all; returns whether they are now
    hidden."""
    ids = _track_ids(project, track_ids)
    hide = not all(project.tracks[t].hidden for t in ids)
    set_tracks_hidden(project, ids, hide)
    return hide


def mark_tracks_outside(project: Project, track_ids: Iterable[int], frame: int) -> None:
    """End each track at ``frame`` (see :func:`mark_outside`), as one step."""
    ids = list(track_ids)
    name = f"Mark {len(ids)} tracks outside at frame {frame}" if len(set(ids)) > 1 else ""
    _each_track(project, ids, name, lambda t: mark_outside(project, t, frame))


def accept_proposed_tracks(project: Project, track_ids: Iterable[int]) -> None:
    """Keep the tracks proposed from detections, as one step."""
    ids = list(track_ids)
    name = f"Accept {len(ids)} proposed tracks" if len(set(ids)) > 1 else ""
    _each_track(project, ids, name, lambda t: accept_proposed_track(project, t))


def replace_derived_boxes(
    project: Project,
    results: Mapping[int, Iterable[FrameBox]],
    frames: Mapping[int, tuple[int, int]] | None = None,
    description: str = "Track",
) -> None:
    """Install a tracking run's output as one undoable step.

    For each track in ``results``: derived boxes inside its recomputed span
    ``frames[track_id]`` (inclusive; the whole track if absent) are removed, and the new
    derived boxes are written. Keyframes are never overwritten: they are law.
    """
    with project.edit(description) as tx:
        for tid, new_boxes in results.items():
            project.track(tid)
            span = frames.get(tid) if frames is not None else None
            for f, b in list(project.boxes(tid).items()):
                if b.is_derived and (span is None or span[0] <= f <= span[1]):
                    tx.remove_box(tid, f)
            for box in new_boxes:
                cur = project.box(tid, box.frame)
                if cur is not None and cur.is_keyframe:
                    continue
                tx.set_box(tid, box)


#: Flag reason of a derived box whose stretch an edit left without its re-track.
STALE_REASON = "not re-tracked after an edit (interrupted); re-track or check it"


def stale_span(project: Project, track_id: int, frame: int) -> tuple[int, int]:
    """The frames an edit on ``frame`` can change (inclusive): previous keyframe (or the
    frame) to next keyframe (or the media's last frame), as the re-track after an edit
    recomputes them."""
    kfs = project.keyframes(track_id)
    before = [k for k in kfs if k < frame]
    after = [k for k in kfs if k > frame]
    if project.media is not None:
        end = project.media.n_frames - 1
    else:
        end = max(project.boxes(track_id), default=frame)
    return (before[-1] if before else frame, after[0] if after else end)


def flag_stale_stretches(project: Project) -> int:
    """Flag every unverified derived box in the stretches of :attr:`Project.stale` (as one
    undoable step), so the review queue shows them; the marks stay until a re-track is
    applied. Returns how many boxes were newly flagged."""
    n = 0
    with project.edit("Flag stretches an interrupted re-track left outdated") as tx:
        for tid, frame in sorted(project.stale):
            if tid not in project.tracks:
                continue
            lo, hi = stale_span(project, tid, frame)
            for f, b in list(project.boxes(tid).items()):
                if lo <= f <= hi and b.is_derived and not b.flagged:
                    tx.set_box(tid, b.with_(flagged=True, flag_reason=STALE_REASON))
                    n += 1
    return n

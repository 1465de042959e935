"""The project model: media reference, labels, tracks and their boxes, with undoable edits.

All state lives here, outside any GUI. Every change goes through :meth:`Project.edit`, a
transaction that records the old value of everything it touches. When the outermost
transaction closes it

* emits :attr:`Project.changed` with a :class:`ChangeSet` (the store persists it in one
  SQLite transaction; views repaint what it names), and
* pushes itself on the :class:`History`, so it can be undone and redone as one step
  (a single box move and a whole tracking run alike).

If the body of a transaction raises, everything it did is rolled back and nothing is
emitted: a failed operation leaves the project as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from tracker_annotate.core.boxes import FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.events import Signal
from tracker_annotate.core.labels import DEFAULT_LABEL, Label
from tracker_annotate.core.quality import QualityState
from tracker_annotate.core.track_boxes import BoxColumns, TrackBoxes

log = logging.getLogger(__name__)

_MISSING = object()


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Where the project's frames come from and how to recognise them again.

    ``fingerprint`` is computed by the media layer (size plus a hash of the first frames);
    ``n_frames`` is the real decodable length, not what a header claims.
    """

    path: str
    n_frames: int
    width: int
    height: int
    fps: float = 30.0
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if self.n_frames < 0 or self.width <= 0 or self.height <= 0:
            raise ProjectError(
                f"media {self.path!r}: impossible geometry "
                f"{self.width}x{self.height} with {self.n_frames} frames"
            )
        if not self.fps > 0:
            raise ProjectError(f"media {self.path!r}: fps must be positive, got {self.fps}")


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """A track's identity and metadata (its boxes are held by the project)."""

    track_id: int
    label: str = DEFAULT_LABEL.name
    name: str = ""
    hidden: bool = False
    proposed: bool = False  # created from model detections, awaiting the annotator's accept

    def __post_init__(self) -> None:
        if isinstance(self.track_id, bool) or not isinstance(self.track_id, int):
            raise ProjectError(f"track id must be an integer, got {self.track_id!r}")
        if self.track_id < 0:
            raise ProjectError(f"track id {self.track_id} is negative")


#: Which way a change went: a new edit, or an undo or redo of one.
ChangeKind = Literal["do", "undo", "redo"]


@dataclass
class ChangeSet:
    """What one transaction (or its undo/redo) changed: for observers and the store."""

    description: str
    boxes: set[tuple[int, int]] = field(default_factory=set)  # (track_id, frame)
    tracks: set[int] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    kind: ChangeKind = "do"
    stale: bool = False  # the set of stale stretches changed (see Project.stale)
    quality: bool = False  # the quality state (target, threshold, audit) changed

    @property
    def frames(self) -> set[int]:
        return {f for _, f in self.boxes}

    def is_empty(self) -> bool:
        return not (self.boxes or self.tracks or self.labels or self.stale or self.quality)


def _reorder(labels: dict[str, Label], order: Sequence[str]) -> None:
    """Reorder ``labels`` in place: the names of ``order`` first, in that order, then any
    others as they were (in place: the project's read-only view of it stays valid)."""
    ordered = {n: labels[n] for n in order if n in labels}
    rest = {n: lab for n, lab in labels.items() if n not in ordered}
    labels.clear()
    labels.update(ordered)
    labels.update(rest)


class Transaction:
    """One undoable step. Obtain it from :meth:`Project.edit`; do not build it directly."""

    def __init__(self, project: Project, description: str) -> None:
        self._project = project
        self.description = description
        # old values, recorded on first touch; _MISSING-free: None means "did not exist"
        self._old_boxes: dict[tuple[int, int], FrameBox | None] = {}
        self._old_tracks: dict[int, TrackInfo | None] = {}
        self._old_labels: dict[str, Label | None] = {}
        self._new_boxes: dict[tuple[int, int], FrameBox | None] = {}
        self._new_tracks: dict[int, TrackInfo | None] = {}
        self._new_labels: dict[str, Label | None] = {}
        # the labels' display order (number keys pick by it) before/after, once touched
        self._old_label_order: tuple[str, ...] | None = None
        self._new_label_order: tuple[str, ...] | None = None
        # the whole (small) set of stale stretches before/after, once touched
        self._old_stale: frozenset[tuple[int, int]] | None = None
        self._new_stale: frozenset[tuple[int, int]] | None = None
        self._old_quality: QualityState | None = None
        self._new_quality: QualityState | None = None

    # -- mutators ---------------------------------------------------------------------
    def set_box(self, track_id: int, box: FrameBox) -> None:
        """Put ``box`` on its frame of track ``track_id``, replacing what was there."""
        p = self._project
        if track_id not in p._tracks:
            raise ProjectError(f"no track {track_id}; add the track before its boxes")
        if p.media is not None and box.frame >= p.media.n_frames:
            raise ProjectError(
                f"track {track_id}: frame {box.frame} is beyond the last frame "
                f"{p.media.n_frames - 1} of {p.media.path}"
            )
        key = (track_id, box.frame)
        if key not in self._old_boxes:
            self._old_boxes[key] = p._boxes[track_id].get(box.frame)
        p._boxes[track_id][box.frame] = box
        self._new_boxes[key] = box

    def remove_box(self, track_id: int, frame: int) -> None:
        p = self._project
        boxes = p._boxes.get(track_id)
        if boxes is None or frame not in boxes:
            return
        key = (track_id, frame)
        if key not in self._old_boxes:
            self._old_boxes[key] = boxes[frame]
        del boxes[frame]
        self._new_boxes[key] = None

    def set_track(self, info: TrackInfo) -> None:
        """Add a track or change its metadata. Its label must exist."""
        p = self._project
        if info.label not in p._labels:
            raise ProjectError(
                f"track {info.track_id}: unknown label {info.label!r}; known: {sorted(p._labels)}"
            )
        tid = info.track_id
        if tid not in self._old_tracks:
            self._old_tracks[tid] = p._tracks.get(tid)
        if tid not in p._tracks:
            p._boxes[tid] = TrackBoxes()
        p._tracks[tid] = info
        p._next_track_id = max(p._next_track_id, tid + 1)
        self._new_tracks[tid] = info

    def remove_track(self, track_id: int) -> None:
        """Delete a track and all of its boxes (recorded, so undo restores them)."""
        p = self._project
        if track_id not in p._tracks:
            return
        for frame in list(p._boxes[track_id]):
            self.remove_box(track_id, frame)
        if any(t == track_id for t, _ in p._stale):
            self._touch_stale()
            p._stale = {(t, f) for t, f in p._stale if t != track_id}
        if track_id not in self._old_tracks:
            self._old_tracks[track_id] = p._tracks[track_id]
        del p._tracks[track_id]
        del p._boxes[track_id]
        self._new_tracks[track_id] = None

    def set_label(self, label: Label) -> None:
        """Add a label (last in the order) or change an existing one's colour in place."""
        p = self._project
        self._touch_label_order()
        if label.name not in self._old_labels:
            self._old_labels[label.name] = p._labels.get(label.name)
        p._labels[label.name] = label
        self._new_labels[label.name] = label

    def remove_label(self, name: str) -> None:
        p = self._project
        if name not in p._labels:
            return
        users = [t.track_id for t in p._tracks.values() if t.label == name]
        if users:
            raise ProjectError(f"label {name!r} is used by tracks {users[:10]}; relabel them first")
        self._touch_label_order()
        if name not in self._old_labels:
            self._old_labels[name] = p._labels[name]
        del p._labels[name]
        self._new_labels[name] = None

    def order_labels(self, names: Sequence[str]) -> None:
        """Put the labels in this display order (``names`` is every label, once)."""
        p = self._project
        if sorted(names) != sorted(p._labels) or len(set(names)) != len(names):
            raise ProjectError(
                f"label order {list(names)} must name each of the labels {list(p._labels)} once"
            )
        self._touch_label_order()
        _reorder(p._labels, names)

    def _touch_label_order(self) -> None:
        if self._old_label_order is None:
            self._old_label_order = tuple(self._project._labels)

    def _label_order_changed(self) -> bool:
        if self._old_label_order is None:
            return False
        new = self._new_label_order
        return self._old_label_order != (new if new is not None else tuple(self._project._labels))

    def set_quality(self, state: QualityState) -> None:
        """Replace the project's quality state (target, threshold, audit rounds)."""
        if not isinstance(state, QualityState):
            raise ProjectError(f"quality state must be a QualityState, got {type(state).__name__}")
        p = self._project
        if self._old_quality is None:
            self._old_quality = p._quality
        p._quality = state
        self._new_quality = state

    def new_track_id(self) -> int:
        return self._project._next_track_id

    def mark_stale(self, track_id: int, frame: int) -> None:
        """Record that the stretch around ``frame`` of ``track_id`` awaits a re-track: an
        edit there changed a keyframe the derived boxes were computed from. Written in the
        same file transaction as the edit, so a crash before the re-track leaves a mark
        (see :attr:`Project.stale`), never a silently outdated stretch."""
        self._touch_stale()
        self._project._stale.add((int(track_id), int(frame)))

    def clear_stale(self, track_id: int, frame: int) -> None:
        """The stretch's re-track was applied (in this transaction)."""
        if (track_id, frame) in self._project._stale:
            self._touch_stale()
            self._project._stale.discard((track_id, frame))

    def _touch_stale(self) -> None:
        if self._old_stale is None:
            self._old_stale = frozenset(self._project._stale)

    # -- replay ---------------------------------------------------------------------
    def is_empty(self) -> bool:
        return not (
            self._old_boxes
            or self._old_tracks
            or self._old_labels
            or self._old_quality is not None
            or self._stale_changed()
            or self._label_order_changed()
        )

    def _stale_changed(self) -> bool:
        if self._old_stale is None:
            return False
        new = self._new_stale if self._new_stale is not None else self._project._stale
        return set(self._old_stale) != set(new)

    def change_set(self, kind: ChangeKind = "do") -> ChangeSet:
        return ChangeSet(
            self.description,
            boxes=set(self._old_boxes),
            tracks=set(self._old_tracks),
            # a new order touches every label's place (the store rewrites them)
            labels=set(self._old_labels)
            | (set(self._project._labels) if self._label_order_changed() else set()),
            kind=kind,
            stale=self._stale_changed(),
            quality=self._old_quality is not None,
        )

    def merged_with(self, later: Transaction, description: str) -> Transaction:
        """One step doing this transaction and then ``later`` (which must have directly
        followed it): old values from the first touch, new values from the last."""
        m = Transaction(self._project, description)
        m._old_boxes = {**later._old_boxes, **self._old_boxes}
        m._old_tracks = {**later._old_tracks, **self._old_tracks}
        m._old_labels = {**later._old_labels, **self._old_labels}
        m._new_boxes = {**self._new_boxes, **later._new_boxes}
        m._new_tracks = {**self._new_tracks, **later._new_tracks}
        m._new_labels = {**self._new_labels, **later._new_labels}
        m._old_label_order = (
            self._old_label_order if self._old_label_order is not None else later._old_label_order
        )
        m._new_label_order = (
            later._new_label_order if later._old_label_order is not None else self._new_label_order
        )
        m._old_stale = self._old_stale if self._old_stale is not None else later._old_stale
        m._new_stale = later._new_stale if later._new_stale is not None else self._new_stale
        m._old_quality = self._old_quality if self._old_quality is not None else later._old_quality
        m._new_quality = later._new_quality if later._old_quality is not None else self._new_quality
        return m

    def _apply(self, use_old: bool) -> None:
        """Write the old (undo) or new (redo) values straight into the project."""
        p = self._project
        tracks = self._old_tracks if use_old else self._new_tracks
        labels = self._old_labels if use_old else self._new_labels
        boxes = self._old_boxes if use_old else self._new_boxes
        quality = self._old_quality if use_old else self._new_quality
        if quality is not None:
            p._quality = quality
        for name, lab in labels.items():
            if lab is not None:
                p._labels[name] = lab
        for tid, info in tracks.items():
            if info is not None:
                if tid not in p._tracks:
                    p._boxes[tid] = TrackBoxes()
                p._tracks[tid] = info
                p._next_track_id = max(p._next_track_id, tid + 1)
        for (tid, frame), box in boxes.items():
            if box is None:
                if tid in p._boxes:
                    p._boxes[tid].pop(frame, None)
            else:
                p._boxes[tid][frame] = box
        for tid, info in tracks.items():
            if info is None and tid in p._tracks:
                del p._tracks[tid]
                del p._boxes[tid]
        for name, lab in labels.items():
            if lab is None:
                p._labels.pop(name, None)
        order = self._old_label_order if use_old else self._new_label_order
        if order is not None:
            _reorder(p._labels, order)
        if self._old_stale is not None and self._new_stale is not None:
            # as a delta, not the whole set: marks other steps added since (an edit whose
            # re-track is still running) must survive undoing this one
            added, removed = self._new_stale - self._old_stale, self._old_stale - self._new_stale
            if use_old:
                added, removed = removed, added
            p._stale = (p._stale - removed) | added

    def _snapshot_new(self) -> None:
        """Record final values for keys touched (a later touch may have changed them)."""
        p = self._project
        for key in self._old_boxes:
            tid, frame = key
            boxes = p._boxes.get(tid)
            self._new_boxes[key] = None if boxes is None else boxes.get(frame)
        for tid in self._old_tracks:
            self._new_tracks[tid] = p._tracks.get(tid)
        for name in self._old_labels:
            self._new_labels[name] = p._labels.get(name)
        if self._old_label_order is not None:
            self._new_label_order = tuple(p._labels)
        if self._old_stale is not None:
            self._new_stale = frozenset(p._stale)
        if self._old_quality is not None:
            self._new_quality = p._quality


class History:
    """The undo/redo stack of transactions. ``limit`` bounds memory (oldest dropped first)."""

    def __init__(self, project: Project, limit: int = 500) -> None:
        self._project = project
        self._undo: list[Transaction] = []
        self._redo: list[Transaction] = []
        self.limit = limit
        self.changed: Signal[None] = Signal()

    def push(self, tx: Transaction) -> None:
        self._undo.append(tx)
        del self._undo[: max(0, len(self._undo) - self.limit)]
        self._redo.clear()
        self.changed.emit(None)

    @property
    def last(self) -> Transaction | None:
        """The step Ctrl+Z would undo (to recognise it later), or ``None``."""
        return self._undo[-1] if self._undo else None

    def merge_last_two(self, first: Transaction, description: str) -> bool:
        """Join the newest step into ``first`` when ``first`` is the step just below it,
        so one undo reverts both (a fix and the re-track it caused). Nothing in the project
        changes. Returns whether they were joined."""
        if len(self._undo) < 2 or self._undo[-2] is not first:
            return False
        later = self._undo.pop()
        self._undo[-1] = first.merged_with(later, description)
        self.changed.emit(None)
        return True

    def is_done(self, tx: Transaction) -> bool:
        """Whether ``tx`` is on the undo stack (done, not undone)."""
        return any(t is tx for t in self._undo)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return self._undo[-1].description if self._undo else ""

    def redo_text(self) -> str:
        return self._redo[-1].description if self._redo else ""

    def undo(self) -> ChangeSet | None:
        if not self._undo:
            return None
        tx = self._undo.pop()
        tx._apply(use_old=True)
        self._redo.append(tx)
        cs = tx.change_set("undo")
        self._project.changed.emit(cs)
        self.changed.emit(None)
        return cs

    def redo(self) -> ChangeSet | None:
        if not self._redo:
            return None
        tx = self._redo.pop()
        tx._apply(use_old=False)
        self._undo.append(tx)
        cs = tx.change_set("redo")
        self._project.changed.emit(cs)
        self.changed.emit(None)
        return cs

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self.changed.emit(None)


class Project:
    """Media, labels and tracks. Read through the accessors; change through :meth:`edit`."""

    def __init__(self, media: MediaRef | None = None, labels: list[Label] | None = None) -> None:
        self.media = media
        self._labels: dict[str, Label] = {}
        for lab in labels if labels is not None else [DEFAULT_LABEL]:
            self._labels[lab.name] = lab
        self._tracks: dict[int, TrackInfo] = {}
        self._boxes: dict[int, TrackBoxes] = {}
        self._next_track_id = 1
        self._stale: set[tuple[int, int]] = set()
        self._quality = QualityState()
        self._tx: Transaction | None = None
        self.changed: Signal[ChangeSet] = Signal()
        self.media_changed: Signal[MediaRef] = Signal()
        self.history = History(self)

    # -- reading ------------------------------------------------------------------------
    @property
    def labels(self) -> Mapping[str, Label]:
        return MappingProxyType(self._labels)

    @property
    def tracks(self) -> Mapping[int, TrackInfo]:
        return MappingProxyType(self._tracks)

    @property
    def quality(self) -> QualityState:
        """The quality target, flag threshold and audit rounds (change via ``edit``)."""
        return self._quality

    def track(self, track_id: int) -> TrackInfo:
        try:
            return self._tracks[track_id]
        except KeyError:
            raise ProjectError(f"no track {track_id}") from None

    def boxes(self, track_id: int) -> Mapping[int, FrameBox]:
        """The boxes of a track keyed by 0-based frame (a read-only view; iterated in frame
        order, then frames added since the last :meth:`columns`). Each read of a box makes
        its :class:`FrameBox`: whole-track questions are cheaper on :meth:`columns`."""
        try:
            return MappingProxyType(self._boxes[track_id])
        except KeyError:
            raise ProjectError(f"no track {track_id}") from None

    def columns(self, track_id: int) -> BoxColumns:
        """The boxes of a track as read-only arrays sorted by frame (no object per box)."""
        try:
            return self._boxes[track_id].columns()
        except KeyError:
            raise ProjectError(f"no track {track_id}") from None

    def box(self, track_id: int, frame: int) -> FrameBox | None:
        boxes = self._boxes.get(track_id)
        return None if boxes is None else boxes.get(frame)

    def boxes_at(self, frame: int) -> list[tuple[int, FrameBox]]:
        """Every track's box on ``frame`` as ``(track_id, box)``, in track-id order."""
        out = []
        for tid in sorted(self._boxes):
            b = self._boxes[tid].get(frame)
            if b is not None:
                out.append((tid, b))
        return out

    def keyframes(self, track_id: int) -> list[int]:
        """Sorted frames where the track has a human box (manual or verified)."""
        c = self.columns(track_id)
        out: list[int] = c.frame[c.is_keyframe].tolist()
        return out

    def extent(self, track_id: int) -> tuple[int, int] | None:
        """First and last frame with a visible (not outside) box, or ``None``."""
        c = self.columns(track_id)
        frames = c.frame[~c.outside]
        return (int(frames[0]), int(frames[-1])) if frames.size else None

    def n_boxes(self) -> int:
        return sum(len(b) for b in self._boxes.values())

    @property
    def stale(self) -> frozenset[tuple[int, int]]:
        """``(track_id, frame)`` of edits whose re-track has not been applied yet: the
        stretch around each (previous keyframe .. next keyframe) may be outdated. Saved
        with the edit itself; the app flags and re-tracks them when the project opens."""
        return frozenset(self._stale)

    @property
    def next_track_id(self) -> int:
        return self._next_track_id

    # -- changing -----------------------------------------------------------------------
    @contextmanager
    def edit(self, description: str) -> Iterator[Transaction]:
        """Open an undoable transaction; nested calls join the outermost one. An outermost
        one opened with an empty description takes the first nested one's (a caller adding
        to a command's step keeps the command's own name for it)."""
        if self._tx is not None:
            if not self._tx.description:
                self._tx.description = description
            yield self._tx
            return
        tx = Transaction(self, description)
        self._tx = tx
        try:
            yield tx
        except BaseException:
            self._tx = None
            tx._snapshot_new()
            tx._apply(use_old=True)
            raise
        self._tx = None
        if tx.is_empty():
            return
        tx._snapshot_new()
        self.history.push(tx)
        self.changed.emit(tx.change_set("do"))

    def set_media(self, media: MediaRef) -> None:
        """Relink the media (not undoable: it changes where frames come from, not labels)."""
        if self.media is not None and self.media.n_frames != media.n_frames:
            log.warning(
                "relinked media has %d frames, the project had %d",
                media.n_frames,
                self.media.n_frames,
            )
        self.media = media
        self.media_changed.emit(media)

    def copy_info(self, info: TrackInfo, **changes: object) -> TrackInfo:
        return replace(info, **changes)  # type: ignore[arg-type]


def snapshot_project(project: Project) -> Project:
    """An independent copy of labels, tracks and boxes (no history), for a worker to read
    while the annotator goes on editing the live project (quality state and stale marks
    are not copied: a run reads neither)."""
    copy = Project(project.media, list(project.labels.values()))
    with copy.edit("snapshot") as tx:
        for info in project.tracks.values():
            tx.set_track(info)
    copy.history.clear()
    for tid in project.tracks:  # the columns are immutable: shared, not copied
        copy._boxes[tid] = TrackBoxes(project.columns(tid))
    return copy

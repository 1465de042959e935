"""One track's boxes as columns: what a project holds instead of a Python object per box.

A million-box project used to be a million :class:`FrameBox` objects (and a million
:class:`BoxXYXY`), built and validated one by one when it opened: seconds of CPU and
hundreds of MB. Here a track's boxes are :class:`BoxColumns`, parallel NumPy arrays sorted
by frame and validated as a whole, and :class:`TrackBoxes` is the ``{frame: FrameBox}``
mapping the rest of the code reads and the undo machinery writes: a ``FrameBox`` is made
when one is asked for, edits sit in a small overlay, and :meth:`TrackBoxes.columns` folds
the overlay back into columns when a whole-track query (a timeline lane, the review
queue, the quality report) wants arrays.

The codes (:data:`SOURCE_CODES`, :data:`FLAGGED` ...) are in-memory conventions only; the
project file has its own, mapped when it is read.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, MutableMapping, ValuesView
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.boxes import (
    DEFAULT_FLAG_REASON,
    MAX_COORD,
    BoxSource,
    BoxXYXY,
    FrameBox,
)
from tracker_annotate.core.errors import BoxError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
U8Array = npt.NDArray[np.uint8]
I32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

#: The ``source`` column's code of each :class:`BoxSource` (index = code).
SOURCES: tuple[BoxSource, ...] = (
    BoxSource.MANUAL,
    BoxSource.TRACKED,
    BoxSource.INTERPOLATED,
    BoxSource.IMPORTED,
)
SOURCE_CODES: dict[BoxSource, int] = {s: i for i, s in enumerate(SOURCES)}
MANUAL_CODE = SOURCE_CODES[BoxSource.MANUAL]
#: Bits of the ``flags`` column.
FLAGGED, VERIFIED, OCCLUDED, OUTSIDE = 1, 2, 4, 8

_FLAG_TUPLES = tuple(
    (bool(i & FLAGGED), bool(i & VERIFIED), bool(i & OCCLUDED), bool(i & OUTSIDE))
    for i in range(16)
)


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class BoxColumns:
    """A track's boxes as parallel arrays, sorted by strictly increasing 0-based ``frame``.

    ``xyxy`` is ``(N, 4)`` float64 pixels; ``source`` holds :data:`SOURCE_CODES`;
    ``confidence`` is in [0, 1]; ``flags`` holds the :data:`FLAGGED`, :data:`VERIFIED`,
    :data:`OCCLUDED` and :data:`OUTSIDE` bits; ``reason[i]`` indexes ``reasons`` (the flag
    reason, read only where the box is flagged; ``reasons[0]`` is ``""``). Validated on
    construction (the checks :class:`FrameBox` makes, for every row at once); the arrays
    are made read-only.
    """

    frame: IntArray
    xyxy: FloatArray
    source: U8Array
    confidence: FloatArray
    flags: U8Array
    reason: I32Array
    reasons: tuple[str, ...] = ("",)

    def __post_init__(self) -> None:
        n = self.frame.shape[0]
        shapes: dict[str, tuple[npt.NDArray[Any], tuple[int, ...], type]] = {
            "frame": (self.frame, (n,), np.int64),
            "xyxy": (self.xyxy, (n, 4), np.float64),
            "source": (self.source, (n,), np.uint8),
            "confidence": (self.confidence, (n,), np.float64),
            "flags": (self.flags, (n,), np.uint8),
            "reason": (self.reason, (n,), np.int32),
        }
        for name, (a, shape, dtype) in shapes.items():
            if a.shape != shape or a.dtype != dtype:
                raise BoxError(f"column {name}: expected {shape} {dtype}, got {a.shape} {a.dtype}")
            _frozen(a)
        if not self.reasons or self.reasons[0] != "":
            raise BoxError("reasons[0] must be the empty reason")
        # a track without gaps (the usual) finds a frame's row by subtraction
        first = int(self.frame[0]) if n else 0
        contiguous = n > 0 and int(self.frame[-1]) - first == n - 1
        object.__setattr__(self, "_first", first if contiguous else None)
        if n == 0:
            return
        bad = self._bad_rows()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BoxError(f"frame {int(self.frame[i])}: {self._why(i)}")

    def _bad_rows(self) -> BoolArray:
        a, c, f = self.xyxy, self.confidence, self.frame
        order = np.zeros(f.shape[0], dtype=bool)
        order[1:] = f[1:] <= f[:-1]
        bad: BoolArray = (
            ~(np.abs(a) <= MAX_COORD).all(axis=1)
            | (a[:, 2] <= a[:, 0])
            | (a[:, 3] <= a[:, 1])
            | ~((c >= 0.0) & (c <= 1.0))
            | (self.source >= len(SOURCES))
            | (self.flags > 15)
            | (self.reason < 0)
            | (self.reason >= len(self.reasons))
            | (f < 0)
            | order
        )
        return bad

    def _why(self, i: int) -> str:
        if self.frame[i] < 0:
            return "negative frame; frames are 0-based"
        if i > 0 and self.frame[i] <= self.frame[i - 1]:
            return "frames are not strictly increasing"
        if not 0.0 <= self.confidence[i] <= 1.0:
            return f"confidence {float(self.confidence[i])} is not in [0, 1]"
        if self.source[i] >= len(SOURCES) or self.flags[i] > 15:
            return f"unknown source {int(self.source[i])} or flags {int(self.flags[i])}"
        if not 0 <= self.reason[i] < len(self.reasons):
            return f"flag reason id {int(self.reason[i])} out of range"
        return f"xyxy={self.xyxy[i].tolist()} is not a valid box"

    # -- building ------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> BoxColumns:
        return cls(
            np.zeros(0, np.int64),
            np.zeros((0, 4), np.float64),
            np.zeros(0, np.uint8),
            np.zeros(0, np.float64),
            np.zeros(0, np.uint8),
            np.zeros(0, np.int32),
        )

    @classmethod
    def from_boxes(cls, boxes: Iterable[FrameBox]) -> BoxColumns:
        """Columns of ``boxes`` (any order; frames must be distinct)."""
        items = sorted(boxes, key=lambda b: int(b.frame))
        if not items:
            return cls.empty()
        reasons: dict[str, int] = {"": 0}
        rid = [reasons.setdefault(b.flag_reason, len(reasons)) if b.flagged else 0 for b in items]
        codes = SOURCE_CODES
        return cls(
            np.array([int(b.frame) for b in items], dtype=np.int64),
            np.array([b.xyxy.as_tuple() for b in items], dtype=np.float64).reshape(-1, 4),
            np.array([codes[b.source] for b in items], dtype=np.uint8),
            np.array([float(b.confidence) for b in items], dtype=np.float64),
            np.array(
                [
                    (FLAGGED if b.flagged else 0)
                    | (VERIFIED if b.verified else 0)
                    | (OCCLUDED if b.occluded else 0)
                    | (OUTSIDE if b.outside else 0)
                    for b in items
                ],
                dtype=np.uint8,
            ),
            np.array(rid, dtype=np.int32),
            tuple(reasons),
        )

    def take(self, index: IntArray) -> BoxColumns:
        """The rows at ``index`` (sorted positions), sharing the reason table."""
        return BoxColumns(
            self.frame[index],
            self.xyxy[index],
            self.source[index],
            self.confidence[index],
            self.flags[index],
            self.reason[index],
            self.reasons,
        )

    @staticmethod
    def concat(parts: list[BoxColumns]) -> BoxColumns:
        """Rows of every part, sorted by frame (frames must be distinct across parts)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return BoxColumns.empty()
        if len(parts) == 1:
            return parts[0]
        table: dict[str, int] = {"": 0}
        remapped = []
        for p in parts:
            lut = np.array([table.setdefault(r, len(table)) for r in p.reasons], dtype=np.int32)
            remapped.append(lut[p.reason])
        frame = np.concatenate([p.frame for p in parts])
        order = np.argsort(frame, kind="stable")
        return BoxColumns(
            frame[order],
            np.concatenate([p.xyxy for p in parts])[order],
            np.concatenate([p.source for p in parts])[order],
            np.concatenate([p.confidence for p in parts])[order],
            np.concatenate([p.flags for p in parts])[order],
            np.concatenate(remapped)[order],
            tuple(table),
        )

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def index(self, frame: int) -> int:
        """Row of ``frame``, or -1."""
        if not isinstance(frame, (int, np.integer)):
            return -1  # like a dict asked for a key it cannot hold
        f = self.frame
        n = f.shape[0]
        first: int | None = self._first  # type: ignore[attr-defined]
        if first is not None:  # strictly increasing and without gaps
            i = int(frame) - first
            return i if 0 <= i < n else -1
        i = int(np.searchsorted(f, frame))
        return i if i < n and f[i] == frame else -1

    def box(self, i: int) -> FrameBox:
        """Row ``i`` as a :class:`FrameBox`."""
        x1, y1, x2, y2 = self.xyxy[i].tolist()
        flagged, verified, occluded, outside = _FLAG_TUPLES[int(self.flags[i])]
        return FrameBox(
            int(self.frame[i]),
            BoxXYXY(x1, y1, x2, y2),
            SOURCES[int(self.source[i])],
            float(self.confidence[i]),
            flagged,
            self.reasons[int(self.reason[i])] if flagged else "",
            verified,
            occluded,
            outside,
        )

    def iter_boxes(self) -> Iterator[FrameBox]:
        """Every row as a :class:`FrameBox`, in frame order (cheaper than :meth:`box` each)."""
        flag_tuples, sources, reasons = _FLAG_TUPLES, SOURCES, self.reasons
        for f, (x1, y1, x2, y2), s, c, fl, r in zip(
            self.frame.tolist(),
            self.xyxy.tolist(),
            self.source.tolist(),
            self.confidence.tolist(),
            self.flags.tolist(),
            self.reason.tolist(),
            strict=True,
        ):
            flagged, verified, occluded, outside = flag_tuples[fl]
            yield FrameBox(
                f,
                BoxXYXY(x1, y1, x2, y2),
                sources[s],
                c,
                flagged,
                reasons[r] if flagged else "",
                verified,
                occluded,
                outside,
            )

    def bit(self, mask: int) -> BoolArray:
        out: BoolArray = (self.flags & mask) != 0
        return out

    @property
    def flagged(self) -> BoolArray:
        return self.bit(FLAGGED)

    @property
    def verified(self) -> BoolArray:
        return self.bit(VERIFIED)

    @property
    def outside(self) -> BoolArray:
        return self.bit(OUTSIDE)

    @property
    def is_keyframe(self) -> BoolArray:
        """A human's box (manual or verified): :attr:`FrameBox.is_keyframe` per row."""
        out: BoolArray = (self.source == MANUAL_CODE) | self.verified
        return out

    def reason_of(self, i: int) -> str:
        """Row ``i``'s :attr:`FrameBox.flag_reason`."""
        if not self.flags[i] & FLAGGED:
            return ""
        return self.reasons[int(self.reason[i])] or DEFAULT_FLAG_REASON


_MISSING: Any = object()


class TrackBoxes(MutableMapping[int, FrameBox]):
    """A track's ``{frame: FrameBox}``: :class:`BoxColumns` plus an overlay of edits.

    Reading a frame makes its ``FrameBox`` (equal, not identical, to the one stored);
    writing puts the box in the overlay (``None`` there hides a column row: deleted).
    Iteration yields the columns' frames in order, then frames added since.
    """

    __slots__ = ("_base", "_n", "_over")

    def __init__(self, base: BoxColumns | None = None) -> None:
        self._base = base if base is not None else BoxColumns.empty()
        self._over: dict[int, FrameBox | None] = {}
        self._n = len(self._base)

    def columns(self) -> BoxColumns:
        """Every box as columns, sorted by frame. Folds the overlay in (once per edit)."""
        if self._over:
            base = self._base
            over = self._over
            keep = np.ones(len(base), dtype=bool)
            for f in over:
                i = base.index(f)
                if i >= 0:
                    keep[i] = False
            added = BoxColumns.from_boxes(b for b in over.values() if b is not None)
            self._base = BoxColumns.concat([base.take(np.flatnonzero(keep)), added])
            self._over = {}
        return self._base

    def __getitem__(self, frame: int) -> FrameBox:
        b = self._over.get(frame, _MISSING)
        if b is _MISSING:
            i = self._base.index(frame)
            if i < 0:
                raise KeyError(frame)
            return self._base.box(i)
        if b is None:
            raise KeyError(frame)
        return b

    def get(self, frame: int, default: Any = None) -> Any:
        b = self._over.get(frame, _MISSING)
        if b is _MISSING:
            i = self._base.index(frame)
            return self._base.box(i) if i >= 0 else default
        return default if b is None else b

    def __contains__(self, frame: object) -> bool:
        b = self._over.get(frame, _MISSING)  # type: ignore[call-overload]
        if b is _MISSING:
            return isinstance(frame, (int, np.integer)) and self._base.index(int(frame)) >= 0
        return b is not None

    def __setitem__(self, frame: int, box: FrameBox) -> None:
        if frame not in self:
            self._n += 1
        self._over[frame] = box

    def __delitem__(self, frame: int) -> None:
        if frame not in self:
            raise KeyError(frame)
        if self._base.index(frame) >= 0:
            self._over[frame] = None
        else:
            del self._over[frame]
        self._n -= 1

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[int]:
        over = self._over
        if not over:
            yield from self._base.frame.tolist()
            return
        for f in self._base.frame.tolist():
            if over.get(f, _MISSING) is not None:
                yield f
        base = self._base
        for f, b in list(over.items()):
            if b is not None and base.index(f) < 0:
                yield f

    def values(self) -> ValuesView[FrameBox]:
        return _Values(self)

    def items(self) -> ItemsView[int, FrameBox]:
        return _Items(self)

    def __repr__(self) -> str:
        return f"TrackBoxes({self._n} boxes, {len(self._over)} edited)"


class _Values(ValuesView[FrameBox]):
    """Iterates the columns in one pass when nothing is edited (the usual whole-track read)."""

    _mapping: TrackBoxes

    def __iter__(self) -> Iterator[FrameBox]:
        tb = self._mapping
        if tb._over:
            yield from (tb[f] for f in tb)
        else:
            yield from tb._base.iter_boxes()


class _Items(ItemsView[int, FrameBox]):
    _mapping: TrackBoxes

    def __iter__(self) -> Iterator[tuple[int, FrameBox]]:
        tb = self._mapping
        if tb._over:
            yield from ((f, tb[f]) for f in tb)
        else:
            for b in tb._base.iter_boxes():
                yield b.frame, b

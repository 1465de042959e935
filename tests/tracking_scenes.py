"""Rendered test scenes: textured rectangles moving over a textured background.

A :class:`ArraySource` meets the FrameSource protocol over frames rendered on demand, so
tests know the exact ground truth of every object on every frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from tracker_annotate.core.errors import MediaError


def texture(rng: np.random.Generator, h: int, w: int, cell: int = 6) -> np.ndarray:
    small = rng.integers(0, 256, size=(max(2, h // cell), max(2, w // cell), 3), dtype=np.uint8)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(big, (3, 3), 0)


@dataclass
class MovingObject:
    """An object whose xyxy box on frame f is ``start + f * velocity`` (scaled by ``zoom``)."""

    xyxy0: tuple[float, float, float, float]
    velocity: tuple[float, float]
    zoom: float = 0.0  # relative size change per frame
    seed: int = 0
    visible: tuple[int, int] = (0, 10**9)
    #: ``(start, end)``: the object fades linearly into the background between these frames
    #: (gone from ``end`` on), the way a tracker slowly slides off an object onto clutter.
    fade: tuple[int, int] | None = None

    def alpha(self, f: int) -> float:
        if self.fade is None or f <= self.fade[0]:
            return 1.0
        a, b = self.fade
        return max(0.0, 1.0 - (f - a) / (b - a))

    def xyxy(self, f: int) -> np.ndarray:
        x1, y1, x2, y2 = self.xyxy0
        cx = (x1 + x2) / 2 + self.velocity[0] * f
        cy = (y1 + y2) / 2 + self.velocity[1] * f
        s = 1.0 + self.zoom * f
        w, h = (x2 - x1) * s, (y2 - y1) * s
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass
class ArraySource:
    """FrameSource over a rendered scene (objects painted in list order: later on top)."""

    objects: list[MovingObject]
    n: int = 60
    w: int = 320
    h: int = 240
    seed: int = 1
    bad_frames: set[int] = field(default_factory=set)
    path: str = "<rendered>"

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._bg = texture(rng, self.h, self.w, cell=12) // 2 + 40
        self._tex = [
            texture(np.random.default_rng(o.seed + 100), 400, 400, 5) for o in self.objects
        ]

    @property
    def n_frames(self) -> int:
        return self.n

    @property
    def width(self) -> int:
        return self.w

    @property
    def height(self) -> int:
        return self.h

    @property
    def fps(self) -> float:
        return 25.0

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.n:
            raise MediaError("out of range", path=self.path, frame=index)
        if index in self.bad_frames:
            raise MediaError("cannot decode", path=self.path, frame=index)
        img = self._bg.copy()
        for o, tex in zip(self.objects, self._tex, strict=True):
            if not o.visible[0] <= index <= o.visible[1]:
                continue
            x1, y1, x2, y2 = o.xyxy(index)
            bw, bh = round(x2 - x1), round(y2 - y1)
            patch = cv2.resize(tex[:200, :200], (bw, bh))
            xi, yi = round(x1), round(y1)
            sx0, sy0 = max(0, -xi), max(0, -yi)
            dx0, dy0 = max(0, xi), max(0, yi)
            dx1, dy1 = min(self.w, xi + bw), min(self.h, yi + bh)
            if dx1 > dx0 and dy1 > dy0:
                piece = patch[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
                a = o.alpha(index)
                if a < 1.0:
                    under = img[dy0:dy1, dx0:dx1].astype(np.float32)
                    piece = (a * piece + (1.0 - a) * under).astype(np.uint8)
                img[dy0:dy1, dx0:dx1] = piece
        return img

    def reopen(self) -> ArraySource:
        return self

    def close(self) -> None:
        return None

    def truth(self, obj: int, f: int) -> np.ndarray:
        return self.objects[obj].xyxy(f)


class ScriptedMember:
    """A committee member that answers from a scene's ground truth (object ``obj`` up to
    frame ``jump``, object ``to`` after it: a jump to a look-alike), for engine tests.

    It counts frames from its first ``init`` (a forward pass from frame 0); a re-start puts
    it back on the object it was started on.
    """

    def __init__(self, name: str, src: ArraySource, obj: int, jump: int = 10**9, to: int = 0):
        self.name, self.src, self.obj, self.jump, self.to = name, src, obj, jump, to
        self.frame = -1
        self.restarted = False

    def init(self, bgr: np.ndarray, xyxy: np.ndarray) -> None:
        if self.frame >= 0:
            self.restarted = True
        else:
            self.frame = 0

    def update(self, bgr: np.ndarray):  # type: ignore[no-untyped-def]
        from tracker_annotate.tracking.siamese import MemberResult, ResponseStats

        self.frame += 1
        obj = self.to if self.frame >= self.jump and not self.restarted else self.obj
        stats = ResponseStats(peak=0.95, psr=10.0, second=0.1, second_ratio=0.1, entropy=0.2)
        return MemberResult(self.src.truth(obj, self.frame), stats)

    def embed(self, bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        v = np.array([1.0, 0.0], dtype=np.float32)
        return v


#: The scene of :func:`scripted_committee` (set by the test that registers it).
SCRIPTED: dict[str, object] = {}


def scripted_committee(params=None):  # type: ignore[no-untyped-def]
    """A committee of two members on object 0 and one that jumps to object 1 at frame
    ``SCRIPTED["jump"]`` (a registry factory for engine tests; ``params``: the run's
    ``TrackerConfig.committee``)."""
    from tracker_annotate.tracking.committee import CommitteeMeasurer

    src = SCRIPTED["src"]
    jump = int(SCRIPTED["jump"])  # type: ignore[call-overload]
    members = [
        ScriptedMember("a", src, 0),  # type: ignore[arg-type]
        ScriptedMember("b", src, 0),  # type: ignore[arg-type]
        ScriptedMember("c", src, 0, jump=jump, to=1),  # type: ignore[arg-type]
    ]
    SCRIPTED["members"] = members
    return CommitteeMeasurer.of(members, params)  # type: ignore[arg-type]

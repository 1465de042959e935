"""A bounded LRU cache of decoded frames, budgeted in bytes, with statistics.

The media sources (:mod:`tracker_annotate.io.media`) keep recently decoded frames here, so
stepping back one frame in a 1080p video is a dictionary look-up instead of a re-decode from
the last keyframe. The budget is a hard ceiling: a frame that would not fit even in an empty
cache is not stored at all, and the cache never holds more than ``budget_bytes``.

Cached frames are made read-only (``flags.writeable = False``) before they are handed out,
so a caller that draws on a frame cannot silently corrupt what the next reader sees; copy
the array first (``frame.copy()``) to draw on it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from tracker_annotate.core.errors import ConfigError
from tracker_annotate.core.frames import Frame

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters (all counts since creation or :meth:`reset_stats`).

    ``hits``/``misses`` count :meth:`FrameCache.get` calls; ``decoded`` counts frames the
    source decoded (including frames decoded only to reach a seek target, which are not
    stored; the frames OpenCV decodes inside a seek, from the keyframe on, are invisible
    here); ``bytes`` is what is held now and ``peak_bytes`` the most ever held, both
    never above ``budget_bytes``.
    """

    hits: int
    misses: int
    decoded: int
    stored: int
    evictions: int
    frames: int
    bytes: int
    peak_bytes: int
    budget_bytes: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class FrameCache:
    """LRU map ``frame index -> decoded frame`` holding at most ``budget_bytes`` of pixels.

    Thread-safe (one lock), so a read-ahead worker and the reader may share it.
    """

    def __init__(self, budget_bytes: int) -> None:
        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, int):
            raise ConfigError(f"cache budget_bytes must be an int, got {budget_bytes!r}")
        if budget_bytes < 0:
            raise ConfigError(f"cache budget_bytes must be >= 0, got {budget_bytes}")
        self.budget_bytes = budget_bytes
        self._frames: OrderedDict[int, Frame] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._hits = self._misses = self._decoded = self._stored = self._evictions = 0
        self._peak = 0

    def __len__(self) -> int:
        return len(self._frames)

    def __contains__(self, index: object) -> bool:
        return index in self._frames

    @property
    def nbytes(self) -> int:
        return self._bytes

    def indices(self) -> list[int]:
        """Cached frame indices, least recently used first."""
        with self._lock:
            return list(self._frames)

    def get(self, index: int) -> Frame | None:
        """The cached frame (marked most recently used), or ``None``; counts a hit or miss."""
        with self._lock:
            frame = self._frames.get(index)
            if frame is None:
                self._misses += 1
                return None
            self._frames.move_to_end(index)
            self._hits += 1
            return frame

    def peek(self, index: int) -> Frame | None:
        """Like :meth:`get` without touching the LRU order or the counters."""
        with self._lock:
            return self._frames.get(index)

    def put(self, index: int, frame: Frame) -> Frame:
        """Store ``frame`` (made read-only) and evict least recently used frames to fit.

        Returns the read-only array. A frame bigger than the whole budget is returned
        without being stored.
        """
        frame.flags.writeable = False
        size = int(frame.nbytes)
        with self._lock:
            old = self._frames.pop(index, None)
            if old is not None:
                self._bytes -= int(old.nbytes)
            if size > self.budget_bytes:
                return frame
            while self._frames and self._bytes + size > self.budget_bytes:
                _, evicted = self._frames.popitem(last=False)
                self._bytes -= int(evicted.nbytes)
                self._evictions += 1
            self._frames[index] = frame
            self._bytes += size
            self._stored += 1
            self._peak = max(self._peak, self._bytes)
        return frame

    def count_decoded(self, n: int = 1) -> None:
        """Record that the source decoded ``n`` frames (stored or not)."""
        with self._lock:
            self._decoded += n

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bytes = 0

    def reset_stats(self) -> None:
        with self._lock:
            self._hits = self._misses = self._decoded = self._stored = self._evictions = 0
            self._peak = self._bytes

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                decoded=self._decoded,
                stored=self._stored,
                evictions=self._evictions,
                frames=len(self._frames),
                bytes=self._bytes,
                peak_bytes=self._peak,
                budget_bytes=self.budget_bytes,
            )

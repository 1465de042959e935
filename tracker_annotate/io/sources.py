"""What every frame source shares: the configuration, the cache, index checks and the
sequential read-ahead worker. The concrete sources are :mod:`tracker_annotate.io.video` and
:mod:`tracker_annotate.io.images`; open them through :func:`tracker_annotate.io.media.open_media`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.core.frames import Frame
from tracker_annotate.io.frame_cache import MIB, CacheStats, FrameCache

log = logging.getLogger(__name__)

VIDEO_EXTS = frozenset({".avi", ".mp4", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv"})
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
DEFAULT_FPS = 30.0
EXPECTED = (
    "expected a video file ("
    + " ".join(sorted(VIDEO_EXTS))
    + "), a folder of images ("
    + " ".join(sorted(IMAGE_EXTS))
    + ") or a MOTChallenge folder (img1/ + seqinfo.ini)"
)


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """How a source trades memory and decode work for latency.

    Attributes:
        cache_bytes: budget of the decoded-frame cache per open handle. Raising it keeps
            more frames for instant back-and-forth scrubbing but costs RAM (one 1080p frame
            is ~6 MiB, so 512 MiB is ~85 frames); 0 disables caching.
        back_chunk: frames decoded and kept, ending at the target, when a step backward
            misses the cache. Raising it makes later back-steps hits but lengthens the one
            slow step (and evicts more of the cache).
        forward_skip: a forward jump of up to this many frames is always decoded through
            instead of seeking; longer jumps too when the demuxer's keyframe index shows
            the seek would restart decoding before the current position. One OpenCV seek
            costs about 16 frames of decoding plus the distance from a keyframe, hence the
            default; raising it decodes more frames on medium jumps, lowering it seeks more.
        checkpoint_every: spacing of the verified seek points recorded by the length scan
            (keyframes are added to them). Lower means less decoding after each seek
            (about half this on average) but a slower scan: each checkpoint costs one
            colour conversion + hash during the scan (at 8, ~+15% scan time at 1080p).
        readahead: frames a background thread decodes ahead of a reader that steps
            forward (playback, tracking) or backward (for a video, the next chunk back),
            overlapping decode with the reader's own work or pauses.
            Raising it absorbs more jitter but spends cache and CPU on frames that may not
            be read; 0 disables the thread (every read decodes in the caller).
        fps: frame rate for image folders without ``seqinfo.ini`` (videos use their header).
    """

    cache_bytes: int = 512 * MIB
    back_chunk: int = 24
    forward_skip: int = 24
    checkpoint_every: int = 8
    readahead: int = 6
    fps: float = DEFAULT_FPS

    def __post_init__(self) -> None:
        for name, low in (
            ("cache_bytes", 0),
            ("back_chunk", 1),
            ("forward_skip", 0),
            ("checkpoint_every", 1),
            ("readahead", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"MediaConfig.{name} must be an int >= {low}, got {value!r}")
        if not (isinstance(self.fps, int | float) and math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"MediaConfig.fps must be a finite number > 0, got {self.fps!r}")


class MediaSource:
    """Shared behaviour of every source: index checks, the cache and the statistics."""

    kind: ClassVar[str] = "media"

    def __init__(self, path: str, config: MediaConfig) -> None:
        self.path = path
        self.config = config
        self._cache = FrameCache(config.cache_bytes)
        self._lock = threading.RLock()
        self._closed = False
        self._last_read = -1
        self._readers = 0
        self._readahead = ReadAhead(self)
        # Geometry: subclasses set these once they have decoded the first frame.
        self._width = self._height = 0
        self._fps = 0.0
        self._claimed: int | None = None

    # -- the FrameSource protocol (subclasses supply n_frames) -------------------------
    @property
    def n_frames(self) -> int:
        raise NotImplementedError

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def claimed_frames(self) -> int | None:
        """The length a header or ``seqinfo.ini`` claims (``None`` when nothing claims one)."""
        return self._claimed

    @property
    def length_known(self) -> bool:
        """Whether ``n_frames`` is already known (``False``: asking runs the length scan)."""
        return True

    def ready(self, index: int) -> bool:
        """Whether :meth:`read` of ``index`` can answer without the length scan (always,
        except for a video not yet indexed: a cached frame, or one a short decode ahead)."""
        return True

    def count_frames(self, cancel: Callable[[], bool] | None = None) -> int:
        """``n_frames``, running the length scan if it has not run (for a worker thread).

        ``cancel`` is polled during the scan; when it returns true the scan stops with a
        :class:`MediaError` and nothing is cached.
        """
        return self.n_frames

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def read(self, index: int) -> Frame:
        """Frame ``index`` (0-based) as a read-only H x W x 3 BGR uint8 array.

        Raises :class:`MediaError` naming the path and frame when the index is outside
        ``0..n_frames-1`` or the frame cannot be decoded.
        """
        i = self._check_index(index)
        if self._closed:
            raise MediaError("read after close()", path=self.path, frame=i)
        previous, self._last_read = self._last_read, i
        # A hit never waits for the decoder lock, which the read-ahead worker may hold.
        frame = self._cache.get(i)
        if frame is None:
            self._readers += 1  # tells the read-ahead worker to step aside
            try:
                with self._lock:
                    if self._closed:
                        raise MediaError("read after close()", path=self.path, frame=i)
                    frame = self._cache.peek(i)  # the worker may have just decoded it
                    if frame is None:
                        frame = self._read_miss(i, previous)
            finally:
                self._readers -= 1
        if self.config.readahead and abs(previous - i) == 1:  # stepping: read on ahead
            self._readahead.want(i + (i - previous) * self._readahead_span(i - previous))
        return frame

    def __repr__(self) -> str:
        n = self._known_length() if self.length_known else None
        length = f"{n} frames" if n is not None else "length not scanned yet"
        return f"<{type(self).__name__} {self.kind} {self.path!r}: {length}>"

    def reopen(self, config: MediaConfig | None = None) -> MediaSource:
        """An independent handle on the same media (for another thread).

        ``config`` overrides this handle's: a tracking worker that reads forward once
        needs a small cache (e.g. ``MediaConfig(cache_bytes=64 * MIB)``), not the viewer's.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release the decoder and the cache, and stop the read-ahead worker."""
        self._readahead.stop()
        with self._lock:
            self._closed = True
            self._cache.clear()

    def __enter__(self) -> MediaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cache_stats(self) -> CacheStats:
        return self._cache.stats()

    @property
    def cache(self) -> FrameCache:
        return self._cache

    def describe(self) -> dict[str, Any]:
        """What ``tracker-annotate info`` shows, as plain JSON-able values."""
        return {
            "path": self.path,
            "kind": self.kind,
            "frames": self.n_frames,
            "claimed_frames": self.claimed_frames,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "duration_s": self.duration_s,
        }

    # -- for subclasses ----------------------------------------------------------------
    def _prefetch_one(self, target: int) -> bool:
        """Decode one frame (or chunk) between the last read and ``target`` into the cache.

        Called by the read-ahead worker; returns ``False`` when there is nothing (more)
        to do. Must never raise: a frame that fails is left for the reader to report.
        """
        return False

    def _readahead_span(self, direction: int) -> int:
        """How far ahead of a reader stepping in ``direction`` (+1/-1) to have frames ready."""
        return self.config.readahead

    def _room_for_readahead(self, frame_bytes: int) -> bool:
        # Prefetching into a cache too small to keep the frames until they are read would
        # only evict what the reader may step back to.
        return frame_bytes * (self.config.readahead + 2) <= self._cache.budget_bytes

    def _read_miss(self, index: int, previous: int) -> Frame:
        """Decode ``index`` (not in the cache); ``previous`` is the index read before it."""
        raise NotImplementedError

    def _known_length(self) -> int | None:
        return self.n_frames

    def _check_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise MediaError(f"frame index must be an integer, got {index!r}", path=self.path)
        i = int(index)
        n = self._known_length()
        if i < 0 or (n is not None and i >= n):
            frames = "decodable frames" if self.kind == "video" else "frames"
            claim = self.claimed_frames
            if n is not None and claim is not None and claim != n:
                frames += f", {'header' if self.kind == 'video' else 'seqinfo.ini'} claims {claim}"
            expected = "a 0-based index >= 0" if n is None else f"0..{n - 1} ({n} {frames})"
            raise MediaError(
                f"frame index out of range: expected {expected}", path=self.path, frame=i
            )
        return i

    def _checked_frame(self, frame: Any, index: int) -> Frame:
        if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0:
            raise MediaError("decoder returned no image", path=self.path, frame=index)
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        elif frame.shape[2] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
        if frame.dtype != np.uint8:
            raise MediaError(
                f"expected 8-bit pixels, got {frame.dtype}", path=self.path, frame=index
            )
        return np.ascontiguousarray(frame)


class ReadAhead:
    """A daemon thread that keeps the cache filled a few frames ahead of a forward reader.

    It holds only a weak reference to its source (a dropped source is collected and the
    thread ends), exits after a couple of idle seconds, and is restarted on demand.
    """

    IDLE_EXIT_S = 2.0

    def __init__(self, source: MediaSource) -> None:
        self._source = weakref.ref(source)
        self._cond = threading.Condition()
        self._target: int | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.stopped_cleanly = True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def want(self, target: int) -> None:
        """Ask for the frames from the last read up to ``target`` (either side) to be ready."""
        with self._cond:
            if self._stopped:
                return
            self._target = target
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tracker-annotate-readahead", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        """Stop the worker and wait for it (it finishes at most one frame)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
            self.stopped_cleanly = not thread.is_alive()
            if not self.stopped_cleanly:
                log.warning("read-ahead worker did not stop within 5 s")

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._target is None and not self._stopped:
                    self._cond.wait(timeout=self.IDLE_EXIT_S)
                if self._stopped or self._target is None:
                    self._thread = None
                    return
                target = self._target
            source = self._source()
            if source is None:
                return
            if source._readers:
                del source
                time.sleep(0.0005)  # a reader is waiting for the decoder: let it go first
                continue
            try:
                more = source._prefetch_one(target)
            except Exception:  # never let a background failure escape; the reader reports
                log.debug("read-ahead stopped on %s", source.path, exc_info=True)
                more = False
            del source
            if not more:
                with self._cond:
                    if self._target == target:
                        self._target = None

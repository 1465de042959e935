"""Video files decoded by OpenCV's FFmpeg backend, frame-exact under any access order.

OpenCV's ``CAP_PROP_POS_FRAMES`` seek is trusted only after verification. A sequential scan
(``grab()`` only, once per file and shared by every handle in the process) counts the frames
that really decode and records a signature of every ``checkpoint_every``-th frame. A seek
goes to such a checkpoint, checks the decoded frame against its signature, and decodes
forward from there; when the check fails it tries earlier checkpoints, then decodes from
the start. The scan also corrects a header that overstates the length: ``n_frames`` is the
decodable count and ``claimed_frames`` what the header said.

Time to first frame is one decode: frame 0 is decoded on open and the scan runs only when
the length is asked for or a seek needs checkpoints.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from tracker_annotate.core.errors import MediaError
from tracker_annotate.core.frames import Frame
from tracker_annotate.io import scan_cache
from tracker_annotate.io.sources import DEFAULT_FPS, EXPECTED, MediaConfig, MediaSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Scan:
    n_frames: int
    checkpoints: dict[int, bytes]  # frame index -> signature of the decoded frame
    order: tuple[int, ...]  # the checkpoint indices, sorted
    keyframes: tuple[int, ...] | None  # from the demuxer's flags; None when unknown

    def checkpoint_at_or_before(self, index: int, back: int = 0) -> int:
        """The checkpoint ``back`` places before the last one <= ``index`` (0 if none)."""
        k = bisect.bisect_right(self.order, index) - 1 - back
        return self.order[k] if k >= 0 else 0

    def keyframe_at_or_before(self, index: int) -> int:
        """The last keyframe <= ``index`` (every frame counts as one without an index)."""
        if self.keyframes is None:
            return index
        k = bisect.bisect_right(self.keyframes, index) - 1
        return self.keyframes[k] if k >= 0 else 0


_ScanKey = tuple[str, int, int, int]
_SCANS: dict[_ScanKey, _Scan] = {}
_SCAN_LOCKS: dict[_ScanKey, threading.Lock] = {}  # one scan per file at a time
_SCANS_LOCK = threading.Lock()


def _stored_scan(key: _ScanKey) -> _Scan | None:
    """The scan an earlier process stored for this very file (:mod:`.scan_cache`)."""
    got = scan_cache.load(key)
    if got is None:
        return None
    n, checkpoints, keyframes = got
    return _Scan(n, checkpoints, tuple(sorted(checkpoints)), keyframes)


def _signature(frame: Frame) -> bytes:
    # A sparse but exact sample: neighbouring frames of a static shot still differ in noise,
    # and decoding is deterministic, so equality is the right test.
    sample = np.ascontiguousarray(frame[::4, ::4])
    return hashlib.blake2b(sample.tobytes(), digest_size=16).digest()


class VideoSource(MediaSource):
    """A video file decoded by OpenCV's FFmpeg backend, with verified seeking."""

    kind = "video"
    SEEK_FAILURES_BEFORE_GIVING_UP = 6
    OPENCV_SEEK_BACKOFF = 16  # cap_ffmpeg's seek starts this many frames before its target
    JUMP_KEEP = 2  # frames kept (ending at the target) after a jump: each is a full retrieve

    def __init__(self, path: str, config: MediaConfig | None = None) -> None:
        super().__init__(path, config or MediaConfig())
        self._cap = self._open_capture()
        header = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self._claimed = int(header) if header and header > 0 and math.isfinite(header) else None
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        if not (fps and math.isfinite(fps) and 0 < fps <= 1000):
            log.warning("%s: header frame rate %r is unusable, assuming %s", path, fps, DEFAULT_FPS)
            fps = DEFAULT_FPS
        self._fps = float(fps)
        fourcc = int(self._cap.get(cv2.CAP_PROP_FOURCC))
        self.codec = "".join(chr((fourcc >> (8 * k)) & 0xFF) for k in range(4)).strip("\0 ")
        self._pos = 0  # index of the frame the next grab() returns
        self._seeks = 0
        self._seek_fallbacks = 0
        self._scan_result: _Scan | None = None
        self._stored_checked = False  # the disk's copy of the scan looked for (once)
        self._verified: tuple[int, Frame] | None = None  # checkpoint frame a seek decoded
        self._failures_in_row = 0
        self._seek_disabled = False  # set when verified seeks keep failing for this file
        # Decode frame 0 now: it proves the file decodes, gives the true size and makes the
        # first read a cache hit (time to first frame is one decode, no scan).
        try:
            first = self._decode_forward(0, 0)
        except MediaError:
            self._cap.release()
            raise MediaError(
                "opens but no frame decodes (corrupt, truncated or unsupported codec)", path=path
            ) from None
        self._height, self._width = int(first.shape[0]), int(first.shape[1])

    def _open_capture(self) -> Any:
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise MediaError(
                "OpenCV cannot open this file as a video (corrupt, truncated or unsupported "
                f"format); {EXPECTED}",
                path=self.path,
            )
        return cap

    @property
    def n_frames(self) -> int:
        return self._scan().n_frames

    @property
    def seek_count(self) -> int:
        """Seeks made so far, and how many needed a fallback (verification failed)."""
        return self._seeks

    @property
    def seek_fallbacks(self) -> int:
        return self._seek_fallbacks

    def reopen(self, config: MediaConfig | None = None) -> VideoSource:
        return VideoSource(self.path, config or self.config)

    def close(self) -> None:
        super().close()  # stops the read-ahead worker before taking the lock it may need
        with self._lock:
            self._cap.release()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["codec"] = self.codec
        keys = self._scan().keyframes
        info["keyframes"] = len(keys) if keys is not None else None
        return info

    def _known_length(self) -> int | None:
        return self._scan_result.n_frames if self._scan_result is not None else None

    def ready(self, index: int) -> bool:
        if self.length_known or self._cache.peek(index) is not None:
            return True
        return 0 <= index - self._pos <= self.config.forward_skip

    # -- the length scan ---------------------------------------------------------------
    def count_frames(self, cancel: Callable[[], bool] | None = None) -> int:
        return self._scan(cancel).n_frames

    def _scan(self, cancel: Callable[[], bool] | None = None) -> _Scan:
        if self._scan_result is not None:
            return self._scan_result
        key = self._scan_key()
        with _SCANS_LOCK:
            file_lock = _SCAN_LOCKS.setdefault(key, threading.Lock())
        # A second handle asking while another scans (the GUI counts in a worker while the
        # view seeks) waits for that scan instead of decoding the whole file again.
        with file_lock:
            with _SCANS_LOCK:
                scan = _SCANS.get(key)
            if scan is None:
                scan = _stored_scan(key)
            if scan is None:
                scan = self._run_scan(cancel)
                scan_cache.save(key, scan.n_frames, scan.checkpoints, scan.keyframes)
            with _SCANS_LOCK:
                _SCANS[key] = scan
        self._scan_result = scan
        return scan

    def _scan_key(self) -> _ScanKey:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise MediaError(f"cannot stat the video: {exc}", path=self.path) from exc
        return (
            os.path.abspath(self.path),
            st.st_size,
            st.st_mtime_ns,
            self.config.checkpoint_every,
        )

    @property
    def length_known(self) -> bool:
        if self._scan_result is None:
            key = self._scan_key()
            with _SCANS_LOCK:
                self._scan_result = _SCANS.get(key)
            # asked on every read while the index is built: look on disk only the first time
            if self._scan_result is None and not self._stored_checked:
                self._stored_checked = True
                if (stored := _stored_scan(key)) is not None:
                    with _SCANS_LOCK:
                        self._scan_result = _SCANS.setdefault(key, stored)
        return self._scan_result is not None

    def _run_scan(self, cancel: Callable[[], bool] | None = None) -> _Scan:
        every = self.config.checkpoint_every
        keyframes = self._demux_keyframes()
        # Checkpoints on keyframes put a seek target right where a GOP starts; only when
        # keyframes are sparser than the grid (intra-only streams would hash every frame).
        at_keys = set(keyframes or ())
        if len(at_keys) * every > (keyframes or [0])[-1] + every:
            at_keys = set()
        cap = self._open_capture()
        checkpoints: dict[int, bytes] = {}
        n = 0
        try:
            while cap.grab():
                if cancel is not None and n % 64 == 0 and cancel():
                    raise MediaError(f"length scan cancelled after {n} frames", path=self.path)
                if n % every == 0 or n in at_keys:
                    ok, frame = cap.retrieve()
                    if not ok or frame is None:
                        break
                    checkpoints[n] = _signature(self._checked_frame(frame, n))
                n += 1
        finally:
            cap.release()
        if self._claimed is not None and self._claimed != n:
            # info, not a warning: it is corrected and reported where it matters
            # (``claimed_frames``; ``info`` shows both), a log line on every open is noise
            log.info(
                "%s: header claims %d frames, %d decode; using %d", self.path, self._claimed, n, n
            )
        keys = tuple(k for k in keyframes if k < n) if keyframes else None
        return _Scan(n, checkpoints, tuple(sorted(checkpoints)), keys or None)

    def _demux_keyframes(self) -> list[int] | None:
        """Keyframe positions from the demuxer's packet flags, without decoding (fast).

        Packets come in decode order, so with B-frames a position can be off by a frame
        or two: it steers cost decisions only, never which frame is returned.
        """
        try:
            cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])
        except cv2.error:
            return None
        keys: list[int] = []
        try:
            if not cap.isOpened():
                return None
            m = 0
            while cap.grab():
                if cap.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME):
                    keys.append(m)
                m += 1
        except cv2.error:
            return None
        finally:
            cap.release()
        return keys if keys and keys[0] == 0 else None

    # -- decoding ----------------------------------------------------------------------
    def _read_miss(self, index: int, previous: int) -> Frame:
        cfg = self.config
        stepping_back = previous == index + 1
        if self._forward_is_cheaper(index):
            keep_from = max(self._pos, index - cfg.back_chunk + 1)
        else:
            self._scan()
            self._check_index(index)  # now against the real length
            # A back-step keeps a whole chunk ending at index; a jump keeps only the few
            # frames before it (the ones a user nudges back to), not all it decodes.
            if stepping_back:
                first = self._back_chunk_start(index)
                start = self._seek(first)
                keep_from = max(start, first)
            else:
                start = self._seek(index)
                keep_from = max(start, index - min(cfg.back_chunk, self.JUMP_KEEP) + 1)
        return self._decode_forward(index, keep_from)

    def _back_chunk_start(self, index: int) -> int:
        """First frame to keep when a step back to ``index`` misses the cache.

        At least ``back_chunk`` frames; more when keyframes are sparse, because decoding
        from the keyframe before the chunk is unavoidable anyway: keep what it yields, up
        to half the cache, so the next steps back through a long GOP are hits.
        """
        first = max(0, index - self.config.back_chunk + 1)
        frame_bytes = max(1, self._width * self._height * 3)
        room = self._cache.budget_bytes // frame_bytes // 2
        keyframe = self._scan().keyframe_at_or_before(first)
        return max(0, min(first, max(keyframe, index - room + 1)))

    def _forward_is_cheaper(self, index: int) -> bool:
        """Decode on from the current position rather than seek?"""
        ahead = index - self._pos
        if ahead < 0:
            return False
        if ahead <= self.config.forward_skip:
            return True
        # OpenCV's seek to a checkpoint restarts decoding at the keyframe before
        # (checkpoint - 16) and decodes on, invisibly; when that keyframe is not past where
        # the decoder already is, decoding on from here is never more work.
        scan = self._scan()
        if scan.keyframes is None:
            return False
        checkpoint = scan.checkpoint_at_or_before(index)
        restart = scan.keyframe_at_or_before(max(0, checkpoint - self.OPENCV_SEEK_BACKOFF))
        return restart <= self._pos

    def _decode_forward(self, index: int, keep_from: int) -> Frame:
        """Grab from the current position through ``index``; keep frames >= ``keep_from``."""
        result: Frame | None = None
        if self._verified is not None and self._verified[0] == index:
            result = self._verified[1]  # the seek's checkpoint frame is the target itself
        self._verified = None
        while self._pos <= index:
            j = self._pos
            if not self._cap.grab():
                self._restart()  # position unknown after a failure
                self._raise_decode_failure(index, j)
            self._pos += 1
            self._cache.count_decoded()
            if j >= keep_from:
                ok, raw = self._cap.retrieve()
                if not ok:
                    self._restart()
                    self._raise_decode_failure(index, j)
                frame = self._checked_frame(raw, j)
                if self._width and frame.shape[:2] != (self._height, self._width):
                    self._restart()
                    raise MediaError(
                        f"frame {j} is {frame.shape[1]}x{frame.shape[0]}, expected "
                        f"{self._width}x{self._height} like frame 0 (size changes mid-stream "
                        "are not supported)",
                        path=self.path,
                        frame=index,
                    )
                frame = self._cache.put(j, frame)
                if j == index:
                    result = frame
        if result is None:  # pragma: no cover - keep_from > index is a caller bug
            raise MediaError(
                "internal: target frame was not retrieved", path=self.path, frame=index
            )
        return result

    def _prefetch_one(self, target: int) -> bool:
        with self._lock:
            if self._closed or not self._room_for_readahead(self._width * self._height * 3):
                return False
            if target < self._last_read:
                return self._prefetch_back(target)
            # Forward: only ever continue the decoder just past what the reader has seen.
            known = self._known_length()
            j = self._pos
            if not self._last_read < j <= target or (known is not None and j >= known):
                return False
            self._decode_forward(j, j)
            return True

    def _readahead_span(self, direction: int) -> int:
        # Backward, the next chunk takes a while to decode: start it a chunk early.
        cfg = self.config
        return cfg.readahead if direction > 0 else cfg.readahead + cfg.back_chunk

    def _prefetch_back(self, target: int) -> bool:
        # Backward: decode the chunk ending at the first frame below the reader that is not
        # cached, as the reader's own miss would, before the reader gets there.
        missing = next(
            (
                j
                for j in range(self._last_read - 1, max(-1, target - 1), -1)
                if j not in self._cache
            ),
            None,
        )
        if missing is None:
            return False
        first = self._back_chunk_start(missing)
        start = self._seek(first)
        self._decode_forward(missing, max(start, first))
        return True

    def _raise_decode_failure(self, index: int, failed: int) -> None:
        n = self.n_frames
        if index >= n:
            claim = f", header claims {self._claimed}" if self._claimed not in (None, n) else ""
            raise MediaError(
                f"frame index out of range: expected 0..{n - 1} ({n} decodable frames{claim})",
                path=self.path,
                frame=index,
            )
        raise MediaError(
            f"cannot decode frame {failed} (needed to reach frame {index}); the file may be "
            "corrupt or have changed since it was opened",
            path=self.path,
            frame=index,
        )

    def _restart(self) -> None:
        """Reopen the decoder at frame 0 (the one position that needs no trust in seeking)."""
        self._cap.release()
        self._cap = self._open_capture()
        self._pos = 0

    def _seek(self, hint: int) -> int:
        """Position the decoder at a verified checkpoint <= ``hint``; return its index.

        Falls back to earlier checkpoints, then to decoding from the start (or from the
        current position when it is already at or before ``hint``).
        """
        scan = self._scan()
        self._seeks += 1
        for start in dict.fromkeys(scan.checkpoint_at_or_before(hint, k) for k in (0, 1, 4)):
            if start == 0 or start <= self._pos <= hint or self._seek_disabled:
                break  # decoding from here is no slower than a seek and needs no trust
            if self._try_seek(start, scan.checkpoints.get(start)):
                self._failures_in_row = 0
                return start
            self._seek_fallbacks += 1
            self._failures_in_row += 1
            log.debug("%s: seek to checkpoint %d failed verification", self.path, start)
            if self._failures_in_row >= self.SEEK_FAILURES_BEFORE_GIVING_UP:
                self._seek_disabled = True
                log.warning(
                    "%s: seeking lands on the wrong frame for this file; jumping back now "
                    "decodes from the start (correct but slow; re-encoding the video fixes it)",
                    self.path,
                )
        if self._pos > hint:
            self._restart()
        return self._pos

    def _try_seek(self, start: int, expected: bytes | None) -> bool:
        if expected is None:
            return False
        ok = self._cap.set(cv2.CAP_PROP_POS_FRAMES, start)
        if not ok or round(self._cap.get(cv2.CAP_PROP_POS_FRAMES)) != start:
            self._restart()
            return False
        grabbed, raw = self._cap.read()
        self._cache.count_decoded()
        if not grabbed or raw is None:
            self._restart()
            return False
        frame = self._checked_frame(raw, start)
        if _signature(frame) != expected:
            self._restart()
            return False
        self._verified = (start, self._cache.put(start, frame))
        self._pos = start + 1
        return True

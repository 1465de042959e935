"""Frame-exact, cached access to videos, image folders and MOTChallenge sequences.

``open_media(path)`` returns a :class:`MediaSource` (a
:class:`~tracker_annotate.core.frames.FrameSource`):

* a video file OpenCV can decode (``.avi .mp4 .mkv .mov`` ...);
* a folder of images (``.jpg .png .bmp .tif``), in natural order (``2.png`` before ``10.png``);
* a MOTChallenge sequence folder (``img1/`` + ``seqinfo.ini``): ``frameRate`` is used,
  ``imWidth``/``imHeight`` and ``seqLength`` are claims checked against the images.

Frame ``i`` is exactly frame ``i`` however it is reached. OpenCV's ``CAP_PROP_POS_FRAMES``
seek is trusted only after verification: a sequential scan (done once per file and
shared by every handle in the process) counts the frames that really decode and records
a signature of every ``checkpoint_every``-th frame; a seek goes to such a checkpoint, checks
the decoded frame against its signature and decodes forward from there, falling back to
earlier checkpoints and finally to decoding from the start. A header that overstates the
length is corrected by the same scan (``n_frames`` is the decodable count,
``claimed_frames`` what the header said).

Decoded frames live in a byte-budgeted LRU :class:`~tracker_annotate.io.frame_cache.FrameCache`;
a miss while stepping backward decodes and keeps a chunk ending at the target, so the next
steps back are cache hits. Returned frames are read-only BGR ``uint8`` arrays (copy to draw).
"""

from __future__ import annotations

import configparser
import hashlib
import logging
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.core.frames import Frame
from tracker_annotate.core.project import MediaRef
from tracker_annotate.io.frame_cache import MIB, CacheStats, FrameCache

log = logging.getLogger(__name__)

VIDEO_EXTS = frozenset({".avi", ".mp4", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv"})
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"})
DEFAULT_FPS = 30.0
_EXPECTED = (
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
        forward_skip: a forward jump of up to this many frames is decoded through instead
            of seeking. Raising it avoids seeks on short jumps but makes long-ish jumps
            decode every frame in between.
        checkpoint_every: spacing of the verified seek points recorded by the length scan.
            Lower means shorter decode-forward after a seek but a slower scan (each
            checkpoint is a full retrieve + hash).
        fps: frame rate for image folders without ``seqinfo.ini`` (videos use their header).
    """

    cache_bytes: int = 512 * MIB
    back_chunk: int = 24
    forward_skip: int = 48
    checkpoint_every: int = 16
    fps: float = DEFAULT_FPS

    def __post_init__(self) -> None:
        for name, low in (
            ("cache_bytes", 0),
            ("back_chunk", 1),
            ("forward_skip", 0),
            ("checkpoint_every", 1),
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

    # -- the FrameSource protocol (subclasses supply the geometry) ---------------------
    @property
    def n_frames(self) -> int:
        raise NotImplementedError

    @property
    def width(self) -> int:
        raise NotImplementedError

    @property
    def height(self) -> int:
        raise NotImplementedError

    @property
    def fps(self) -> float:
        raise NotImplementedError

    @property
    def claimed_frames(self) -> int | None:
        """The length a header or ``seqinfo.ini`` claims (``None`` when nothing claims one)."""
        return None

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def read(self, index: int) -> Frame:
        """Frame ``index`` (0-based) as a read-only H x W x 3 BGR uint8 array.

        Raises :class:`MediaError` naming the path and frame when the index is outside
        ``0..n_frames-1`` or the frame cannot be decoded.
        """
        i = self._check_index(index)
        with self._lock:
            if self._closed:
                raise MediaError("read after close()", path=self.path, frame=i)
            previous, self._last_read = self._last_read, i
            frame = self._cache.get(i)
            if frame is not None:
                return frame
            return self._read_miss(i, previous)

    def reopen(self) -> MediaSource:
        """An independent handle on the same media (for another thread)."""
        raise NotImplementedError

    def close(self) -> None:
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
            bound = f"0..{n - 1}" if n else "0.. (length still unknown)"
            raise MediaError(
                f"frame index out of range: expected {bound} ({n} decodable frames)",
                path=self.path,
                frame=i,
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


# -- videos ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Scan:
    n_frames: int
    checkpoints: dict[int, bytes]  # frame index -> signature of the decoded frame


_SCANS: dict[tuple[str, int, int, int], _Scan] = {}
_SCANS_LOCK = threading.Lock()


def _signature(frame: Frame) -> bytes:
    # A sparse but exact sample: neighbouring frames of a static shot still differ in noise,
    # and decoding is deterministic, so equality is the right test.
    sample = np.ascontiguousarray(frame[::4, ::4])
    return hashlib.blake2b(sample.tobytes(), digest_size=16).digest()


class VideoSource(MediaSource):
    """A video file decoded by OpenCV's FFmpeg backend, with verified seeking."""

    kind = "video"

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
        self._verified: tuple[int, Frame] | None = None  # checkpoint frame a seek decoded
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
                f"format); {_EXPECTED}",
                path=self.path,
            )
        return cap

    @property
    def n_frames(self) -> int:
        return self._scan().n_frames

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
        return self._claimed

    @property
    def seek_count(self) -> int:
        """Seeks made so far, and how many needed a fallback (verification failed)."""
        return self._seeks

    @property
    def seek_fallbacks(self) -> int:
        return self._seek_fallbacks

    def reopen(self) -> VideoSource:
        return VideoSource(self.path, self.config)

    def close(self) -> None:
        with self._lock:
            super().close()
            self._cap.release()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["codec"] = self.codec
        return info

    def _known_length(self) -> int | None:
        return self._scan_result.n_frames if self._scan_result is not None else None

    # -- the length scan ---------------------------------------------------------------
    def _scan(self) -> _Scan:
        if self._scan_result is not None:
            return self._scan_result
        st = os.stat(self.path)
        key = (os.path.abspath(self.path), st.st_size, st.st_mtime_ns, self.config.checkpoint_every)
        with _SCANS_LOCK:
            scan = _SCANS.get(key)
        if scan is None:
            scan = self._run_scan()
            with _SCANS_LOCK:
                _SCANS[key] = scan
        self._scan_result = scan
        return scan

    def _run_scan(self) -> _Scan:
        every = self.config.checkpoint_every
        cap = self._open_capture()
        checkpoints: dict[int, bytes] = {}
        n = 0
        try:
            while cap.grab():
                if n % every == 0:
                    ok, frame = cap.retrieve()
                    if not ok or frame is None:
                        break
                    checkpoints[n] = _signature(self._checked_frame(frame, n))
                n += 1
        finally:
            cap.release()
        if self._claimed is not None and self._claimed != n:
            log.warning(
                "%s: header claims %d frames, %d decode; using %d", self.path, self._claimed, n, n
            )
        return _Scan(n_frames=n, checkpoints=checkpoints)

    # -- decoding ----------------------------------------------------------------------
    def _read_miss(self, index: int, previous: int) -> Frame:
        cfg = self.config
        stepping_back = previous == index + 1
        if self._pos <= index <= self._pos + cfg.forward_skip:
            keep_from = max(self._pos, index - cfg.back_chunk + 1)
        else:
            self._scan()
            self._check_index(index)  # now against the real length
            # seek: a back-step keeps a whole chunk ending at index, a jump only what it decodes
            hint = max(0, index - cfg.back_chunk + 1) if stepping_back else index
            start = self._seek(hint)
            keep_from = max(start, index - cfg.back_chunk + 1)
        return self._decode_forward(index, keep_from)

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
                frame = self._cache.put(j, self._checked_frame(raw, j))
                if j == index:
                    result = frame
        if result is None:  # pragma: no cover - keep_from > index is a caller bug
            raise MediaError(
                "internal: target frame was not retrieved", path=self.path, frame=index
            )
        return result

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
        every = self.config.checkpoint_every
        self._seeks += 1
        target = (hint // every) * every
        for start in dict.fromkeys(max(0, target - k * every) for k in (0, 1, 4)):
            if start == 0 or start <= self._pos <= hint:
                break  # decoding from here is no slower than a seek and needs no trust
            if self._try_seek(start, scan.checkpoints.get(start)):
                return start
            self._seek_fallbacks += 1
            log.debug("%s: seek to checkpoint %d failed verification", self.path, start)
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


# -- image folders and MOT sequences ----------------------------------------------------------
def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``img2`` before ``img10`` (digits compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, in natural order."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


class ImageSequenceSource(MediaSource):
    """A folder of images, one frame per file; ``kind`` is ``"images"`` or ``"mot"``."""

    kind = "images"

    def __init__(
        self,
        path: str,
        files: list[Path],
        *,
        fps: float,
        config: MediaConfig | None = None,
        claimed_frames: int | None = None,
        claimed_size: tuple[int, int] | None = None,
        kind: str = "images",
    ) -> None:
        super().__init__(path, config or MediaConfig())
        if not files:
            raise MediaError(f"no image files found; {_EXPECTED}", path=path)
        self._files = list(files)
        self._fps = float(fps)
        self._claimed = claimed_frames
        self._claimed_size = claimed_size
        self.kind = kind  # type: ignore[misc]
        first = self._load(0)
        self._height, self._width = int(first.shape[0]), int(first.shape[1])
        self._cache.put(0, first)
        if claimed_size is not None and claimed_size != (self._width, self._height):
            log.warning(
                "%s: seqinfo.ini claims %dx%d, images are %dx%d; using the images",
                path,
                *claimed_size,
                self._width,
                self._height,
            )
        if claimed_frames is not None and claimed_frames != len(files):
            log.warning(
                "%s: seqinfo.ini claims %d frames, %d images found; using %d",
                path,
                claimed_frames,
                len(files),
                len(files),
            )

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    @property
    def n_frames(self) -> int:
        return len(self._files)

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
        return self._claimed

    def reopen(self) -> ImageSequenceSource:
        return ImageSequenceSource(
            self.path,
            self._files,
            fps=self._fps,
            config=self.config,
            claimed_frames=self._claimed,
            claimed_size=self._claimed_size,
            kind=self.kind,
        )

    def _load(self, index: int) -> Frame:
        file = self._files[index]
        raw = cv2.imread(str(file), cv2.IMREAD_COLOR)
        self._cache.count_decoded()
        if raw is None:
            raise MediaError(
                f"cannot decode image {file.name!r} (missing, corrupt or not an image)",
                path=self.path,
                frame=index,
            )
        return self._checked_frame(raw, index)

    def _read_miss(self, index: int, previous: int) -> Frame:
        frame = self._load(index)
        if frame.shape[:2] != (self._height, self._width):
            raise MediaError(
                f"image {self._files[index].name!r} is {frame.shape[1]}x{frame.shape[0]}, "
                f"expected {self._width}x{self._height} like the first image",
                path=self.path,
                frame=index,
            )
        return self._cache.put(index, frame)


def _read_seqinfo(ini: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise MediaError(f"unreadable seqinfo.ini: {exc}", path=str(ini)) from exc
    if not parser.has_section("Sequence"):
        raise MediaError("seqinfo.ini has no [Sequence] section", path=str(ini))
    return {k.lower(): v for k, v in parser.items("Sequence")}


def _claim_int(info: dict[str, str], key: str, ini: Path) -> int | None:
    value = info.get(key.lower())
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise MediaError(f"{key}={value!r} is not an integer", path=str(ini)) from None


def _open_folder(folder: Path, config: MediaConfig) -> ImageSequenceSource:
    ini = folder / "seqinfo.ini"
    img1 = folder / "img1"
    if img1.is_dir():
        fps = config.fps
        claimed_frames = None
        claimed_size: tuple[int, int] | None = None
        if ini.is_file():
            info = _read_seqinfo(ini)
            rate = info.get("framerate")
            try:
                fps = float(rate) if rate is not None else fps
            except ValueError:
                raise MediaError(f"frameRate={rate!r} is not a number", path=str(ini)) from None
            if not (math.isfinite(fps) and fps > 0):
                raise MediaError(f"frameRate={rate!r} must be positive", path=str(ini))
            claimed_frames = _claim_int(info, "seqLength", ini)
            w, h = _claim_int(info, "imWidth", ini), _claim_int(info, "imHeight", ini)
            claimed_size = (w, h) if w is not None and h is not None else None
        else:
            log.warning("%s: img1/ without seqinfo.ini, assuming %s fps", folder, fps)
        return ImageSequenceSource(
            str(folder),
            list_images(img1),
            fps=fps,
            config=config,
            claimed_frames=claimed_frames,
            claimed_size=claimed_size,
            kind="mot",
        )
    return ImageSequenceSource(str(folder), list_images(folder), fps=config.fps, config=config)


# -- entry points ---------------------------------------------------------------------------
def open_media(path: str | os.PathLike[str], config: MediaConfig | None = None) -> MediaSource:
    """Open a video file, an image folder or a MOTChallenge sequence folder.

    Raises :class:`MediaError` naming the path and what was expected when it is missing,
    of an unknown kind, or does not decode.
    """
    cfg = config or MediaConfig()
    p = Path(path)
    if p.name == "seqinfo.ini" and p.is_file():
        p = p.parent
    if not p.exists():
        raise MediaError(f"no such file or folder; {_EXPECTED}", path=str(p))
    if p.is_dir():
        return _open_folder(p, cfg)
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTS:
        raise MediaError(f"a single image is not a sequence; {_EXPECTED}", path=str(p))
    if suffix not in VIDEO_EXTS:
        raise MediaError(
            f"unknown media type {suffix or '(no extension)'!r}; {_EXPECTED}", path=str(p)
        )
    return VideoSource(str(p), cfg)


_HEAD_BYTES = 2 * MIB
_TAIL_BYTES = 256 * 1024


def _hash_file_ends(h: Any, file: Path, size: int) -> None:
    with open(file, "rb") as fh:
        h.update(fh.read(_HEAD_BYTES))
        if size > _HEAD_BYTES + _TAIL_BYTES:
            fh.seek(size - _TAIL_BYTES)
        h.update(fh.read(_TAIL_BYTES))


def fingerprint(path: str | os.PathLike[str]) -> str:
    """A short string that changes when the media's content changes.

    Videos: size plus a hash of the first 2 MiB and last 256 KiB of bytes (which hold the
    first frames and the index). Folders: names and sizes of every image plus the bytes of
    the first and last one. Raw bytes rather than decoded pixels, so the same file gets the
    same fingerprint on machines with another OpenCV/FFmpeg build (decoders differ in the
    last bit). Cheap: no decoding, a few MiB read.
    """
    p = Path(path)
    if p.name == "seqinfo.ini" and p.is_file():
        p = p.parent
    h = hashlib.blake2b(digest_size=12)
    try:
        if p.is_dir():
            folder = p / "img1" if (p / "img1").is_dir() else p
            files = list_images(folder)
            if not files:
                raise MediaError(f"no image files found; {_EXPECTED}", path=str(p))
            total = 0
            for f in files:
                size = f.stat().st_size
                total += size
                h.update(f"{f.name}\0{size}\n".encode())
            for f in {files[0], files[-1]}:
                _hash_file_ends(h, f, f.stat().st_size)
            return f"images:{len(files)}:{total}:{h.hexdigest()}"
        size = p.stat().st_size
        _hash_file_ends(h, p, size)
        return f"file:{size}:{h.hexdigest()}"
    except FileNotFoundError as exc:
        raise MediaError(f"no such file or folder; {_EXPECTED}", path=str(p)) from exc
    except OSError as exc:
        raise MediaError(f"cannot read: {exc}", path=str(p)) from exc


def probe_media(path: str | os.PathLike[str]) -> MediaRef:
    """Open ``path`` and describe it for a project: absolute path, real decodable length,
    size, fps and :func:`fingerprint`. Raises :class:`MediaError` like :func:`open_media`."""
    with open_media(path) as src:
        return MediaRef(
            path=os.path.abspath(src.path),
            n_frames=src.n_frames,
            width=src.width,
            height=src.height,
            fps=src.fps,
            fingerprint=fingerprint(src.path),
        )

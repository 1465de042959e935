"""Frame-exact, cached access to videos, image folders and MOTChallenge sequences.

``open_media(path)`` returns a :class:`MediaSource` (a
:class:`~tracker_annotate.core.frames.FrameSource`):

* a video file OpenCV can decode (``.avi .mp4 .mkv .mov`` ...);
* a folder of images (``.jpg .png .bmp .tif``), in natural order (``2.png`` before ``10.png``);
* a MOTChallenge sequence folder (``img1/`` + ``seqinfo.ini``): ``frameRate`` is used,
  ``imWidth``/``imHeight`` and ``seqLength`` are claims checked against the images.

Frame ``i`` is exactly frame ``i`` however it is reached (stepping, seeking back, random
access); see :mod:`tracker_annotate.io.video` for how seeks are verified. A header that
overstates the length is corrected (``n_frames`` is what decodes, ``claimed_frames`` the claim).

Decoded frames live in a byte-budgeted LRU :class:`~tracker_annotate.io.frame_cache.FrameCache`;
a miss while stepping backward decodes and keeps a chunk ending at the target, so the next
steps back are cache hits, and a background worker reads a few frames ahead of a forward
reader. Returned frames are read-only BGR ``uint8`` arrays (copy one to draw on it).
Sources are not meant to be shared between threads: give each worker ``source.reopen()``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from tracker_annotate.core.errors import MediaError
from tracker_annotate.core.project import MediaRef
from tracker_annotate.io.frame_cache import MIB, CacheStats, FrameCache
from tracker_annotate.io.images import ImageSequenceSource, list_images, natural_key, open_folder
from tracker_annotate.io.sources import (
    DEFAULT_FPS,
    EXPECTED,
    IMAGE_EXTS,
    VIDEO_EXTS,
    MediaConfig,
    MediaSource,
)
from tracker_annotate.io.video import VideoSource

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "CacheStats",
    "FrameCache",
    "ImageSequenceSource",
    "MediaConfig",
    "MediaSource",
    "VideoSource",
    "fingerprint",
    "fingerprint_matches",
    "list_images",
    "natural_key",
    "open_media",
    "probe_media",
]


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
        raise MediaError(f"no such file or folder; {EXPECTED}", path=str(p))
    if p.is_dir():
        return open_folder(p, cfg)
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTS:
        raise MediaError(f"a single image is not a sequence; {EXPECTED}", path=str(p))
    if suffix not in VIDEO_EXTS:
        raise MediaError(
            f"unknown media type {suffix or '(no extension)'!r}; {EXPECTED}", path=str(p)
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


def _ends(files: list[Path], *, reverse: bool) -> list[Path]:
    ends = files[:1] + files[-1:] if len(files) > 1 else files[:1]
    return ends[::-1] if reverse else ends


def fingerprint(path: str | os.PathLike[str], *, legacy_order: bool = False) -> str:
    """A short string that changes when the media's content changes.

    Videos: size plus a hash of the first 2 MiB and last 256 KiB of bytes (which hold the
    first frames and the index). Folders: names and sizes of every image plus the bytes of
    the first and last one. Raw bytes rather than decoded pixels, so the same file gets the
    same fingerprint on machines with another OpenCV/FFmpeg build (decoders differ in the
    last bit). Cheap: no decoding, a few MiB read. The same content gives the same string in
    every process (no hash-seed dependence).

    ``legacy_order`` hashes a folder's last image before its first: releases before 0.1.1
    used a set there, so a project written by one of them holds either order; see
    :func:`fingerprint_matches`.
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
                raise MediaError(f"no image files found; {EXPECTED}", path=str(p))
            total = 0
            for f in files:
                size = f.stat().st_size
                total += size
                h.update(f"{f.name}\0{size}\n".encode())
            # first, then last: a list, not a set, whose order would follow the hash seed
            # (a different fingerprint for the same folder in every other run)
            for f in _ends(files, reverse=legacy_order):
                _hash_file_ends(h, f, f.stat().st_size)
            return f"images:{len(files)}:{total}:{h.hexdigest()}"
        size = p.stat().st_size
        _hash_file_ends(h, p, size)
        return f"file:{size}:{h.hexdigest()}"
    except FileNotFoundError as exc:
        raise MediaError(f"no such file or folder; {EXPECTED}", path=str(p)) from exc
    except OSError as exc:
        raise MediaError(f"cannot read: {exc}", path=str(p)) from exc


def fingerprint_matches(path: str | os.PathLike[str], recorded: str) -> bool:
    """Whether the media at ``path`` has the ``recorded`` fingerprint, accepting the
    last-before-first order that older releases wrote for some folders (see
    :func:`fingerprint`). Raises :class:`MediaError` when the media cannot be read."""
    if fingerprint(path) == recorded:
        return True
    return recorded.startswith("images:") and fingerprint(path, legacy_order=True) == recorded


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

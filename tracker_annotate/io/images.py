"""Folders of images and MOTChallenge sequences (``img1/`` + ``seqinfo.ini``).

One file is one frame, in natural order (``2.png`` before ``10.png``). ``seqinfo.ini``'s
``frameRate`` is used; ``seqLength``, ``imWidth`` and ``imHeight`` are claims checked
against the images (the images win, and a mismatch is logged).
"""

from __future__ import annotations

import configparser
import logging
import math
import re
from pathlib import Path

import cv2
import numpy as np

from tracker_annotate.core.errors import MediaError
from tracker_annotate.core.frames import Frame
from tracker_annotate.io.sources import (
    EXPECTED,
    IMAGE_EXTS,
    VIDEO_EXTS,
    MediaConfig,
    MediaSource,
)

log = logging.getLogger(__name__)


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``img2`` before ``img10`` (digits compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", name)
        if part
    )


def list_images(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, in natural order.

    Hidden files are skipped: macOS leaves ``._000001.jpg`` metadata twins on copied
    datasets, which are not images and would shift every frame after them.
    """
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise MediaError(f"cannot list the folder: {exc}", path=str(folder)) from exc
    files = [
        p
        for p in entries
        if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".") and p.is_file()
    ]
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
            raise MediaError(f"no image files found; {EXPECTED}", path=path)
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

    def reopen(self, config: MediaConfig | None = None) -> ImageSequenceSource:
        return ImageSequenceSource(
            self.path,
            self._files,
            fps=self._fps,
            config=config or self.config,
            claimed_frames=self._claimed,
            claimed_size=self._claimed_size,
            kind=self.kind,
        )

    def _load(self, index: int) -> Frame:
        file = self._files[index]
        try:
            data = np.fromfile(file, dtype=np.uint8)
        except OSError as exc:
            raise MediaError(
                f"cannot read image {file.name!r}: {exc.strerror or exc}",
                path=self.path,
                frame=index,
            ) from exc
        # imdecode rather than imread: same decoders, but any path the OS can open works
        # (imread cannot open non-ASCII paths on Windows).
        raw = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        self._cache.count_decoded()
        if raw is None:
            raise MediaError(
                f"cannot decode image {file.name!r} (corrupt, empty or not an image)",
                path=self.path,
                frame=index,
            )
        return self._checked_frame(raw, index)

    def _prefetch_one(self, target: int) -> bool:
        # Runs without the source lock: decoding releases the GIL, so loading the next file
        # overlaps the reader's own work; the cache is thread-safe. Either direction.
        if self._closed or not self._room_for_readahead(self._width * self._height * 3):
            return False
        last = self._last_read
        step = 1 if target > last else -1
        for j in range(last + step, max(-1, min(target, len(self._files) - 1)) + step, step):
            if self._cache.peek(j) is None:
                try:
                    frame = self._load(j)
                except MediaError:
                    return False  # the reader will hit it and report it
                if frame.shape[:2] != (self._height, self._width):
                    return False
                self._cache.put(j, frame)
                return True
        return False

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
    # no interpolation: a "%" in a sequence name is text, not a template error
    parser = configparser.ConfigParser(interpolation=None)
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


def _warn_numbering_gaps(folder: Path, files: list[Path]) -> None:
    # MOT annotations number frames by file (000001.jpg is frame 1); frames here are
    # positions in the sorted list, so a gap would shift every annotation after it.
    stems = [f.stem for f in files]
    if not all(stem.isdigit() for stem in stems):
        return
    numbers = [int(stem) for stem in stems]
    if numbers != list(range(1, len(numbers) + 1)):
        first_off = next((k for k, v in enumerate(numbers) if v != k + 1), len(numbers))
        log.warning(
            "%s: img1/ is not numbered 1..%d (position %d holds %s); frame indices follow "
            "the sorted files, so MOT annotations that use file numbers will be shifted",
            folder,
            len(numbers),
            first_off,
            files[first_off].name if first_off < len(files) else "?",
        )


def open_folder(folder: Path, config: MediaConfig) -> ImageSequenceSource:
    """An image folder, or the MOT sequence it is (or is the ``img1/`` of)."""
    if folder.name == "img1" and (folder.parent / "seqinfo.ini").is_file():
        folder = folder.parent  # the sequence, so seqinfo.ini's frame rate applies
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
        files = list_images(img1)
        _warn_numbering_gaps(folder, files)
        return ImageSequenceSource(
            str(folder),
            files,
            fps=fps,
            config=config,
            claimed_frames=claimed_frames,
            claimed_size=claimed_size,
            kind="mot",
        )
    files = list_images(folder)
    if not files:
        videos = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS)
        if videos:
            shown = ", ".join(videos[:3]) + (" ..." if len(videos) > 3 else "")
            raise MediaError(
                f"no image files, but {len(videos)} video file(s): open one of them ({shown})",
                path=str(folder),
            )
    return ImageSequenceSource(str(folder), files, fps=config.fps, config=config)

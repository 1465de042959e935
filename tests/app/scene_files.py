"""Rendered scenes (:mod:`tracking_scenes`) written to real media files: an MJPG video
decoded by OpenCV, or a folder of PNGs, for the app layer's headless tests."""

from __future__ import annotations

from pathlib import Path

import cv2
from tracking_scenes import ArraySource, MovingObject

N = 40


def scene(n: int = N) -> ArraySource:
    """One textured object moving right and a little down (box ~50x60 on 320x240)."""
    return ArraySource([MovingObject((40, 60, 90, 120), (2.0, 0.5), seed=3)], n=n)


def write_video(path: Path, src: ArraySource | None = None) -> Path:
    src = src or scene()
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (src.w, src.h))
    assert out.isOpened()
    for f in range(src.n_frames):
        out.write(src.read(f))
    out.release()
    return path


def write_images(folder: Path, src: ArraySource | None = None) -> Path:
    src = src or scene()
    folder.mkdir(parents=True)
    for f in range(src.n_frames):
        assert cv2.imwrite(str(folder / f"{f:04d}.png"), src.read(f))
    return folder

"""Procedural textures for the synthetic sequences (numpy + OpenCV, no files).

Every function takes the :class:`numpy.random.Generator` it draws from explicitly, returns a
``float32`` BGR image in ``[0, 255]`` and never touches global random state, so the same
generator state gives the same texture. Textures are made at a fixed base size and resized
by the renderer, which keeps an object's look stable while it changes scale.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import ConfigError

TextureImage = npt.NDArray[np.float32]  # H x W x 3, BGR, values in [0, 255]
TextureKind = Literal["noise", "stripes", "checker", "blobs"]
TEXTURE_KINDS: tuple[TextureKind, ...] = ("noise", "stripes", "checker", "blobs")


def value_noise(
    rng: np.random.Generator, height: int, width: int, cells: tuple[int, ...]
) -> npt.NDArray[np.float32]:
    """Smooth multi-octave noise in ``[0, 1]``: random grids of ``cells`` cells, upsampled.

    Coarse cells give blotches that JPEG compresses well; fine cells give grain that
    appearance trackers can lock onto but that costs bytes in the committed sample.
    """
    acc = np.zeros((height, width), np.float32)
    total = 0.0
    for i, c in enumerate(cells):
        grid = rng.random((c + 1, c + 1), dtype=np.float32)
        up = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        weight = 0.5**i
        acc += weight * up
        total += weight
    acc /= total
    lo, hi = float(acc.min()), float(acc.max())
    return ((acc - lo) / max(hi - lo, 1e-6)).astype(np.float32)


def _mix(
    t: npt.NDArray[np.float32], color_a: npt.NDArray[np.float32], color_b: npt.NDArray[np.float32]
) -> TextureImage:
    """Blend two BGR colours by a weight map ``t`` in ``[0, 1]``."""
    t3 = t[..., None]
    return (color_a * (1.0 - t3) + color_b * t3).astype(np.float32)


def palette_color(
    rng: np.random.Generator, index: int, count: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Two BGR colours (bright, dark) with hue ``index`` of ``count`` evenly spaced hues.

    Evenly spaced hues keep distinct objects distinct; a random start and jitter keep the
    palette from being the same for every seed.
    """
    hue0 = float(rng.uniform(0.0, 180.0))
    hue = (hue0 + 180.0 * index / max(count, 1) + float(rng.uniform(-6.0, 6.0))) % 180.0
    sat = float(rng.uniform(150.0, 230.0))
    hsv = np.array(
        [[[hue, sat, float(rng.uniform(190.0, 240.0))], [hue, sat, float(rng.uniform(60, 100))]]],
        np.float32,
    )
    # OpenCV's float HSV uses hue in degrees [0, 360) and S, V in [0, 1].
    hsv[..., 0] *= 2.0
    hsv[..., 1:] /= 255.0
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0] * 255.0
    return bgr[0].astype(np.float32), bgr[1].astype(np.float32)


def make_texture(
    kind: TextureKind,
    rng: np.random.Generator,
    size_hw: tuple[int, int],
    color_a: npt.NDArray[np.float32],
    color_b: npt.NDArray[np.float32],
) -> TextureImage:
    """One object texture of ``kind`` at ``size_hw`` pixels between two BGR colours.

    A little smooth noise is always added on top so that no texture is a perfectly flat
    pattern (real objects never are, and flat patterns make template matching degenerate).
    """
    h, w = size_hw
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "noise":
        t = value_noise(rng, h, w, (3, 6, 12))
    elif kind == "stripes":
        theta = float(rng.uniform(0.0, np.pi))
        period = float(rng.uniform(0.18, 0.3)) * min(h, w)
        phase = (xx * np.cos(theta) + yy * np.sin(theta)) / period
        t = (0.5 + 0.5 * np.sin(2.0 * np.pi * phase)).astype(np.float32)
        t = np.clip((t - 0.5) * 3.0 + 0.5, 0.0, 1.0)
    elif kind == "checker":
        cell = max(2, round(float(rng.uniform(0.16, 0.26)) * min(h, w)))
        t = (((xx // cell) + (yy // cell)) % 2).astype(np.float32)
        t = np.asarray(cv2.GaussianBlur(t, (0, 0), 1.0), np.float32)
    elif kind == "blobs":
        t = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(5, 9))):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            r = float(rng.uniform(0.1, 0.22)) * min(h, w)
            t = np.maximum(t, (((xx - cx) ** 2 + (yy - cy) ** 2) <= r * r).astype(np.float32))
        t = np.asarray(cv2.GaussianBlur(t, (0, 0), 1.5), np.float32)
    else:  # pragma: no cover - Literal guards callers; kept for a clear runtime error
        raise ConfigError(f"unknown texture kind {kind!r}; expected one of {TEXTURE_KINDS}")
    img = _mix(t, color_a, color_b)
    grain = value_noise(rng, h, w, (8, 16)) - 0.5
    img += 30.0 * grain[..., None]
    return np.clip(img, 0.0, 255.0).astype(np.float32)


def make_background(rng: np.random.Generator, height: int, width: int) -> TextureImage:
    """A ground-like world texture: coloured blotches, paving lines and a few pebbles.

    It has structure at several scales so that camera pan is visible and trackers see
    clutter, but stays low-contrast next to the objects, as a street or floor would be.
    """
    base = value_noise(rng, height, width, (4, 10, 24))
    tint = value_noise(rng, height, width, (3, 6))
    col_a = np.array([90, 110, 120], np.float32)  # greyish, a little warm (BGR)
    col_b = np.array([150, 160, 150], np.float32)
    img = _mix(base, col_a, col_b)
    img[..., 1] += 25.0 * (tint - 0.5)
    tile = max(8, height // 6)
    lines = np.zeros((height, width), np.uint8)
    for y in range(int(rng.integers(0, tile)), height, tile):
        lines[y : y + 2, :] = 1
    for x in range(int(rng.integers(0, tile)), width, int(tile * 1.6)):
        lines[:, x : x + 2] = 1
    img[lines.astype(bool)] *= 0.78
    n_pebbles = max(1, (height * width) // 2500)
    for _ in range(n_pebbles):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = max(1, int(rng.integers(1, max(2, height // 60) + 2)))
        shade = float(rng.uniform(60, 200))
        cv2.circle(img, (cx, cy), r, (shade, shade, shade * 0.95), -1, lineType=cv2.LINE_AA)
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), 0.7), np.float32)
    return np.clip(img, 0.0, 255.0).astype(np.float32)

"""Builders of tiny MOT sequences whose labeling cost is known by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# rows: track id -> list of (frame0, x, y, w, h); frames are 0-based here, 1-based on disk.
Rows = dict[int, list[tuple[int, float, float, float, float]]]


def write_mot_sequence(
    root: Path,
    rows: Rows,
    n_frames: int,
    *,
    size: tuple[int, int] = (160, 120),
    images: bool = False,
    extra_lines: list[str] | None = None,
) -> Path:
    """Write ``root/seqinfo.ini``, ``root/gt/gt.txt`` and (optionally) ``root/img1/*.jpg``
    where each object is a textured patch on a smooth background at its GT place."""
    w, h = size
    (root / "gt").mkdir(parents=True)
    (root / "seqinfo.ini").write_text(
        "[Sequence]\n"
        f"name={root.name}\nimDir=img1\nframeRate=25\nseqLength={n_frames}\n"
        f"imWidth={w}\nimHeight={h}\nimExt=.jpg\n",
        encoding="utf-8",
    )
    lines = [
        f"{f + 1},{tid},{x:.2f},{y:.2f},{bw:.2f},{bh:.2f},1,1,1"
        for tid, boxes in rows.items()
        for f, x, y, bw, bh in boxes
    ]
    (root / "gt" / "gt.txt").write_text(
        "\n".join(lines + (extra_lines or [])) + "\n", encoding="utf-8"
    )
    if images:
        (root / "img1").mkdir()
        rng = np.random.default_rng(7)
        patches = {tid: rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for tid in rows}
        yy, xx = np.mgrid[0:h, 0:w]
        background = np.stack([(xx * 255 // w), (yy * 255 // h), np.full_like(xx, 90)], -1)
        for f in range(n_frames):
            img = background.astype(np.uint8).copy()
            for tid, boxes in rows.items():
                for bf, x, y, bw, bh in boxes:
                    if bf == f:
                        x1, y1 = round(x), round(y)
                        x2, y2 = min(w, round(x + bw)), min(h, round(y + bh))
                        img[y1:y2, x1:x2] = cv2.resize(patches[tid], (x2 - x1, y2 - y1))
            cv2.imwrite(str(root / "img1" / f"{f + 1:06d}.jpg"), img)
    return root


def static(
    frames: range, x: float = 40, y: float = 30, w: float = 30, h: float = 40
) -> list[tuple[int, float, float, float, float]]:
    """An object that never moves."""
    return [(f, x, y, w, h) for f in frames]


def moving(
    frames: range, x0: float, y0: float, dx: float, dy: float, w: float = 30, h: float = 40
) -> list[tuple[int, float, float, float, float]]:
    """An object moving at constant velocity (dx, dy) pixels per frame."""
    return [(f, x0 + dx * (f - frames[0]), y0 + dy * (f - frames[0]), w, h) for f in frames]

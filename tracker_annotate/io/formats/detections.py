"""Model detections (pre-labels) as typed columns, read from MOT ``det.txt`` or COCO results.

The container, :class:`~tracker_annotate.core.detections.Detections`, is a domain type in
:mod:`tracker_annotate.core.detections`; this module reads and writes it.
Scores are kept as the detector wrote them (MOT17's DPM scores, for example, are not in
[0, 1]); see :meth:`Detections.normalized_scores`.

Accepted inputs:

* **MOT** ``det.txt`` (6, 7, 9 or 10 columns, see :mod:`.mot`): ``id`` is ignored (``-1``
  in detection files); ``conf`` is the score (1 when the column is absent); ``class`` is
  the class id (``-1`` when absent).
* **COCO results**: a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h],
  "score"}``, or a COCO(-VID) object with ``images`` and ``annotations`` (the annotations
  carry the scores). ``image_id`` becomes a frame through, in order: ``images`` given in the
  same file or through ``images_from`` (each with ``frame_id``/``frame_index``, 0-based as
  in COCO-VID and TAO), else ``image_id - image_id_base`` (default base 1: COCO ids start at
  1, so image 1 is frame 0). ``categories``, when present, name the class ids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import FormatError
from tracker_annotate.io.formats._build import (
    MAX_INT,
    PathLike,
    ProjectBuilder,
    fmt_float,
    read_text,
    write_text_atomic,
)
from tracker_annotate.io.formats.mot import iter_mot_rows

__all__ = [
    "read_coco_detections",
    "read_detections",
    "read_mot_detections",
    "write_coco_detections",
    "write_mot_detections",
]


def _detections(
    rows: list[tuple[int, float, float, float, float, float, int]],
    class_names: Mapping[int, str],
) -> Detections:
    if not rows:
        return Detections.empty()
    a = np.array(rows, dtype=np.float64)
    xyxy = np.column_stack([a[:, 1], a[:, 2], a[:, 1] + a[:, 3], a[:, 2] + a[:, 4]])
    return Detections(
        a[:, 0].astype(np.int64), xyxy, a[:, 5], a[:, 6].astype(np.int64), class_names
    )


def read_mot_detections(path: PathLike) -> Detections:
    """Detections from a MOT ``det.txt`` (or any MOT file: ids are ignored)."""
    builder = ProjectBuilder(path)
    rows = [
        (
            r.frame,
            r.x,
            r.y,
            r.w,
            r.h,
            1.0 if r.conf is None else r.conf,
            -1 if r.class_id is None else r.class_id,
        )
        for r in iter_mot_rows(read_text(path), builder)
    ]
    return _detections(rows, {})


def write_mot_detections(dets: Detections, path: PathLike, *, decimals: int | None = 2) -> None:
    """Write a MOT ``det.txt`` (10 columns, id ``-1``, world coordinates ``-1``)."""
    lines = []
    for f, (x1, y1, x2, y2), s in zip(dets.frames, dets.xyxy, dets.scores, strict=True):
        coords = ",".join(fmt_float(float(v), decimals) for v in (x1, y1, x2 - x1, y2 - y1))
        lines.append(f"{f + 1},-1,{coords},{fmt_float(float(s), None)},-1,-1,-1\n")
    write_text_atomic(path, "".join(lines))


def _load_json(path: PathLike) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
    except RecursionError as exc:  # "[[[[..." thousands deep
        raise FormatError("not a detections file: JSON nested too deeply", path=str(path)) from exc


def _image_frames(images: Any, path: PathLike) -> dict[int, int]:
    if not isinstance(images, list):
        raise FormatError("'images' must be a list", path=str(path), field="images")
    out: dict[int, int] = {}
    for i, img in enumerate(images):
        where = f"images[{i}]"
        if not isinstance(img, dict) or "id" not in img:
            raise FormatError("expected an object with an 'id'", path=str(path), field=where)
        frame = img.get("frame_id", img.get("frame_index"))
        if not isinstance(frame, int) or isinstance(frame, bool) or not 0 <= frame <= MAX_INT:
            raise FormatError(
                f"expected a 0-based integer 'frame_id' (or 'frame_index'), got {frame!r}",
                path=str(path),
                field=f"{where}.frame_id",
            )
        out[img["id"]] = frame
    return out


def read_coco_detections(
    path: PathLike, *, images_from: PathLike | None = None, image_id_base: int = 1
) -> Detections:
    """Detections from COCO results JSON (see the module doc for how frames are found)."""
    data = _load_json(path)
    frames_by_image: dict[int, int] | None = None
    class_names: dict[int, str] = {}
    if isinstance(data, dict):
        if "annotations" not in data:
            raise FormatError("missing key 'annotations'", path=str(path), field="annotations")
        if "images" in data:
            frames_by_image = _image_frames(data["images"], path)
        for c in data.get("categories", []):
            if isinstance(c, dict) and isinstance(c.get("id"), int):
                class_names[c["id"]] = str(c.get("name", c["id"]))
        anns = data["annotations"]
    else:
        anns = data
    if not isinstance(anns, list):
        raise FormatError("expected a list of detections", path=str(path))
    if images_from is not None:
        other = _load_json(images_from)
        if not isinstance(other, dict) or "images" not in other:
            raise FormatError("missing key 'images'", path=str(images_from), field="images")
        frames_by_image = _image_frames(other["images"], images_from)
    rows = []
    for i, ann in enumerate(anns):
        where = f"annotations[{i}]" if isinstance(data, dict) else f"[{i}]"
        if not isinstance(ann, dict):
            raise FormatError("expected an object", path=str(path), field=where)
        for key in ("image_id", "bbox"):
            if key not in ann:
                raise FormatError(f"missing key {key!r}", path=str(path), field=f"{where}.{key}")
        image_id = ann["image_id"]
        if frames_by_image is not None:
            if image_id not in frames_by_image:
                raise FormatError(
                    f"image_id {image_id!r} is not among the images",
                    path=str(path),
                    field=f"{where}.image_id",
                )
            frame = frames_by_image[image_id]
        elif isinstance(image_id, int) and not isinstance(image_id, bool):
            frame = image_id - image_id_base
            if frame < 0:
                raise FormatError(
                    f"image_id {image_id} is below the first id {image_id_base}",
                    path=str(path),
                    field=f"{where}.image_id",
                )
            if frame > MAX_INT:
                raise FormatError(
                    f"image_id {image_id} is out of range (at most 2**53)",
                    path=str(path),
                    field=f"{where}.image_id",
                )
        else:
            raise FormatError(
                f"image_id {image_id!r} is not an integer and no images map it to a frame",
                path=str(path),
                field=f"{where}.image_id",
            )
        bbox = ann["bbox"]
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        ):
            raise FormatError(
                f"expected [x, y, w, h] numbers, got {bbox!r}",
                path=str(path),
                field=f"{where}.bbox",
            )
        try:
            x, y, w, h = (float(v) for v in bbox)
        except OverflowError:  # an integer too large for a float
            raise FormatError(
                f"bbox {bbox} is out of range", path=str(path), field=f"{where}.bbox"
            ) from None
        if not (w > 0 and h > 0) or not np.isfinite([x, y, w, h]).all():
            raise FormatError(
                f"bbox {bbox} has zero or negative size", path=str(path), field=f"{where}.bbox"
            )
        score = ann.get("score", 1.0)
        cat = ann.get("category_id", -1)
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            raise FormatError(
                f"expected a number, got {score!r}", path=str(path), field=f"{where}.score"
            )
        if not isinstance(cat, int) or isinstance(cat, bool) or abs(cat) > MAX_INT:
            raise FormatError(
                f"expected an integer (at most 2**53), got {cat!r}",
                path=str(path),
                field=f"{where}.category_id",
            )
        if not -1e300 < score < 1e300:  # also NaN; a huge integer has no float
            raise FormatError(
                f"expected a finite score, got {score!r}", path=str(path), field=f"{where}.score"
            )
        rows.append((frame, x, y, w, h, float(score), cat))
    return _detections(rows, class_names)


def write_coco_detections(dets: Detections, path: PathLike, *, image_id_base: int = 1) -> None:
    """Write COCO results JSON (``image_id = frame + image_id_base``), the mirror of
    :func:`read_coco_detections` without ``images``."""
    out = [
        {
            "image_id": int(f) + image_id_base,
            "category_id": int(c),
            "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
            "score": float(s),
        }
        for f, (x1, y1, x2, y2), s, c in zip(
            dets.frames, dets.xyxy, dets.scores, dets.class_ids, strict=True
        )
    ]
    write_text_atomic(path, json.dumps(out, indent=1) + "\n")


def read_detections(path: PathLike, format: str | None = None, **options: Any) -> Detections:
    """Detections from a ``.txt`` (MOT) or ``.json`` (COCO results) file, or by ``format``
    (``"mot"`` or ``"coco"``); ``options`` go to the reader."""
    fmt = format or {".txt": "mot", ".json": "coco"}.get(Path(path).suffix.lower())
    if fmt == "mot":
        return read_mot_detections(path, **options)
    if fmt == "coco":
        return read_coco_detections(path, **options)
    raise FormatError(
        f"cannot tell the detection format from {Path(path).suffix!r}; use 'mot' or 'coco'",
        path=str(path),
    )

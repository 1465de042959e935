"""COCO JSON with videos and tracks (the COCO-VID / TAO convention), read and written.

Layout::

    {"videos": [{"id", "name", "width", "height", "fps", "length"}],
     "images": [{"id", "video_id", "frame_id", "file_name", "width", "height"}],
     "annotations": [{"id", "image_id", "video_id", "category_id", "track_id",
                      "instance_id", "bbox": [x, y, w, h], "area", "iscrowd", "score",
                      "attributes": {...}}],
     "tracks": [{"id", "category_id", "video_id", "name", "hidden", "proposed"}],
     "categories": [{"id", "name", "color"}]}

``frame_id`` (``frame_index`` is accepted, as TAO writes it) is 0-based, like our frames.
``bbox`` is ``xywh`` in pixels; ``x2 = x + w`` is computed, so corners read back within a
few ULPs, not bit for bit. An annotation's track is ``track_id`` (``instance_id`` is
accepted). Category ids are written 1-based in the project's label order.

The reader takes one video: a file with several needs ``video`` (an id or a name).
Annotations with ``iscrowd`` 1 are crowd regions, not objects: they are skipped.

Our own fields, so nothing is lost on our round trip: ``score`` is the confidence;
``attributes`` holds ``occluded`` and ``keyframe`` (as CVAT's COCO export does) plus
``ta_source``, ``ta_flagged``, ``ta_flag_reason`` and ``ta_verified``; the TAO ``tracks``
list carries the track's name, hidden and proposed state (and keeps tracks with no
visible box); categories carry a ``color``. Lost: ``outside`` boxes (COCO readers would
count them as objects, so they are not written; a missing annotation means not visible)
and the media path and fingerprint (``videos`` records name, size, fps and length).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from tracker_annotate.core.boxes import BoxSource, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.core.quality_report import quality_report
from tracker_annotate.io.formats._build import (
    MAX_INT,
    PathLike,
    ProjectBuilder,
    box_from_xywh,
    frame_files,
    last_frame,
    open_atomic,
    read_text,
)

log = logging.getLogger(__name__)

_MISSING = object()


class _Json:
    """Typed access to parsed JSON with errors that name the JSON path of the field."""

    def __init__(self, builder: ProjectBuilder) -> None:
        self.b = builder

    def get(self, obj: Any, key: str, where: str, default: Any = _MISSING) -> Any:
        if not isinstance(obj, dict):
            raise self.b.error(f"expected an object, got {type(obj).__name__}", field=where)
        if key not in obj:
            if default is _MISSING:
                raise self.b.error(f"missing key {key!r}", field=f"{where}.{key}")
            return default
        return obj[key]

    def int_(self, obj: Any, key: str, where: str, default: Any = _MISSING) -> int:
        v = self.get(obj, key, where, default)
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                raise self.b.error(f"expected an integer, got {v!r}", field=f"{where}.{key}")
        if abs(v) > MAX_INT:
            raise self.b.error(f"{v} is out of range (at most 2**53)", field=f"{where}.{key}")
        return v

    def num(self, obj: Any, key: str, where: str, default: Any = _MISSING) -> float:
        v = self.get(obj, key, where, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.b.error(f"expected a number, got {v!r}", field=f"{where}.{key}")
        if not -1e300 < v < 1e300:  # NaN, inf, or an integer too large for a float
            raise self.b.error(f"expected a finite number, got {v!r}", field=f"{where}.{key}")
        return float(v)

    def bool_(self, obj: Any, key: str, where: str, default: bool = False) -> bool:
        v = self.get(obj, key, where, default)
        if isinstance(v, bool):
            return v
        if v in (0, 1):
            return bool(v)
        raise self.b.error(f"expected true or false, got {v!r}", field=f"{where}.{key}")

    def list_(self, obj: Any, key: str, where: str, default: Any = _MISSING) -> list[Any]:
        v = self.get(obj, key, where, default)
        if not isinstance(v, list):
            raise self.b.error(f"expected a list, got {type(v).__name__}", field=f"{where}.{key}")
        return v


def _load(path: PathLike, builder: ProjectBuilder) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise builder.error(f"not valid JSON: {exc.msg}", exc.lineno) from exc
    except RecursionError as exc:  # "[[[[..." thousands deep: no COCO file nests like that
        raise builder.error("not a COCO file: JSON nested too deeply") from exc


def _pick_video(data: Any, j: _Json, video: int | str | None) -> int | None:
    videos = j.list_(data, "videos", "$", [])
    if not videos:
        return None
    if video is None:
        if len(videos) > 1:
            names = [v.get("name", v.get("id")) for v in videos if isinstance(v, dict)]
            raise j.b.error(
                f"{len(videos)} videos in the file; choose one of {names}", field="videos"
            )
        return j.int_(videos[0], "id", "videos[0]")
    for i, v in enumerate(videos):
        vid = j.int_(v, "id", f"videos[{i}]")
        if video in (vid, v.get("name")):
            return vid
    raise j.b.error(f"no video {video!r} in the file", field="videos")


def read_coco(
    path: PathLike,
    *,
    media: MediaRef | None = None,
    video: int | str | None = None,
    source: BoxSource = BoxSource.MANUAL,
) -> Project:
    """Read a COCO-VID/TAO file into a new project (see the module doc).

    ``source`` is for boxes without our ``ta_source`` attribute (files from other tools).
    """
    builder = ProjectBuilder(path, media)
    j = _Json(builder)
    data = _load(path, builder)
    if not isinstance(data, dict):
        raise builder.error("expected a JSON object with 'images' and 'annotations'")
    video_id = _pick_video(data, j, video)

    categories: dict[int, str] = {}
    for i, c in enumerate(j.list_(data, "categories", "$")):
        where = f"categories[{i}]"
        cid = j.int_(c, "id", where)
        name = j.get(c, "name", where)
        if not isinstance(name, str) or not name.strip():
            raise builder.error(f"expected a non-empty name, got {name!r}", field=f"{where}.name")
        if cid in categories:
            raise builder.error(f"duplicate category id {cid}", field=f"{where}.id")
        color = j.get(c, "color", where, None)
        rgb = None
        if isinstance(color, str):
            try:
                rgb = Label.from_hex(name, color).color
            except ProjectError as exc:
                raise builder.error(str(exc), field=f"{where}.color") from exc
        categories[cid] = builder.add_label(name, rgb)

    frames: dict[int, int] = {}
    other_videos: set[int] = set()  # images of videos we are not reading
    for i, img in enumerate(j.list_(data, "images", "$")):
        where = f"images[{i}]"
        iid = j.int_(img, "id", where)
        if video_id is not None and j.int_(img, "video_id", where, video_id) != video_id:
            other_videos.add(iid)
            continue
        key = "frame_id" if "frame_id" in img else "frame_index"
        frame = j.int_(img, key, where)
        if frame < 0:
            raise builder.error(f"frame {frame} is negative (0-based)", field=f"{where}.{key}")
        if iid in frames:
            raise builder.error(f"duplicate image id {iid}", field=f"{where}.id")
        frames[iid] = frame

    def category(obj: Any, where: str) -> str:
        cid = j.int_(obj, "category_id", where)
        if cid not in categories:
            raise builder.error(f"unknown category_id {cid}", field=f"{where}.category_id")
        return categories[cid]

    for i, t in enumerate(j.list_(data, "tracks", "$", [])):
        where = f"tracks[{i}]"
        if video_id is not None and j.int_(t, "video_id", where, video_id) != video_id:
            continue
        tid = j.int_(t, "id", where)
        if tid < 0:
            raise builder.error(f"track id {tid} is negative", field=f"{where}.id")
        name = j.get(t, "name", where, "")
        info = TrackInfo(
            tid,
            category(t, where),
            name if isinstance(name, str) else str(name),
            j.bool_(t, "hidden", where),
            j.bool_(t, "proposed", where),
        )
        builder.add_track(info, field=f"{where}.id")

    for i, ann in enumerate(j.list_(data, "annotations", "$")):
        where = f"annotations[{i}]"
        image_id = j.int_(ann, "image_id", where)
        if image_id not in frames:
            if image_id in other_videos:
                continue
            raise builder.error(
                f"image_id {image_id} is not among the images", field=f"{where}.image_id"
            )
        if j.bool_(ann, "iscrowd", where):
            continue
        key = "track_id" if "track_id" in ann else "instance_id"
        tid = j.int_(ann, key, where)
        if tid < 0:
            raise builder.error(f"track id {tid} is negative", field=f"{where}.{key}")
        bbox = j.list_(ann, "bbox", where)
        if len(bbox) != 4 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox
        ):
            raise builder.error(
                f"expected [x, y, w, h] numbers, got {bbox!r}", field=f"{where}.bbox"
            )
        if not all(-1e300 < v < 1e300 for v in bbox):
            raise builder.error(f"expected finite numbers, got {bbox!r}", field=f"{where}.bbox")
        xywh = (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
        xyxy = box_from_xywh(xywh, builder, None, f"{where}.bbox")
        label = category(ann, where)
        if tid in builder.tracks and builder.tracks[tid].label != label:
            raise builder.error(
                f"track {tid} is {builder.tracks[tid].label!r} elsewhere, {label!r} here",
                field=f"{where}.category_id",
            )
        builder.ensure_track(tid, label)
        score = j.num(ann, "score", where, 1.0)
        if not 0 <= score <= 1:
            raise builder.error(f"score {score} is not in [0, 1]", field=f"{where}.score")
        attrs = j.get(ann, "attributes", where, {})
        aw = f"{where}.attributes"
        src_text = j.get(attrs, "ta_source", aw, source.value)
        try:
            box_source = BoxSource(src_text)
        except ValueError:
            raise builder.error(f"unknown source {src_text!r}", field=f"{aw}.ta_source") from None
        flagged = j.bool_(attrs, "ta_flagged", aw)
        reason = j.get(attrs, "ta_flag_reason", aw, "")
        box = FrameBox(
            frames[image_id],
            xyxy,
            box_source,
            score,
            flagged=flagged,
            flag_reason=str(reason) if flagged else "",
            verified=j.bool_(attrs, "ta_verified", aw),
            occluded=j.bool_(attrs, "occluded", aw),
        )
        builder.add_box(tid, box, field=where)
    return builder.build(f"Import {Path(path).name}")


def write_coco(project: Project, path: PathLike, *, indent: int | None = None) -> None:
    """Write the project as one COCO-VID video (see the module doc).

    By default each image, annotation, track and category is one line; ``indent`` writes
    ``json.dump``'s fully indented layout instead (several times slower on big files).
    """
    media = project.media
    n_frames = media.n_frames if media is not None else last_frame(project) + 1
    name = Path(media.path).stem if media is not None else Path(path).stem
    video: dict[str, Any] = {"id": 1, "name": name, "length": n_frames}
    size: dict[str, Any] = {}
    if media is not None:
        size = {"width": media.width, "height": media.height}
        video.update(size, fps=media.fps)
    cat_ids = {lab: i for i, lab in enumerate(project.labels, start=1)}
    categories = [
        {"id": cat_ids[lab.name], "name": lab.name, "supercategory": "", "color": lab.hex}
        for lab in project.labels.values()
    ]
    # file_name is relative to the folder holding the media: the real image of each frame
    # for an image folder or MOT sequence ("TUD-Campus/img1/000001.jpg"), the name
    # extracted frames get for a video ("clip/frame_000000.jpg", ffmpeg -start_number 0)
    files = frame_files(media)
    if files is not None and media is not None:
        base = Path(media.path).parent
        names = [f.relative_to(base).as_posix() for f in files]
    else:
        names = [f"{name}/frame_{f:06d}.jpg" for f in range(n_frames)]
    images = [
        {"id": f + 1, "video_id": 1, "frame_id": f, "file_name": names[f], **size}
        for f in range(n_frames)
    ]
    tracks = []
    annotations = []
    for tid in sorted(project.tracks):
        info = project.track(tid)
        cid = cat_ids[info.label]
        tracks.append(
            {
                "id": tid,
                "category_id": cid,
                "video_id": 1,
                "name": info.name,
                "hidden": info.hidden,
                "proposed": info.proposed,
            }
        )
        boxes = project.boxes(tid)
        for frame in sorted(boxes):
            box = boxes[frame]
            if box.outside:
                continue
            x, y, w, h = box.xyxy.to_xywh()
            annotations.append(
                {
                    "id": 0,
                    "image_id": frame + 1,
                    "video_id": 1,
                    "category_id": cid,
                    "track_id": tid,
                    "instance_id": tid,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "segmentation": [],
                    "iscrowd": 0,
                    "score": box.confidence,
                    "attributes": {
                        "occluded": box.occluded,
                        "keyframe": box.is_keyframe,
                        "ta_source": box.source.value,
                        "ta_flagged": box.flagged,
                        "ta_flag_reason": box.flag_reason,
                        "ta_verified": box.verified,
                    },
                }
            )
    annotations.sort(key=lambda a: (a["image_id"], a["track_id"]))
    for i, a in enumerate(annotations, start=1):
        a["id"] = i
    data = {
        "info": {
            "description": "tracker_annotate export",
            "version": "1.0",
            "tracker_annotate_quality": quality_report(project),
        },
        "licenses": [],
        "videos": [video],
        "images": images,
        "annotations": annotations,
        "tracks": tracks,
        "categories": categories,
    }
    with open_atomic(path) as fh:
        if indent is not None:
            json.dump(data, fh, indent=indent, ensure_ascii=False)
            fh.write("\n")
            return
        # One key per line and one list item per line: readable and diffable, and each
        # item goes through json's C encoder (``indent`` forces the slow Python one).
        fh.write("{\n")
        for i, (key, value) in enumerate(data.items()):
            fh.write(f"{json.dumps(key)}: ")
            if isinstance(value, list) and value:
                fh.write("[\n")
                fh.write(",\n".join(json.dumps(v, ensure_ascii=False) for v in value))
                fh.write("\n]")
            else:
                fh.write(json.dumps(value, ensure_ascii=False))
            fh.write(",\n" if i < len(data) - 1 else "\n")
        fh.write("}\n")

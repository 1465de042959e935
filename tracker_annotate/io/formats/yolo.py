"""YOLO detection labels (export only): one text file per frame plus the class list.

Layout written into the output folder (Ultralytics finds a frame's labels by replacing
``images`` with ``labels`` in the image's path, so both folders sit side by side)::

    classes.txt                 # one label name per line; line i (0-based) is class i
    data.yaml                   # path/train/val/names/nc for Ultralytics-style training
    images/000001.jpg           # the frames (see below)
    labels/000001.txt           # "class cx cy w h" per box, normalised to [0, 1]

Names follow the frames. For an image folder or a MOT sequence every label file is named
after its frame's real image, and ``images/`` holds links to those images (symbolic links;
hard links or copies where the file system has none). For a video, labels are named by
0-based frame (``frame_000000``: the names ``ffmpeg -start_number 0`` and CVAT give
extracted frames); ``write_images=True`` decodes the frames into ``images/`` as JPEG,
otherwise ``data.yaml`` says exactly which command extracts them. ``name_pattern``
overrides the names (``{frame}`` is the 0-based frame). Every frame gets a label file,
empty when it has no box (YOLO's "background image"). Class ids follow the project's
label order. ``data.yaml``'s ``path`` is absolute (a relative one is resolved against
Ultralytics' own datasets folder, not the file's).

Normalising needs the frame size, so the project must have media. Boxes are clipped to
the image first (YOLO coordinates cannot leave [0, 1]); boxes entirely outside the image
and ``outside`` boxes are left out. Track ids, confidence and review state are not part
of the format and are lost; it is an export for training detectors, not an archive.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.io.formats._build import (
    PathLike,
    ensure_parent,
    frame_files,
    write_text_atomic,
)

log = logging.getLogger(__name__)

VIDEO_NAME_PATTERN = "frame_{frame:06d}"


def _link(src: Path, dest: Path) -> None:
    """``dest`` shows the image ``src``: a symbolic link, else a hard link, else a copy."""
    dest.unlink(missing_ok=True)
    try:
        dest.symlink_to(src.resolve())
        return
    except OSError:
        pass
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _write_video_frames(media: MediaRef, names: list[str], images: Path) -> None:
    import cv2

    from tracker_annotate.io.media import open_media

    with open_media(media.path) as src:
        for f, name in enumerate(names):
            if not cv2.imwrite(str(images / f"{name}.jpg"), src.read(f)):
                raise FormatError(f"could not write frame {f}", path=str(images / name))


def write_yolo(
    project: Project,
    path: PathLike,
    *,
    name_pattern: str | None = None,
    decimals: int = 6,
    write_images: bool = False,
) -> None:
    """Write YOLO labels (and the frames, see the module doc) for every frame of the
    project's media into folder ``path``."""
    media = project.media
    if media is None:
        raise FormatError(
            "YOLO coordinates are normalised by the frame size; the project has no media "
            "(import with --media, or relink it)",
            path=str(path),
        )
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise FormatError("YOLO output must be a folder, a file is in the way", path=str(out))
    files = frame_files(media)
    if name_pattern is not None or files is None:
        pattern = name_pattern or VIDEO_NAME_PATTERN
        names = [pattern.format(frame=f) for f in range(media.n_frames)]
    else:
        names = [f.stem for f in files]
    class_ids = {name: i for i, name in enumerate(project.labels)}
    lines: dict[int, list[str]] = {f: [] for f in range(media.n_frames)}
    w_img, h_img = float(media.width), float(media.height)
    for tid in sorted(project.tracks):
        cls = class_ids[project.track(tid).label]
        for frame, box in sorted(project.boxes(tid).items()):
            if box.outside or frame >= media.n_frames:
                continue
            clipped = box.xyxy.clipped(media.width, media.height)
            if clipped is None:
                continue
            cx, cy, w, h = clipped.to_cxcywh()
            vals = (cx / w_img, cy / h_img, w / w_img, h / h_img)
            lines[frame].append(f"{cls} " + " ".join(f"{v:.{decimals}f}" for v in vals))
    labels_dir = out / "labels"
    ensure_parent(labels_dir / "x")
    for frame, rows in lines.items():
        (labels_dir / f"{names[frame]}.txt").write_text(
            "".join(r + "\n" for r in rows), encoding="utf-8"
        )
    images = out / "images"
    note = ""
    if files is not None:
        images.mkdir(exist_ok=True)
        for f, src in enumerate(files):
            _link(src, images / f"{names[f]}{src.suffix}")
    elif write_images:
        images.mkdir(exist_ok=True)
        _write_video_frames(media, names, images)
    else:
        first = (VIDEO_NAME_PATTERN if name_pattern is None else name_pattern).replace(
            "{frame:06d}", "%06d"
        )
        note = (
            "# images/ is not written for a video: extract its frames there, named like the\n"
            "# label files, before training, e.g.\n"
            f"#   ffmpeg -i {json.dumps(media.path)} -start_number 0 images/{first}.jpg\n"
            "# (or export again with --write-images, which decodes them with OpenCV)\n"
        )
    names_list = list(project.labels)
    write_text_atomic(out / "classes.txt", "".join(n + "\n" for n in names_list))
    # JSON strings and lists are valid YAML, which spares a YAML dependency.
    yaml = (
        "# written by tracker_annotate\n" + note + f"path: {json.dumps(str(out.resolve()))}\n"
        "train: images\n"
        "val: images\n"
        f"nc: {len(names_list)}\n"
        f"names: {json.dumps(names_list, ensure_ascii=False)}\n"
    )
    write_text_atomic(out / "data.yaml", yaml)


def read_yolo_labels(path: PathLike) -> dict[str, list[tuple[int, float, float, float, float]]]:
    """The rows of every label file under ``path/labels`` keyed by file stem (for checks)."""
    out = {}
    for f in sorted((Path(path) / "labels").glob("*.txt")):
        rows = []
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            parts = line.split()
            if len(parts) != 5:
                raise FormatError(f"expected 5 columns, got {len(parts)}", path=str(f), line=n)
            try:
                cx, cy, w, h = (float(p) for p in parts[1:])
                rows.append((int(parts[0]), cx, cy, w, h))
            except ValueError as exc:
                raise FormatError(f"not a number: {exc}", path=str(f), line=n) from exc
        out[f.stem] = rows
    return out

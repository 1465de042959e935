"""YOLO detection labels (export only): one text file per frame plus the class list.

Layout written into the output folder::

    classes.txt                 # one label name per line; line i (0-based) is class i
    data.yaml                   # names/nc for Ultralytics-style training configs
    labels/frame_000000.txt     # "class cx cy w h" per box, normalised to [0, 1]

Label files are named by 0-based frame (``name_pattern``, default ``frame_{frame:06d}``:
the names CVAT and ``ffmpeg -start_number 0`` give extracted frames); pair them with the
frames extracted under the same names. Every frame of the media gets a file, empty when it
has no box (YOLO's "background image"). Class ids follow the project's label order.

Normalising needs the frame size, so the project must have media. Boxes are clipped to
the image first (YOLO coordinates cannot leave [0, 1]); boxes entirely outside the image
and ``outside`` boxes are left out. Track ids, confidence and review state are not part
of the format and are lost; it is an export for training detectors, not an archive.
"""

from __future__ import annotations

import json
from pathlib import Path

from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.project import Project
from tracker_annotate.io.formats._build import PathLike, ensure_parent, write_text_atomic


def write_yolo(
    project: Project,
    path: PathLike,
    *,
    name_pattern: str = "frame_{frame:06d}",
    decimals: int = 6,
) -> None:
    """Write YOLO labels for every frame of the project's media into folder ``path``."""
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
        name = name_pattern.format(frame=frame)
        (labels_dir / f"{name}.txt").write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    names = list(project.labels)
    write_text_atomic(out / "classes.txt", "".join(n + "\n" for n in names))
    # JSON strings and lists are valid YAML, which spares a YAML dependency.
    yaml = (
        "# written by tracker_annotate\n"
        "path: .\n"
        "train: images\n"
        "val: images\n"
        f"nc: {len(names)}\n"
        f"names: {json.dumps(names, ensure_ascii=False)}\n"
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

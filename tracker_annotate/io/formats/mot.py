"""MOTChallenge text files (``gt.txt``, ``det.txt``, tracker results), read and written.

One box per line, comma separated (whitespace separated is accepted too)::

    frame, id, x, y, w, h, conf, class, visibility      # MOT17/MOT20, 9 columns

Also read: 6 columns (``frame,id,x,y,w,h``), 7 (``+conf``) and 10 (``+conf,wx,wy,wz``,
the MOT15/16 results layout whose world coordinates are ignored). Frames and ids are
1-based in the file and frames become 0-based inside; ``x, y`` is the top-left corner
(the box is ``xywh``). Ids are kept as they are (track ``3`` stays track ``3``).

Conventions chosen here (and what the writer does, so our own files read back the same):

* **conf.** In a ground-truth file ``conf`` 0 marks a box the evaluation ignores; such
  rows are skipped unless ``keep_ignored`` is set (then they are boxes with confidence 0).
  Otherwise ``conf`` is the box's confidence: ``-1`` (unknown) reads as 1, other values
  are clipped to [0, 1] (use :mod:`~tracker_annotate.io.formats.detections` to keep raw
  detector scores). The writer puts the confidence there with 4 decimals, and writes a
  confidence below 0.0001 as 0.0001 so the box is not read back as an ignore row.
* **class.** Class ids map to label names through ``label_map``, else through a
  ``labels.txt`` beside a ``gt.txt``/``det.txt`` (line ``n`` names class ``n``, Datumaro's
  convention; the writer writes one), else :data:`MOT17_CLASSES` (class 1 is
  ``pedestrian``); an id missing from the map becomes
  ``class_<n>``; ``-1`` and files without the column give the default label ``object``.
  The writer inverts the same map: ``object`` is written as class ``1`` (the class MOT
  evaluation scores; ``-1`` when another label is class 1), ``class_<n>`` as ``n``, and
  any other label gets the smallest free id (pass that id in ``label_map`` to read the
  name back; a ``gt.txt`` gets a ``labels.txt`` that does it).
* **visibility.** A box is ``occluded`` when its visibility is below ``occluded_below``
  (default 0.5; ``-1`` means unknown, not occluded). We only know a boolean, so the
  writer writes visibility 0 for occluded boxes and 1 otherwise.
* **precision.** Coordinates are written with ``decimals`` places (default 2, as
  MOTChallenge's own files); the corner ``x2 = x + w`` read back is within ``10**-decimals``
  of the original. ``decimals=None`` writes the shortest exact text of each number.

What MOT cannot carry, and is lost on export: box source (every box reads back as
``source``, default MANUAL), ``flagged``/``flag_reason``/``verified``, ``outside`` boxes
(not written: a missing row means not visible), track names, hidden/proposed state,
label colours, labels no track uses, and the media reference (``seqinfo.ini`` records the
sequence's name, length, size and frame rate rounded to an integer, with MOTChallenge's
``imDir=img1``/``imExt=.jpg`` that Datumaro requires). Track ids are written as they are;
MOT ids conventionally start at 1 and some tools (Datumaro) drop id 0.
"""

from __future__ import annotations

import configparser
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tracker_annotate.core.boxes import BoxSource, FrameBox
from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.labels import DEFAULT_LABEL
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.io.formats._build import (
    PathLike,
    ProjectBuilder,
    box_from_xywh,
    check_coordinates,
    fmt_float,
    parse_float,
    parse_int,
    read_text,
    write_text_atomic,
)

log = logging.getLogger(__name__)

#: MOT17/MOT20 ground-truth class ids (the MOTChallenge devkit's table).
MOT17_CLASSES: Mapping[int, str] = {
    1: "pedestrian",
    2: "person_on_vehicle",
    3: "car",
    4: "bicycle",
    5: "motorbike",
    6: "non_motorized_vehicle",
    7: "static_person",
    8: "distractor",
    9: "occluder",
    10: "occluder_on_ground",
    11: "occluder_full",
    12: "reflection",
    13: "crowd",
}

#: Accepted column counts and what they hold.
COLUMN_LAYOUTS: Mapping[int, str] = {
    6: "frame,id,x,y,w,h",
    7: "frame,id,x,y,w,h,conf",
    9: "frame,id,x,y,w,h,conf,class,visibility",
    10: "frame,id,x,y,w,h,conf,wx,wy,wz",
}
_FIELDS = ("frame", "id", "x", "y", "w", "h", "conf", "class", "visibility")
_MIN_CONF_WRITTEN = 0.0001


@dataclass(frozen=True, slots=True)
class MotRow:
    """One parsed line. ``frame`` is 0-based; ``conf``/``class_id``/``visibility`` are
    ``None`` when the layout has no such column."""

    line: int
    frame: int
    track_id: int
    x: float
    y: float
    w: float
    h: float
    conf: float | None
    class_id: int | None
    visibility: float | None


def iter_mot_rows(text: str, builder: ProjectBuilder) -> Iterator[MotRow]:
    """Parse MOT text row by row; errors name the line (1-based) and the field."""
    for line_no, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip().removesuffix(",")  # a trailing comma is not a column
        if not stripped or stripped.startswith("#"):
            continue
        parts = [p.strip() for p in stripped.split(",")] if "," in stripped else stripped.split()
        if len(parts) not in COLUMN_LAYOUTS:
            layouts = "; ".join(f"{n}: {v}" for n, v in COLUMN_LAYOUTS.items())
            raise builder.error(
                f"expected 6, 7, 9 or 10 columns ({layouts}), got {len(parts)}", line_no
            )
        frame_1 = parse_int(parts[0], builder, line_no, "frame")
        if frame_1 < 1:
            raise builder.error(
                f"frame {frame_1} is not a frame number; MOT frames start at 1", line_no, "frame"
            )
        track_id = parse_int(parts[1], builder, line_no, "id")
        x, y, w, h = (parse_float(parts[i], builder, line_no, _FIELDS[i]) for i in range(2, 6))
        check_coordinates((x, y, w, h), _FIELDS[2:6], builder, line_no)
        if not w > 0:
            raise builder.error(f"width must be positive, got {parts[4]}", line_no, "w")
        if not h > 0:
            raise builder.error(f"height must be positive, got {parts[5]}", line_no, "h")
        conf = parse_float(parts[6], builder, line_no, "conf") if len(parts) >= 7 else None
        class_id = vis = None
        if len(parts) == 9:
            class_id = parse_int(parts[7], builder, line_no, "class")
            vis = parse_float(parts[8], builder, line_no, "visibility")
        yield MotRow(line_no, frame_1 - 1, track_id, x, y, w, h, conf, class_id, vis)


def label_for_class(class_id: int | None, label_map: Mapping[int, str]) -> str:
    if class_id is None or class_id == -1:
        return DEFAULT_LABEL.name
    return label_map.get(class_id, f"class_{class_id}")


def read_mot(
    path: PathLike,
    *,
    media: MediaRef | None = None,
    label_map: Mapping[int, str] | None = None,
    keep_ignored: bool = False,
    occluded_below: float = 0.5,
    source: BoxSource = BoxSource.MANUAL,
) -> Project:
    """Read a MOTChallenge file into a new project (see the module doc for conventions).

    ``media`` bounds the frames (a later frame is an error) and becomes the project's
    media. ``source`` is given to every box: MANUAL makes them keyframes the tracker keeps;
    IMPORTED makes them derived boxes a tracking run may replace.
    """
    builder = ProjectBuilder(path, media)
    classes = label_map if label_map is not None else _labels_file_map(path, builder)
    ignored = 0
    for row in iter_mot_rows(read_text(path), builder):
        if row.track_id < 0:
            raise builder.error(
                f"track id {row.track_id} is negative: this looks like a detections file "
                "(det.txt, id -1); load it as detections (the app's Import detections, or "
                "'track --detections'), not as annotations",
                row.line,
                "id",
            )
        if row.conf == 0 and not keep_ignored:
            ignored += 1
            continue
        unknown = row.conf is None or row.conf == -1
        confidence = 1.0 if unknown else min(max(row.conf or 0.0, 0.0), 1.0)
        occluded = row.visibility is not None and 0 <= row.visibility < occluded_below
        xyxy = box_from_xywh(
            (row.x, row.y, row.w, row.h), builder, row.line, "w", names=("x", "y", "w", "h")
        )
        builder.ensure_track(row.track_id, label_for_class(row.class_id, classes), row.line)
        box = FrameBox(row.frame, xyxy, source, confidence, occluded=occluded)
        builder.add_box(row.track_id, box, row.line, frame_shown=row.frame + 1, box_field="x,y,w,h")
    if ignored:
        log.info("%s: skipped %d rows with conf 0 (ignore regions)", path, ignored)
    return builder.build(f"Import {Path(path).name}")


LABELS_FILE = "labels.txt"
_SEQUENCE_FILES = ("gt.txt", "det.txt")


def labels_path(annotation_path: PathLike) -> Path | None:
    """The ``labels.txt`` that names a sequence file's classes (line ``n`` is class ``n``,
    as Datumaro's ``mot_seq`` reads it), or ``None`` for files outside that layout."""
    p = Path(annotation_path)
    return p.with_name(LABELS_FILE) if p.name in _SEQUENCE_FILES else None


def _labels_file_map(path: PathLike, builder: ProjectBuilder) -> Mapping[int, str]:
    lp = labels_path(path)
    if lp is None or not lp.is_file():
        return MOT17_CLASSES
    names = [line.strip() for line in read_text(lp).splitlines()]
    while names and not names[-1]:
        names.pop()
    if not all(names):
        raise builder.error(f"{lp} has an empty line; expected one class name per line")
    log.info("%s: class names from %s", path, lp)
    return {i: name for i, name in enumerate(names, start=1)}


def mot_class_ids(labels: list[str], label_map: Mapping[int, str] | None = None) -> dict[str, int]:
    """The class id the writer uses for each label name (see the module doc)."""
    classes = MOT17_CLASSES if label_map is None else label_map
    by_name = {name: cid for cid, name in classes.items()}
    out: dict[str, int] = {}
    pending = []
    for name in labels:
        m = re.fullmatch(r"class_(-?\d+)", name)
        if name in by_name:
            out[name] = by_name[name]
        elif name == DEFAULT_LABEL.name:
            continue  # below, once the other labels have their ids
        elif m is not None and int(m.group(1)) not in classes:
            out[name] = int(m.group(1))
        else:
            pending.append(name)
    if DEFAULT_LABEL.name in labels:
        # class 1, what MOTChallenge evaluation (TrackEval) scores: -1 made it drop every
        # row of a single-class export as a non-pedestrian; -1 only when 1 is taken
        out[DEFAULT_LABEL.name] = 1 if 1 not in out.values() else -1
    used = set(classes) | set(out.values())
    next_id = 1
    for name in pending:
        while next_id in used:
            next_id += 1
        out[name] = next_id
        used.add(next_id)
    return out


def write_mot(
    project: Project,
    path: PathLike,
    *,
    label_map: Mapping[int, str] | None = None,
    decimals: int | None = 2,
    write_seqinfo: bool = True,
) -> None:
    """Write the project's visible boxes as a 9-column MOT17 file, by frame then id.

    With media known and ``write_seqinfo``, a ``seqinfo.ini`` is written in the sequence
    folder (the parent of a ``gt``/``det`` folder, else next to the file) unless one is
    already there. A ``gt.txt``/``det.txt`` also gets a ``labels.txt`` beside it naming
    every class id from 1 (what Datumaro's ``mot_seq`` reads, and :func:`read_mot` too).
    """
    class_ids = mot_class_ids(list(project.labels), label_map)
    rows: list[tuple[int, int, str]] = []
    for tid, info in project.tracks.items():
        cls = class_ids[info.label]
        for frame, box in project.boxes(tid).items():
            if box.outside:
                continue
            x, y, w, h = box.xyxy.to_xywh()
            if decimals is not None:
                # Round the corners, then the size, so a tiny box never reads back as w=0.
                step = 10.0**-decimals
                x, y = round(x, decimals), round(y, decimals)
                w = max(round(box.xyxy.x2 - x, decimals), step)
                h = max(round(box.xyxy.y2 - y, decimals), step)
            conf = max(box.confidence, _MIN_CONF_WRITTEN)
            vis = 0 if box.occluded else 1
            coords = ",".join(fmt_float(v, decimals) for v in (x, y, w, h))
            rows.append((frame, tid, f"{frame + 1},{tid},{coords},{conf:.4f},{cls},{vis}"))
    rows.sort()
    write_text_atomic(path, "".join(r[2] + "\n" for r in rows))
    if write_seqinfo and project.media is not None:
        _write_seqinfo(project.media, Path(path))
    lp = labels_path(path)
    top = max(class_ids.values(), default=-1)
    if lp is not None and top > 0:
        classes = MOT17_CLASSES if label_map is None else label_map
        by_id = {cid: name for name, cid in class_ids.items()}
        names = [by_id.get(i, classes.get(i, f"class_{i}")) for i in range(1, top + 1)]
        write_text_atomic(lp, "".join(n + "\n" for n in names))


def seqinfo_path(annotation_path: PathLike) -> Path:
    """Where ``seqinfo.ini`` belongs for an annotation file in the MOT layout."""
    parent = Path(annotation_path).resolve().parent
    return (parent.parent if parent.name in ("gt", "det") else parent) / "seqinfo.ini"


def read_seqinfo(path: PathLike) -> dict[str, str]:
    """The ``[Sequence]`` section of a ``seqinfo.ini`` (empty when the file is absent).
    A malformed file (duplicate keys, a line that is no ``key=value``, not UTF-8) is a
    :class:`FormatError` naming it."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        found = parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        reason = str(exc).splitlines()[0]
        raise FormatError(f"malformed seqinfo.ini: {reason}", path=str(path), line=line) from exc
    if not found or not parser.has_section("Sequence"):
        return {}
    return dict(parser["Sequence"])


def _write_seqinfo(media: MediaRef, annotation_path: Path) -> None:
    target = seqinfo_path(annotation_path)
    if target.exists():
        log.info("%s exists; left as it is", target)
        return
    name = Path(media.path).stem or Path(media.path).name
    text = (
        "[Sequence]\n"
        f"name={name}\n"
        "imDir=img1\n"
        f"frameRate={round(media.fps)}\n"
        f"seqLength={media.n_frames}\n"
        f"imWidth={media.width}\n"
        f"imHeight={media.height}\n"
        "imExt=.jpg\n"
    )
    write_text_atomic(target, text)


__all__ = [
    "COLUMN_LAYOUTS",
    "MOT17_CLASSES",
    "MotRow",
    "iter_mot_rows",
    "label_for_class",
    "labels_path",
    "mot_class_ids",
    "read_mot",
    "read_seqinfo",
    "seqinfo_path",
    "write_mot",
]

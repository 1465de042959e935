"""``tracker-annotate import`` and ``tracker-annotate export``: annotation files <-> projects.

``import FILE --project PROJ`` reads a MOT ``.txt``, CVAT ``.xml`` or COCO ``.json`` file.
A new project is created (``--media`` names its video, image folder or MOT sequence; for a
MOT ``gt/gt.txt`` inside a sequence folder with ``seqinfo.ini`` the folder is used when
``--media`` is absent). Into an existing project the file's tracks are added under new
ids (``--replace`` swaps all tracks for the file's, keeping its ids), as one undoable
step. A malformed file changes nothing: it is read completely before anything is written.

``export PROJ OUT`` writes a project as MOT, CVAT, COCO or YOLO (by extension, or
``--format``). ``--flag-threshold T`` flags derived boxes below confidence T in the
exported file (flags are only added); ``--drop-flagged`` leaves flagged boxes out, which
is how MOT and YOLO files, which cannot carry flags, get only reviewed boxes;
``--drop-proposed`` leaves out proposed tracks nobody has accepted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from tracker_annotate.core.boxes import BoxSource
from tracker_annotate.core.commands import import_tracks
from tracker_annotate.core.errors import ConfigError, ProjectError
from tracker_annotate.core.project import MediaRef, Project

log = logging.getLogger(__name__)

#: What each format cannot carry (printed after an export so nobody is surprised).
LOSSES = {
    "mot": "box source, flags, verified state, outside markers, track names, label colours",
    "cvat": "",
    "coco": "outside markers",
    "yolo": "track ids, confidence, source, flags, verified state, outside markers",
}


def register(subparsers: Any) -> None:
    imp = subparsers.add_parser(
        "import",
        help="read a MOT/CVAT/COCO annotation file into a project (new or existing)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    imp.add_argument("file", metavar="FILE", help="annotation file: .txt (MOT), .xml, .json")
    imp.add_argument("--project", required=True, metavar="PROJ", help=".taproj file")
    imp.add_argument("--media", metavar="MEDIA", help="video, image folder or MOT sequence")
    imp.add_argument("--format", choices=["mot", "cvat", "coco"], help="override the extension")
    imp.add_argument(
        "--replace", action="store_true", help="replace the project's tracks instead of adding"
    )
    imp.add_argument(
        "--as-imported",
        action="store_true",
        help="MOT/COCO: boxes become derived IMPORTED boxes (reviewable, replaced by "
        "tracking) instead of MANUAL keyframes",
    )
    imp.add_argument(
        "--keep-ignored", action="store_true", help="MOT: keep conf-0 (ignore) rows as boxes"
    )
    imp.add_argument(
        "--label-map",
        metavar="ID=NAME,...",
        help="MOT: class ids to label names (default MOT17: 1=pedestrian, 3=car, ...)",
    )
    imp.add_argument("--video", metavar="ID|NAME", help="COCO: which video of several")
    imp.set_defaults(func=run_import)

    exp = subparsers.add_parser(
        "export",
        help="write a project as MOT, CVAT XML, COCO or YOLO",
        description=__doc__.split("\n\n")[2] if __doc__ else None,
    )
    exp.add_argument("project", metavar="PROJ", help=".taproj file")
    exp.add_argument("out", metavar="OUT", help="output file (.txt .xml .json) or YOLO folder")
    exp.add_argument("--format", choices=["mot", "cvat", "coco", "yolo"])
    exp.add_argument(
        "--flag-threshold",
        type=float,
        metavar="T",
        help="flag unverified derived boxes with confidence below T (0-1) in the export",
    )
    exp.add_argument("--drop-flagged", action="store_true", help="leave flagged boxes out")
    exp.add_argument(
        "--drop-proposed",
        action="store_true",
        help="leave out proposed tracks (from detections) nobody has accepted yet",
    )
    exp.add_argument(
        "--decimals",
        type=int,
        metavar="N",
        help="MOT/CVAT: decimal places for coordinates (MOT default 2, CVAT exact)",
    )
    exp.add_argument(
        "--human-keyframes",
        action="store_true",
        help="CVAT: only manual/verified boxes are keyframes (CVAT then re-interpolates the "
        "tracked boxes linearly on import)",
    )
    exp.add_argument("--label-map", metavar="ID=NAME,...", help="MOT: label names to class ids")
    exp.add_argument(
        "--write-images",
        action="store_true",
        help="YOLO from a video: decode the frames into OUT/images/ (an image folder or MOT "
        "sequence is linked there anyway)",
    )
    exp.set_defaults(func=run_export)


def parse_label_map(text: str | None) -> dict[int, str] | None:
    """``"1=pedestrian,3=car"`` -> ``{1: "pedestrian", 3: "car"}``."""
    if text is None:
        return None
    out: dict[int, str] = {}
    for item in text.split(","):
        key, sep, name = item.partition("=")
        try:
            cid = int(key.strip())
        except ValueError:
            cid = None
        if not sep or cid is None or not name.strip():
            raise ConfigError(
                f"--label-map: expected ID=NAME pairs like 1=pedestrian, got {item!r}"
            )
        out[cid] = name.strip()
    return out


def _reader_options(args: argparse.Namespace, fmt: str) -> dict[str, Any]:
    used = {
        "--keep-ignored": (args.keep_ignored, {"mot"}),
        "--label-map": (args.label_map is not None, {"mot"}),
        "--video": (args.video is not None, {"coco"}),
        "--as-imported": (args.as_imported, {"mot", "coco"}),
    }
    for flag, (given, formats) in used.items():
        if given and fmt not in formats:
            raise ConfigError(f"{flag} applies to {'/'.join(sorted(formats))} files, not {fmt}")
    options: dict[str, Any] = {}
    if fmt == "mot":
        options["keep_ignored"] = args.keep_ignored
        options["label_map"] = parse_label_map(args.label_map)
    if fmt == "coco" and args.video is not None:
        options["video"] = int(args.video) if args.video.isdigit() else args.video
    if args.as_imported:
        options["source"] = BoxSource.IMPORTED
    return options


def _sequence_folder(file: Path) -> Path | None:
    """The MOT sequence a ``gt/gt.txt`` or ``det/det.txt`` belongs to, if it has images."""
    from tracker_annotate.io.formats.mot import read_seqinfo, seqinfo_path

    seqinfo = seqinfo_path(file)
    info = read_seqinfo(seqinfo)
    im_dir = seqinfo.parent / info.get("imDir", "img1")
    return seqinfo.parent if info and im_dir.is_dir() else None


def run_import(args: argparse.Namespace) -> int:
    from tracker_annotate.io.formats import detect_format, read_annotations, require_boxes
    from tracker_annotate.io.media import probe_media
    from tracker_annotate.io.store import ProjectStore

    file, proj = Path(args.file), Path(args.project)
    fmt = detect_format(file, args.format, hint=", or pass --format")
    options = _reader_options(args, fmt)
    if proj.exists():
        with ProjectStore.open(proj, check_media=False) as store:
            project = store.project
            target_media = project.media
            if args.media is not None:
                target_media = probe_media(args.media)
                if project.media is not None and project.media.path != target_media.path:
                    raise ProjectError(
                        f"{proj} already uses {project.media.path}; relink it in the GUI "
                        f"instead of importing with --media {args.media}"
                    )
            # Read everything first: a malformed file must leave the project untouched.
            imported = read_annotations(file, fmt, media=target_media, **options)
            require_boxes(imported, file)
            if project.media is None and target_media is not None:
                store.relink(target_media.path)
            n = len(import_tracks(project, imported, f"Import {file.name}", replace=args.replace))
            store.flush()
            total = project.n_boxes()
        print(f"imported {n} tracks ({imported.n_boxes()} boxes) from {file} into {proj}")
        print(f"{proj}: {total} boxes in {len(project.tracks)} tracks")
        return 0
    if args.replace:
        log.info("--replace has no effect on a new project")
    media: MediaRef | None = None
    media_path = args.media
    if media_path is None and fmt == "mot":
        seq = _sequence_folder(file)
        if seq is not None:
            media_path = str(seq)
            print(f"media: {seq} (the MOT sequence of {file.name})")
    if media_path is not None:
        media = probe_media(media_path)
    project = read_annotations(file, fmt, media=media, **options)
    require_boxes(project, file)
    ProjectStore.create(proj, project).close()
    print(
        f"created {proj}: {len(project.tracks)} tracks, {project.n_boxes()} boxes, "
        f"labels {', '.join(project.labels)}" + ("" if media else " (no media)")
    )
    return 0


def export_copy(
    project: Project,
    *,
    flag_threshold: float | None = None,
    drop_flagged: bool = False,
    drop_proposed: bool = False,
) -> Project:
    """A detached copy for writing: threshold flags added, flagged boxes and unaccepted
    proposed tracks dropped on request. The project itself is not changed."""
    if flag_threshold is not None and not 0.0 <= flag_threshold <= 1.0:
        raise ConfigError(f"--flag-threshold must be in [0, 1], got {flag_threshold}")
    out = Project(project.media, list(project.labels.values()))
    with out.edit("export") as tx:
        for tid, info in project.tracks.items():
            if drop_proposed and info.proposed:
                continue
            tx.set_track(info)
            for box in project.boxes(tid).values():
                b = box
                low = flag_threshold is not None and b.confidence < flag_threshold
                if low and b.is_derived and not b.flagged:
                    b = b.with_(flagged=True, flag_reason=f"confidence below {flag_threshold}")
                if drop_flagged and b.flagged:
                    continue
                tx.set_box(tid, b)
        tx.set_quality(project.quality)
    out.history.clear()
    return out


def run_export(args: argparse.Namespace) -> int:
    from tracker_annotate.core.quality_report import export_warnings
    from tracker_annotate.io.formats import detect_format, quality_sidecar_path, write_annotations
    from tracker_annotate.io.store import ProjectStore

    fmt = detect_format(args.out, args.format, writing=True, hint=", or pass --format")
    options: dict[str, Any] = {}
    if args.decimals is not None:
        if fmt not in ("mot", "cvat"):
            raise ConfigError(f"--decimals applies to mot/cvat, not {fmt}")
        if not 0 <= args.decimals <= 12:
            raise ConfigError(f"--decimals must be in 0..12, got {args.decimals}")
        options["decimals"] = args.decimals
    if args.human_keyframes:
        if fmt != "cvat":
            raise ConfigError(f"--human-keyframes applies to cvat, not {fmt}")
        options["derived_keyframes"] = False
    if args.label_map is not None:
        if fmt != "mot":
            raise ConfigError(f"--label-map applies to mot, not {fmt}")
        options["label_map"] = parse_label_map(args.label_map)
    if args.write_images:
        if fmt != "yolo":
            raise ConfigError(f"--write-images applies to yolo, not {fmt}")
        options["write_images"] = True
    with ProjectStore.open(args.project, check_media=False) as store:
        stale = len(store.project.stale)
        project = export_copy(
            store.project,
            flag_threshold=args.flag_threshold,
            drop_flagged=args.drop_flagged,
            drop_proposed=args.drop_proposed,
        )
    write_annotations(project, args.out, fmt, **options)
    flagged = sum(b.flagged for t in project.tracks for b in project.boxes(t).values())
    print(
        f"wrote {fmt} {args.out}: {len(project.tracks)} tracks, {project.n_boxes()} boxes"
        + (f", {flagged} flagged" if flagged else "")
    )
    if LOSSES[fmt]:
        print(f"note: {fmt} does not carry {LOSSES[fmt]}")
    where = {"cvat": "<meta>", "coco": "info"}.get(fmt) or str(quality_sidecar_path(args.out, fmt))
    print(f"quality figures (target, predicted and audited residual): {where}")
    for text in export_warnings(project):
        print(f"warning: {text} (tracker-annotate status {args.project})", file=sys.stderr)
    if stale:
        print(
            f"note: {stale} edited stretch{'es were' if stale > 1 else ' was'} not re-tracked "
            "(the app was interrupted); open the project in the app to re-track them, or "
            "check those boxes"
        )
    proposed = sum(info.proposed for info in project.tracks.values())
    if proposed:
        print(
            f"note: {proposed} proposed tracks nobody accepted yet are included "
            "(--drop-proposed leaves them out)"
        )
    return 0

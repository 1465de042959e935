"""``tracker-annotate track MEDIA --init KEYFRAMES --out RESULT``: track one video.

MEDIA is a video, an image folder or a MOTChallenge sequence folder. KEYFRAMES is a MOT
file (1-based frames, one row per keyframe box, id column = track), a CVAT video XML, a
COCO-VID JSON or a project. RESULT's extension picks the output: ``.txt`` MOT results with
the confidence in column 7, ``.xml`` CVAT video, ``.json`` COCO, ``.taproj``/``.sqlite`` a
project for review in the GUI. An existing RESULT is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tracker_annotate.app.pipeline import track_file
from tracker_annotate.cli.detect import add_init_from_detections_args, run_init_from_detections
from tracker_annotate.cli.options import (
    add_tracker_options,
    tracker_config_from_args,
)
from tracker_annotate.cli.progress import progress_bar


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "track",
        help="track objects from keyframes through a video; flag doubtful boxes",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("media", metavar="MEDIA", help="video file, image folder or MOT folder")
    parser.add_argument(
        "--init",
        required=False,  # or --init-from-detections
        metavar="KEYFRAMES",
        help="keyframes: MOT .txt, CVAT .xml, COCO .json or a .taproj/.sqlite project",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="RESULT",
        help="output: .txt (MOT), .xml (CVAT), .json (COCO) or .taproj/.sqlite (project)",
    )
    add_tracker_options(parser, detections=True)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace RESULT if it exists (without it an existing file or project is refused, "
        "so a reviewed project is never replaced by accident)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_init_from_detections_args(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = tracker_config_from_args(args)
    if args.init_from_detections:  # no keyframes: the detector starts the tracks
        return run_init_from_detections(args, config)
    with progress_bar(args.quiet, "track") as progress:
        summary = track_file(
            args.media,
            args.init,
            args.out,
            config,
            detections_path=args.detections,
            progress=progress,
            overwrite=args.overwrite,
        )
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['out']}: {summary['tracks']} track(s), {summary['boxes']} tracked boxes "
            f"over {summary['frames']} frames, {summary['flagged']} flagged for review, "
            f"{summary['proposed']} proposed track(s); "
            f"{summary['object_frames_per_s']} object-frames/s ({summary['tracker']})"
        )
    return 0

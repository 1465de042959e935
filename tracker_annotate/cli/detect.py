"""``tracker-annotate detect MEDIA --frames 0,100 --out det.txt``: run the detector.

The shipped YOLOX-nano (80 COCO classes, sha256-checked) or your own YOLOX-layout ONNX
model (``--model``, ``--model-classes``, ``--model-sha256``) runs on the chosen frames
(``N``, ``A-B``, ``A-B:STEP``, comma-separated, 0-based; ``all`` for every frame). The
output is MOT ``det.txt`` (``.txt``, 1-based frames, id -1, score in column 7: what
``track --detections`` and the GUI's "Import detections" read) or COCO results (``.json``,
with class ids). The time per frame is reported.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tracker_annotate.cli.options import (
    DETECT_MIN_SCORE,
    add_detector_options,
    detector_from_args,
    min_score_from_args,
)
from tracker_annotate.core.errors import ConfigError
from tracker_annotate.tracking.api import TrackerConfig


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="run the object detector on frames; write MOT det.txt or COCO results",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("media", metavar="MEDIA", help="video file, image folder or MOT folder")
    parser.add_argument(
        "--frames", default="0", metavar="SPEC", help="0-based frames (default: %(default)s)"
    )
    parser.add_argument(
        "--out", required=True, metavar="DET", help=".txt (MOT det) or .json (COCO results)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_detector_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tracker_annotate.app.prelabel import detect_file

    summary = detect_file(
        args.media, args.frames, args.out, detector_from_args(args, DETECT_MIN_SCORE)
    )
    if args.json:
        print(json.dumps(summary))
    else:
        classes = ", ".join(f"{n} {k}" for n, k in summary["classes"].items()) or "none"
        print(
            f"{summary['out']}: {summary['detections']} detection(s) on {summary['frames']} "
            f"frame(s) ({classes}); detector {summary['ms_per_frame']} ms/frame"
        )
    return 0


def add_init_from_detections_args(parser: argparse.ArgumentParser) -> None:
    """``track --init-from-detections`` and the detector options it uses."""
    parser.add_argument(
        "--init-from-detections",
        action="store_true",
        help="no keyframes: every confident detection on the first frame starts a proposed "
        "track (see the detector options)",
    )
    add_detector_options(parser)


def run_init_from_detections(args: argparse.Namespace, config: TrackerConfig) -> int:
    """``track --init-from-detections``: see :func:`.prelabel.prelabel_file`."""
    from tracker_annotate.app.prelabel import START_MIN_SCORE, prelabel_file
    from tracker_annotate.cli.progress import progress_bar

    if args.init is not None:
        raise ConfigError("give either --init KEYFRAMES or --init-from-detections, not both")
    min_score = min_score_from_args(args, START_MIN_SCORE)
    with progress_bar(args.quiet, "track") as progress:
        summary = prelabel_file(
            args.media,
            args.out,
            config,
            detector_from_args(args, min_score),
            min_score=min_score,
            detections_path=args.detections,
            progress=progress,
            overwrite=args.overwrite,
        )
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{summary['out']}: {summary['detected']} track(s) started by the detector on "
            f"frame 0 ({summary['detector_ms']} ms), {summary['boxes']} tracked boxes over "
            f"{summary['frames']} frames, {summary['flagged']} flagged for review; tracks "
            f"stay proposed until accepted; {summary['object_frames_per_s']} object-frames/s "
            f"({summary['tracker']})"
        )
    return 0

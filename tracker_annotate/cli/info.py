"""``tracker-annotate info PATH [--json]``: what the media layer sees in a video or sequence.

The frame count is the number of frames that really decode (found by a sequential scan);
when a header or ``seqinfo.ini`` claims another length, both are shown.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tracker_annotate.io.media import fingerprint, open_media


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="describe a video, image folder or MOT sequence (real frame count, size, fps)",
        description=(
            "Describe a video file, a folder of images or a MOTChallenge sequence folder: "
            "decodable frames (and the header's claim when it differs), size, fps, duration, "
            "kind and the fingerprint a project uses to recognise the media."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="video file, image folder or MOT folder")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (for scripts) instead of text"
    )
    parser.set_defaults(func=run)


def media_info(path: str) -> dict[str, Any]:
    """The facts ``info`` prints, as JSON-able values (frames are the decodable count)."""
    with open_media(path) as src:
        info = src.describe()
    info["fingerprint"] = fingerprint(path)
    return info


def _clock(seconds: float) -> str:
    minutes, sec = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{sec:06.3f}"


def format_info(info: dict[str, Any]) -> str:
    frames = f"{info['frames']} decodable"
    claimed = info.get("claimed_frames")
    if claimed is not None and claimed != info["frames"]:
        source = "header" if info["kind"] == "video" else "seqinfo.ini"
        frames += f" ({source} claims {claimed})"
    kind = info["kind"]
    if info.get("codec"):
        kind += f" (codec {info['codec']})"
    rows = [
        ("path", info["path"]),
        ("kind", kind),
        ("frames", frames),
        ("size", f"{info['width']}x{info['height']}"),
        ("fps", f"{info['fps']:.3f}"),
        ("duration", f"{info['duration_s']:.3f} s ({_clock(info['duration_s'])})"),
        ("fingerprint", info["fingerprint"]),
    ]
    return "\n".join(f"{key + ':':<13}{value}" for key, value in rows)


def run(args: argparse.Namespace) -> int:
    info = media_info(args.path)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_info(info))
    return 0

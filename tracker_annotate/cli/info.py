"""``tracker-annotate info PATH [--json]``: what the media layer sees in a video or sequence.

For a video the frame count is the number of frames that really decode (a sequential scan);
for an image folder it is the number of image files (``--verify`` decodes each one). When
a header or ``seqinfo.ini`` claims another length, both are shown.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tracker_annotate.core.errors import MediaError
from tracker_annotate.io.media import MediaConfig, fingerprint, open_media


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
    parser.add_argument(
        "--verify",
        action="store_true",
        help="image folders: decode every image and list those that fail (exit 1 if any); "
        "videos are always fully checked by the length scan",
    )
    parser.set_defaults(func=run)


def media_info(path: str, *, verify: bool = False) -> dict[str, Any]:
    """The facts ``info`` prints, as JSON-able values.

    ``frames`` is the decodable count for videos (the scan decodes every frame) and the
    number of image files for folders; ``frames_verified`` says which. With ``verify``,
    folders are decoded too and ``bad_frames`` lists ``{"frame", "error"}`` for failures.
    """
    with open_media(path, MediaConfig(cache_bytes=0, readahead=0)) as src:
        info = src.describe()
        info["frames_verified"] = src.kind == "video"
        if verify and src.kind != "video":
            bad = []
            for i in range(src.n_frames):
                try:
                    src.read(i)
                except MediaError as exc:
                    bad.append({"frame": i, "error": str(exc)})
            info["bad_frames"] = bad
            info["frames_verified"] = True
    info["fingerprint"] = fingerprint(path)
    return info


def _clock(seconds: float) -> str:
    minutes, sec = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours:02d}:{minutes:02d}:{sec:06.3f}"


def _keyframe_row(info: dict[str, Any]) -> list[tuple[str, str]]:
    # Seeking costs decoding from the keyframe before the target: worth knowing.
    keys = info.get("keyframes")
    if not keys:
        return []
    return [("keyframes", f"{keys} (one every ~{info['frames'] / keys:.0f} frames)")]


def format_info(info: dict[str, Any]) -> str:
    if info["kind"] == "video":
        frames = f"{info['frames']} decodable"
    elif "bad_frames" in info:
        frames = f"{info['frames']} images, {len(info['bad_frames'])} fail to decode"
    else:
        frames = f"{info['frames']} images (not decoded; --verify decodes each)"
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
        *_keyframe_row(info),
        ("duration", f"{info['duration_s']:.3f} s ({_clock(info['duration_s'])})"),
        ("fingerprint", info["fingerprint"]),
    ]
    rows += [("bad frame", bad["error"]) for bad in info.get("bad_frames", [])[:20]]
    return "\n".join(f"{key + ':':<13}{value}" for key, value in rows)


def run(args: argparse.Namespace) -> int:
    info = media_info(args.path, verify=args.verify)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        print(format_info(info))
    return 1 if info.get("bad_frames") else 0

"""Where an object-frame's time goes: the engine profiled on ten objects at 720p.

Runs the engine once per ``--engines`` back-end on the first ``--frames`` frames of
TLP-CarChase2 with the ten boxes of ``bench_throughput.py`` (one thread, so the profile sees
every call), under ``cProfile``, and groups the time of the functions that did the work:

* the networks (``cv2.dnn.Net.forward``, ``setInput``) and ``cv2.TrackerNano``'s update;
* their crops (``warpAffine``) and response-map statistics;
* the committee's choice and learned re-check (``committee.py``);
* the one-step LK vote (``lk_median_flow``), NCC to the keyframes (``appearance.py``);
* the Kalman filter (filterpy), fusion, confidence model and overlaps (``assemble.py``,
  ``fusion.py``, ``calibration.py``);
* decoding the frames (``io/``);
* everything else (Python glue).

The share of the networks in the whole is the overhead target of issue 19 (the engine's
overhead over its members' network time <= 30%).

Usage::

    python benchmarks/bench_breakdown.py [--engines committee,nano] [--frames 60]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_throughput import seed_boxes, seeded
from bench_tracking import DEFAULT_DATA, REPO, Window, load, machine

from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.engine import track_project

NET_CALLS = (
    "<method 'forward' of 'cv2.dnn.Net' objects>",
    "<method 'setInput' of 'cv2.dnn.Net' objects>",
    "<method 'update' of 'cv2.Tracker' objects>",
    "<method 'init' of 'cv2.Tracker' objects>",
)

#: (group, substrings of the file, substrings of the function name): the first group that
#: matches a call takes its time.
GROUPS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("networks (forward, setInput, TrackerNano update/init)", (), NET_CALLS),
    (
        "model loading (ONNX parse, sha256)",
        (),
        ("readNet", "hashlib", "TrackerNano_create", "_io.BufferedReader"),
    ),
    ("crops (warpAffine, blobs)", (), ("warpAffine", "blobFromImage")),
    ("decode (io/)", ("/io/",), ("VideoCapture", "imread", "imdecode")),
    ("LK vote (calcOpticalFlowPyrLK)", (), ("calcOpticalFlowPyrLK", "lk_median_flow")),
    ("NCC to keyframes (appearance.py)", ("appearance.py",), ("matchTemplate",)),
    ("Kalman (filterpy)", ("filterpy", "kalman.py"), ()),
    ("committee choice and stats", ("committee.py", "siamese"), ()),
    (
        "fusion, confidence, overlaps",
        ("assemble.py", "fusion.py", "calibration.py", "confidence.py"),
        (),
    ),
]


def group_of(file: str, name: str) -> str:
    for g, files, names in GROUPS:
        if any(k in file for k in files) or any(k in name for k in names):
            return g
    return "other (Python glue)"


def profile(tracker: str, frames: int) -> tuple[dict[str, float], float, int]:
    seq = DEFAULT_DATA / "TLP-CarChase2"
    boxes = seed_boxes(seq)
    src = open_media(seq)
    project = seeded(src, seq, boxes, frames)
    config = replace(TrackerConfig(tracker=tracker), threads=1)
    pr = cProfile.Profile()
    pr.enable()
    run = track_project(project, Window(src, frames), config)
    pr.disable()
    src.close()
    st = pstats.Stats(pr)
    total = 0.0
    out: dict[str, float] = {g: 0.0 for g, _, _ in GROUPS}
    out["other (Python glue)"] = 0.0
    for (file, _line, name), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        total += tt
        out[group_of(file, name)] += tt
    return out, total, run.object_frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", default="committee,nano")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "breakdown.md")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    cmd = "python benchmarks/bench_breakdown.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Where an object-frame's time goes (ten objects at 720p, one thread, cProfile)",
        "",
        f"Command: `{cmd.strip()}`. Machine: {machine()}; load before {load()}.",
        "Times are CPU-bound self times per object-frame in ms (cProfile adds its own "
        "overhead to the Python glue; the shares are what to compare).",
        "",
    ]
    for e in [x for x in args.engines.split(",") if x]:
        groups, total, of = profile(e, args.frames)
        lines += [
            f"## `{e}`: {1000 * total / of:.1f} ms per object-frame ({of} object-frames)",
            "",
            "| part | ms per object-frame | share |",
            "|---|---:|---:|",
        ]
        for g, t in sorted(groups.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {g} | {1000 * t / of:.2f} | {t / total:.0%} |")
        net = groups[GROUPS[0][0]]
        rest = total - net - groups["model loading (ONNX parse, sha256)"]
        lines += [
            "",
            f"Overhead over the networks (all but networks and model loading, over the "
            f"networks): {rest / max(net, 1e-9):.0%}.",
            "",
        ]
        print("\n".join(lines[-12:]), file=sys.stderr)
    lines.append(f"Load after: {load()}.")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

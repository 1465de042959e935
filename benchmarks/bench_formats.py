"""Benchmark the interchange formats at scale (default: 20 tracks x 10,000 frames = 200k boxes).

For MOT, CVAT XML, COCO and YOLO: write time, read time (not YOLO: export only), file size,
and whether the read-back project has the same visible boxes. CPU time is reported beside
wall time because the machine may be shared.

    python benchmarks/bench_formats.py --out benchmarks/results/formats.md
    python benchmarks/bench_formats.py --tracks 5 --frames 2000   # quick
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from pathlib import Path

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats import read_annotations, write_annotations


def build(n_tracks: int, n_frames: int, seed: int) -> Project:
    """Keyframes every 25 frames, tracked boxes between, some flagged, some ended early."""
    rng = random.Random(seed)
    media = MediaRef("/videos/bench.mp4", n_frames, 1920, 1080, 30.0)
    project = Project(media, [Label("pedestrian"), Label("car")])
    with project.edit("bench") as tx:
        for tid in range(1, n_tracks + 1):
            tx.set_track(TrackInfo(tid, rng.choice(["pedestrian", "car"])))
            x, y = rng.uniform(0, 1800), rng.uniform(0, 1000)
            end = n_frames if rng.random() < 0.7 else rng.randrange(n_frames // 2, n_frames)
            for f in range(end):
                x = min(max(x + rng.gauss(0, 2), 0), 1800)
                y = min(max(y + rng.gauss(0, 1), 0), 1000)
                xyxy = BoxXYXY(x, y, x + 60.5, y + 120.25)
                if f % 25 == 0:
                    box = FrameBox(f, xyxy)
                else:
                    conf = rng.random()
                    box = FrameBox(f, xyxy, BoxSource.TRACKED, conf, flagged=conf < 0.2)
                tx.set_box(tid, box)
    project.history.clear()
    return project


def _visible(project: Project) -> dict[tuple[int, int], tuple[float, ...]]:
    return {
        (t, f): b.xyxy.as_tuple()
        for t in project.tracks
        for f, b in project.boxes(t).items()
        if not b.outside
    }


def run(n_tracks: int, n_frames: int, seed: int) -> list[dict[str, object]]:
    project = build(n_tracks, n_frames, seed)
    truth = _visible(project)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, name in (("mot", "gt.txt"), ("cvat", "a.xml"), ("coco", "a.json"), ("yolo", "y")):
            path = Path(tmp) / name
            w0, c0 = time.perf_counter(), time.process_time()
            write_annotations(project, path, fmt)
            w1, c1 = time.perf_counter(), time.process_time()
            size = (
                sum(p.stat().st_size for p in path.rglob("*"))
                if path.is_dir()
                else path.stat().st_size
            )
            row: dict[str, object] = {
                "format": fmt,
                "write_s": w1 - w0,
                "write_cpu_s": c1 - c0,
                "size_mb": size / 1e6,
            }
            if fmt != "yolo":
                back = read_annotations(path, fmt, media=project.media)
                w2, c2 = time.perf_counter(), time.process_time()
                got = _visible(back)
                tol = 0.0101 if fmt == "mot" else 1e-9
                same = got.keys() == truth.keys() and all(
                    abs(u - v) <= tol
                    for k, a in truth.items()
                    for u, v in zip(a, got[k], strict=True)
                )
                row.update(read_s=w2 - w1, read_cpu_s=c2 - c1, same_boxes=same)
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write a Markdown table here too")
    args = parser.parse_args()
    rows = run(args.tracks, args.frames, args.seed)
    n = build(args.tracks, args.frames, args.seed).n_boxes()
    lines = [
        f"# Formats: {args.tracks} tracks x {args.frames} frames = {n} boxes",
        "",
        f"python {platform.python_version()} on {platform.machine()}",
        "",
        "| format | write s (cpu) | read s (cpu) | size MB | boxes equal |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        read = f"{r['read_s']:.2f} ({r['read_cpu_s']:.2f})" if "read_s" in r else "export only"
        same = r.get("same_boxes", "-")
        lines.append(
            f"| {r['format']} | {r['write_s']:.2f} ({r['write_cpu_s']:.2f}) | {read} "
            f"| {r['size_mb']:.1f} | {same} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()

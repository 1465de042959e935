"""Do the networks pay for batching across objects? Milliseconds per crop, one forward on
an N-crop batch against N forwards of one crop, side by side, interleaved, in one run.

The candidate is FEAR-XS's track net, the committee's costliest member and the one whose
graph takes a batch (``siamese_fear.batchable_track_onnx`` rewrites its batch-1 reshapes in
memory). NanoTrack's shipped backbones fix the batch at 1 in their squeeze-excite reshapes;
their single-crop cost is measured beside it for scale. Inputs are random tensors of the
real shapes (the cost of a forward does not depend on the pixel values).

    python benchmarks/bench_batch_nets.py --out benchmarks/results/batch_nets.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from tracker_annotate.tracking import siamese_fear as sf
from tracker_annotate.tracking.siamese_nano import backbone_forward, load_net


def per_crop_ms(fn, n: int, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3 / n)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,2,4,10")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", default="1,2", help="cv2.setNumThreads values to try")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    fear = sf._read_net("fear_xs_track", None)
    nanos = {"v2": load_net("nanotrack_backbone"), "v3": load_net("nanotrack3_backbone")}
    load0 = os.getloadavg()
    rows = []
    for threads in [int(v) for v in args.threads.split(",")]:
        cv2.setNumThreads(threads)
        for n in sizes:
            x = rng.uniform(0, 255, (n, 3, sf.SEARCH_SIZE, sf.SEARCH_SIZE)).astype(np.float32)
            f = rng.standard_normal((n, *sf.FEATURE_SHAPE)).astype(np.float32)
            sf.track_forward(fear, x, f)  # warm-up
            batched, single = [], []
            for _ in range(args.repeats):  # interleaved: the load hits both alike
                batched += per_crop_ms(lambda x=x, f=f: sf.track_forward(fear, x, f), n, 1)
                single += per_crop_ms(
                    lambda x=x, f=f, n=n: [
                        sf.track_forward(fear, x[i : i + 1], f[i : i + 1]) for i in range(n)
                    ],
                    n,
                    1,
                )
            b, s = statistics.median(batched), statistics.median(single)
            rows.append((threads, "FEAR-XS track net (256 crop)", n, b, s))
        for v, net in nanos.items():
            x = rng.uniform(0, 255, (1, 3, 255, 255)).astype(np.float32)
            backbone_forward(net, x)
            ms = statistics.median(
                per_crop_ms(lambda net=net, x=x: backbone_forward(net, x), 1, args.repeats)
            )
            rows.append((threads, f"NanoTrack {v} backbone (255 crop, batch 1 only)", 1, ms, ms))
    load1 = os.getloadavg()
    lines = [
        "# Batching the networks across objects: does it pay on this CPU?",
        "",
        f"Command: `python benchmarks/bench_batch_nets.py --sizes {args.sizes} --repeats "
        f"{args.repeats} --threads {args.threads}`. Machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, OpenCV "
        f"{cv2.__version__}, Python {platform.python_version()}; load average before "
        f"{load0[0]:.2f}, after {load1[0]:.2f}. Medians of {args.repeats} interleaved rounds.",
        "",
        "| OpenCV threads | network | batch N | batched ms per crop | N single calls, ms per crop "
        "| batched / single |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for threads, name, n, b, s in rows:
        lines.append(f"| {threads} | {name} | {n} | {b:.2f} | {s:.2f} | {b / s:.2f} |")
    fear_rows = [(t, n, b / s) for t, name, n, b, s in rows if name.startswith("FEAR") and n > 1]
    best = min(fear_rows, key=lambda r: r[2])
    lines += [
        "",
        f"Best batched/single ratio: {best[2]:.2f} (N = {best[1]}, {best[0]} thread(s)). "
        + (
            "Batching pays here."
            if best[2] < 0.9
            else "No batch size pays by 10% or more, so the engine runs one crop per forward "
            "and uses the two cores by running halves of the tracks in two threads."
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Media-layer benchmark: our cached, verified sources vs the naive OpenCV approach.

Measured side by side in one run, on a 720p image sequence (TLP-CarChase2 from the shared
evaluation data, read in place) and on a 1080p video generated here in a temp dir:

* time to first frame on open, and time until the real length is known (the scan);
* sequential decode fps;
* step-forward and step-back latency (p50/p95): ours vs ``cap.set(POS_FRAMES, i); read()``
  (or ``imread`` per request for images);
* random-seek latency, and whether the frame returned is really frame i (checked against
  hashes from one plain sequential decode);
* a forward reader doing ~8 ms of work per frame, with and without read-ahead;
* peak cache bytes vs budget.

Usage::

    python benchmarks/bench_media.py [--frames 600] [--codec mp4v] [--out PATH.md]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tracker_annotate.io.frame_cache import MIB
from tracker_annotate.io.media import MediaConfig, open_media

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SEQUENCE = REPO.parent / "shared" / "data" / "sequences" / "TLP-CarChase2"
BUDGET = 256 * MIB
STEPS = 40
SEEKS = 30


def make_video(path: Path, n: int, codec: str, size: tuple[int, int] = (1920, 1080)) -> None:
    """``n`` frames of a textured scene panning diagonally, with the index drawn in."""
    w, h = size
    rng = np.random.default_rng(2024)
    base = rng.integers(0, 256, (h + 2 * n // 3 + 8, w + n + 8, 3), dtype=np.uint8)
    base = cv2.GaussianBlur(base, (0, 0), 3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 30.0, (w, h))
    if not writer.isOpened():
        raise SystemExit(f"cannot write {codec} into {path.suffix} with this OpenCV")
    for i in range(n):
        frame = np.ascontiguousarray(base[(2 * i) // 3 : (2 * i) // 3 + h, i : i + w])
        cv2.putText(frame, f"{i:04d}", (60, 200), cv2.FONT_HERSHEY_SIMPLEX, 6, (255, 255, 255), 12)
        writer.write(frame)
    writer.release()


def digest(frame: np.ndarray) -> bytes:
    return hashlib.blake2b(frame.tobytes(), digest_size=12).digest()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"{1000 * pct(values, 0.5):.1f} / {1000 * pct(values, 0.95):.1f}"


class Naive:
    """What a quick tool does: one VideoCapture, ``set(POS_FRAMES)`` before every read."""

    def __init__(self, path: Path) -> None:
        self.files: list[Path] | None = None
        self.pos = 0
        if path.is_dir():
            folder = path / "img1" if (path / "img1").is_dir() else path
            self.files = sorted(folder.glob("*.jpg"))
        else:
            self.cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)

    def read(self, i: int) -> np.ndarray:
        if self.files is not None:
            img = cv2.imread(str(self.files[i]))
            assert img is not None
            return img
        if i != self.pos:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, frame = self.cap.read()
        self.pos = i + 1
        if not ok:
            raise RuntimeError(f"naive read of frame {i} failed")
        return frame

    def read_next(self) -> np.ndarray | None:
        if self.files is not None:
            if self.pos >= len(self.files):
                return None
            self.pos += 1
            return self.read(self.pos - 1)
        ok, frame = self.cap.read()
        self.pos += 1
        return frame if ok else None


@dataclass
class Result:
    name: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, ours: str, naive: str) -> None:
        self.rows.append((what, ours, naive))
        print(f"  {what:<44} ours {ours:<22} naive {naive}", flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def latencies(read: Callable[[int], Any], order: list[int]) -> list[float]:
    out = []
    for i in order:
        t = time.perf_counter()
        read(i)
        out.append(time.perf_counter() - t)
    return out


def busy_work(frame: np.ndarray) -> None:
    cv2.GaussianBlur(frame, (0, 0), 2.0)  # ~ a light tracker update on a full frame


def bench(name: str, path: Path) -> Result:
    res = Result(name)
    print(f"\n== {name}: {path}", flush=True)
    cfg = MediaConfig(cache_bytes=BUDGET)
    no_ra = MediaConfig(cache_bytes=BUDGET, readahead=0)

    # time to first frame, then to the real length
    t_first, src = timed(lambda: open_media(path, cfg))
    t_first += timed(lambda: src.read(0))[0]
    t_len, n = timed(lambda: src.n_frames)
    naive_first, naive = timed(lambda: Naive(path))
    naive_first += timed(lambda: naive.read(0))[0]
    res.add(
        "time to first frame (open + read 0)",
        f"{1000 * t_first:.1f} ms",
        f"{1000 * naive_first:.1f} ms",
    )
    claimed = getattr(naive, "cap", None)
    header = int(claimed.get(cv2.CAP_PROP_FRAME_COUNT)) if claimed is not None else n
    res.add(
        "time until length known (scan)",
        f"{1000 * t_len:.0f} ms ({n} frames)",
        f"header only: {header} frames",
    )
    src.close()

    # reference hashes from one plain sequential decode, and naive sequential fps
    ref: list[bytes] = []
    seq_naive = Naive(path)
    t_ref = time.perf_counter()
    while (frame := seq_naive.read_next()) is not None:
        ref.append(digest(frame))
    t_ref = time.perf_counter() - t_ref
    src = open_media(path, no_ra)
    t_seq, _ = timed(lambda: [src.read(i) for i in range(n)])
    res.add("sequential decode (all frames)", f"{n / t_seq:.1f} fps", f"{len(ref) / t_ref:.1f} fps")
    src.close()

    # a forward reader that works ~ms per frame: read-ahead overlaps decode with that work
    m = min(n, 200)
    for label, c in (("read-ahead 6", cfg), ("read-ahead off", no_ra)):
        s = open_media(path, c)
        t, _ = timed(lambda s=s: [busy_work(s.read(i)) for i in range(m)])
        res.notes.append(
            f"forward reader + GaussianBlur work, {m} frames, {label}: {1000 * t / m:.1f} ms/frame"
        )
        s.close()
    print("  " + "\n  ".join(res.notes[-2:]), flush=True)

    # stepping: start in the middle, 40 single steps forward, then 40 back (ours: one source)
    mid = n // 2
    src = open_media(path, cfg)
    src.read(mid)
    fwd = latencies(src.read, list(range(mid + 1, mid + 1 + STEPS)))
    src.close()
    src = open_media(path, cfg)
    src.n_frames  # noqa: B018 - the scan is measured above; not part of step latency
    src.read(mid)
    back = latencies(src.read, list(range(mid - 1, mid - 1 - STEPS, -1)))
    back_stats = src.cache_stats()
    src.close()
    naive = Naive(path)
    naive.read(mid)
    naive_fwd: list[float] = []
    for i in range(mid + 1, mid + 1 + STEPS):
        naive.pos = -1  # set(POS_FRAMES) on every request, as a read-frame-i API does
        naive_fwd += latencies(naive.read, [i])
    naive_back = latencies(naive.read, list(range(mid - 1, mid - 1 - STEPS, -1)))
    res.add("step forward p50 / p95", f"{ms(fwd)} ms", f"{ms(naive_fwd)} ms")
    res.add("step back p50 / p95", f"{ms(back)} ms", f"{ms(naive_back)} ms")
    res.notes.append(
        f"step back: {back_stats.hits} cache hits, {back_stats.misses} misses, "
        f"{back_stats.decoded} frames decoded for {STEPS} steps"
    )

    # random access, checked against the sequential reference
    order = random.Random(11).choices(range(n), k=SEEKS)
    src = open_media(path, no_ra)
    src.n_frames  # noqa: B018
    ours_bad = 0
    ours_t = []
    for i in order:
        dt, frame = timed(lambda i=i: src.read(i))
        ours_t.append(dt)
        ours_bad += digest(frame) != ref[i]
    fallbacks = getattr(src, "seek_fallbacks", 0)
    src.close()
    naive = Naive(path)
    naive_bad = 0
    naive_t = []
    for i in order:
        naive.pos = -1
        dt, frame = timed(lambda i=i: naive.read(i))
        naive_t.append(dt)
        naive_bad += digest(frame) != ref[i]
    res.add("random seek p50 / p95", f"{ms(ours_t)} ms", f"{ms(naive_t)} ms")
    res.add(f"wrong frame returned (of {SEEKS} random seeks)", str(ours_bad), str(naive_bad))
    res.notes.append(f"seek verification fallbacks: {fallbacks}")

    # peak cache bytes under a scrub: forward 120, back 120, random 60
    src = open_media(path, cfg)
    for i in [
        *range(120),
        *range(119, -1, -1),
        *random.Random(5).choices(range(n), k=60),
    ]:
        src.read(i)
    st = src.cache_stats()
    src.close()
    res.add(
        "peak cache bytes vs budget",
        f"{st.peak_bytes / MIB:.0f} MiB / {BUDGET / MIB:.0f} MiB",
        "(no cache)",
    )
    res.notes.append(f"scrub: hit rate {st.hit_rate:.0%}, {st.evictions} evictions")
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=600, help="length of the generated video")
    parser.add_argument("--codec", default="mp4v", help="fourcc of the generated video")
    parser.add_argument("--sequence", type=Path, default=DEFAULT_SEQUENCE)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "media.md")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_media.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    results = []
    t0 = time.perf_counter()
    if args.sequence.is_dir():
        results.append(bench(f"{args.sequence.name} (image folder)", args.sequence))
    else:
        print(f"skipping the image sequence: {args.sequence} is absent", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ext = ".avi" if args.codec.upper() in {"MJPG", "XVID"} else ".mp4"
        video = Path(tmp) / f"pan1080p_{args.codec}{ext}"
        t_gen, _ = timed(lambda: make_video(video, args.frames, args.codec))
        print(f"generated {video.name} ({video.stat().st_size / MIB:.0f} MiB) in {t_gen:.1f} s")
        results.append(bench(f"generated 1080p {args.codec}{ext}, {args.frames} frames", video))
    total = time.perf_counter() - t0

    lines = [
        "# Media layer benchmark",
        "",
        "```",
        command,
        "```",
        "",
        f"OpenCV {cv2.__version__}; {total:.0f} s total; machine shared with other jobs "
        "(2 cores), so absolute numbers are noisy; compare the columns. Latencies are "
        "p50 / p95. Naive = one `cv2.VideoCapture`, `set(CAP_PROP_POS_FRAMES, i)` + "
        "`read()` per request (image folders: `cv2.imread` per request).",
    ]
    for res in results:
        lines += ["", f"## {res.name}", "", "| measure | ours | naive |", "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in res.rows]
        lines += [""] + [f"- {note}" for note in res.notes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {args.out} in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import os
import random
import shlex
import statistics
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
from tracker_annotate.io.video import _SCANS

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SEQUENCE = REPO.parent / "shared" / "data" / "sequences" / "TLP-CarChase2"
BUDGET = 256 * MIB
STEPS = 40
SEEKS = 30
SEQ = 300
REPEATS = 3
PACED = 60
PACE_S = 0.010


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


def ms1(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.1f}"


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

    # time to first frame (ours decodes frame 0 on open; no scan), alternating trials
    ours_first, naive_first = [], []
    for _ in range(REPEATS):
        t = time.perf_counter()
        src = open_media(path, cfg)
        src.read(0)
        ours_first.append(time.perf_counter() - t)
        src.close()
        t = time.perf_counter()
        Naive(path).read(0)
        naive_first.append(time.perf_counter() - t)
    res.add(
        "time to first frame (open + read 0), median",
        f"{ms1(ours_first)} ms",
        f"{ms1(naive_first)} ms",
    )

    # time until the real length is known: a fresh scan (the process-wide scan cache is
    # emptied first, as for a file never opened before)
    _SCANS.clear()
    src = open_media(path, cfg)
    t_len, n = timed(lambda: src.n_frames)
    src.close()
    naive = Naive(path)
    header = int(naive.cap.get(cv2.CAP_PROP_FRAME_COUNT)) if naive.files is None else n
    res.add(
        "time until length known (scan)",
        f"{1000 * t_len:.0f} ms ({n} frames)",
        f"header only: {header} frames",
    )

    # reference hashes from one plain sequential decode (for the exactness check)
    ref: list[bytes] = []
    seq_naive = Naive(path)
    while (frame := seq_naive.read_next()) is not None:
        ref.append(digest(frame))

    # sequential decode, alternating trials over the first SEQ frames
    m = min(n, SEQ)
    ours_fps, naive_fps = [], []
    for _ in range(REPEATS):
        src = open_media(path, no_ra)
        t, _ = timed(lambda src=src: [src.read(i) for i in range(m)])
        ours_fps.append(m / t)
        src.close()
        nv = Naive(path)
        t, _ = timed(lambda nv=nv: [nv.read_next() for _ in range(m)])
        naive_fps.append(m / t)
    res.add(
        f"sequential decode ({m} frames), median fps",
        f"{statistics.median(ours_fps):.1f}",
        f"{statistics.median(naive_fps):.1f}",
    )

    # a forward reader doing ~ms of work per frame: read-ahead overlaps decode with it
    k = min(n, 100)
    with_ra, without_ra = [], []
    for r in range(REPEATS):
        for out, c in ((with_ra, cfg), (without_ra, no_ra)):
            s = open_media(path, c)
            first = (r * k) % max(1, n - k + 1)
            t, _ = timed(lambda s=s, a=first: [busy_work(s.read(i)) for i in range(a, a + k)])
            out.append(1000 * t / k)
            s.close()
    res.add(
        "reader + blur work per frame, median (ours: read-ahead 6 vs off)",
        f"{statistics.median(with_ra):.1f} ms",
        f"off: {statistics.median(without_ra):.1f} ms",
    )

    # a paced reader (playback, or a user holding an arrow key): read-ahead hides decoding
    k = min(n // 3, PACED)
    for label, frames in (
        ("forward", list(range(n // 3, n // 3 + k))),
        ("backward", list(range(n - 1, n - 1 - k, -1))),
    ):
        paced = {}
        for c in (cfg, no_ra):
            s = open_media(path, c)
            s.n_frames  # noqa: B018
            s.read(frames[0])
            samples = []
            for i in frames[1:]:
                time.sleep(PACE_S)
                samples += latencies(s.read, [i])
            paced[c.readahead] = samples
            s.close()
        res.add(
            f"paced reader {label}, {1000 * PACE_S:.0f} ms between reads: read p50 / p95",
            f"{ms(paced[cfg.readahead])} ms",
            f"read-ahead off: {ms(paced[0])} ms",
        )

    # stepping: from a middle frame, single steps forward; from another, steps back
    fwd, back, naive_fwd, naive_back = [], [], [], []
    hits = misses = decoded = 0
    steps = min(STEPS, n // 4)
    for mid in (n // 2, n // 4 + steps):
        src = open_media(path, cfg)
        src.n_frames  # noqa: B018 - the scan is measured above; not part of step latency
        src.read(mid)
        fwd += latencies(src.read, list(range(mid + 1, mid + 1 + steps)))
        src.close()
        src = open_media(path, cfg)
        src.read(mid)
        src.cache.reset_stats()
        back += latencies(src.read, list(range(mid - 1, mid - 1 - steps, -1)))
        st = src.cache_stats()
        hits, misses, decoded = hits + st.hits, misses + st.misses, decoded + st.decoded
        src.close()
        naive = Naive(path)
        for i in range(mid + 1, mid + 1 + steps):
            naive.pos = -1  # set(POS_FRAMES) on every request, as a read-frame-i API does
            naive_fwd += latencies(naive.read, [i])
        naive_back += latencies(naive.read, list(range(mid - 1, mid - 1 - steps, -1)))
    res.add("step forward p50 / p95", f"{ms(fwd)} ms", f"{ms(naive_fwd)} ms")
    res.add("step back p50 / p95", f"{ms(back)} ms", f"{ms(naive_back)} ms")
    chunk = (
        f" (a miss decodes a chunk of >= {cfg.back_chunk} frames ending at the target)"
        if naive.files is None
        else " (an image folder reads one file per miss)"
    )
    res.notes.append(
        f"step back, {2 * steps} steps back to back: {hits} cache hits, {misses} misses"
        f"{chunk}, {decoded} frames decoded"
    )

    # random access, each result checked against the sequential reference
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

    # peak cache bytes under a scrub: forward 120, back 120, 60 random
    src = open_media(path, cfg)
    span = min(n, 120)
    for i in [*range(span), *range(span - 1, -1, -1), *random.Random(5).choices(range(n), k=60)]:
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
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
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
        f"OpenCV {cv2.__version__}; {total:.0f} s total; load average before the run "
        f"{load_before}. The machine (2 cores) is shared with other jobs, so absolute "
        "numbers are noisy: ours and naive alternate trial by trial, throughputs are medians "
        f"of {REPEATS} trials, latencies are p50 / p95 of pooled samples. Naive = one "
        "`cv2.VideoCapture`, `set(CAP_PROP_POS_FRAMES, i)` + `read()` per request (image "
        "folders: `cv2.imread` per request); sequential naive = plain `read()` in a loop. "
        f"Cache budget {BUDGET // MIB} MiB.",
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

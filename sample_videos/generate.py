"""Regenerate the committed synthetic sample: ``python sample_videos/generate.py``.

Writes ``sample_videos/synthetic/`` (MOTChallenge layout), ``sample_videos/synthetic.mp4``
and ``sample_videos/keyframes.txt`` from ``tracker_annotate.synth.SAMPLE_CONFIG``. The
generator is deterministic, so ``gt.txt`` comes out byte-identical; JPEG and MPEG-4 bytes
may differ slightly between OpenCV builds (tests compare decoded pixels with a tolerance).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tracker_annotate.synth import write_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write into (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = write_sample(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    logging.getLogger("generate").info(
        "wrote %s, %s, %s (%.2f MB)", paths.sequence_dir, paths.video, paths.keyframes, size / 1e6
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

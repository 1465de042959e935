"""A tqdm progress bar on stderr shaped as the engine's ``progress(done, total)`` callback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tracker_annotate.tracking.api import ProgressCallback


@contextmanager
def progress_bar(
    quiet: bool, desc: str, unit: str = "obj-frame", leave: bool = False
) -> Iterator[ProgressCallback | None]:
    """Yield a callback that drives a bar on stderr, or ``None`` when ``quiet``."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, desc=desc, file=sys.stderr, leave=leave)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield progress
    finally:
        bar.close()

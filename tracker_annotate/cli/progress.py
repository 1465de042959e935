"""A tqdm progress bar on stderr shaped as the engine's ``progress(done, total)`` callback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Never

from tracker_annotate.tracking.api import ProgressCallback


@contextmanager
def progress_bar(
    quiet: bool, desc: str, unit: str = "obj-frame", leave: bool = False
) -> Iterator[ProgressCallback | None]:
    """Yield a callback that drives a bar on stderr, or ``None`` when ``quiet``.

    The bar appears with the first report: a command that fails while opening its input
    prints its one-line error, not an empty "0obj-frame" bar before it."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bars: list[tqdm[Never]] = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=leave))
        bar = bars[0]
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield progress
    finally:
        for bar in bars:
            bar.close()

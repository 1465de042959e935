"""The contract every frame source meets (videos, image folders, MOT sequences).

The implementations live in :mod:`tracker_annotate.io.media`; the core, the tracker and the
GUI depend only on this protocol.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]  # H x W x 3, BGR (OpenCV's order)


@runtime_checkable
class FrameSource(Protocol):
    """Random access to decoded frames by 0-based index.

    ``n_frames`` is the real decodable length (a header that overstates it is corrected).
    ``read(i)`` returns exactly frame ``i`` whether reached by stepping, seeking back or
    random access, or raises :class:`~tracker_annotate.core.errors.MediaError` naming the
    frame. Sources are not thread-safe: give each worker its own (``reopen()``).
    """

    path: str

    @property
    def n_frames(self) -> int: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def fps(self) -> float: ...

    def read(self, index: int) -> Frame: ...

    def reopen(self) -> FrameSource: ...

    def close(self) -> None: ...

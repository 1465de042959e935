"""Ctrl+C for long commands: the CLI, not the library, owns the SIGINT handler.

:func:`cancel_on_sigint` installs a handler that cancels a
:class:`~tracker_annotate.tracking.api.CancelToken` (the library stops at its next check,
keeps finished work and removes partial outputs) and puts the previous handler back on
exit. A second Ctrl+C raises ``KeyboardInterrupt`` as usual, for a run that does not stop.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from tracker_annotate.tracking.api import CancelToken


@contextmanager
def cancel_on_sigint(token: CancelToken) -> Iterator[CancelToken]:
    """Within the block, SIGINT cancels ``token`` instead of raising (main thread only:
    elsewhere Python cannot install handlers and the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield token
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if token.cancelled:  # asked twice: stop now
            raise KeyboardInterrupt
        token.cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)

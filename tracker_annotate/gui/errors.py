"""Errors shown in the window: what went wrong and what to do next, never a traceback.

Library errors already name the file, line or frame; this module adds the next step the
annotator can take. Unexpected exceptions are logged with their traceback (for a bug
report) and shown as one sentence.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType

from PyQt6.QtWidgets import QMessageBox, QWidget

from tracker_annotate.core.errors import (
    BoxError,
    ConfigError,
    FormatError,
    MediaError,
    MediaMovedError,
    ProjectDamagedError,
    ProjectError,
    TrackerAnnotateError,
    TrackingError,
)

log = logging.getLogger(__name__)

_NEXT_STEP: list[tuple[type[BaseException], str]] = [
    (MediaMovedError, "Choose the media's new location when asked, or move it back."),
    (
        ProjectDamagedError,
        "The file itself is damaged: restore it from its backup (offered when a backup "
        "exists), or from your own copy. Reopening it will not help.",
    ),
    (MediaError, "Check that the file plays in a video player, or convert it to MP4/H.264."),
    (FormatError, "Fix the file at the line shown, or choose the matching format on import."),
    (BoxError, "Draw the box again inside the image."),
    (TrackingError, "Check the track's keyframes, or pick another tracker in Preferences."),
    (ConfigError, "Change the value in Preferences to one inside the allowed range."),
    (ProjectError, "Undo the last step, or reopen the project (every edit was saved)."),
    (PermissionError, "Choose a folder you can write to."),
    (OSError, "Check the disk (free space, permissions) and try again."),
]


def next_step(exc: BaseException) -> str:
    for kind, hint in _NEXT_STEP:
        if isinstance(exc, kind):
            return hint
    return "Every edit so far is saved. Please report this problem with the log output."


def describe(exc: BaseException) -> str:
    """One paragraph for the user: the message and what to do next."""
    if isinstance(exc, (TrackerAnnotateError, OSError)):
        msg = str(exc)
    else:
        msg = f"Unexpected error: {type(exc).__name__}: {exc}"
    return f"{msg}\n\n{next_step(exc)}"


def show_error(parent: QWidget | None, title: str, exc: BaseException | str) -> None:
    """A modal error box (non-blocking in tests: ``QMessageBox`` is patched there)."""
    text = exc if isinstance(exc, str) else describe(exc)
    log.warning("%s: %s", title, text.replace("\n\n", " "))
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.exec()


def install_excepthook(parent_getter: object = None) -> None:
    """Route uncaught exceptions (e.g. in a slot) to a dialog instead of a dead window."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("uncaught exception", exc_info=(kind, exc, tb))
        if isinstance(exc, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        show_error(None, "Something went wrong", exc)

    sys.excepthook = hook

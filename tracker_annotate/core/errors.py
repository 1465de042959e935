"""The error family of tracker_annotate.

Every error a user can cause is a :class:`TrackerAnnotateError`. Messages name the file,
line, frame or argument at fault and what was expected, so the CLI can print one line and
the GUI can show it in a dialog without a traceback. Raise them ``from`` the cause.
"""

from __future__ import annotations


class TrackerAnnotateError(Exception):
    """Base class of every error tracker_annotate raises on purpose."""


class BoxError(TrackerAnnotateError, ValueError):
    """An impossible box: non-finite, zero or negative size, or outside the image."""


class FormatError(TrackerAnnotateError):
    """A malformed annotation or detection file.

    ``path``, ``line`` (1-based, as an editor shows it) and ``field`` say where; any may
    be ``None`` when it does not apply (a JSON file has no useful line for a key).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f":{line}"
            if field is not None:
                where += f" (field {field!r})"
            where += ": "
        elif field is not None:
            where = f"field {field!r}: "
        super().__init__(where + message)


class MediaError(TrackerAnnotateError):
    """A video or image sequence that cannot be opened or a frame that cannot be decoded."""

    def __init__(self, message: str, *, path: str | None = None, frame: int | None = None) -> None:
        self.path = path
        self.frame = frame
        where = ""
        if path is not None:
            where = str(path)
            if frame is not None:
                where += f" frame {frame}"
            where += ": "
        elif frame is not None:
            where = f"frame {frame}: "
        super().__init__(where + message)


class IndexPendingError(MediaError):
    """The frame needs the video's seek index, which is still being built in the
    background: it can be shown when the index is done (not a decoding failure)."""


class ProjectError(TrackerAnnotateError):
    """A project file that cannot be opened, or an edit the model refuses."""


class ProjectDamagedError(ProjectError):
    """The project file is damaged (truncated, a bad sector, garbage in a row).

    ``path`` is the damaged file; ``backup_path`` the rolling backup that can replace it,
    if one exists (``None`` otherwise).
    """

    def __init__(self, message: str, *, path: str, backup_path: str | None = None) -> None:
        self.path = path
        self.backup_path = backup_path
        super().__init__(message)


class MediaMovedError(ProjectError):
    """The project's media is not where it was, or is not the same file any more.

    ``expected_path`` is what the project recorded; the caller may relink it.
    """

    def __init__(self, message: str, *, expected_path: str) -> None:
        self.expected_path = expected_path
        super().__init__(message)


class TrackingError(TrackerAnnotateError):
    """The tracking engine could not run: a bad keyframe, an unknown tracker, bad config."""


class ConfigError(TrackerAnnotateError, ValueError):
    """A parameter outside its allowed range; the message names it and the range."""


class ModelError(TrackerAnnotateError):
    """A model file (shipped ONNX weights or a user's own) is missing, damaged or unreadable.

    The message names the file and says how to fix it (reinstall, or pass another path).
    """

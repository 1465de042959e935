"""Shared plumbing of the format readers and writers.

Readers collect everything into a :class:`ProjectBuilder` first and only build the
:class:`~tracker_annotate.core.project.Project` once the whole file has parsed, so a
malformed file raises :class:`FormatError` and never yields a half-imported project.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tracker_annotate.core.boxes import MAX_COORD, BoxXYXY, FrameBox, implausible_for_image
from tracker_annotate.core.errors import BoxError, FormatError, ProjectError
from tracker_annotate.core.labels import DEFAULT_LABEL, Label, distinct_color
from tracker_annotate.core.project import MediaRef, Project, TrackInfo

PathLike = str | os.PathLike[str]

#: Largest integer a file may give for a frame, id or count: 2**53, beyond which a number
#: read as a float is no longer exact (and no video has that many frames). Beyond it a
#: value is damage, and would overflow the 64-bit integers of NumPy and SQLite.
MAX_INT = 2**53


class ProjectBuilder:
    """Collects labels, tracks and boxes from a file; :meth:`build` makes the project.

    ``path`` is used in every error message. ``media``, when given, bounds the frames:
    a box beyond the last frame is a :class:`FormatError` at its line.
    """

    def __init__(self, path: PathLike, media: MediaRef | None = None) -> None:
        self.path = str(path)
        self.media = media
        self.labels: dict[str, Label] = {}
        self.tracks: dict[int, TrackInfo] = {}
        self.boxes: dict[int, dict[int, FrameBox]] = {}
        self._where: dict[tuple[int, int], int | None] = {}

    def error(self, message: str, line: int | None = None, field: str | None = None) -> FormatError:
        return FormatError(message, path=self.path, line=line, field=field)

    def add_label(self, name: str, color: tuple[int, int, int] | None = None) -> str:
        """Declare a label (first declaration wins); returns its name."""
        if name not in self.labels:
            rgb = color if color is not None else distinct_color(len(self.labels))
            try:
                self.labels[name] = Label(name, rgb)
            except ProjectError as exc:
                raise self.error(str(exc), field="label") from exc
        return name

    def add_track(self, info: TrackInfo, line: int | None = None, field: str = "id") -> None:
        if info.track_id in self.tracks:
            raise self.error(f"track {info.track_id} is declared twice", line, field)
        self.add_label(info.label)
        self.tracks[info.track_id] = info
        self.boxes[info.track_id] = {}

    def ensure_track(self, track_id: int, label: str, line: int | None = None) -> None:
        """Create the track on first sight; later rows must agree on its label."""
        info = self.tracks.get(track_id)
        if info is None:
            self.add_track(TrackInfo(track_id, self.add_label(label)), line)
        elif info.label != label:
            raise self.error(
                f"track {track_id} has label {label!r} here but {info.label!r} earlier "
                "(a track keeps one label)",
                line,
                "class",
            )

    def add_box(
        self,
        track_id: int,
        box: FrameBox,
        line: int | None = None,
        *,
        frame_shown: int | None = None,
        field: str | None = None,
        box_field: str | None = None,
    ) -> None:
        """Add one box. ``frame_shown`` is the frame as the file numbers it (for messages);
        ``box_field`` names the box's fields in a message about its geometry (default
        ``field``). With media, a visible box must overlap the image and be of a plausible
        size."""
        shown = box.frame if frame_shown is None else frame_shown
        if self.media is not None and box.frame >= self.media.n_frames:
            raise self.error(
                f"frame {shown} is beyond the media's {self.media.n_frames} frames "
                f"({self.media.path})",
                line,
                field or "frame",
            )
        if self.media is not None and not box.outside:
            # an outside marker keeps the last known place, which may be off the image
            why = implausible_for_image(box.xyxy, self.media.width, self.media.height)
            if why is not None:
                raise self.error(why, line, box_field or field or "box")
        key = (track_id, box.frame)
        if key in self._where:
            first = self._where[key]
            at = f" (first at line {first})" if first is not None else ""
            raise self.error(
                f"duplicate box for track {track_id} on frame {shown}{at}", line, field or "id"
            )
        self._where[key] = line
        self.boxes[track_id][box.frame] = box

    def build(self, description: str) -> Project:
        """The project with everything collected, as one edit, with an empty undo history."""
        labels = list(self.labels.values()) or [DEFAULT_LABEL]
        project = Project(self.media, labels)
        try:
            with project.edit(description) as tx:
                for tid in sorted(self.tracks):
                    tx.set_track(self.tracks[tid])
                    for frame in sorted(self.boxes[tid]):
                        tx.set_box(tid, self.boxes[tid][frame])
        except ProjectError as exc:
            raise self.error(str(exc)) from exc
        project.history.clear()
        return project


def parse_float(text: str, builder: ProjectBuilder, line: int | None, field: str) -> float:
    """A finite float, or a :class:`FormatError` naming the field."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise builder.error(f"expected a number, got {text!r}", line, field) from None
    if not math.isfinite(value):
        raise builder.error(f"expected a finite number, got {text!r}", line, field)
    return value


def parse_int(text: str, builder: ProjectBuilder, line: int | None, field: str) -> int:
    """An integer; ``"3.0"`` is accepted (some tools write integral floats)."""
    value = parse_float(text, builder, line, field)
    if value != int(value):
        raise builder.error(f"expected an integer, got {text!r}", line, field)
    if abs(value) > MAX_INT:
        raise builder.error(f"{text!r} is out of range (at most 2**53)", line, field)
    return int(value)


def check_coordinates(
    values: Iterable[float],
    names: Iterable[str],
    builder: ProjectBuilder,
    line: int | None,
) -> None:
    """A :class:`FormatError` naming the first field whose value is non-finite or beyond
    :data:`~tracker_annotate.core.boxes.MAX_COORD` (``w=1e300`` is no box)."""
    for value, name in zip(values, names, strict=True):
        if not -MAX_COORD <= value <= MAX_COORD:
            raise builder.error(
                f"{value!r} is not a plausible pixel coordinate or size (expected at most "
                f"{MAX_COORD:.0e} in magnitude)",
                line,
                name,
            )


def box_from_xywh(
    xywh: tuple[float, float, float, float],
    builder: ProjectBuilder,
    line: int | None,
    field: str,
    names: tuple[str, str, str, str] | None = None,
) -> BoxXYXY:
    """``names`` are the four values' field names for messages (default: ``field``)."""
    x, y, w, h = xywh
    check_coordinates(xywh, names or (field,) * 4, builder, line)
    if not w > 0:
        raise builder.error(f"width must be positive, got {w}", line, field)
    if not h > 0:
        raise builder.error(f"height must be positive, got {h}", line, field)
    try:
        return BoxXYXY.from_xywh(x, y, w, h)
    except BoxError as exc:
        raise builder.error(str(exc), line, field) from exc


def box_from_xyxy(
    coords: Iterable[float],
    builder: ProjectBuilder,
    line: int | None,
    field: str,
    names: tuple[str, str, str, str] | None = None,
) -> BoxXYXY:
    x1, y1, x2, y2 = coords
    check_coordinates((x1, y1, x2, y2), names or (field,) * 4, builder, line)
    try:
        return BoxXYXY(x1, y1, x2, y2)
    except BoxError as exc:
        raise builder.error(str(exc), line, field) from exc


def fmt_float(value: float, decimals: int | None) -> str:
    """``decimals`` places, or the shortest text that reads back exactly when ``None``."""
    if decimals is None:
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") else text
    return f"{value:.{decimals}f}"


def frame_files(media: MediaRef | None) -> list[Path] | None:
    """The image file of each frame when the media is an image folder or a MOT sequence
    (``img1/``) that is where the project says, else ``None`` (a video, or media moved):
    exports name the real files instead of invented ``frame_000000.jpg`` names."""
    if media is None:
        return None
    from tracker_annotate.core.errors import MediaError
    from tracker_annotate.io.images import list_images

    root = Path(media.path)
    if not root.is_dir():
        return None
    folder = root / "img1" if (root / "img1").is_dir() else root
    try:
        files = list_images(folder)
    except MediaError:
        return None
    return files[: media.n_frames] if len(files) >= media.n_frames else None


def media_size(project: Project) -> int | None:
    """Frames in the video, or ``None`` when the project has no media."""
    return project.media.n_frames if project.media is not None else None


def last_frame(project: Project) -> int:
    """The last frame any box uses (``-1`` for an empty project)."""
    frames = [f for tid in project.tracks for f in project.boxes(tid)]
    return max(frames, default=-1)


def ensure_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def open_atomic(path: PathLike) -> Iterator[TextIO]:
    """A text file that appears at ``path`` only when the ``with`` block succeeds.

    It is written under a sibling temporary name and renamed over ``path``, so a crash or
    an error half way never leaves a truncated annotation file behind.
    """
    target = Path(path)
    ensure_parent(target)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8", newline="\n") as fh:
            yield fh
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`open_atomic`."""
    with open_atomic(path) as fh:
        fh.write(text)


def read_text(path: PathLike) -> str:
    """The file as text (UTF-8, a BOM tolerated), or a :class:`FormatError` saying why not."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FormatError("file not found", path=str(p)) from None
    except IsADirectoryError:
        raise FormatError("expected a file, got a directory", path=str(p)) from None
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise FormatError(f"not UTF-8 text ({exc.reason})", path=str(p), line=line) from exc

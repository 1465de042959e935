"""File in, file out: keyframes + media (+ detections) -> tracked annotations.

:func:`track_file` is what ``tracker-annotate track`` and ``tracker-annotate batch`` run for
each input. Formats are chosen by extension:

* keyframes (``init_path``): MOT ``.txt`` (1-based frames, one row per keyframe box, id
  column = track), CVAT video ``.xml``, COCO-VID ``.json``, or a project ``.taproj``/
  ``.sqlite`` (its manual and verified boxes are the keyframes);
* output (``out_path``): ``.txt`` MOT results (confidence in column 7), ``.xml`` CVAT video,
  ``.json`` COCO-VID, or ``.taproj``/``.sqlite`` a project the GUI opens for review.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from tracker_annotate.core.errors import FormatError, ProjectError, TrackingError
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.io.formats import (
    detect_format,
    expected_formats,
    read_annotations,
    write_annotations,
)
from tracker_annotate.io.formats.detections import read_detections
from tracker_annotate.io.media import fingerprint, open_media
from tracker_annotate.io.store import ProjectStore, is_project_path
from tracker_annotate.tracking.api import ProgressCallback, TrackerConfig, TrackingRun, apply_run
from tracker_annotate.tracking.engine import track_project

log = logging.getLogger(__name__)


def media_ref_for(source: FrameSource, path: str | os.PathLike[str]) -> MediaRef:
    """A project's reference to the media ``source`` was opened from."""

    return MediaRef(
        path=os.path.abspath(os.fspath(path)),
        n_frames=source.n_frames,
        width=source.width,
        height=source.height,
        fps=source.fps,
        fingerprint=fingerprint(path),
    )


def load_keyframes(init_path: str | os.PathLike[str], media: MediaRef) -> Project:
    """Read a keyframe file or project; its human boxes are the keyframes."""

    p = Path(init_path)
    if not p.exists():
        raise TrackingError(f"keyframe file {p} does not exist")
    if is_project_path(p):
        with ProjectStore.open(p, check_media=False) as store:
            project = store.project
        project.set_media(media)
        return project

    try:
        detect_format(p)
    except FormatError as exc:  # its hint may name options this command does not have
        raise FormatError(
            f"cannot tell the keyframes' format from {p.suffix or 'the name'!r}; expected "
            f"{expected_formats(writing=False)} or {_PROJECT_KIND}",
            path=str(p),
        ) from exc
    return read_annotations(p, media=media)


_PROJECT_KIND = ".taproj/.sqlite (project)"


def check_output(out_path: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Refuse an output whose format the extension does not name, and an existing output
    unless ``overwrite`` (a project there may hold hours of review the result would
    replace). Checked before tracking starts, so the refusal comes at once, not after the
    run."""

    out = Path(out_path)
    if not is_project_path(out):
        try:
            detect_format(out, writing=True)
        except FormatError as exc:
            raise FormatError(
                f"cannot tell the output format from {out.suffix or 'the name'!r}; expected "
                f"{expected_formats(writing=True)} or {_PROJECT_KIND}",
                path=str(out),
            ) from exc
    if overwrite or not (out.exists() or out.is_symlink()):
        return

    what = (
        "a project (its reviewed boxes would be replaced)"
        if is_project_path(out)
        else ("a folder" if out.is_dir() else "a file")
    )
    raise ProjectError(
        f"{out}: already exists, {what}; choose another output, or pass --overwrite to replace it"
    )


def write_result(
    project: Project, out_path: str | os.PathLike[str], *, overwrite: bool = False
) -> str:
    """Write by extension; returns the format written (``project`` for .taproj/.sqlite).
    An existing output is refused unless ``overwrite`` (see :func:`check_output`)."""

    out = Path(out_path)
    check_output(out, overwrite=overwrite)
    if is_project_path(out):
        ProjectStore.create(out, project, overwrite=overwrite).close()
        return "project"
    fmt = detect_format(out, writing=True)
    options: dict[str, Any] = {"write_seqinfo": False} if fmt == "mot" else {}
    return write_annotations(project, out, fmt, **options)


def track_file(
    media_path: str | os.PathLike[str],
    init_path: str | os.PathLike[str] | None,
    out_path: str | os.PathLike[str],
    config: TrackerConfig,
    *,
    detections_path: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Track one media file from its keyframes and write the result. An existing
    ``out_path`` is refused before anything runs unless ``overwrite``.

    Returns a JSON-able summary: ``frames``, ``tracks``, ``boxes`` (derived), ``flagged``,
    ``proposed``, ``object_frames``, ``seconds``, ``object_frames_per_s``, ``tracker``,
    ``format`` and ``out``. Raises :class:`~tracker_annotate.core.errors.TrackerAnnotateError`
    subclasses naming the file, line or frame at fault.
    """

    if init_path is None:
        raise TrackingError(
            f"{media_path}: no keyframes given (expected a MOT/CVAT/COCO file or project)"
        )
    check_output(out_path, overwrite=overwrite)
    with open_media(media_path) as source:
        media = media_ref_for(source, media_path)
        project = load_keyframes(init_path, media)
        n_key = sum(len(project.keyframes(t)) for t in project.tracks)
        if n_key == 0:
            raise TrackingError(f"{init_path}: holds no keyframes (manual or verified boxes)")
        dets = read_detections(detections_path) if detections_path is not None else None
        if dets is not None and len(dets) == 0:
            log.warning("%s: the detections file holds no detections", detections_path)
        run = track_project(project, source, config, progress=progress, detections=dets)
    apply_run(project, run, f"Track ({config.tracker})")
    fmt = write_result(project, out_path, overwrite=overwrite)
    return run_summary(
        project, run, media_path, out_path, fmt, config, n_frames=media.n_frames, n_keyframes=n_key
    )


def run_summary(  # noqa: PLR0917 - the parts of one finished run, in order
    project: Project,
    run: TrackingRun,
    media_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    fmt: str,
    config: TrackerConfig,
    *,
    n_frames: int,
    n_keyframes: int,
) -> dict[str, Any]:
    """The JSON-able summary ``track`` (and ``track --init-from-detections``) print."""
    derived = [b for t in project.tracks for b in project.boxes(t).values() if not b.is_keyframe]
    return {
        "media": os.fspath(media_path),
        "out": os.fspath(out_path),
        "format": fmt,
        "tracker": config.tracker,
        "frames": n_frames,
        "tracks": len(project.tracks),
        "keyframes": n_keyframes,
        "boxes": len(derived),
        "flagged": sum(1 for b in derived if b.flagged),
        "proposed": len(run.proposed),
        "object_frames": run.object_frames,
        "seconds": round(run.seconds, 3),
        "object_frames_per_s": round(run.object_frames / run.seconds, 1)
        if run.seconds > 0
        else None,
    }

"""Batch pre-labeling with a detector: ``detect`` to a file, and tracks started by detections.

* :func:`detect_file`: the detector on chosen frames of a media file, written as MOT
  ``det.txt`` (what ``track --detections`` and the GUI's import read back) or COCO results.
* :func:`prelabel_file`: ``track --init-from-detections``: every confident detection on the
  first frame starts a proposed track (no hand-drawn keyframe), the engine tracks them all,
  and the result is written like ``track``'s. The detector's keyframe boxes are ``IMPORTED``
  and ``verified`` (the engine's truth); the tracks stay ``proposed`` until an annotator
  accepts them, so nothing a model guessed passes for human work.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracker_annotate.app.pipeline import check_output, media_ref_for, run_summary, write_result
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.detections import Detections
from tracker_annotate.core.errors import ConfigError, TrackingError
from tracker_annotate.core.labels import Label, distinct_color
from tracker_annotate.core.project import Project, TrackInfo
from tracker_annotate.io.formats.detections import (
    read_detections,
    write_coco_detections,
    write_mot_detections,
)
from tracker_annotate.io.media import open_media
from tracker_annotate.tracking.api import ProgressCallback, TrackerConfig, apply_run
from tracker_annotate.tracking.detector import Detector, detect_frames
from tracker_annotate.tracking.engine import track_project

#: Detections scoring at least this on the first frame start tracks (``--min-score`` of
#: ``track --init-from-detections``). Raising it starts fewer false tracks for the annotator
#: to reject, but misses weakly detected objects.
START_MIN_SCORE = 0.5


def parse_frames(text: str, n_frames: int) -> list[int]:
    """0-based frames from ``"0,100"``, ``"0-99"`` (inclusive) or ``"0-299:10"`` (step 10),
    comma-separated; ``"all"`` is every frame. Sorted, without repeats."""
    if text.strip() == "all":
        return list(range(n_frames))
    out: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        try:
            rng, _, step_s = part.partition(":")
            step = int(step_s) if step_s else 1
            lo_s, dash, hi_s = rng.partition("-")
            lo = int(lo_s)
            hi = int(hi_s) if dash else lo
        except ValueError:
            raise ConfigError(
                f"--frames: cannot read {part!r}; expected N, A-B or A-B:STEP (0-based)"
            ) from None
        if step < 1 or lo < 0 or hi < lo:
            raise ConfigError(f"--frames: {part!r} is not a range of 0-based frames")
        if hi >= n_frames:
            raise ConfigError(
                f"--frames: frame {hi} is beyond the last frame {n_frames - 1} of the media"
            )
        out.update(range(lo, hi + 1, step))
    return sorted(out)


def detect_file(
    media_path: str | os.PathLike[str],
    frames_spec: str,
    out_path: str | os.PathLike[str],
    detector: Detector,
) -> dict[str, Any]:
    """Detect on the frames of ``frames_spec`` (see :func:`parse_frames`) and write
    ``out_path`` (``.txt`` MOT det rows, ``.json`` COCO results). Returns a summary with
    ``ms_per_frame`` (detector only: letterbox, network and decoding)."""

    suffix = Path(out_path).suffix.lower()
    if suffix not in (".txt", ".json"):
        raise ConfigError(f"--out {out_path}: expected .txt (MOT det) or .json (COCO results)")
    with open_media(media_path) as source:
        frames = parse_frames(frames_spec, source.n_frames)
        dets, timing = detect_frames(detector, source, frames)
    if suffix == ".txt":
        write_mot_detections(dets, out_path)
    else:
        write_coco_detections(dets, out_path)
    per_class: dict[str, int] = {}
    for c in dets.class_ids.tolist():
        name = dets.class_names.get(c, str(c))
        per_class[name] = per_class.get(name, 0) + 1
    return {
        "media": os.fspath(media_path),
        "out": os.fspath(out_path),
        "frames": len(frames),
        "detections": len(dets),
        "classes": dict(sorted(per_class.items())),
        "ms_per_frame": round(timing.mean_ms, 1),
        "seconds": round(timing.total_s, 3),
    }


def project_from_detections(
    project: Project,
    detections: Detections,
    frame: int,
    min_score: float,
) -> list[int]:
    """Start a proposed track on every detection on ``frame`` scoring ``min_score`` or more
    (one undoable step). The class name becomes the track's label."""
    here = detections.at_frame(frame).with_min_score(min_score)
    ids: list[int] = []
    with project.edit("Tracks from detections") as tx:
        for i in range(len(here)):
            cid = int(here.class_ids[i])
            label = here.class_names.get(cid, "object") if cid >= 0 else "object"
            if label not in project.labels:
                tx.set_label(Label(label, distinct_color(len(project.labels))))
            tid = tx.new_track_id()
            tx.set_track(TrackInfo(tid, label, proposed=True))
            box = FrameBox(
                frame,
                BoxXYXY.from_array(here.xyxy[i]),
                BoxSource.IMPORTED,
                min(max(float(here.scores[i]), 0.0), 1.0),
                verified=True,
            )
            tx.set_box(tid, box)
            ids.append(tid)
    return ids


def prelabel_file(
    media_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    config: TrackerConfig,
    detector: Detector,
    *,
    min_score: float = START_MIN_SCORE,
    first_frame: int = 0,
    detections_path: str | os.PathLike[str] | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """``track --init-from-detections``: tracks started by the detector on ``first_frame``.
    An existing ``out_path`` is refused before anything runs unless ``overwrite``.

    Returns ``track``'s summary (see :func:`tracker_annotate.app.pipeline.track_file`)
    plus ``detector_ms`` (the one detector call) and ``detected`` (tracks started).
    """

    check_output(out_path, overwrite=overwrite)
    with open_media(media_path) as source:
        media = media_ref_for(source, media_path)
        if not 0 <= first_frame < source.n_frames:
            raise TrackingError(
                f"{media_path}: frame {first_frame} is outside the media (0..{source.n_frames - 1})"
            )
        project = Project(media, labels=[])
        dets, timing = detect_frames(detector, source, [first_frame])
        ids = project_from_detections(project, dets, first_frame, min_score)
        if not ids:
            raise TrackingError(
                f"{media_path}: the detector found nothing scoring >= {min_score} on frame "
                f"{first_frame} (classes {list(_classes(detector))}); draw keyframes and use "
                f"--init, or lower --min-score"
            )
        extra = read_detections(detections_path) if detections_path is not None else None
        run = track_project(project, source, config, progress=progress, detections=extra)
    apply_run(project, run, f"Track ({config.tracker})")
    fmt = write_result(project, out_path, overwrite=overwrite)
    summary = run_summary(
        project,
        run,
        media_path,
        out_path,
        fmt,
        config,
        n_frames=media.n_frames,
        n_keyframes=len(ids),
    )
    summary.update(detected=len(ids), detector_ms=round(timing.mean_ms, 1))
    return summary


def _classes(detector: Detector) -> Sequence[str]:
    config = getattr(detector, "config", None)
    wanted = getattr(config, "classes", None)
    return wanted if wanted is not None else detector.class_names

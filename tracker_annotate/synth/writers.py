"""Writing a synthetic sequence to disk: MOTChallenge folder, video file, demo keyframes.

The committed sample under ``sample_videos/`` is :data:`SAMPLE_CONFIG` written by
:func:`write_sample`; ``sample_videos/generate.py`` is a thin wrapper around it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.synth.config import SynthConfig
from tracker_annotate.synth.sequence import SynthSequence, generate

log = logging.getLogger(__name__)

SAMPLE_CONFIG = SynthConfig(
    width=640, height=360, n_frames=150, fps=30.0, seed=2026, sensor_noise_sigma=1.5
)
"""The committed sample: 5 s at 30 fps, 640x360, all hard cases on."""
SAMPLE_NAME = "synthetic"
SAMPLE_JPEG_QUALITY = 80
"""JPEG quality of the committed frames: 80 keeps 150 frames near 3 MB; 90 would be ~40%
larger for differences a tracker cannot use."""
KEYFRAME_MIN_VISIBILITY = 0.6
"""A track's demo keyframe is its first box at least this visible, as a person would pick."""

_FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".avi": "MJPG"}
_IMAGE_EXTS = (".jpg", ".png")


@dataclass(frozen=True, slots=True)
class SamplePaths:
    """Where :func:`write_sample` put each part."""

    sequence_dir: Path
    video: Path
    keyframes: Path


def write_mot_sequence(
    seq: SynthSequence,
    out_dir: str | Path,
    *,
    name: str | None = None,
    image_ext: str = ".jpg",
    jpeg_quality: int = SAMPLE_JPEG_QUALITY,
) -> Path:
    """Write ``out_dir/img1/000001.jpg ...``, ``out_dir/gt/gt.txt`` and ``seqinfo.ini``.

    Frames are 1-based in file names and ``gt.txt``. Old numbered frames in ``img1`` are
    removed first so a shorter sequence never leaves stale frames behind. ``.png`` is
    lossless (exact pixels) but about five times larger.
    """
    if image_ext not in _IMAGE_EXTS:
        raise ConfigError(f"image_ext={image_ext!r}; expected one of {_IMAGE_EXTS}")
    if not 1 <= jpeg_quality <= 100:
        raise ConfigError(f"jpeg_quality={jpeg_quality}; expected an integer in [1, 100]")
    out = Path(out_dir)
    img_dir = out / "img1"
    gt_dir = out / "gt"
    img_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    for old in img_dir.iterdir():
        if old.suffix in _IMAGE_EXTS and old.stem.isdigit() and len(old.stem) == 6:
            old.unlink()
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if image_ext == ".jpg" else []
    for i, image in enumerate(seq.frames()):
        path = img_dir / f"{i + 1:06d}{image_ext}"
        if not cv2.imwrite(str(path), image, params):
            raise MediaError("OpenCV could not write the frame", path=str(path), frame=i)
    (gt_dir / "gt.txt").write_text(seq.gt.to_mot_text(), encoding="ascii", newline="\n")
    fps = seq.fps
    fps_text = str(int(fps)) if float(fps).is_integer() else repr(fps)
    ini = (
        "[Sequence]\n"
        f"name={name or out.name}\n"
        "imDir=img1\n"
        f"frameRate={fps_text}\n"
        f"seqLength={seq.n_frames}\n"
        f"imWidth={seq.width}\n"
        f"imHeight={seq.height}\n"
        f"imExt={image_ext}\n"
    )
    (out / "seqinfo.ini").write_text(ini, encoding="ascii", newline="\n")
    log.info("wrote %d frames and %d GT rows to %s", seq.n_frames, len(seq.gt), out)
    return out


def count_decodable_frames(path: str | Path) -> int:
    """Decode a video to the end and count frames (headers can overstate the length)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError("OpenCV cannot open the video", path=str(path))
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def write_video(
    seq: SynthSequence, path: str | Path, *, fourcc: str | None = None, verify: bool = True
) -> Path:
    """Write every frame to a video file; the codec follows the suffix unless ``fourcc``.

    ``.mp4`` uses ``mp4v`` (MPEG-4 part 2: small, inter-frame, ~6 KB a frame here) and
    ``.avi`` uses ``MJPG`` (intra-only: exact seeking everywhere, ~4x larger). With
    ``verify`` the file is decoded back and must hold exactly ``n_frames`` frames, so a
    writer that silently drops frames is caught here rather than in a tracking run.
    """
    out = Path(path)
    code = fourcc or _FOURCC_BY_SUFFIX.get(out.suffix.lower())
    if code is None or len(code) != 4:
        raise ConfigError(
            f"cannot choose a codec for {out.name!r}: use a suffix in "
            f"{sorted(_FOURCC_BY_SUFFIX)} or pass a 4-character fourcc"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(
        str(out), cv2.VideoWriter.fourcc(*code), float(seq.fps), (seq.width, seq.height)
    )
    if not writer.isOpened():
        raise MediaError(f"OpenCV cannot write {code!r} video here", path=str(out))
    try:
        for image in seq.frames():
            writer.write(image)
    finally:
        writer.release()
    if verify:
        n = count_decodable_frames(out)
        if n != seq.n_frames:
            raise MediaError(
                f"wrote {seq.n_frames} frames but {n} decode back (codec {code!r})",
                path=str(out),
            )
    return out


def keyframe_rows(
    seq: SynthSequence, min_visibility: float = KEYFRAME_MIN_VISIBILITY
) -> np.ndarray:
    """Indices of GT rows a person would draw: each track's first box this visible.

    Tracks never that visible get no keyframe (logged). Sorted by frame, then track id.
    """
    if not 0.0 <= min_visibility <= 1.0:
        raise ConfigError(f"min_visibility={min_visibility}; expected a number in [0, 1]")
    gt = seq.gt
    picked: list[int] = []
    for track in seq.tracks:
        rows = np.flatnonzero(gt.rows_of(track.track_id) & (gt.visibility >= min_visibility))
        if rows.size == 0:
            log.warning("track %d (%s) is never %.0f%% visible; no keyframe",
                        track.track_id, track.name, 100 * min_visibility)  # fmt: skip
            continue
        picked.append(int(rows[np.argmin(gt.frame[rows])]))
    idx = np.asarray(picked, np.int64)
    return idx[np.lexsort((gt.track_id[idx], gt.frame[idx]))]


def write_keyframes(
    seq: SynthSequence, path: str | Path, *, min_visibility: float = KEYFRAME_MIN_VISIBILITY
) -> Path:
    """Write the demo keyframes as MOT rows (same 9 columns as ``gt.txt``, 1-based frames)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    gt = seq.gt
    idx = keyframe_rows(seq, min_visibility)
    lines = [
        f"{gt.frame[i] + 1},{gt.track_id[i]},{gt.xywh[i, 0]},{gt.xywh[i, 1]},"
        f"{gt.xywh[i, 2]},{gt.xywh[i, 3]},1,1,{gt.visibility[i]:.6f}\n"
        for i in idx.tolist()
    ]
    out.write_text("".join(lines), encoding="ascii", newline="\n")
    return out


def config_to_json(config: SynthConfig) -> str:
    """The config as stable, sorted JSON (committed next to the sample for provenance)."""
    return json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True) + "\n"


def config_from_json(text: str, *, path: str | None = None) -> SynthConfig:
    """Inverse of :func:`config_to_json`; unknown or missing keys are a :class:`ConfigError`."""
    try:
        data = json.loads(text)
        return SynthConfig(**data)
    except (json.JSONDecodeError, TypeError) as exc:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}not a SynthConfig JSON object: {exc}") from exc


def write_sample(root: str | Path, config: SynthConfig = SAMPLE_CONFIG) -> SamplePaths:
    """Write the full sample under ``root``: MOT folder, ``.mp4`` video and keyframes.

    Layout: ``root/synthetic/{img1,gt,seqinfo.ini,synth_config.json}``,
    ``root/synthetic.mp4`` and ``root/keyframes.txt``.
    """
    base = Path(root)
    seq = generate(config)
    seq_dir = write_mot_sequence(seq, base / SAMPLE_NAME)
    (seq_dir / "synth_config.json").write_text(
        config_to_json(config), encoding="ascii", newline="\n"
    )
    video = write_video(seq, base / f"{SAMPLE_NAME}.mp4")
    keyframes = write_keyframes(seq, base / "keyframes.txt")
    return SamplePaths(sequence_dir=seq_dir, video=video, keyframes=keyframes)

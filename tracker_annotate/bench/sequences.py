"""Ground truth for the labeling benchmark: MOTChallenge sequence folders.

A sequence folder holds ``img1/`` (frames), ``gt/gt.txt`` (boxes) and ``seqinfo.ini``
(``seqLength``, ``imWidth``, ``imHeight``, ``frameRate``). ``gt.txt`` rows are
``frame,id,x,y,w,h,conf[,class,visibility]`` with 1-based frames and ids; rows with
``conf == 0`` are MOT's "ignore" marker and are skipped. Frames become 0-based here, at the
format edge. A track's *span* is its first to last GT frame.

This is evaluation data: the benchmark keeps it inside the simulated annotator and never
hands it to the tracking engine.
"""

from __future__ import annotations

import configparser
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tracker_annotate.core.errors import FormatError

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GroundTruthTrack:
    """One object's boxes: ``frames`` (0-based, strictly increasing) and ``xyxy`` (N, 4)."""

    track_id: int
    frames: IntArray
    xyxy: FloatArray

    def __post_init__(self) -> None:
        if self.frames.ndim != 1 or self.xyxy.shape != (self.frames.shape[0], 4):
            raise FormatError(
                f"track {self.track_id}: {self.frames.shape[0]} frames but xyxy has shape "
                f"{self.xyxy.shape}; expected (N, 4)"
            )
        if self.frames.size == 0:
            raise FormatError(f"track {self.track_id} has no boxes")
        if np.any(np.diff(self.frames) <= 0):
            raise FormatError(f"track {self.track_id}: frames must be strictly increasing")

    @property
    def first(self) -> int:
        return int(self.frames[0])

    @property
    def last(self) -> int:
        return int(self.frames[-1])

    @property
    def n_boxes(self) -> int:
        return int(self.frames.shape[0])

    def runs(self) -> list[tuple[int, int]]:
        """Inclusive ``(first, last)`` frames of each run of consecutive GT frames. A track
        that leaves the picture and comes back has several; most have one (its span)."""
        breaks = np.flatnonzero(np.diff(self.frames) > 1)
        starts = [int(self.frames[0]), *(int(self.frames[i + 1]) for i in breaks)]
        ends = [*(int(self.frames[i]) for i in breaks), int(self.frames[-1])]
        return list(zip(starts, ends, strict=True))

    def index_of(self, frame: int) -> int | None:
        """Row of ``frame`` in :attr:`frames`, or ``None`` when the track has no box there."""
        i = int(np.searchsorted(self.frames, frame))
        if i < self.frames.shape[0] and int(self.frames[i]) == frame:
            return i
        return None


@dataclass(frozen=True)
class GroundTruthSequence:
    """A sequence's geometry and its GT tracks (keyed by the MOT id)."""

    name: str
    path: str
    n_frames: int
    width: int
    height: int
    fps: float
    tracks: dict[int, GroundTruthTrack] = field(default_factory=dict)

    @property
    def n_boxes(self) -> int:
        return sum(t.n_boxes for t in self.tracks.values())


def _seqinfo(path: Path) -> configparser.SectionProxy:
    ini = path / "seqinfo.ini"
    parser = configparser.ConfigParser()
    try:
        with ini.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise FormatError(f"cannot read seqinfo.ini: {exc}", path=str(ini)) from exc
    except configparser.Error as exc:
        raise FormatError(f"not an INI file: {exc}", path=str(ini)) from exc
    if "Sequence" not in parser:
        raise FormatError("expected a [Sequence] section", path=str(ini))
    return parser["Sequence"]


def _ini_number(sec: configparser.SectionProxy, ini: Path, key: str, kind: type) -> float:
    raw = sec.get(key)
    if raw is None:
        raise FormatError(f"missing {key}", path=str(ini), field=key)
    try:
        value = kind(raw)
    except ValueError as exc:
        raise FormatError(f"expected a number, got {raw!r}", path=str(ini), field=key) from exc
    if not value > 0:
        raise FormatError(f"expected a positive value, got {raw!r}", path=str(ini), field=key)
    return float(value)


def load_mot_sequence(path: str | Path) -> GroundTruthSequence:
    """Read a MOTChallenge sequence folder's ``seqinfo.ini`` and ``gt/gt.txt``.

    Raises :class:`FormatError` naming the file, line and field of the first bad value.
    """
    root = Path(path)
    sec = _seqinfo(root)
    ini = root / "seqinfo.ini"
    n_frames = int(_ini_number(sec, ini, "seqLength", int))
    width = int(_ini_number(sec, ini, "imWidth", int))
    height = int(_ini_number(sec, ini, "imHeight", int))
    fps = _ini_number(sec, ini, "frameRate", float) if sec.get("frameRate") else 30.0
    name = sec.get("name", root.name) or root.name

    gt_path = root / "gt" / "gt.txt"
    rows: dict[int, dict[int, tuple[float, float, float, float]]] = {}
    try:
        lines = gt_path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FormatError(f"cannot read ground truth: {exc}", path=str(gt_path)) from exc
    skipped = 0
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            raise FormatError(
                f"expected at least 6 columns, got {len(parts)}", path=str(gt_path), line=lineno
            )
        try:
            frame1 = int(float(parts[0]))
            tid = int(float(parts[1]))
            x, y, w, h = (float(v) for v in parts[2:6])
            conf = float(parts[6]) if len(parts) > 6 else 1.0
        except ValueError as exc:
            raise FormatError(f"not a number: {exc}", path=str(gt_path), line=lineno) from exc
        if conf == 0:
            skipped += 1
            continue
        if frame1 < 1 or frame1 > n_frames:
            raise FormatError(
                f"frame {frame1} is outside 1..{n_frames}",
                path=str(gt_path),
                line=lineno,
                field="frame",
            )
        if not (math.isfinite(x) and math.isfinite(y) and w > 0 and h > 0):
            raise FormatError(
                f"expected a positive finite size, got {w}x{h}",
                path=str(gt_path),
                line=lineno,
                field="w,h",
            )
        track = rows.setdefault(tid, {})
        if frame1 - 1 in track:
            raise FormatError(
                f"track {tid} has two boxes on frame {frame1}",
                path=str(gt_path),
                line=lineno,
                field="frame",
            )
        track[frame1 - 1] = (x, y, x + w, y + h)
    if skipped:
        log.info("%s: skipped %d ignore rows (conf 0)", gt_path, skipped)
    tracks: dict[int, GroundTruthTrack] = {}
    for tid in sorted(rows):
        frames = sorted(rows[tid])
        tracks[tid] = GroundTruthTrack(
            tid,
            np.asarray(frames, dtype=np.int64),
            np.asarray([rows[tid][f] for f in frames], dtype=np.float64),
        )
    return GroundTruthSequence(name, str(root), n_frames, width, height, fps, tracks)


def find_sequences(paths: list[str]) -> list[Path]:
    """Expand arguments to sequence folders: a folder with ``gt/gt.txt`` is one; any other
    folder is searched one and two levels down (``sample_videos/`` ->
    ``sample_videos/synthetic``). Arguments that hold no sequence (a stray file matched by a
    shell glob) are skipped with a warning; :class:`FormatError` only when none is left."""
    out: list[Path] = []
    for arg in paths:
        p = Path(arg)
        if (p / "gt" / "gt.txt").is_file():
            out.append(p)
            continue
        found = []
        if p.is_dir():
            found = sorted(
                {g.parent.parent for g in [*p.glob("*/gt/gt.txt"), *p.glob("*/*/gt/gt.txt")]}
            )
        if not found:
            log.warning("skipping %s: not a MOT sequence folder (no gt/gt.txt)", arg)
        out.extend(found)
    if not out:
        raise FormatError(
            "no MOT sequence folder (img1/, gt/gt.txt, seqinfo.ini) among the arguments",
            path=", ".join(paths),
        )
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique

"""Planning a batch: which inputs, which keyframes, which outputs, and every check that is
cheap to do before hours of tracking (missing files, missing keyframes, name collisions,
outputs that would clobber an input).

Conventions:

* An *input* is a video file, a folder of images, or a MOTChallenge sequence folder
  (``img1/`` inside). A folder that holds videos or such folders is a *collection* and is
  expanded one level deep, in sorted order.
* An input's *name* is the video's stem or the folder's name. Outputs are
  ``out_dir/<name>.<format>``; two inputs with one name are refused.
* Keyframes are found by name (``--init-dir``), by pattern (``--init-pattern``), or as a
  ``<name>.keyframes.{txt,xml,json}`` sidecar beside the input.

Running the jobs is :mod:`tracker_annotate.app.batch`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tracker_annotate.core.errors import ConfigError
from tracker_annotate.io.media import IMAGE_EXTS, VIDEO_EXTS

log = logging.getLogger(__name__)

# What open_media accepts, so that planning and opening never disagree.
VIDEO_SUFFIXES = VIDEO_EXTS
IMAGE_SUFFIXES = IMAGE_EXTS
#: Output formats, by file suffix (the pipeline picks the writer from the suffix).
OUTPUT_FORMATS = ("taproj", "txt", "xml", "json")
#: Keyframe file suffixes looked for under ``--init-dir`` and beside inputs, in this order.
KEYFRAME_SUFFIXES = (".txt", ".xml", ".json", ".taproj")
#: Files that are annotations, not media: skipped when a glob hands them over as inputs.
ANNOTATION_SUFFIXES = frozenset({".txt", ".xml", ".json", ".taproj", ".ini", ".csv"})
#: Detection file suffixes (MOT ``det.txt`` rows, COCO results JSON).
DETECTION_SUFFIXES = (".txt", ".json")
#: Default sidecar keyframes: ``clip.mp4`` -> ``clip.keyframes.txt`` (or .xml/.json/.taproj).
DEFAULT_INIT_PATTERN = "{stem}.keyframes"
#: Written by the runner into the output folder; no input may claim its name.
SUMMARY_NAME = "batch_summary.json"
InputKind = Literal["video", "images", "mot"]
ExistingPolicy = Literal["error", "skip", "overwrite"]


@dataclass(frozen=True)
class BatchInput:
    """One thing to track. ``path`` is absolute; ``name`` names its outputs."""

    path: Path
    kind: InputKind
    name: str


@dataclass(frozen=True)
class BatchJob:
    """A planned job: all paths absolute (workers may run elsewhere, e.g. on Dask)."""

    name: str
    media_path: str
    init_path: str | None
    out_path: str
    detections_path: str | None = None

    @property
    def scratch_dir(self) -> Path:
        """Private folder the job writes into; only the output is moved out of it."""
        out = Path(self.out_path)
        return out.with_name(f".incomplete-{out.name}")

    @property
    def partial_path(self) -> str:
        out = Path(self.out_path)
        if out.suffix == ".taproj":
            # A project records its media's path relative to itself as well (to follow a
            # moved folder), so it is written beside its final place, not one level down.
            return str(out.with_name(f".{out.stem}.incomplete{out.suffix}"))
        return str(self.scratch_dir / out.name)

    def discard_partial(self) -> None:
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
        partial = Path(self.partial_path)
        if partial.parent != self.scratch_dir:
            for sqlite_suffix in ("", "-wal", "-shm", "-journal"):
                partial.with_name(partial.name + sqlite_suffix).unlink(missing_ok=True)


def classify(path: Path) -> InputKind | None:
    """What kind of input ``path`` is, or ``None`` when it is none (e.g. a collection)."""
    if path.is_file():
        return "video" if path.suffix.lower() in VIDEO_SUFFIXES else None
    if not path.is_dir():
        return None
    if (path / "img1").is_dir():
        return "mot"
    has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())
    return "images" if has_images else None


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[BatchInput]:
    """Turn command-line paths into inputs, expanding collection folders one level deep.

    A collection is a folder that is not itself an input and holds videos, image folders
    or MOT sequences; its members are taken in sorted order (other files are ignored). The
    same file given twice is tracked once. Annotation files given by name (``videos/*``
    also matches the ``clip.keyframes.txt`` sidecars) are skipped with a warning. Raises
    :class:`ConfigError` naming every path that does not exist or is not an input.
    """
    found: list[BatchInput] = []
    problems: list[str] = []
    skipped: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if not path.exists():
            problems.append(f"{raw}: no such file or folder")
            continue
        kind = classify(path)
        if kind is not None:
            found.append(BatchInput(path, kind, _input_name(path)))
            continue
        if path.is_file() and path.suffix.lower() in ANNOTATION_SUFFIXES:
            skipped.append(path.name)
            continue
        if path.is_file():
            problems.append(
                f"{raw}: not a video (expected one of {', '.join(sorted(VIDEO_SUFFIXES))})"
            )
            continue
        members = [
            BatchInput(child.absolute(), k, _input_name(child))
            for child in sorted(path.iterdir())
            if not child.name.startswith(".") and (k := classify(child)) is not None
        ]
        if not members:
            problems.append(
                f"{raw}: folder holds no images, videos, image folders or MOT sequences"
            )
        found.extend(members)
    if problems:
        raise ConfigError(_joined("bad input", problems))
    if skipped:
        log.warning(
            "%s", _joined(f"ignored {len(skipped)} annotation files given as inputs", skipped)
        )
    unique: dict[Path, BatchInput] = {}
    for item in found:
        if item.path.resolve() in unique:
            log.info("input %s given more than once; tracking it once", item.path)
        unique.setdefault(item.path.resolve(), item)
    return list(unique.values())


def _input_name(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def resolve_pattern(pattern: str, item: BatchInput) -> Path:
    """Fill ``{stem}``, ``{path}`` and ``{parent}`` for ``item``; relative results are
    resolved against the folder holding the input."""
    try:
        text = pattern.format(stem=item.name, path=item.path, parent=item.path.parent)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"pattern {pattern!r}: only {{stem}}, {{path}} and {{parent}} may be used ({exc})"
        ) from exc
    out = Path(text).expanduser()
    return out if out.is_absolute() else item.path.parent / out


def _find_file(base: Path, suffixes: Sequence[str], what: str) -> tuple[Path | None, list[Path]]:
    """``base`` itself if it has a suffix and exists, else ``base.<suffix>`` candidates."""
    if base.suffix.lower() in suffixes or not suffixes:
        return (base if base.is_file() else None), [base]
    tried = [base.with_name(base.name + s) for s in suffixes]
    hits = [p for p in tried if p.is_file()]
    if len(hits) > 1:
        raise ConfigError(
            f"ambiguous {what} for {base.name}: {', '.join(map(str, hits))}; keep one"
        )
    return (hits[0] if hits else None), tried


def plan_jobs(
    inputs: Sequence[BatchInput],
    *,
    out_dir: str | os.PathLike[str],
    fmt: str = "taproj",
    init_dir: str | os.PathLike[str] | None = None,
    init_pattern: str | None = None,
    detections_dir: str | os.PathLike[str] | None = None,
    detections_pattern: str | None = None,
    existing: ExistingPolicy = "error",
) -> tuple[list[BatchJob], list[BatchJob]]:
    """Pair each input with its keyframes, detections and output path.

    Keyframes (MOT ``.txt``, CVAT ``.xml``, COCO-VID ``.json`` or a ``.taproj`` project;
    always required, the pipeline tracks from them): ``init_dir/<name>.<suffix>``, or
    ``init_pattern`` (see :func:`resolve_pattern`; without a known suffix each is tried),
    or by default the sidecar ``<name>.keyframes.<suffix>`` beside the input. Detections
    (MOT ``.txt`` or COCO ``.json``), optional: ``detections_dir/<name>.<suffix>`` or
    ``detections_pattern``; when asked for they must exist.

    Returns ``(jobs to run, jobs skipped because their output exists)``; the second list is
    empty unless ``existing="skip"``. Raises :class:`ConfigError` listing every problem at
    once, so a typo is caught before hours of work rather than after.
    """
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"format must be one of {OUTPUT_FORMATS}, got {fmt!r}")
    if init_dir is not None and init_pattern is not None:
        raise ConfigError("give --init-dir or --init-pattern, not both")
    if detections_dir is not None and detections_pattern is not None:
        raise ConfigError("give --detections-dir or --detections-pattern, not both")
    out_root = Path(out_dir).expanduser().absolute()
    problems: list[str] = []
    by_name: dict[str, BatchInput] = {}
    jobs: list[BatchJob] = []
    for item in inputs:
        if item.name in by_name:
            problems.append(
                f"{item.path} and {by_name[item.name].path} would both write "
                f"{item.name}.{fmt}; rename one or run them in separate batches"
            )
            continue
        by_name[item.name] = item
        if f"{item.name}.{fmt}" == SUMMARY_NAME:
            problems.append(f"{item.path}: its output would be the batch's own {SUMMARY_NAME}")
            continue
        if init_dir is not None:
            base = Path(init_dir).expanduser().absolute() / item.name
        else:
            base = resolve_pattern(init_pattern or DEFAULT_INIT_PATTERN, item)
        try:
            init, tried = _find_file(base, KEYFRAME_SUFFIXES, "keyframes")
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        dets: Path | None = None
        if detections_dir is not None or detections_pattern is not None:
            dets_base = (
                Path(detections_dir).expanduser().absolute() / item.name
                if detections_dir is not None
                else resolve_pattern(detections_pattern or "", item)
            )
            try:
                dets, dets_tried = _find_file(dets_base, DETECTION_SUFFIXES, "detections")
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            if dets is None:
                looked = " or ".join(str(p) for p in dets_tried)
                problems.append(f"{item.path}: no detections (looked for {looked})")
                continue
        if init is None:
            looked = " or ".join(str(p) for p in tried)
            problems.append(f"{item.path}: no keyframes (looked for {looked})")
            continue
        jobs.append(
            BatchJob(
                name=item.name,
                media_path=str(item.path),
                init_path=None if init is None else str(init.absolute()),
                out_path=str(out_root / f"{item.name}.{fmt}"),
                detections_path=None if dets is None else str(dets.absolute()),
            )
        )
    problems.extend(_clobber_problems(jobs))
    if problems:
        raise ConfigError(_joined("cannot plan the batch", problems))
    skipped: list[BatchJob] = []
    exists = [j for j in jobs if Path(j.out_path).exists()]
    if exists and existing == "error":
        raise ConfigError(
            _joined(
                "outputs exist (use --skip-existing to resume or --overwrite to redo)",
                [j.out_path for j in exists],
            )
        )
    if existing == "skip":
        skipped = exists
        jobs = [j for j in jobs if j not in exists]
    return jobs, skipped


def _clobber_problems(jobs: Sequence[BatchJob]) -> list[str]:
    """Outputs that would overwrite an input, a keyframes or a detections file."""
    protected: dict[Path, str] = {}
    for j in jobs:
        for kind, p in (("input", j.media_path), ("keyframes", j.init_path)):
            if p is not None:
                protected[Path(p).resolve()] = kind
        if j.detections_path is not None:
            protected[Path(j.detections_path).resolve()] = "detections"
    out = []
    for j in jobs:
        hit = protected.get(Path(j.out_path).resolve())
        if hit is not None:
            out.append(
                f"output {j.out_path} would overwrite a {hit} file; choose another "
                "--out-dir or --format"
            )
    return out


def _joined(head: str, items: Sequence[str], limit: int = 5) -> str:
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return f"{head}: " + "; ".join(items[:limit]) + more

"""Interchange formats, one module each, and a registry that picks one by name or path.

=========  ===========================  =================================================
name       module                       what it is
=========  ===========================  =================================================
``mot``    :mod:`.mot`                  MOTChallenge ``gt.txt``/results (``.txt``)
``cvat``   :mod:`.cvat_xml`             CVAT for video 1.1 XML (``.xml``)
``coco``   :mod:`.coco`                 COCO-VID / TAO JSON with track ids (``.json``)
``yolo``   :mod:`.yolo`                 YOLO per-frame label files (a folder; export only)
=========  ===========================  =================================================

Each module has mirrored ``read_<name>(path, ...) -> Project`` and
``write_<name>(project, path, ...)``. Frames are 0-based inside; modules convert at the edge.
Readers build the whole project before returning it and raise
:class:`~tracker_annotate.core.errors.FormatError` (file, 1-based line, field) on bad
input; writers write to a temporary file and rename it into place.
Model detections (pre-labels) are read by :mod:`.detections` into columnar arrays.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracker_annotate.core.errors import FormatError
from tracker_annotate.core.project import Project
from tracker_annotate.io.formats._build import PathLike

#: format name -> (module, can read, file extension or "" for a folder)
FORMATS: dict[str, tuple[str, bool, str]] = {
    "mot": ("tracker_annotate.io.formats.mot", True, ".txt"),
    "cvat": ("tracker_annotate.io.formats.cvat_xml", True, ".xml"),
    "coco": ("tracker_annotate.io.formats.coco", True, ".json"),
    "yolo": ("tracker_annotate.io.formats.yolo", False, ""),
}
_BY_SUFFIX = {ext: name for name, (_, _, ext) in FORMATS.items() if ext}


def expected_formats(*, writing: bool) -> str:
    """``".txt (mot), .xml (cvat), .json (coco)"``: what a reader (or writer) accepts, for
    messages (a reader's list leaves out export-only formats)."""
    usable = [(n, ext) for n, (_, can_read, ext) in FORMATS.items() if writing or can_read]
    items = [f"{ext} ({n})" for n, ext in usable if ext]
    items += [f"a folder ({n})" for n, ext in usable if not ext]
    return ", ".join(items[:-1]) + " or " + items[-1]


def detect_format(
    path: PathLike, format: str | None = None, *, writing: bool = False, hint: str = ""
) -> str:
    """The format named by ``format``, else the one the path's extension implies.

    A folder (or, when writing, a path without an extension) means YOLO. ``hint`` ends the
    message of an unknown extension (a CLI with a ``--format`` option says so there; this
    layer does not know which options its caller has).
    """
    names = sorted(n for n, (_, can_read, _) in FORMATS.items() if writing or can_read)
    if format is not None:
        name = format.lower()
        if name not in FORMATS:
            raise FormatError(f"unknown format {format!r}; choose from {names}")
    else:
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix in _BY_SUFFIX:
            name = _BY_SUFFIX[suffix]
        elif p.is_dir() or (writing and not suffix):
            name = "yolo"
        else:
            raise FormatError(
                f"cannot tell the format from {suffix or 'a name without extension'!r}; "
                f"expected {expected_formats(writing=writing)}{hint}",
                path=str(path),
            )
    if not writing and not FORMATS[name][1]:
        raise FormatError(
            f"{name} is an export-only format; import reads {', '.join(names)}", path=str(path)
        )
    return name


def _function(name: str, verb: str) -> Callable[..., Any]:
    module = importlib.import_module(FORMATS[name][0])
    fn: Callable[..., Any] = getattr(module, f"{verb}_{name}")
    return fn


def read_annotations(path: PathLike, format: str | None = None, **options: Any) -> Project:
    """Read an annotation file into a new project; ``options`` go to the format's reader
    (all accept ``media=``)."""
    project: Project = _function(detect_format(path, format), "read")(path, **options)
    return project


def require_boxes(project: Project, path: PathLike) -> None:
    """Refuse an import that would bring no box (an empty file, only ignore rows...):
    it must change nothing and say so, not report "imported 0 tracks" and add labels."""
    if project.n_boxes() == 0:
        raise FormatError(
            f"the file holds no boxes ({len(project.tracks)} tracks, 0 boxes); nothing was "
            "imported. Expected at least one annotated box",
            path=str(path),
        )


def write_annotations(
    project: Project, path: PathLike, format: str | None = None, **options: Any
) -> str:
    """Write ``project`` in a format; returns the format's name.

    The quality figures (:func:`~tracker_annotate.core.quality_report.quality_report`) go
    into the file where the format has room (CVAT ``<meta>``, COCO ``info``) and into a
    sidecar JSON for MOT and YOLO (:func:`quality_sidecar_path`)."""
    name = detect_format(path, format, writing=True)
    _function(name, "write")(project, path, **options)
    if name in ("mot", "yolo"):
        from tracker_annotate.core.quality_report import quality_report
        from tracker_annotate.io.formats._build import write_text_atomic

        text = json.dumps(quality_report(project), indent=2, sort_keys=True) + "\n"
        write_text_atomic(quality_sidecar_path(path, name), text)
    return name


def quality_sidecar_path(path: PathLike, format: str) -> Path:
    """Where a MOT file's (``gt.txt`` -> ``gt.quality.json``) or a YOLO folder's
    (``labels/quality.json``) quality figures go."""
    p = Path(path)
    return p / "quality.json" if format == "yolo" else p.with_suffix(".quality.json")


__all__ = [
    "FORMATS",
    "detect_format",
    "expected_formats",
    "quality_sidecar_path",
    "read_annotations",
    "require_boxes",
    "write_annotations",
]

"""Our exports read by Datumaro's own importers (``cvat``, ``mot_seq``, ``coco_instances``).

Datumaro is a heavy dependency (pandas, pyarrow, ...) that pins its own OpenCV build
(``opencv-python-headless``, which would overwrite our contrib build's ``cv2``), so it does
not go into the main environment: these tests skip there, and ``make interop`` (part of
``make test``) runs them in a separate ``.venv-interop`` with Datumaro installed, where
``TA_REQUIRE_INTEROP=1`` turns a missing Datumaro into a failure instead of a skip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.io.formats.coco import write_coco
from tracker_annotate.io.formats.cvat_xml import write_cvat
from tracker_annotate.io.formats.mot import write_mot

if os.environ.get("TA_REQUIRE_INTEROP"):
    import datumaro as dm
else:
    dm = pytest.importorskip("datumaro")


def _project() -> Project:
    p = Project(MediaRef("/v/clip.mp4", 6, 640, 480, 25.0), [Label("pedestrian"), Label("dog")])
    with p.edit("x") as tx:
        tx.set_track(TrackInfo(1, "pedestrian"))
        tx.set_track(TrackInfo(2, "dog"))
        for f in range(3):
            tx.set_box(1, FrameBox(f, BoxXYXY(10 + f, 20, 50 + f, 90)))
        tx.set_box(2, FrameBox(4, BoxXYXY(1, 2, 30, 40), BoxSource.TRACKED, 0.4, flagged=True))
    return p


def _bboxes(ds: Any) -> list[tuple[int, list[float], str, dict[str, Any]]]:
    labels = ds.categories()[dm.AnnotationType.label]
    out = []
    for item in ds:
        for ann in item.annotations:
            out.append(
                (
                    item.attributes.get("frame"),
                    ann.get_bbox(),
                    labels[ann.label].name,
                    ann.attributes,
                )
            )
    return out


def test_datumaro_reads_our_cvat_video_xml(tmp_path: Path) -> None:
    write_cvat(_project(), tmp_path / "annotations.xml")
    rows = _bboxes(dm.Dataset.import_from(str(tmp_path), "cvat"))
    visible = [r for r in rows if not r[3]["outside"]]
    assert len(visible) == 4 and len(rows) == 6  # plus one end marker per track
    frame4 = next(r for r in visible if r[0] == 4)
    assert frame4[1] == [1.0, 2.0, 29.0, 38.0] and frame4[2] == "dog"
    assert frame4[3]["ta_confidence"] == 0.4 and frame4[3]["ta_flagged"] is True
    assert frame4[3]["track_id"] == 2


def test_datumaro_reads_our_mot_sequence(tmp_path: Path) -> None:
    write_mot(_project(), tmp_path / "seq" / "gt" / "gt.txt")
    ds = dm.Dataset.import_from(str(tmp_path / "seq"), "mot_seq")
    names = [c.name for c in ds.categories()[dm.AnnotationType.label]]
    assert names[0] == "pedestrian" and "dog" in names  # through labels.txt
    assert sum(len(item.annotations) for item in ds) == 4


def test_datumaro_reads_our_coco(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    write_coco(_project(), tmp_path / "annotations" / "instances_default.json")
    ds = dm.Dataset.import_from(str(tmp_path), "coco_instances")
    assert sum(len(item.annotations) for item in ds) == 4

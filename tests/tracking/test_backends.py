"""The measurement registry, the NanoTrack back-end and its weights check."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core.errors import ConfigError, ModelError
from tracker_annotate.models import MODEL_FILES, MODELS_DIR, check_file, verified_path
from tracker_annotate.tracking import backends
from tracker_annotate.tracking.api import TRACKER_NAMES, TrackerConfig
from tracker_annotate.tracking.backends import available_trackers
from tracker_annotate.tracking.measure import FrameData


def test_registry_is_the_one_list_of_names() -> None:
    assert tuple(backends.BACKENDS) == TRACKER_NAMES
    assert TRACKER_NAMES[0] == backends.DEFAULT_TRACKER == TrackerConfig().tracker
    assert {"nano", "cascade", "linear", "csrt"} <= set(TRACKER_NAMES)


@pytest.mark.parametrize(
    ("name", "visual", "engine_search", "self_contained", "gives_score"),
    [
        ("nano", True, False, True, True),  # Siamese model of its own, reports a score
        ("nano3", True, False, True, True),  # NanoTrack v3 through cv2.dnn: raw response peak
        ("nano2", True, False, True, True),  # v2's weights through cv2.dnn: raw response peak
        ("cascade", True, True, False, False),  # LK + the engine's NCC search and loss rules
        ("linear", False, False, False, False),  # no pixels at all
        ("csrt", True, False, True, False),  # OpenCV keeps its own filter
    ],
)
def test_capabilities(
    name: str, visual: bool, engine_search: bool, self_contained: bool, gives_score: bool
) -> None:
    info = backends.backend(name)
    assert (info.visual, info.engine_search, info.self_contained, info.gives_score) == (
        visual,
        engine_search,
        self_contained,
        gives_score,
    )
    assert info.cost > 0


def test_unknown_tracker_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="nano"):
        TrackerConfig(tracker="siamfc")


def test_every_listed_backend_builds_here() -> None:
    assert "nano" in available_trackers()
    assert "linear" in available_trackers()


def test_params_are_reachable_from_config() -> None:
    c = TrackerConfig()
    assert c.cascade.min_score > 0
    assert c.kalman.gate_chi2 > 0
    assert 0 < c.fusion.reach_iou < 1


def test_nano_follows_a_moving_object() -> None:
    src = ArraySource([MovingObject((40, 60, 100, 120), (2.5, 1.0), seed=3)], n=30)
    m = backends.make_measurer("nano")
    first = FrameData(0, src.read(0))
    m.start(first, src.truth(0, 0))
    prev = first
    box = src.truth(0, 0)
    for f in range(1, 30):
        cur = FrameData(f, src.read(f))
        got = m.measure(prev, cur, box, box)
        assert got.xyxy is not None
        assert 0.0 <= got.score <= 1.0
        box, prev = got.xyxy, cur
    truth = src.truth(0, 29)
    ix = max(0.0, min(box[2], truth[2]) - max(box[0], truth[0]))
    iy = max(0.0, min(box[3], truth[3]) - max(box[1], truth[1]))
    inter = ix * iy
    union = (box[2] - box[0]) * (box[3] - box[1]) + 60 * 60 - inter
    assert inter / union > 0.6


def test_shipped_weights_verify() -> None:
    for name in MODEL_FILES:
        assert verified_path(name).is_file()


def _copy_models(tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "nanotrack-v2", dst / "nanotrack-v2")
    return dst


def test_missing_weights_name_the_file(tmp_path: Path) -> None:
    d = _copy_models(tmp_path)
    (d / "nanotrack-v2" / "nanotrack_head_sim.onnx").unlink()
    with pytest.raises(ModelError, match=r"nanotrack_head_sim\.onnx is missing.*reinstall"):
        verified_path("nanotrack_head", d)


def test_damaged_weights_are_refused(tmp_path: Path) -> None:
    d = _copy_models(tmp_path)
    f = d / "nanotrack-v2" / "nanotrack_backbone_sim.onnx"
    data = bytearray(f.read_bytes())
    data[5000] ^= 0xFF  # one flipped byte: same size, wrong hash
    f.chmod(0o644)
    f.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"damaged: sha256"):
        verified_path("nanotrack_backbone", d)
    f.write_bytes(bytes(data[:-10]))
    with pytest.raises(ModelError, match=r"damaged: \d+ bytes"):
        verified_path("nanotrack_backbone", d)


def test_a_users_own_model_is_checked_the_same_way(tmp_path: Path) -> None:
    f = tmp_path / "mine.onnx"
    f.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"mine\.onnx is damaged"):
        check_file(f, "0" * 64)


def test_engine_reports_missing_weights_as_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker_annotate import models
    from tracker_annotate.core.boxes import BoxXYXY, FrameBox
    from tracker_annotate.core.project import MediaRef, Project, TrackInfo
    from tracker_annotate.tracking.engine import track_project

    d = _copy_models(tmp_path)
    (d / "nanotrack-v2" / "nanotrack_backbone_sim.onnx").unlink()
    monkeypatch.setattr(models, "MODELS_DIR", d)
    src = ArraySource([MovingObject((40, 60, 100, 120), (1.0, 0.0), seed=3)], n=10)
    p = Project(MediaRef("rendered", src.n_frames, src.width, src.height))
    with p.edit("k") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY.from_array(src.truth(0, 0))))
    with pytest.raises(ModelError, match=r"nanotrack_backbone_sim\.onnx is missing"):
        track_project(p, src, TrackerConfig(tracker="nano"))
    assert np.isfinite(src.truth(0, 0)).all()

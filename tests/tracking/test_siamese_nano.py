"""NanoTrack v2 and v3 through cv2.dnn (``NanoDnn``) and the ``nano2`` / ``nano3`` back-ends."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core.boxes import BoxXYXY, FrameBox, iou_matrix
from tracker_annotate.core.errors import ConfigError, ModelError
from tracker_annotate.core.project import MediaRef, Project, TrackInfo
from tracker_annotate.models import MODELS_DIR
from tracker_annotate.tracking import backends
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.siamese import MemberMeasurer
from tracker_annotate.tracking.siamese_nano import (
    NANO_SPECS,
    NanoDnn,
    backbone_forward,
    head_forward,
    to_blob,
)

VERSIONS = sorted(NANO_SPECS)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou_matrix(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


@pytest.fixture(scope="module")
def scene() -> ArraySource:
    return ArraySource(
        [MovingObject((40, 60, 100, 120), (2.5, 1.0), zoom=0.004, seed=3)], n=40, seed=5
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_follows_a_moving_textured_object(scene: ArraySource, version: str) -> None:
    m = NanoDnn(version)
    m.init(scene.read(0), scene.truth(0, 0))
    for f in range(1, scene.n_frames):
        r = m.update(scene.read(f))
        x1, y1, x2, y2 = r.xyxy
        assert 0 <= x1 < x2 <= scene.width and 0 <= y1 < y2 <= scene.height
        s = r.stats
        assert 0.0 <= s.peak <= 1.0 and 0.0 <= s.second <= 1.0
        assert 0.0 <= s.entropy <= 1.0 and s.psr >= 0.0 and s.second_ratio >= 0.0
        assert _iou(r.xyxy, scene.truth(0, f)) > 0.5, (version, f)
    assert _iou(r.xyxy, scene.truth(0, scene.n_frames - 1)) > 0.5
    assert r.stats.peak > 0.5  # a clear, textured object: the raw map is sure of it


@pytest.mark.parametrize("version", VERSIONS)
def test_head_grid_is_the_versions(version: str) -> None:
    m = NanoDnn(version)
    crops = [np.full((127, 127, 3), 90, np.uint8), np.full((255, 255, 3), 90, np.uint8)]
    zf = backbone_forward(m._backbone, to_blob(crops[:1]))
    xf = backbone_forward(m._backbone, to_blob(crops[1:]))
    cls, loc = head_forward(m._head, zf, xf)
    g = NANO_SPECS[version].score_size
    assert cls.shape == (1, 2, g, g) and loc.shape == (1, 4, g, g)


def test_a_batch_gives_what_single_crops_give() -> None:
    m = NanoDnn("v3")
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (255, 255, 3), dtype=np.uint8) for _ in range(3)]
    both = backbone_forward(m._backbone, to_blob(crops))
    one = backbone_forward(m._backbone, to_blob(crops[1:2]))
    assert both.shape[0] == 3
    np.testing.assert_allclose(both[1:2], one, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("version", VERSIONS)
def test_embed_tells_the_object_from_the_background(scene: ArraySource, version: str) -> None:
    m = NanoDnn(version)
    e0 = m.embed(scene.read(0), scene.truth(0, 0))
    e1 = m.embed(scene.read(20), scene.truth(0, 20))
    bg = m.embed(scene.read(20), np.array([200.0, 150.0, 260.0, 210.0]))  # no object there
    assert e0.dtype == np.float32 and e0.ndim == 1
    assert float(np.linalg.norm(e0)) == pytest.approx(1.0, abs=1e-4)
    assert float(e0 @ e1) > float(e0 @ bg) + 0.15  # measured: 0.79 vs 0.47 (v2), 0.89 vs 0.47


def test_embed_leaves_the_tracking_state_alone(scene: ArraySource) -> None:
    a, b = NanoDnn("v3"), NanoDnn("v3")
    for m in (a, b):
        m.init(scene.read(0), scene.truth(0, 0))
    b.embed(scene.read(1), np.array([200.0, 150.0, 260.0, 210.0]))
    np.testing.assert_allclose(a.update(scene.read(1)).xyxy, b.update(scene.read(1)).xyxy)


def test_grayscale_frames_are_accepted(scene: ArraySource) -> None:
    import cv2

    m = NanoDnn("v3")
    gray = [cv2.cvtColor(scene.read(f), cv2.COLOR_BGR2GRAY) for f in range(3)]
    m.init(gray[0], scene.truth(0, 0))
    assert _iou(m.update(gray[2]).xyxy, scene.truth(0, 2)) > 0.5


@pytest.mark.parametrize(
    "xyxy",
    [
        (0.0, 0.0, 30.0, 30.0),  # in the corner: most of the template is padding
        (300.0, 220.0, 320.0, 240.0),  # the opposite corner
        (150.0, 100.0, 153.0, 103.0),  # 3 px: below the reference's 10 px floor
        (0.0, 0.0, 320.0, 240.0),  # the whole frame
        (-20.0, 50.0, 40.0, 110.0),  # partly outside the image
    ],
)
def test_boxes_at_the_limits_stay_valid(scene: ArraySource, xyxy: tuple[float, ...]) -> None:
    m = NanoDnn("v3")
    m.init(scene.read(0), np.array(xyxy))
    for f in range(1, 4):
        r = m.update(scene.read(f))
        x1, y1, x2, y2 = r.xyxy
        assert 0 <= x1 < x2 <= scene.width and 0 <= y1 < y2 <= scene.height
        assert np.isfinite([r.stats.peak, r.stats.psr, r.stats.entropy]).all()


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ConfigError, match="v2"):
        NanoDnn("v4")


def _copy_models(tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    for folder in ("nanotrack-v2", "nanotrack-v3"):
        shutil.copytree(MODELS_DIR / folder, dst / folder)
    return dst


@pytest.mark.parametrize(
    ("version", "relpath"),
    [
        ("v3", "nanotrack-v3/nanotrack_head.onnx"),  # v3's head
        ("v3", "nanotrack-v3/nanotrack_backbone.onnx"),  # v3's backbone
        ("v2", "nanotrack-v2/nanotrack_head_sim.onnx"),  # v2 through cv2.dnn
    ],
)
def test_missing_weights_are_a_model_error(tmp_path: Path, version: str, relpath: str) -> None:
    d = _copy_models(tmp_path)
    (d / relpath).unlink()
    name = relpath.rsplit("/", 1)[1].replace(".", r"\.")
    with pytest.raises(ModelError, match=rf"{name} is missing.*reinstall"):
        NanoDnn(version, models_dir=d)


def test_damaged_weights_are_a_model_error(tmp_path: Path) -> None:
    d = _copy_models(tmp_path)
    f = d / "nanotrack-v3" / "nanotrack_backbone.onnx"
    data = bytearray(f.read_bytes())
    data[7000] ^= 0xFF  # one flipped byte: same size, wrong hash
    f.chmod(0o644)
    f.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"nanotrack_backbone\.onnx is damaged: sha256"):
        NanoDnn("v3", models_dir=d)


@pytest.mark.parametrize("name", ["nano2", "nano3"])
def test_backend_is_a_member_measurer(name: str) -> None:
    info = backends.backend(name)
    assert info.self_contained and info.gives_score and info.visual and info.backward
    m = info.create()
    assert isinstance(m, MemberMeasurer) and m.name == name


def test_nano3_runs_through_the_engine(scene: ArraySource) -> None:
    p = Project(MediaRef("rendered", scene.n_frames, scene.width, scene.height))
    with p.edit("keys") as tx:
        tx.set_track(TrackInfo(1))
        tx.set_box(1, FrameBox(0, BoxXYXY.from_array(scene.truth(0, 0))))
    run = track_project(p, scene, TrackerConfig(tracker="nano3", extend=True))
    boxes = run.boxes[1]
    assert [b.frame for b in boxes] == list(range(1, scene.n_frames))
    ious = [_iou(b.xyxy.to_array(), scene.truth(0, b.frame)) for b in boxes]
    assert np.mean(ious) > 0.7 and ious[-1] > 0.5

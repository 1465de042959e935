"""FEAR-XS as a committee member and as the ``fear`` back-end, on rendered scenes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core.boxes import FrameBox, iou_matrix
from tracker_annotate.core.errors import ModelError
from tracker_annotate.models import MODELS_DIR, verified_path
from tracker_annotate.tracking import backends
from tracker_annotate.tracking.api import TrackerConfig
from tracker_annotate.tracking.engine import track_project
from tracker_annotate.tracking.siamese import MemberMeasurer, SiameseMember
from tracker_annotate.tracking.siamese_fear import (
    FearParams,
    FearXS,
    batchable_track_onnx,
    track_forward,
)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou_matrix(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


@pytest.fixture(scope="module")
def scene() -> ArraySource:
    return ArraySource([MovingObject((40, 60, 100, 120), (2.5, 1.0), seed=3)], n=30)


@pytest.fixture(scope="module")
def member() -> FearXS:
    return FearXS()


def test_is_a_siamese_member(member: FearXS) -> None:
    m: SiameseMember = member
    assert m.name == "fear"


def test_follows_a_moving_textured_object(member: FearXS, scene: ArraySource) -> None:
    member.init(scene.read(0), scene.truth(0, 0))
    for f in range(1, scene.n):
        r = member.update(scene.read(f))
        s = r.stats
        assert 0.0 <= s.peak <= 1.0
        assert 0.0 <= s.second <= 1.0
        assert s.psr >= 0.0
        assert 0.0 <= s.entropy <= 1.0
        assert r.xyxy[0] >= 0 and r.xyxy[2] <= scene.w  # clamped to the image
    assert _iou(r.xyxy, scene.truth(0, scene.n - 1)) > 0.5
    assert r.stats.peak > 0.5  # a clear, untroubled object: the net is sure


def test_the_reference_window_and_penalty_also_follow(scene: ArraySource) -> None:
    m = FearXS(FearParams(window_influence=0.38, penalty_k=0.062))
    m.init(scene.read(0), scene.truth(0, 0))
    for f in range(1, scene.n):
        r = m.update(scene.read(f))
    assert _iou(r.xyxy, scene.truth(0, scene.n - 1)) > 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_influence": 1.5},  # a weight, in [0, 1]
        {"penalty_k": -0.1},  # a penalty cannot reward a size change
        {"size_lr": 2.0},  # a learning rate, in [0, 1]
        {"search_context": 0.0},  # the search crop must be larger than the box
    ],
)
def test_params_name_the_bad_argument(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FearParams(**kwargs)


def test_embedding_tells_the_object_from_the_background(member: FearXS, scene: ArraySource) -> None:
    a = member.embed(scene.read(0), scene.truth(0, 0))
    b = member.embed(scene.read(20), scene.truth(0, 20))
    bg = member.embed(scene.read(20), np.array([220.0, 150.0, 280.0, 210.0]))  # no object here
    assert a.dtype == np.float32 and a.shape == (256 * 8 * 8,)
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert float(a @ b) > float(a @ bg) + 0.1


def test_a_batch_of_crops_gives_each_crop_its_own_answer(
    member: FearXS, scene: ArraySource
) -> None:
    two = ArraySource([MovingObject((40, 60, 100, 120), (2.5, 1.0), seed=3)], n=30, seed=2)
    crops, feats = [], []
    for src in (scene, two):
        member.init(src.read(0), src.truth(0, 0))
        feats.append(member.template_features)
        crops.append(member.search_crop(src.read(5)))
    blob = np.stack(crops).astype(np.float32).transpose(0, 3, 1, 2).copy()
    net = member.track_net
    cls, bbox = track_forward(net, blob, np.concatenate(feats))
    assert cls.shape == (2, 1, 16, 16) and bbox.shape == (2, 4, 16, 16)
    for i in range(2):
        c1, b1 = track_forward(net, blob[i : i + 1], feats[i])
        np.testing.assert_allclose(cls[i], c1[0], atol=1e-4)
        np.testing.assert_allclose(bbox[i], b1[0], atol=1e-3)


def test_unknown_onnx_bytes_are_left_alone() -> None:
    assert batchable_track_onnx(b"not the track net") == b"not the track net"


def _copy_models(tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "fear-xs", dst / "fear-xs")
    for f in (dst / "fear-xs").iterdir():
        f.chmod(0o644)
    return dst


def test_missing_weights_name_the_file(tmp_path: Path) -> None:
    d = _copy_models(tmp_path)
    (d / "fear-xs" / "fear_xs_track.onnx").unlink()
    with pytest.raises(ModelError, match=r"fear_xs_track\.onnx is missing.*reinstall"):
        verified_path("fear_xs_track", d)
    with pytest.raises(ModelError, match=r"fear_xs_track\.onnx is missing"):
        FearXS(models_dir=d)


def test_damaged_weights_are_refused(tmp_path: Path) -> None:
    d = _copy_models(tmp_path)
    f = d / "fear-xs" / "fear_xs_template.onnx"
    data = bytearray(f.read_bytes())
    data[5000] ^= 0xFF  # one flipped byte: same size, wrong hash
    f.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"fear_xs_template\.onnx is damaged: sha256"):
        FearXS(models_dir=d)
    f.write_bytes(bytes(data[:-10]))
    with pytest.raises(ModelError, match=r"damaged: \d+ bytes"):
        verified_path("fear_xs_template", d)


def test_backend_is_registered_with_its_capabilities() -> None:
    info = backends.backend("fear")
    assert (info.visual, info.self_contained, info.gives_score, info.engine_search) == (
        True,
        True,
        True,
        False,
    )
    assert info.cost > backends.backend("nano").cost  # a bigger net than NanoTrack v2
    m = backends.make_measurer("fear")
    assert isinstance(m, MemberMeasurer) and m.name == "fear"


def test_fear_backend_through_the_engine() -> None:
    from tracker_annotate.core.boxes import BoxXYXY
    from tracker_annotate.core.project import MediaRef, Project, TrackInfo

    src = ArraySource(
        [
            MovingObject((40, 60, 100, 120), (2.0, 0.7), zoom=0.003, seed=1),
            MovingObject((220, 100, 260, 180), (-1.2, 0.3), seed=2),
        ],
        n=40,
    )
    p = Project(MediaRef("rendered", src.n_frames, src.width, src.height))
    with p.edit("keys") as tx:
        for tid in (1, 2):
            tx.set_track(TrackInfo(tid))
            tx.set_box(tid, FrameBox(0, BoxXYXY.from_array(src.truth(tid - 1, 0))))
    run = track_project(p, src, TrackerConfig(tracker="fear", extend=True))
    for tid in (1, 2):
        boxes = run.boxes[tid]
        assert [b.frame for b in boxes] == list(range(1, src.n_frames))
        ious = [_iou(b.xyxy.to_array(), src.truth(tid - 1, b.frame)) for b in boxes]
        assert np.mean(ious) > 0.7
        assert all(0.0 <= b.confidence <= 1.0 for b in boxes)


def test_fear_and_vit_sit_on_a_committee(scene: ArraySource) -> None:
    from tracker_annotate.tracking.committee import CommitteeMeasurer
    from tracker_annotate.tracking.measure import FrameData

    c = CommitteeMeasurer("fear", "vit", name="fear+vit")
    prev = FrameData(0, scene.read(0))
    box = scene.truth(0, 0)
    c.start(prev, box)
    for f in range(1, 8):
        cur = FrameData(f, scene.read(f))
        got = c.measure(prev, cur, box, box)
        assert got.xyxy is not None
        box, prev = got.xyxy, cur
    assert _iou(box, scene.truth(0, 7)) > 0.6

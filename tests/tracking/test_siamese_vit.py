"""VitTrack as a committee member and as the ``vit`` back-end, on rendered scenes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tracking_scenes import ArraySource, MovingObject

from tracker_annotate.core.boxes import iou_matrix
from tracker_annotate.core.errors import ModelError
from tracker_annotate.models import MODELS_DIR, verified_path
from tracker_annotate.tracking import backends
from tracker_annotate.tracking.measure import FrameData
from tracker_annotate.tracking.siamese import MemberMeasurer, SiameseMember
from tracker_annotate.tracking.siamese_vit import VitParams, VitTrack


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou_matrix(np.asarray(a)[None], np.asarray(b)[None])[0, 0])


@pytest.fixture(scope="module")
def scene() -> ArraySource:
    return ArraySource([MovingObject((40, 60, 100, 120), (2.5, 1.0), seed=3)], n=30)


def test_follows_a_moving_textured_object(scene: ArraySource) -> None:
    m: SiameseMember = VitTrack()
    m.init(scene.read(0), scene.truth(0, 0))
    for f in range(1, scene.n):
        r = m.update(scene.read(f))
        assert 0.0 <= r.stats.peak <= 1.0
        assert 0.0 <= r.stats.entropy <= 1.0
        assert r.stats.psr >= 0.0
    assert _iou(r.xyxy, scene.truth(0, scene.n - 1)) > 0.5
    assert r.stats.peak > 0.5


def test_a_weak_answer_keeps_the_last_box(scene: ArraySource) -> None:
    m = VitTrack(VitParams(min_score=0.999))  # nothing is ever that sure
    m.init(scene.read(0), scene.truth(0, 0))
    r = m.update(scene.read(5))
    np.testing.assert_allclose(r.xyxy, scene.truth(0, 0))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_score": 1.0},  # would never move
        {"search_factor": 0.0},  # an empty crop
    ],
)
def test_params_name_the_bad_argument(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        VitParams(**kwargs)


def test_embedding_tells_the_object_from_the_background(scene: ArraySource) -> None:
    m = VitTrack()
    a = m.embed(scene.read(0), scene.truth(0, 0))
    b = m.embed(scene.read(20), scene.truth(0, 20))
    bg = m.embed(scene.read(20), np.array([220.0, 150.0, 280.0, 210.0]))
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    assert float(a @ b) > float(a @ bg) + 0.1


def test_missing_or_damaged_weights(tmp_path: Path) -> None:
    d = tmp_path / "models"
    shutil.copytree(MODELS_DIR / "vittrack", d / "vittrack")
    f = d / "vittrack" / "object_tracking_vittrack_2023sep.onnx"
    f.chmod(0o644)
    data = bytearray(f.read_bytes())
    data[4000] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"vittrack_2023sep\.onnx is damaged: sha256"):
        VitTrack(models_dir=d)
    f.unlink()
    with pytest.raises(ModelError, match=r"vittrack_2023sep\.onnx is missing"):
        verified_path("vittrack", d)


def test_vit_backend_measures(scene: ArraySource) -> None:
    info = backends.backend("vit")
    assert info.self_contained and info.gives_score and not info.engine_search
    m = backends.make_measurer("vit")
    assert isinstance(m, MemberMeasurer)
    prev = FrameData(0, scene.read(0))
    box = scene.truth(0, 0)
    m.start(prev, box)
    for f in range(1, 10):
        cur = FrameData(f, scene.read(f))
        got = m.measure(prev, cur, box, box)
        assert got.xyxy is not None and 0.0 <= got.score <= 1.0
        box, prev = got.xyxy, cur
    assert _iou(box, scene.truth(0, 9)) > 0.6

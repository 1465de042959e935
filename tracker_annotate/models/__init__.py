"""Model weights shipped with tracker_annotate, and the check that they are the right bytes.

Each shipped model lives in its own folder beside this file with its licence:

* ``nanotrack-v2/``: NanoTrack v2 (Apache-2.0, github HonglinChu/SiamTrackers), the ``nano``
  measurement back-end (``cv2.TrackerNano``), and the ``nano2`` back-end (the same files
  through ``cv2.dnn``, :mod:`tracker_annotate.tracking.siamese_nano`).
* ``nanotrack-v3/``: NanoTrack v3 (Apache-2.0, same repository, commit 4dbbbbc9), the ``nano3``
  back-end (``cv2.dnn``; ``cv2.TrackerNano`` cannot run its 15x15 head).
* ``yolox-nano/``: YOLOX-nano, 80 COCO classes (weights Apache-2.0 by Megvii; the ONNX
  conversion MIT by hamacom2004jp/iinfer), the shipped detector.
* ``fear-xs/``: FEAR-XS (MIT, github PinataFarms/FEARTracker; its Core ML demo models
  converted to ONNX, weights unchanged), the ``fear`` back-end (``cv2.dnn``).
* ``vittrack/``: VitTrack (Apache-2.0, the OpenCV model zoo), the ``vit`` back-end
  (``cv2.dnn``).

:func:`verified_path` returns a file's path after checking its size and sha256 once per
process; a missing or damaged file is a :class:`~tracker_annotate.core.errors.ModelError`
that names the file and says how to fix it. No Qt and no OpenCV here.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from tracker_annotate.core.errors import ModelError

MODELS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ModelFile:
    """One shipped weights file: where it lives (relative to :data:`MODELS_DIR`) and its hash."""

    relpath: str
    size: int
    sha256: str


#: Every shipped weights file, by a short name.
MODEL_FILES: dict[str, ModelFile] = {
    "nanotrack_backbone": ModelFile(
        "nanotrack-v2/nanotrack_backbone_sim.onnx",
        1_056_849,
        "530bdd0cd00f19afab79a863e71ba71e3312395a5dc9151af675082bdaaa2fc4",
    ),
    "nanotrack_head": ModelFile(
        "nanotrack-v2/nanotrack_head_sim.onnx",
        726_198,
        "0d8c0637be849f092cc7236cae02e55c8b9455ebe37ba50601d6115db4247cd9",
    ),
    "nanotrack3_backbone": ModelFile(
        "nanotrack-v3/nanotrack_backbone.onnx",
        1_431_635,
        "50be1320abf9384fd3479ea829f95e244cf3f3838190c5ab60c750fb8c1ce828",
    ),
    "nanotrack3_head": ModelFile(
        "nanotrack-v3/nanotrack_head.onnx",
        1_183_740,
        "75357903be3f4817c965af16cb5a11fd32b1467f597a408405a98635ac63f61d",
    ),
    "yolox_nano": ModelFile(
        "yolox-nano/yolox_nano.onnx",
        3_713_911,
        "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a",
    ),
    "fear_xs_template": ModelFile(
        "fear-xs/fear_xs_template.onnx",
        3_060_656,
        "fa8321d53fc868464e027b16aa6718daf60bf29ea0d7df93e6edcb148f25d070",
    ),
    "fear_xs_track": ModelFile(
        "fear-xs/fear_xs_track.onnx",
        5_413_904,
        "ecc9e77bd305ca7f90a2637f337de824baf386dc964488dabf136d244d2dfc74",
    ),
    "vittrack": ModelFile(
        "vittrack/object_tracking_vittrack_2023sep.onnx",
        714_726,
        "2990f0b7cd44d92afa48cd97db6de7be113fc1d9594fddb74e2725c10478e91d",
    ),
}

_FIX = "reinstall tracker_annotate (pip install --force-reinstall tracker_annotate)"
_checked: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) already verified
_lock = threading.Lock()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_file(path: Path, sha256: str, size: int | None = None, *, fix: str = _FIX) -> Path:
    """``path`` if it exists and has the expected sha256 (and size), else :class:`ModelError`.

    The hash is computed once per process for a given file state (path, size, mtime).
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"model file {path} is missing ({exc.strerror}); {fix}") from exc
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _checked:
            return path
    if size is not None and st.st_size != size:
        raise ModelError(
            f"model file {path} is damaged: {st.st_size} bytes, expected {size}; {fix}"
        )
    try:
        got = sha256_of(path)
    except OSError as exc:
        raise ModelError(f"model file {path} cannot be read ({exc.strerror}); {fix}") from exc
    if got != sha256:
        raise ModelError(
            f"model file {path} is damaged: sha256 {got[:12]}…, expected {sha256[:12]}…; {fix}"
        )
    with _lock:
        _checked.add(key)
    return path


def verified_path(name: str, models_dir: Path | None = None) -> Path:
    """Path of the shipped model file ``name`` (a key of :data:`MODEL_FILES`), checked.

    ``models_dir`` replaces :data:`MODELS_DIR` (tests point it at a damaged copy).
    """
    try:
        mf = MODEL_FILES[name]
    except KeyError as exc:
        raise ModelError(f"unknown model {name!r}; known: {sorted(MODEL_FILES)}") from exc
    return check_file((models_dir or MODELS_DIR) / mf.relpath, mf.sha256, mf.size)

"""Property-based fuzzing of every importer and the project opener.

Each reader gets structured mutations of a valid file (a field replaced by NaN, 1e300, a
control character or markup; lines dropped, duplicated or cut off) and raw random bytes.
Whatever it is given, only our error family may come out: never another exception, never
a hang (each example has a deadline), never a half-changed project. The nastiest cases
found (hypothesis prints the falsifying input) are kept as regression files under
``fuzz_corpus/<target>/`` and replayed by ``test_corpus_case``.

``TA_FUZZ_EXAMPLES`` sets the examples per target (default 150, about a minute in all);
``benchmarks/fuzz_long.py`` runs thousands.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fuzz_helpers import (
    COCO_DET_SEED,
    COCO_SEED,
    CVAT_SEED,
    DET_SEED,
    FUZZ_EXAMPLES,
    MEDIA,
    MOT_SEED,
    SEQINFO_SEED,
    inputs,
    only_our_errors,
    write,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import ProjectError
from tracker_annotate.core.project import Project, TrackInfo
from tracker_annotate.io.formats import read_annotations
from tracker_annotate.io.formats.coco import read_coco
from tracker_annotate.io.formats.cvat_xml import read_cvat
from tracker_annotate.io.formats.detections import read_detections
from tracker_annotate.io.formats.mot import read_mot, read_seqinfo, write_mot
from tracker_annotate.io.media import MediaConfig, open_media
from tracker_annotate.io.store import ProjectStore

pytestmark = pytest.mark.fuzz

CORPUS = Path(__file__).parent / "fuzz_corpus"
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=10_000,  # ms: a reader that takes longer on a few hundred bytes hangs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=FUZZ_EXAMPLES <= 150,  # the normal suite is reproducible
)


def _check_project(project: Project | None, media: bool) -> None:
    """What a reader returns is a whole, valid project: with media, every visible box
    overlaps the frame and every frame is inside the media."""
    if project is None or not media:
        return
    for tid in project.tracks:
        for f, b in project.boxes(tid).items():
            assert 0 <= f < MEDIA.n_frames
            if not b.outside:
                assert b.xyxy.clipped(MEDIA.width, MEDIA.height) is not None, b


def _annotation_reader(fn: Callable[..., Project]) -> Callable[[Path, bool], None]:
    def run(path: Path, media: bool) -> None:
        project = only_our_errors(
            lambda: fn(path, media=MEDIA if media else None), f"{fn.__name__}({path.name})"
        )
        _check_project(project, media)

    return run


def _detections_reader(path: Path, media: bool) -> None:
    dets = only_our_errors(lambda: read_detections(path), f"read_detections({path.name})")
    if dets is not None:
        assert np.isfinite(dets.xyxy).all() and np.isfinite(dets.scores).all()
        assert (dets.frames >= 0).all()


def _seqinfo_reader(path: Path, media: bool) -> None:
    """A MOT sequence folder whose seqinfo.ini is ``path``: parsed, and opened as media."""
    only_our_errors(lambda: read_seqinfo(path), "read_seqinfo")
    img1 = path.parent / "img1"
    if not img1.is_dir():
        img1.mkdir()
        for i in range(4):
            cv2.imwrite(str(img1 / f"{i + 1:06d}.png"), np.full((48, 64, 3), 30 * i, np.uint8))

    def open_and_read() -> None:
        with open_media(path.parent, MediaConfig(cache_bytes=0, readahead=0)) as src:
            src.read(src.n_frames - 1)

    only_our_errors(open_and_read, "open_media(sequence)")


#: name -> (file name, seed text, check(path, with_media))
TARGETS: dict[str, tuple[str, str, Callable[[Path, bool], None]]] = {
    "mot": ("gt.txt", MOT_SEED, _annotation_reader(read_mot)),
    "cvat": ("a.xml", CVAT_SEED, _annotation_reader(read_cvat)),
    "coco": ("a.json", COCO_SEED, _annotation_reader(read_coco)),
    "det_mot": ("det.txt", DET_SEED, _detections_reader),
    "det_coco": ("det.json", COCO_DET_SEED, _detections_reader),
    "seqinfo": ("seqinfo.ini", SEQINFO_SEED, _seqinfo_reader),
}


def _fuzz_one(name: str, data: bytes, media: bool) -> None:
    file_name, _seed, check = TARGETS[name]
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d) / file_name, data)
        check(path, media)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_only_our_errors_come_out(name: str) -> None:
    seed = TARGETS[name][1]

    @FUZZ
    @given(data=inputs(seed), media=st.booleans())
    def run(data: bytes, media: bool) -> None:
        _fuzz_one(name, data, media)

    run()


def _corpus_cases() -> list[Any]:
    cases = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name in TARGETS):
        for f in sorted(folder.iterdir()):
            cases.append(pytest.param(folder.name, f, id=f"{folder.name}/{f.name}"))
    return cases


@pytest.mark.parametrize(("name", "path"), _corpus_cases())
@pytest.mark.parametrize("media", [True, False], ids=["media", "no-media"])
def test_corpus_case(name: str, path: Path, media: bool) -> None:
    """Regression files: inputs that once broke a reader (or nearly did)."""
    _fuzz_one(name, path.read_bytes(), media)


# -- the CLI import: a refused file leaves the project byte-identical ------------------


@pytest.fixture(scope="module")
def reviewed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("proj") / "p.taproj"
    p = Project(MEDIA)
    with p.edit("review") as tx:
        tx.set_track(TrackInfo(1))
        for f in range(10):
            box = FrameBox(f, BoxXYXY(10 + f, 10, 50 + f, 60), BoxSource.TRACKED, 0.6)
            tx.set_box(1, box.with_(verified=f % 2 == 0))
    ProjectStore.create(path, p).close()
    return path


@pytest.mark.parametrize("name", ["mot", "cvat", "coco"])
def test_import_into_a_project_is_all_or_nothing(name: str, reviewed_project: Path) -> None:
    from tracker_annotate.cli.main import main

    file_name, seed, _check = TARGETS[name]

    @settings(FUZZ, max_examples=max(10, FUZZ_EXAMPLES // 5))
    @given(data=inputs(seed))
    def run(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            proj = Path(d) / "p.taproj"
            shutil.copy(reviewed_project, proj)
            before = proj.read_bytes()
            f = write(Path(d) / file_name, data)
            code = main(["import", str(f), "--project", str(proj)])
            assert code in (0, 2), code
            if code == 2:
                assert proj.read_bytes() == before, "a refused import changed the project"

    run()


# -- the project opener ----------------------------------------------------------------


@pytest.fixture(scope="module")
def project_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("seed") / "seed.taproj"
    p = Project(MEDIA)
    with p.edit("seed") as tx:
        for t in range(1, 6):
            tx.set_track(TrackInfo(t, name=f"track {t}"))
            for f in range(0, 60, 2):
                box = FrameBox(f, BoxXYXY(t * 10.5, f, t * 10.5 + 40, f + 50), BoxSource.TRACKED)
                tx.set_box(t, box.with_(confidence=0.5, flagged=f % 6 == 0))
    ProjectStore.create(path, p).close()
    return path.read_bytes()


@st.composite
def damaged_projects(draw: st.DrawFn, data: bytes) -> bytes:
    """A valid project with a bad sector, garbage runs, flipped bits or cut off."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["run", "run", "bits", "truncate", "page"]))
        if kind == "truncate":
            del out[draw(st.integers(0, len(out))) :]
        elif kind == "page" and len(out) >= 8192:
            page = draw(st.integers(1, len(out) // 4096 - 1))
            out[page * 4096 : (page + 1) * 4096] = draw(st.binary(min_size=4096, max_size=4096))
        elif kind == "bits" and out:
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif out:
            i = draw(st.integers(0, len(out) - 1))
            out[i : i + 8] = draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


def test_project_opener_only_refuses_with_our_errors(project_bytes: bytes) -> None:
    @FUZZ
    @given(
        data=damaged_projects(project_bytes)
        | st.binary(max_size=300).map(lambda b: b"SQLite format 3\x00" + b)
    )
    def run(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = write(Path(d) / "p.taproj", data)
            try:
                store = ProjectStore.open(path, check_media=False)
            except ProjectError:
                return
            except Exception as exc:
                raise AssertionError(f"ProjectStore.open: {type(exc).__name__}: {exc}") from exc
            try:
                # what opened is whole and exportable (no 1.4e306-px box gets out)
                out = Path(d) / "out.txt"
                only_our_errors(lambda: write_mot(store.project, out), "write_mot")
                if out.exists():
                    only_our_errors(lambda: read_annotations(out), "read back")
            finally:
                store.close()

    run()


def _project_corpus() -> list[Any]:
    folder = CORPUS / "project"
    return [pytest.param(f, id=f.name) for f in sorted(folder.glob("*.taproj"))]


@pytest.mark.parametrize("path", _project_corpus())
def test_project_corpus_case(path: Path, tmp_path: Path) -> None:
    """Every file here is damaged (truncated, a bad sector, garbage in page 1 or in a
    coordinate): each is refused in our words, never opened, never another exception."""
    target = tmp_path / "p.taproj"
    shutil.copy(path, target)
    with pytest.raises(ProjectError) as info:
        ProjectStore.open(target, check_media=False).close()
    assert str(target) in str(info.value)

"""Hypothesis strategies for random projects and comparisons of what a format can carry."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hypothesis import strategies as st

from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import MediaRef, Project, TrackInfo

LABEL_NAMES = ["pedestrian", "car", "object", "dog", "class_42", "parked car"]
# Text XML 1.0 can hold: no control characters but tab, newline and carriage return
# (a bare CR is the classic one that comes back as LF unless it is escaped).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x2FFF)
    | st.sampled_from("\t\n\r <>&\"'"),
    max_size=12,
)


@st.composite
def frame_boxes(draw: st.DrawFn, frame: int) -> FrameBox:
    # boxes overlap the 640x480 image (readers refuse one entirely off it), edges may hang over
    w = draw(st.floats(1, 300, allow_nan=False))
    h = draw(st.floats(1, 300, allow_nan=False))
    x1 = draw(st.floats(max(-50.0, 1.0 - w), 600, allow_nan=False))
    y1 = draw(st.floats(max(-50.0, 1.0 - h), 450, allow_nan=False))
    flagged = draw(st.booleans())
    return FrameBox(
        frame,
        BoxXYXY(x1, y1, x1 + w, y1 + h),
        draw(st.sampled_from(list(BoxSource))),
        draw(st.floats(0, 1, allow_nan=False)),
        flagged=flagged,
        flag_reason=draw(TEXT) if flagged else "",
        verified=draw(st.booleans()),
        occluded=draw(st.booleans()),
        outside=draw(st.integers(0, 9)) == 0,
    )


@st.composite
def projects(draw: st.DrawFn, *, with_media: bool | None = None) -> Project:
    """A random project: 1-3 labels, 1-4 tracks, each with at least one box."""
    has_media = draw(st.booleans()) if with_media is None else with_media
    n_frames = draw(st.integers(3, 40))
    media = MediaRef("/videos/clip.mp4", n_frames, 640, 480, 25.0) if has_media else None
    names = draw(st.lists(st.sampled_from(LABEL_NAMES), min_size=1, max_size=3, unique=True))
    colors = st.tuples(*(st.integers(0, 255),) * 3)
    labels = [Label(n, draw(colors)) for n in names]
    project = Project(media, labels)
    ids = draw(st.lists(st.integers(0, 60), min_size=1, max_size=4, unique=True))
    with project.edit("random") as tx:
        for tid in ids:
            tx.set_track(
                TrackInfo(
                    tid,
                    draw(st.sampled_from(names)),
                    draw(TEXT),
                    draw(st.booleans()),
                    draw(st.booleans()),
                )
            )
            frames = draw(
                st.lists(st.integers(0, n_frames - 1), min_size=1, max_size=12, unique=True)
            )
            for f in frames:
                tx.set_box(tid, draw(frame_boxes(f)))
    return project


def visible_boxes(project: Project, tid: int) -> dict[int, FrameBox]:
    return {f: b for f, b in project.boxes(tid).items() if not b.outside}


def assert_same_geometry(a: FrameBox, b: FrameBox, tol: float) -> None:
    for u, v in zip(a.xyxy.as_tuple(), b.xyxy.as_tuple(), strict=True):
        assert abs(u - v) <= tol, (a, b)


def assert_same_projects(a: Project, b: Project) -> None:
    """Everything equal: labels with colours, track infos, every box field."""
    assert dict(a.labels) == dict(b.labels)
    assert dict(a.tracks) == dict(b.tracks)
    for tid in a.tracks:
        assert dict(a.boxes(tid)) == dict(b.boxes(tid)), tid


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path

"""GUI test fixtures: a real video written by OpenCV, isolated QSettings, a main window.

Error dialogs are recorded instead of shown (a modal box would block the test); a test
that expects none asserts the list is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, QSettings, Qt
from PyQt6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from tracker_annotate.gui import errors
from tracker_annotate.gui.main_window import MainWindow
from tracker_annotate.gui.preferences import Preferences

W, H, N = 320, 240, 40


def object_xyxy(frame: int) -> tuple[int, int, int, int]:
    """Where the synthetic object is on ``frame``: 3 px/frame right, back after frame 60."""
    t = frame % 120
    x = 40 + 3 * min(t, 120 - t)
    return (x, 80, x + 50, 140)


def write_video(path: Path, n: int = N) -> Path:
    rng = np.random.default_rng(7)
    background = rng.integers(0, 120, size=(H, W, 3), dtype=np.uint8)
    background = cv2.GaussianBlur(background, (0, 0), 3)
    texture = rng.integers(0, 255, size=(60, 50, 3), dtype=np.uint8)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (W, H))
    assert out.isOpened()
    for f in range(n):
        img = background.copy()
        x1, y1, x2, y2 = object_xyxy(f)
        img[y1:y2, x1:x2] = texture
        cv2.putText(img, str(f), (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
        out.write(img)
    out.release()
    return path


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> Iterator[None]:
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def shown_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def record(parent: object, title: str, exc: BaseException | str) -> None:
        seen.append(f"{title}: {exc if isinstance(exc, str) else errors.describe(exc)}")

    monkeypatch.setattr(errors, "show_error", record)
    return seen


@pytest.fixture
def prefs() -> Preferences:
    # flag everything below certainty, so the review flow always has work
    return Preferences(tracker="cascade", flag_threshold=0.99, cache_mb=64, auto_retrack=False)


@pytest.fixture
def window(qtbot: QtBot, prefs: Preferences, shown_errors: list[str]) -> Iterator[MainWindow]:
    win = MainWindow(prefs)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close_document()


def view_point(win: MainWindow, x: float, y: float) -> QPoint:
    """Image pixel (x, y) as a point on the canvas viewport."""
    return win.canvas.mapFromScene(QPointF(x, y))


def drag(
    qtbot: QtBot,
    widget: QWidget,
    a: QPoint,
    b: QPoint,
    button: Qt.MouseButton = Qt.MouseButton.LeftButton,
    steps: int = 5,
) -> None:
    qtbot.mousePress(widget, button, pos=a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        qtbot.mouseMove(widget, p)
    qtbot.mouseRelease(widget, button, pos=b)


def add_flagged_track(win: MainWindow, flagged_frames: tuple[int, ...] = (5, 9, 14)) -> int:
    """A track with a keyframe on 0 and tracked boxes on 1..19, some flagged (the state
    a tracking run leaves), built through the model so review tests need no tracker run."""
    from tracker_annotate.core import commands
    from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox

    assert win.doc is not None
    p = win.doc.project
    tid = commands.add_track(p, 0, BoxXYXY(*object_xyxy(0)))
    with p.edit("Track") as tx:
        for f in range(1, 20):
            conf = 0.2 + 0.01 * f if f in flagged_frames else 0.9
            tx.set_box(
                tid,
                FrameBox(
                    f,
                    BoxXYXY(*object_xyxy(f)),
                    BoxSource.TRACKED,
                    conf,
                    flagged=f in flagged_frames,
                    flag_reason="appearance drift" if f in flagged_frames else "",
                ),
            )
    return tid

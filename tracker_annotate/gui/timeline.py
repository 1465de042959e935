"""The timeline: one lane per track over the video's frames.

Each lane shows the track's extent (visible boxes) in its colour, keyframes as dark
ticks, flagged frames as red ticks and verified stretches as a green underline; a white
cursor marks the current frame. Click or drag to seek (a click on a lane also selects the
track); Ctrl+wheel zooms about the pointer for long videos, wheel scrolls lanes, the bar
below scrolls in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PyQt6.QtWidgets import QScrollBar, QSizePolicy, QVBoxLayout, QWidget

from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.session import Session
from tracker_annotate.gui import style
from tracker_annotate.gui.bind import Binding

LANE_H = 16
HEADER_W = 96
RULER_H = 16
MAX_PX_PER_FRAME = 24.0

IntArray = npt.NDArray[np.int64]


def _runs(frames: IntArray) -> list[tuple[int, int]]:
    """Consecutive runs ``(start, end)`` (inclusive) of a sorted frame array."""
    if frames.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) != 1)
    starts = np.concatenate(([frames[0]], frames[breaks + 1]))
    ends = np.concatenate((frames[breaks], [frames[-1]]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def tick_spans(left_px: npt.NDArray[np.floating], width_px: float) -> list[tuple[float, float]]:
    """Ticks ``[left, left + width)`` (sorted) merged where they touch on screen.

    A long video has more frames than the lane has pixels: thousands of flagged frames
    would otherwise be thousands of overlapping rectangles per repaint (the timeline cost
    more than the frame on a 1800-frame 1080p video). Merging keeps one rectangle per run.
    """
    if left_px.size == 0:
        return []
    right = left_px + width_px
    gaps = np.flatnonzero(left_px[1:] > right[:-1] + 0.5)
    starts = np.concatenate(([0], gaps + 1))
    ends = np.concatenate((gaps, [left_px.size - 1]))
    return list(zip(left_px[starts].tolist(), right[ends].tolist(), strict=True))


@dataclass(frozen=True)
class LaneSummary:
    """What a lane draws, precomputed once per change of the track."""

    visible_runs: list[tuple[int, int]]
    keyframes: IntArray
    flagged: IntArray
    verified_runs: list[tuple[int, int]]

    @classmethod
    def of(cls, project: Project, track_id: int) -> LaneSummary:
        boxes = project.boxes(track_id)
        frames = np.array(sorted(boxes), dtype=np.int64)
        items = [boxes[int(f)] for f in frames]
        vis = np.array([not b.outside for b in items], dtype=bool)
        key = np.array([b.is_keyframe for b in items], dtype=bool)
        # a proposed object's boxes are not flags until it is accepted (core.proposals)
        waiting = project.track(track_id).proposed
        flag = np.array([b.flagged and not b.verified and not waiting for b in items], dtype=bool)
        ver = np.array([b.verified for b in items], dtype=bool)
        if frames.size == 0:
            return cls([], frames, frames, [])
        return cls(_runs(frames[vis]), frames[key], frames[flag], _runs(frames[ver]))


class _Lanes(QWidget):
    def __init__(self, owner: Timeline) -> None:
        super().__init__(owner)
        self._t = owner
        self.setMouseTracking(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(600, RULER_H + LANE_H * 6)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        self._t.paint_lanes(self)

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._t.click(event.position().x(), event.position().y(), select=True)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._t.click(event.position().x(), event.position().y(), select=False)

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is not None:
            self._t.wheel(event)


class Timeline(QWidget):
    """One lane per (visible) track; seeks the session on click."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._session: Session | None = None
        self._binding = Binding()
        self._cache: dict[int, LaneSummary] = {}
        # the lanes without the cursor, drawn once per change and reused while stepping
        self._backdrop: QPixmap | None = None
        self._backdrop_key: tuple[object, ...] | None = None
        self._version = 0
        self._px_per_frame: float | None = None  # None = fit the whole video
        self._first_lane = 0
        self.lanes = _Lanes(self)
        self.hbar = QScrollBar(Qt.Orientation.Horizontal, self)
        self.hbar.valueChanged.connect(lambda _v: self.lanes.update())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.lanes)
        lay.addWidget(self.hbar)
        self.setMinimumHeight(RULER_H + LANE_H * 3 + 16)

    def bind(self, project: Project, session: Session) -> None:
        self.unbind()
        self._project, self._session = project, session
        self._binding.rebind(
            (project, {"changed": self._on_changed}),
            (
                session,
                {
                    "frame_changed": self._on_frame,
                    "selection_changed": self._on_selection,
                    "length_changed": self._on_length,
                },
            ),
        )
        self._cache.clear()
        self._version += 1
        self._update_bar()
        self.lanes.update()

    def unbind(self) -> None:
        self._binding.unbind()
        self._project = self._session = None
        self._cache.clear()
        self._backdrop = self._backdrop_key = None

    # -- geometry ------------------------------------------------------------------------
    def _lane_width(self) -> float:
        return max(10.0, self.lanes.width() - HEADER_W - 4)

    def px_per_frame(self) -> float:
        n = self._session.n_frames if self._session else 1
        fit = self._lane_width() / max(1, n)
        return fit if self._px_per_frame is None else max(fit, self._px_per_frame)

    def set_px_per_frame(self, value: float | None) -> None:
        """Timeline zoom: pixels per frame, ``None`` to fit the whole video."""
        self._px_per_frame = None if value is None else min(value, MAX_PX_PER_FRAME)
        self._update_bar()
        self.lanes.update()

    def _on_length(self, n_frames: int) -> None:
        self._cache.clear()
        self._version += 1
        self._update_bar()
        self.lanes.update()

    def _update_bar(self) -> None:
        n = self._session.n_frames if self._session else 1
        visible = int(self._lane_width() / self.px_per_frame())
        self.hbar.setRange(0, max(0, n - visible))
        self.hbar.setPageStep(max(1, visible))
        self.hbar.setVisible(n > visible)

    def frame_at(self, x: float) -> int:
        return int((x - HEADER_W) / self.px_per_frame()) + self.hbar.value()

    def x_of(self, frame: float) -> float:
        return HEADER_W + (frame - self.hbar.value()) * self.px_per_frame()

    def _tracks(self) -> list[int]:
        if self._project is None:
            return []
        return [t for t, info in sorted(self._project.tracks.items()) if not info.hidden]

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._update_bar()

    # -- interaction ---------------------------------------------------------------------
    def click(self, x: float, y: float, *, select: bool) -> None:
        if self._session is None or x < HEADER_W:
            if self._session is not None and select and y >= RULER_H:
                self._select_lane(y)
            return
        self._session.seek(self.frame_at(x))
        if select and y >= RULER_H:
            self._select_lane(y)

    def _select_lane(self, y: float) -> None:
        lane = int((y - RULER_H) / LANE_H) + self._first_lane
        tracks = self._tracks()
        if self._session is not None and 0 <= lane < len(tracks):
            self._session.select(tracks[lane])

    def wheel(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            anchor = self.frame_at(event.position().x())
            self.set_px_per_frame(self.px_per_frame() * (1.5**steps))
            # keep the frame under the pointer where it was
            self.hbar.setValue(
                int(anchor - (event.position().x() - HEADER_W) / self.px_per_frame())
            )
        elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.hbar.setValue(self.hbar.value() - int(steps * self.hbar.pageStep() / 4))
        else:
            n = len(self._tracks())
            rows = max(1, (self.lanes.height() - RULER_H) // LANE_H)
            self._first_lane = int(min(max(0, self._first_lane - steps), max(0, n - rows)))
            self.lanes.update()
        event.accept()

    # -- model events --------------------------------------------------------------------
    def _on_changed(self, cs: ChangeSet) -> None:
        for tid in cs.tracks | {t for t, _ in cs.boxes}:
            self._cache.pop(tid, None)
        self._version += 1
        self.lanes.update()

    def _on_selection(self, _track_id: int | None) -> None:
        self.lanes.update()

    def _on_frame(self, frame: int) -> None:
        first = self.hbar.value()
        visible = self.hbar.pageStep()
        if self.hbar.isVisible() and not first <= frame < first + visible:
            self.hbar.setValue(frame - visible // 4)
        self.lanes.update()

    def summary(self, track_id: int) -> LaneSummary:
        s = self._cache.get(track_id)
        if s is None and self._project is not None:
            s = self._cache[track_id] = LaneSummary.of(self._project, track_id)
        return (
            s
            if s is not None
            else LaneSummary([], np.zeros(0, np.int64), np.zeros(0, np.int64), [])
        )

    # -- painting ------------------------------------------------------------------------
    def paint_lanes(self, w: QWidget) -> None:
        p = QPainter(w)
        if self._session is None or self._project is None:
            p.fillRect(w.rect(), QColor(40, 40, 44))
            p.end()
            return
        key = (
            w.width(),
            w.height(),
            w.devicePixelRatioF(),
            self.px_per_frame(),
            self.hbar.value(),
            self._first_lane,
            self._session.selected,
            self._session.n_frames,
            self._version,
        )
        if self._backdrop is None or key != self._backdrop_key:
            dpr = w.devicePixelRatioF()
            self._backdrop = QPixmap(round(w.width() * dpr), round(w.height() * dpr))
            self._backdrop.setDevicePixelRatio(dpr)
            bp = QPainter(self._backdrop)
            self._paint_backdrop(bp, w)
            bp.end()
            self._backdrop_key = key
        p.drawPixmap(0, 0, self._backdrop)
        x = self.x_of(self._session.frame + 0.5)
        p.setPen(QPen(style.CURSOR, 2))
        p.drawLine(int(x), 0, int(x), w.height())
        p.end()

    def _paint_backdrop(self, p: QPainter, w: QWidget) -> None:
        """Ruler and lanes: everything but the cursor."""
        p.fillRect(w.rect(), QColor(40, 40, 44))
        ppf = self.px_per_frame()
        first = self.hbar.value()
        last = first + int(self._lane_width() / ppf) + 1
        # ruler
        p.setPen(QColor(170, 170, 170))
        step = max(1, int(80 / ppf))
        step = next(s for s in (1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 10**9) if s >= step)
        for f in range((first // step) * step, last + 1, step):
            x = self.x_of(f)
            if x >= HEADER_W:
                p.drawLine(int(x), RULER_H - 4, int(x), RULER_H)
                p.drawText(int(x) + 2, RULER_H - 4, str(f))
        tracks = self._tracks()
        for row, tid in enumerate(tracks[self._first_lane :]):
            y = RULER_H + row * LANE_H
            if y > w.height():
                break
            self._paint_lane(p, tid, y, (first, last))

    def _paint_lane(self, p: QPainter, tid: int, y: int, span: tuple[int, int]) -> None:
        first, last = span
        ppf = self.px_per_frame()
        assert self._project is not None and self._session is not None
        info = self._project.tracks[tid]
        color = style.track_color(tid)
        if tid == self._session.selected:
            p.fillRect(QRectF(0, y, self.lanes.width(), LANE_H), QColor(70, 70, 90))
        p.setPen(color)
        name = info.name or info.label
        p.drawText(
            QRectF(4, y, HEADER_W - 6, LANE_H), Qt.AlignmentFlag.AlignVCenter, f"#{tid} {name}"
        )
        s = self.summary(tid)
        bar = QColor(color)
        bar.setAlpha(150)
        for a, b in s.visible_runs:
            if b < first or a > last:
                continue
            x0, x1 = self.x_of(max(a, first)), self.x_of(min(b, last) + 1)
            p.fillRect(QRectF(x0, y + 3, max(1.0, x1 - x0), LANE_H - 6), bar)
        for a, b in s.verified_runs:
            if b < first or a > last:
                continue
            x0, x1 = self.x_of(max(a, first)), self.x_of(min(b, last) + 1)
            p.fillRect(QRectF(x0, y + LANE_H - 3, max(1.0, x1 - x0), 2), style.VERIFIED)
        tick_w = max(1.0, min(ppf, 3.0))
        for frames, col, top in (
            (s.keyframes, QColor(20, 20, 20), 2),
            (s.flagged, style.WARNING, 1),
        ):
            sel = frames[(frames >= first) & (frames <= last)]
            left = HEADER_W + (sel - first + 0.5) * ppf - tick_w / 2
            for x0, x1 in tick_spans(left, tick_w):
                p.fillRect(QRectF(x0, y + top, x1 - x0, LANE_H - 2 * top), col)

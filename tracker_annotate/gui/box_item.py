"""One track's box on the canvas: drawn by status, selectable, movable, resizable.

The item never changes the model itself. While the user drags it only moves on screen;
on release it reports the new geometry through ``on_commit`` and the canvas turns that
into one undoable command. The model's change then rebuilds the items.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PyQt6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.gui import style

HANDLE_PX = 9.0  # handle size on screen, whatever the zoom
MIN_SIZE = 2.0  # image pixels: a resize never collapses a box


class Handle(Enum):
    MOVE = "move"
    TL = "tl"
    T = "t"
    TR = "tr"
    R = "r"
    BR = "br"
    B = "b"
    BL = "bl"
    L = "l"


_CURSORS = {
    Handle.MOVE: Qt.CursorShape.SizeAllCursor,
    Handle.TL: Qt.CursorShape.SizeFDiagCursor,
    Handle.BR: Qt.CursorShape.SizeFDiagCursor,
    Handle.TR: Qt.CursorShape.SizeBDiagCursor,
    Handle.BL: Qt.CursorShape.SizeBDiagCursor,
    Handle.T: Qt.CursorShape.SizeVerCursor,
    Handle.B: Qt.CursorShape.SizeVerCursor,
    Handle.L: Qt.CursorShape.SizeHorCursor,
    Handle.R: Qt.CursorShape.SizeHorCursor,
}


class _Tag(QGraphicsItem):
    """The "#id label" tag above a box, drawn at screen size (ignores zoom)."""

    def __init__(self, parent: QGraphicsItem, text: str, color: QColor, warn: bool) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._text = text
        self._color = color
        self._warn = warn
        self._font = QFont()
        self._font.setPointSizeF(9.0)
        self._font.setBold(True)
        fm = QFontMetricsF(self._font)
        self._rect = QRectF(0, -fm.height() - 2, fm.horizontalAdvance(text) + 8, fm.height() + 2)

    def boundingRect(self) -> QRectF:
        return self._rect

    @property
    def screen_size(self) -> tuple[float, float]:
        """Width and height on screen (pixels, whatever the zoom)."""
        return self._rect.width(), self._rect.height()

    def paint(
        self,
        painter: QPainter | None,
        option: QStyleOptionGraphicsItem | None,
        widget: QWidget | None = None,
    ) -> None:
        if painter is None:
            return
        bg = style.WARNING if self._warn else self._color
        painter.fillRect(self._rect, bg)
        painter.setFont(self._font)
        painter.setPen(QColor(0, 0, 0) if bg.lightness() > 140 else QColor(255, 255, 255))
        painter.drawText(self._rect.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, self._text)


class BoxItem(QGraphicsRectItem):
    """A track's box. ``on_press(track_id)`` selects; ``on_commit(track_id, xyxy)`` edits."""

    def __init__(
        self,
        track_id: int,
        box: FrameBox,
        label: str,
        *,
        selected: bool,
        preview: bool = False,
        proposal: bool = False,
        on_press: Callable[[int], None] | None = None,
        on_commit: Callable[[int, BoxXYXY], None] | None = None,
        bounds: QRectF | None = None,
    ) -> None:
        """``bounds`` is the image: a drag or resize never takes the box past its edge."""
        x1, y1, x2, y2 = box.xyxy.as_tuple()
        super().__init__(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.track_id = track_id
        self.box = box
        self.preview = preview
        self.proposal = proposal
        self._selected = selected
        self._on_press = on_press
        self._on_commit = on_commit
        self._bounds = bounds if bounds is not None and not bounds.isEmpty() else None
        self._drag: tuple[Handle, QPointF, QRectF] | None = None
        warn = box.flagged and not box.verified and not proposal
        color = style.WARNING if warn else style.track_color(track_id)
        if proposal:
            color = QColor(style.PROPOSAL)
        if preview:
            color.setAlpha(style.PREVIEW_ALPHA)
        pen = QPen(color, 3.0 if (selected or warn or proposal) else 2.0)
        pen.setCosmetic(True)
        pen.setStyle(style.PROPOSAL_PEN if proposal else style.pen_style(box))
        self.setPen(pen)
        if selected:
            fill = QColor(style.track_color(track_id))
            fill.setAlpha(40)
            self.setBrush(QBrush(fill))
        check = f" {style.CHECK}" if box.verified else ""
        warn_mark = " !" if warn else ""
        text = f"#{track_id} {label}{check}{warn_mark}"
        if proposal:
            text = f"{label}? {box.confidence:.2f}"
        self.tag = _Tag(
            self, text, style.PROPOSAL if proposal else style.track_color(track_id), warn
        )
        self.tag.setPos(x1, y1)
        self.tag_offset = 0.0  # scene units below the box's top (set by the canvas layout)
        tip = f"Track {track_id} ({label}), frame {box.frame}: {style.status_text(box)}"
        if preview:
            tip += " (tracking in progress)"
        if proposal:
            tip = (
                f"Proposed {label} (detector score {box.confidence:.2f}), frame {box.frame}: "
                "Enter accepts it as a new track, Delete rejects it, dragging fixes it"
            )
        self.setToolTip(tip)
        self.setZValue(2 if selected else 1)
        editable = not preview and on_commit is not None
        self.setAcceptHoverEvents(editable)
        if not editable:
            self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    # -- geometry helpers ----------------------------------------------------------------
    def _scale(self) -> float:
        scene = self.scene()
        if scene is None or not scene.views():
            return 1.0
        return max(1e-6, scene.views()[0].transform().m11())

    def handle_at(self, pos: QPointF) -> Handle:
        """Which handle (or the body) is under ``pos`` (item coordinates)."""
        r = self.rect()
        tol = HANDLE_PX / self._scale()
        near_l, near_r = abs(pos.x() - r.left()) <= tol, abs(pos.x() - r.right()) <= tol
        near_t, near_b = abs(pos.y() - r.top()) <= tol, abs(pos.y() - r.bottom()) <= tol
        if not self._selected:
            return Handle.MOVE
        for cond, h in (
            (near_t and near_l, Handle.TL),
            (near_t and near_r, Handle.TR),
            (near_b and near_l, Handle.BL),
            (near_b and near_r, Handle.BR),
            (near_t, Handle.T),
            (near_b, Handle.B),
            (near_l, Handle.L),
            (near_r, Handle.R),
        ):
            if cond:
                return h
        return Handle.MOVE

    def shape_rect(self) -> QRectF:
        tol = HANDLE_PX / self._scale()
        return self.rect().adjusted(-tol, -tol, tol, tol)

    def boundingRect(self) -> QRectF:
        return self.shape_rect()

    def contains(self, point: QPointF) -> bool:
        return self.shape_rect().contains(point)

    def _clamped(self, r: QRectF, handle: Handle, r0: QRectF) -> QRectF:
        """``r`` kept inside the image: a moved box slides along the edge (a box already
        hanging over it may stay as far out as it was), a dragged edge stops at it."""
        b = self._bounds
        if b is None:
            return r
        if handle is Handle.MOVE:
            lo_x, hi_x = min(b.left(), r0.left()), max(b.right(), r0.right())
            lo_y, hi_y = min(b.top(), r0.top()), max(b.bottom(), r0.bottom())
            dx = max(0.0, lo_x - r.left()) - max(0.0, r.right() - hi_x)
            dy = max(0.0, lo_y - r.top()) - max(0.0, r.bottom() - hi_y)
            return r.translated(dx, dy)
        out = QRectF(r)
        name = handle.value
        if "l" in name:
            out.setLeft(max(r.left(), min(b.left(), r0.left())))
        if "r" in name:
            out.setRight(min(r.right(), max(b.right(), r0.right())))
        if "t" in name:
            out.setTop(max(r.top(), min(b.top(), r0.top())))
        if "b" in name:
            out.setBottom(min(r.bottom(), max(b.bottom(), r0.bottom())))
        return out

    def xyxy(self) -> BoxXYXY:
        r = self.rect().normalized()
        return BoxXYXY(r.left(), r.top(), r.right(), r.bottom())

    # -- painting --------------------------------------------------------------------------
    def paint(
        self,
        painter: QPainter | None,
        option: QStyleOptionGraphicsItem | None,
        widget: QWidget | None = None,
    ) -> None:
        if painter is None:
            return
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawRect(self.rect())
        if self._selected and not self.preview:
            s = HANDLE_PX / self._scale()
            painter.setPen(QPen(QColor(0, 0, 0), 0))
            painter.setBrush(QColor(255, 255, 255))
            r = self.rect()
            xs = (r.left(), r.center().x(), r.right())
            ys = (r.top(), r.center().y(), r.bottom())
            for i, x in enumerate(xs):
                for j, y in enumerate(ys):
                    if i == 1 and j == 1:
                        continue
                    painter.drawRect(QRectF(x - s / 2, y - s / 2, s, s))

    # -- interaction -----------------------------------------------------------------------
    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent | None) -> None:
        if event is not None:
            self.setCursor(_CURSORS[self.handle_at(event.pos())])

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is None or event.button() != Qt.MouseButton.LeftButton:
            if event is not None:
                event.ignore()
            return
        if self._on_press is not None:
            self._on_press(self.track_id)
        self._drag = (self.handle_at(event.pos()), event.pos(), QRectF(self.rect()))
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if event is None or self._drag is None:
            return
        handle, start, r0 = self._drag
        d = event.pos() - start
        r = QRectF(r0)
        if handle is Handle.MOVE:
            r.translate(d)
        else:
            name = handle.value
            if "l" in name:
                r.setLeft(min(r0.left() + d.x(), r0.right() - MIN_SIZE))
            if "r" in name:
                r.setRight(max(r0.right() + d.x(), r0.left() + MIN_SIZE))
            if "t" in name:
                r.setTop(min(r0.top() + d.y(), r0.bottom() - MIN_SIZE))
            if "b" in name:
                r.setBottom(max(r0.bottom() + d.y(), r0.top() + MIN_SIZE))
        r = self._clamped(r, handle, r0)
        self.prepareGeometryChange()
        self.setRect(r)
        self.tag.setPos(r.left(), r.top() + self.tag_offset)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent | None) -> None:
        if self._drag is None:
            return
        _, _, r0 = self._drag
        self._drag = None
        if self.rect() != r0 and self._on_commit is not None:
            self._on_commit(self.track_id, self.xyxy())

"""The frame and its boxes: a QGraphicsView over the session's current frame.

Mouse: wheel zooms about the pointer; middle button or Space+drag pans; a left drag on
empty image draws a new box; a click on a box selects it and dragging moves or resizes
it. The canvas only reports what the user did (``box_drawn``, ``box_edited``); the main
window's controller turns that into undoable commands, and the model's change redraws.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import cv2
import numpy as np
from PyQt6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QLineEdit,
    QWidget,
)

from tracker_annotate.core.boxes import BoxXYXY, FrameBox
from tracker_annotate.core.errors import IndexPendingError, MediaError
from tracker_annotate.core.frames import Frame
from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.session import Session
from tracker_annotate.gui.bind import Binding
from tracker_annotate.gui.box_item import BoxItem

log = logging.getLogger(__name__)

FrameProvider = Callable[[int], Frame]
MIN_DRAW_PX = 3.0  # a drag shorter than this (image px) is a click, not a box
WHEEL_STEP = 1.25


def display_image(frame: Frame, zoom: float) -> tuple[Frame, float]:
    """The frame as it will be drawn at ``zoom``, and the item scale that maps it back to
    image pixels.

    Below 1:1 the frame is shrunk here, once, to the size it covers on screen: drawing a
    full 1080p pixmap with Qt's smooth scaling on every paint costs ~10 ms, a pre-shrunk
    one is a plain blit. Linear interpolation is exact enough down to half size; beyond
    that area averaging avoids aliasing.
    """
    h, w = frame.shape[:2]
    if zoom >= 0.99:
        return frame, 1.0
    tw, th = max(1, round(w * zoom)), max(1, round(h * zoom))
    interp = cv2.INTER_LINEAR if zoom >= 0.5 else cv2.INTER_AREA
    small = np.ascontiguousarray(cv2.resize(frame, (tw, th), interpolation=interp), np.uint8)
    return small, w / tw


def frame_to_pixmap(frame: Frame) -> QPixmap:
    """Convert a BGR uint8 frame to a pixmap (Qt reads BGR888 directly: one copy)."""
    a = np.ascontiguousarray(frame)
    h, w = a.shape[:2]
    img = QImage(a.data, w, h, a.strides[0], QImage.Format.Format_BGR888)  # type: ignore[call-overload]
    return QPixmap.fromImage(img)  # copies while ``a`` is still alive


class Canvas(QGraphicsView):
    """Shows ``session.frame`` of ``project`` with every visible track's box."""

    box_drawn = pyqtSignal(int, object)  # frame, BoxXYXY
    box_edited = pyqtSignal(int, int, object)  # track_id, frame, BoxXYXY
    play_toggle_requested = pyqtSignal()
    zoom_changed = pyqtSignal(float)
    frame_error = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setBackgroundBrush(QColor(30, 30, 30))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._pixmap)
        self._error_text = QGraphicsSimpleTextItem()
        self._error_text.setBrush(QColor(255, 120, 120))
        self._scene.addItem(self._error_text)
        # what to do next, for a first-time user: shown over the view until a box exists
        self.hint = QLabel(self)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.setStyleSheet(
            "QLabel { background: rgba(0, 0, 0, 170); color: white; padding: 6px 10px;"
            " border-radius: 4px; }"
        )
        self.hint.move(10, 10)
        self._items: list[BoxItem] = []
        self._project: Project | None = None
        self._session: Session | None = None
        self._binding = Binding()
        self._provider: FrameProvider | None = None
        self._shown_frame = -1
        self._frame: Frame | None = None
        self._pixmap_zoom = 0.0
        self._image_rect = QRectF()
        self._fit = True
        self._preview: dict[int, dict[int, FrameBox]] = {}
        # interaction state
        self._space_held = False
        self._space_used_for_pan = False
        self._pan_from: QPoint | None = None
        self._draw_from: QPointF | None = None
        self._rubber: QGraphicsRectItem | None = None
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._update_hint()

    # -- binding -------------------------------------------------------------------------
    def bind(self, project: Project, session: Session, provider: FrameProvider) -> None:
        """Show ``project`` through ``session``; frames come from ``provider(index)``."""
        self.unbind()
        self._project, self._session, self._provider = project, session, provider
        self._binding.rebind(
            (project, {"changed": self._on_project_changed}),
            (
                session,
                {
                    "frame_changed": self._on_frame_changed,
                    "selection_changed": self._on_selection_changed,
                },
            ),
        )
        self._shown_frame = -1
        self._fit = session.view.zoom is None
        self.show_frame(session.frame)
        self.apply_view()
        self._update_hint()

    def unbind(self) -> None:
        self._binding.unbind()
        self._project = self._session = None
        self._provider = None
        self._clear_items()
        self._pixmap.setPixmap(QPixmap())
        self._frame = None
        self._image_rect = QRectF()
        self._update_hint()

    # -- showing -------------------------------------------------------------------------
    def show_frame(self, index: int) -> None:
        """Decode and show frame ``index`` with its boxes."""
        if self._provider is None:
            return
        try:
            frame = self._provider(index)
        except IndexPendingError:
            # Not a failure: the frame comes when the background index is done (the window
            # calls show_frame again then). Keep the last picture, say why it stays.
            self._error_text.setText(
                f"Frame {index}: the video is being indexed for exact seeking.\n"
                "It shows here when that is done (once per video file)."
            )
            self._error_text.show()
        except MediaError as exc:
            self._pixmap.setPixmap(QPixmap())
            self._error_text.setText(f"Frame {index} could not be decoded.\n{exc}")
            self._error_text.show()
            self.frame_error.emit(str(exc))
        else:
            self._error_text.hide()
            if self._shown_frame < 0 or self._image_rect.isEmpty():
                h, w = frame.shape[:2]
                self._image_rect = QRectF(0, 0, w, h)
                self._scene.setSceneRect(self._image_rect)
            self._frame = frame
            self._update_pixmap()
        self._shown_frame = index
        self.refresh_boxes()

    def _update_pixmap(self) -> None:
        """(Re)build the pixmap of the current frame for the current zoom."""
        if self._frame is None:
            return
        zoom = self.zoom
        img, scale = display_image(self._frame, zoom)
        self._pixmap.setPixmap(frame_to_pixmap(img))
        self._pixmap.setScale(scale)
        self._pixmap.setTransformationMode(
            Qt.TransformationMode.FastTransformation
            if scale != 1.0
            else Qt.TransformationMode.SmoothTransformation
        )
        self._pixmap_zoom = zoom

    def refresh_boxes(self) -> None:
        self._clear_items()
        p, s = self._project, self._session
        if p is None or s is None:
            return
        f = s.frame
        for tid, info in p.tracks.items():
            if info.hidden:
                continue
            box = p.box(tid, f)
            preview = self._preview.get(tid, {}).get(f)
            is_preview = preview is not None and (box is None or box.is_derived)
            shown = preview if is_preview else box
            if shown is None or shown.outside:
                continue
            item = BoxItem(
                tid,
                shown,
                info.label,
                selected=tid == s.selected,
                preview=is_preview,
                proposal=info.proposed and not is_preview,
                on_press=s.select,
                on_commit=None if is_preview else self._commit,
                bounds=self._image_rect,
            )
            self._scene.addItem(item)
            self._items.append(item)
        self._layout_tags()

    def _layout_tags(self) -> None:
        """Move each "#id label" tag down until it overlaps no tag placed before it (in
        top-to-bottom, left-to-right order): boxes that overlap had unreadable labels
        drawn on top of each other. Tags are screen-sized, so this depends on the zoom."""
        scale = max(self.zoom, 1e-6)
        placed: list[QRectF] = []
        for item in sorted(self._items, key=lambda i: (i.rect().top(), i.rect().left())):
            w, h = item.tag.screen_size
            w, h = w / scale, h / scale
            r = item.rect()
            offset = 0.0
            tag = QRectF(r.left(), r.top() - h, w, h)
            while any(tag.intersects(p) for p in placed) and offset < 20 * h:
                offset += h
                tag = QRectF(r.left(), r.top() - h + offset, w, h)
            placed.append(tag)
            item.tag_offset = offset
            item.tag.setPos(r.left(), r.top() + offset)

    def box_items(self) -> list[BoxItem]:
        return list(self._items)

    def set_preview(self, preview: Mapping[int, Mapping[int, FrameBox]]) -> None:
        """Boxes a running tracker has produced but not committed, drawn faintly."""
        self._preview = {tid: dict(b) for tid, b in preview.items()}
        self.refresh_boxes()

    def _clear_items(self) -> None:
        for item in self._items:
            self._scene.removeItem(item)
        self._items.clear()

    def _commit(self, track_id: int, xyxy: BoxXYXY) -> None:
        if self._session is not None:
            self.box_edited.emit(track_id, self._session.frame, xyxy)

    def _vp(self) -> QWidget:
        vp = self.viewport()
        if vp is None:  # never after construction; keeps the type checker honest
            raise RuntimeError("canvas has no viewport")
        return vp

    # -- zoom ----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole frame in the view (and keep fitting on resize)."""
        self._fit = True
        if not self._image_rect.isEmpty():
            self.fitInView(self._image_rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._zoom_done()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        if self._session is not None:
            from tracker_annotate.core.session import MAX_ZOOM, MIN_ZOOM

            zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._fit = False
        factor = zoom / max(self.zoom, 1e-9)
        if anchor is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(factor, factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._zoom_done()

    def apply_view(self) -> None:
        """Apply the session's saved zoom and centre (or fit when it has none)."""
        if self._session is None:
            return
        v = self._session.view
        if v.zoom is None:
            self.fit()
            return
        self._fit = False
        self.resetTransform()
        self.scale(v.zoom, v.zoom)
        if v.center_xy is not None:
            self.centerOn(QPointF(*v.center_xy))
        self._update_pixmap()
        self.zoom_changed.emit(self.zoom)

    def _zoom_done(self) -> None:
        if abs(self.zoom - self._pixmap_zoom) > 1e-6:
            self._update_pixmap()
            self._layout_tags()
        self._store_view()

    def _store_view(self) -> None:
        if self._session is None:
            return
        c = self.mapToScene(self._vp().rect().center())
        self._session.set_view(None if self._fit else self.zoom, (c.x(), c.y()))
        self.zoom_changed.emit(self.zoom)

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def wheelEvent(self, event: QWheelEvent | None) -> None:
        if event is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * (WHEEL_STEP**steps), anchor=event.position().toPoint())
        event.accept()

    # -- mouse -----------------------------------------------------------------------------
    def _panning(self, event: QMouseEvent) -> bool:
        return event.button() == Qt.MouseButton.MiddleButton or (
            self._space_held and event.button() == Qt.MouseButton.LeftButton
        )

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        if self._panning(event):
            self._pan_from = event.position().toPoint()
            self._space_used_for_pan = self._space_held
            self._vp().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.itemAt(event.position().toPoint())
            while hit is not None and not isinstance(hit, BoxItem):
                hit = hit.parentItem()
            if hit is None or hit.preview:
                self._draw_from = self.mapToScene(event.position().toPoint())
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        pos = event.position().toPoint()
        if self._pan_from is not None:
            d = pos - self._pan_from
            self._pan_from = pos
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            if h is not None and v is not None:
                h.setValue(h.value() - d.x())
                v.setValue(v.value() - d.y())
            return
        if self._draw_from is not None:
            r = QRectF(self._draw_from, self.mapToScene(pos)).normalized()
            if self._rubber is None:
                self._rubber = QGraphicsRectItem()
                pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
                pen.setCosmetic(True)
                self._rubber.setPen(pen)
                self._rubber.setZValue(10)
                self._scene.addItem(self._rubber)
            self._rubber.setRect(r)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        if self._pan_from is not None:
            self._pan_from = None
            self._vp().unsetCursor()
            self._store_view()
            return
        if self._draw_from is not None:
            start, self._draw_from = self._draw_from, None
            if self._rubber is not None:
                self._scene.removeItem(self._rubber)
                self._rubber = None
            r = QRectF(start, self.mapToScene(event.position().toPoint())).normalized()
            r = r.intersected(self._scene.sceneRect())
            if r.width() >= MIN_DRAW_PX and r.height() >= MIN_DRAW_PX and self._session:
                xyxy = BoxXYXY(r.left(), r.top(), r.right(), r.bottom())
                self.box_drawn.emit(self._session.frame, xyxy)
            elif self._session is not None:
                self._session.select(None)  # a plain click on the image deselects
            return
        super().mouseReleaseEvent(event)

    # -- Space: hold to pan, tap to play ------------------------------------------------
    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if event is None or event.type() not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        if not isinstance(event, QKeyEvent) or event.key() != Qt.Key.Key_Space:
            return False
        if not self.isVisible() or self.window() is not QApplication.activeWindow():
            return False
        focus = QApplication.focusWidget()
        if isinstance(focus, (QLineEdit, QAbstractSpinBox)) or (
            isinstance(focus, QComboBox) and focus.isEditable()
        ):
            return False
        if event.isAutoRepeat():
            return True
        if event.type() == QEvent.Type.KeyPress:
            self._space_held = True
            self._space_used_for_pan = False
            self._vp().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self._space_held = False
            self._vp().unsetCursor()
            if not self._space_used_for_pan:
                self.play_toggle_requested.emit()
        return True

    # -- model events ----------------------------------------------------------------------
    def _on_frame_changed(self, frame: int) -> None:
        self.show_frame(frame)

    def _on_selection_changed(self, _tid: int | None) -> None:
        self.refresh_boxes()

    def _update_hint(self) -> None:
        if self._project is None:
            text = (
                "Open a video, an image folder or a project: "
                "File \u203a Open (Ctrl+O), or drop it here"
            )
        elif not self._project.tracks:
            text = (
                "Drag on the image to draw a box around each object, then press T to track "
                "them all.  F1: every key"
            )
        else:
            text = ""
        self.hint.setText(text)
        self.hint.adjustSize()
        self.hint.setVisible(bool(text))

    def _on_project_changed(self, cs: ChangeSet) -> None:
        if cs.tracks:
            self._update_hint()
        if self._session is None:
            return
        if cs.tracks or cs.labels or self._session.frame in cs.frames:
            self.refresh_boxes()

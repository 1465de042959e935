"""Colours and line styles shared by the canvas, the timeline and the panels.

One place decides how a box's status looks, so the canvas and the timeline agree:
manual keyframe solid, tracked dashed, interpolated dotted, flagged in the warning colour,
verified with a check mark.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor

from tracker_annotate.core.boxes import BoxSource, FrameBox
from tracker_annotate.core.labels import distinct_color

WARNING = QColor(255, 45, 45)
VERIFIED = QColor(40, 200, 90)
CURSOR = QColor(255, 255, 255)
PREVIEW_ALPHA = 150
CHECK = "\u2713"
#: A detector's proposal nobody has accepted yet: its own colour and a dash-dot line.
PROPOSAL = QColor(0, 220, 255)
PROPOSAL_PEN = Qt.PenStyle.DashDotLine


def track_color(track_id: int) -> QColor:
    r, g, b = distinct_color(track_id)
    return QColor(r, g, b)


def pen_style(box: FrameBox) -> Qt.PenStyle:
    """Solid for human boxes (manual or verified), dashed tracked, dotted interpolated."""
    if box.is_keyframe:
        return Qt.PenStyle.SolidLine
    if box.source is BoxSource.INTERPOLATED:
        return Qt.PenStyle.DotLine
    return Qt.PenStyle.DashLine


def status_text(box: FrameBox) -> str:
    """A short human description of a box's provenance and review state."""
    if box.outside:
        return "outside (object not visible)"
    kind = {
        BoxSource.MANUAL: "manual keyframe",
        BoxSource.TRACKED: "tracked",
        BoxSource.INTERPOLATED: "interpolated",
        BoxSource.IMPORTED: "imported",
    }[box.source]
    parts = [kind]
    if box.is_derived or box.source is BoxSource.IMPORTED:
        parts.append(f"confidence {box.confidence:.2f}")
    if box.verified:
        parts.append("verified")
    if box.occluded:
        parts.append("occluded")
    if box.flagged and not box.verified:
        parts.append(f"FLAGGED: {box.flag_reason}")
    return ", ".join(parts)

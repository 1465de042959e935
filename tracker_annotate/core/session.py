"""The annotator's session: where they are and what they look at, outside any GUI.

A :class:`Session` holds the current frame, the selected track, the view (zoom and
centre) and the play state over a :class:`~tracker_annotate.core.project.Project`. It
announces changes through :class:`~tracker_annotate.core.events.Signal`, so navigation
(next keyframe, next flag, seek, play) is plain, testable Python and the Qt widgets only
show it. Frames are 0-based; zoom is screen pixels per image pixel.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from typing import Any

from tracker_annotate.core.events import Signal
from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.review import next_flag

log = logging.getLogger(__name__)

#: Allowed zoom range (screen pixels per image pixel). Beyond 32x a pixel fills the screen;
#: below 1/32 a 4K frame is a speck.
MIN_ZOOM = 1.0 / 32.0
MAX_ZOOM = 32.0


@dataclass(frozen=True, slots=True)
class ViewState:
    """Zoom (screen px per image px, ``None`` = fit the window) and the image point at the
    view's centre (``None`` = the image centre)."""

    zoom: float | None = None
    center_xy: tuple[float, float] | None = None


class Session:
    """Navigation and selection state for one open project.

    ``n_frames`` defaults to the project's media length; a project without media has one
    frame (0) so the session is always usable.
    """

    def __init__(
        self, project: Project, n_frames: int | None = None, fps: float | None = None
    ) -> None:
        self.project = project
        media = project.media
        default_n = media.n_frames if media is not None else 1
        self._n_frames = max(1, n_frames if n_frames is not None else default_n)
        self.fps = fps if fps is not None else (media.fps if media else 30.0)
        self._frame = 0
        self._selected: int | None = None
        self._view = ViewState()
        self._playing = False
        self.frame_changed: Signal[int] = Signal()
        self.selection_changed: Signal[int | None] = Signal()
        self.view_changed: Signal[ViewState] = Signal()
        self.playing_changed: Signal[bool] = Signal()
        #: the media's length changed (a header that overstated it was corrected)
        self.length_changed: Signal[int] = Signal()
        project.changed.connect(self._on_project_changed)

    # -- reading -----------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self._n_frames

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def selected(self) -> int | None:
        return self._selected

    @property
    def view(self) -> ViewState:
        return self._view

    @property
    def playing(self) -> bool:
        return self._playing

    def timecode(self, frame: int | None = None) -> str:
        """``HH:MM:SS.mmm`` of ``frame`` (default: the current frame) at the media's rate."""
        f = self._frame if frame is None else frame
        ms_total = round(f * 1000.0 / self.fps)
        h, rem = divmod(ms_total, 3_600_000)
        m, rem = divmod(rem, 60_000)
        s, ms = divmod(rem, 1000)
        return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"

    # -- navigation ----------------------------------------------------------------------
    def seek(self, frame: int) -> int:
        """Go to ``frame`` (clamped to the media). Returns the frame actually shown."""
        f = min(max(int(frame), 0), self._n_frames - 1)
        if f != self._frame:
            self._frame = f
            self.frame_changed.emit(f)
        return f

    def step(self, delta: int) -> int:
        return self.seek(self._frame + delta)

    def keyframes(self, track_id: int | None = None) -> list[int]:
        """Sorted keyframes of ``track_id``, or of every visible track when ``None``."""
        p = self.project
        if track_id is not None:
            return p.keyframes(track_id) if track_id in p.tracks else []
        frames: set[int] = set()
        for tid, info in p.tracks.items():
            if not info.hidden:
                frames.update(p.keyframes(tid))
        return sorted(frames)

    def next_keyframe(self, *, backward: bool = False) -> int | None:
        """Seek to the selected track's next (previous) keyframe, or any track's when none
        is selected. Returns the new frame, or ``None`` (and stays) when there is none."""
        frames = self.keyframes(self._selected)
        if backward:
            i = bisect.bisect_left(frames, self._frame)
            target = frames[i - 1] if i > 0 else None
        else:
            i = bisect.bisect_right(frames, self._frame)
            target = frames[i] if i < len(frames) else None
        if target is not None:
            self.seek(target)
        return target

    def next_flag(self, *, backward: bool = False) -> tuple[int, int] | None:
        """Go to the next (previous) flagged box in review order (the list's) and select it.

        Returns ``(frame, track_id)`` or ``None`` when no flag lies that way. The selected
        track on the current frame counts as the current position, so repeated presses
        visit every flag on a frame before moving on.
        """
        cur_tid = self._selected
        if cur_tid is not None and self.project.box(cur_tid, self._frame) is None:
            cur_tid = None
        hit = next_flag(self.project, self._frame, cur_tid, backward=backward)
        if hit is None:
            return None
        frame, tid = hit
        self.seek(frame)
        self.select(tid)
        return hit

    def go_to(self, frame: int, track_id: int | None) -> None:
        """Seek and select in one call (review panel, timeline)."""
        self.seek(frame)
        self.select(track_id)

    # -- selection and view --------------------------------------------------------------
    def select(self, track_id: int | None) -> None:
        if track_id is not None and track_id not in self.project.tracks:
            track_id = None
        if track_id != self._selected:
            self._selected = track_id
            self.selection_changed.emit(track_id)

    def set_view(self, zoom: float | None, center_xy: tuple[float, float] | None) -> None:
        if zoom is not None:
            zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        view = ViewState(zoom, center_xy)
        if view != self._view:
            self._view = view
            self.view_changed.emit(view)

    # -- playback ------------------------------------------------------------------------
    def set_playing(self, playing: bool) -> None:
        if playing and self._frame >= self._n_frames - 1:
            self.seek(0)  # play from the start when parked on the last frame
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)

    def toggle_play(self) -> bool:
        self.set_playing(not self._playing)
        return self._playing

    def tick(self) -> bool:
        """Advance one frame while playing; stops (and returns False) at the last frame."""
        if not self._playing:
            return False
        if self._frame >= self._n_frames - 1:
            self.set_playing(False)
            return False
        self.step(1)
        return True

    @property
    def play_interval_ms(self) -> int:
        """Milliseconds between frames when playing at the media's rate."""
        return max(1, round(1000.0 / self.fps))

    # -- persistence ---------------------------------------------------------------------
    def ui_state(self) -> dict[str, Any]:
        """What to restore on reopen: frame, selection and view (JSON-friendly)."""
        v = self._view
        return {
            "frame": self._frame,
            "selected": self._selected,
            "zoom": v.zoom,
            "center_xy": list(v.center_xy) if v.center_xy is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Apply a :meth:`ui_state` dict; unknown or stale values are ignored."""
        try:
            self.seek(int(state.get("frame", 0)))
            sel = state.get("selected")
            self.select(int(sel) if sel is not None else None)
            zoom = state.get("zoom")
            c = state.get("center_xy")
            center = (float(c[0]), float(c[1])) if c is not None and len(c) == 2 else None
            self.set_view(float(zoom) if zoom is not None else None, center)
        except (TypeError, ValueError) as exc:
            log.warning("ignoring unusable saved view state %r: %s", state, exc)

    def set_n_frames(self, n_frames: int, fps: float | None = None) -> None:
        """The media changed length (relinked, or a header that overstated it); views
        showing the length hear it through :attr:`length_changed`."""
        old = self._n_frames
        self._n_frames = max(1, n_frames)
        if fps is not None and fps > 0:
            self.fps = fps
        if self._frame >= self._n_frames:
            self.seek(self._n_frames - 1)
        if self._n_frames != old:
            self.length_changed.emit(self._n_frames)

    def _on_project_changed(self, cs: ChangeSet) -> None:
        if self._selected is not None and self._selected not in self.project.tracks:
            self.select(None)

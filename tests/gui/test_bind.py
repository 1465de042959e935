"""gui.bind: a view's connections to its models, made, dropped and remade as one."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
from PyQt6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from tracker_annotate.core import commands
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.errors import MediaError
from tracker_annotate.core.events import Signal
from tracker_annotate.core.frames import Frame
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.session import Session
from tracker_annotate.gui.bind import Binding
from tracker_annotate.gui.canvas import Canvas
from tracker_annotate.gui.labels_panel import LabelCombo, LabelsPanel
from tracker_annotate.gui.review_panel import ReviewPanel
from tracker_annotate.gui.timeline import Timeline
from tracker_annotate.gui.tracks_panel import TracksPanel

pytestmark = pytest.mark.gui


def opened() -> tuple[Project, Session]:
    p = Project(MediaRef("v.avi", 50, 320, 240, 25.0))
    return p, Session(p)


def no_frame(index: int) -> Frame:
    raise MediaError("this test shows no pixels", frame=index)


def test_a_bound_panel_follows_its_project_and_stops_when_unbound(qtbot: QtBot) -> None:
    panel = TracksPanel()
    qtbot.addWidget(panel)
    p, s = opened()
    panel.bind(p, s)
    a = commands.add_track(p, 0, BoxXYXY(10, 10, 50, 50))
    assert panel.table.rowCount() == 1  # Project.changed reached the panel
    s.select(a)
    assert panel.selected_tracks() == [a]  # and Session.selection_changed did
    panel.unbind()
    assert panel.table.rowCount() == 0
    commands.add_track(p, 5, BoxXYXY(60, 60, 90, 90))
    s.select(a)
    assert panel.table.rowCount() == 0 and panel.selected_tracks() == []


def test_rebinding_to_a_second_project_leaves_the_first_alone(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = TracksPanel()
    qtbot.addWidget(panel)
    p1, s1 = opened()
    p2, s2 = opened()
    panel.bind(p1, s1)
    panel.bind(p2, s2)
    refreshed: list[None] = []
    real_refresh = panel.refresh
    monkeypatch.setattr(panel, "refresh", lambda: (refreshed.append(None), real_refresh()))
    commands.add_track(p1, 0, BoxXYXY(10, 10, 50, 50))
    assert refreshed == [] and panel.table.rowCount() == 0
    commands.add_track(p2, 0, BoxXYXY(10, 10, 50, 50))
    commands.add_track(p2, 1, BoxXYXY(20, 20, 60, 60))
    assert len(refreshed) == 2 and panel.table.rowCount() == 2


def _slots_of(view: QWidget, *signals: Signal[object]) -> list[object]:
    """The handlers of ``view`` connected to ``signals`` (read from the signal itself)."""
    slots = [slot for sig in signals for slot in sig._slots]
    return [slot for slot in slots if getattr(slot, "__self__", None) is view]


VIEWS: list[tuple[type[QWidget], Callable[[QWidget, Project, Session], None]]] = [
    (Canvas, lambda v, p, s: v.bind(p, s, no_frame)),  # type: ignore[attr-defined]
    (Timeline, lambda v, p, s: v.bind(p, s)),  # type: ignore[attr-defined]
    (ReviewPanel, lambda v, p, s: v.bind(p, s)),  # type: ignore[attr-defined]
    (TracksPanel, lambda v, p, s: v.bind(p, s)),  # type: ignore[attr-defined]
    (LabelsPanel, lambda v, p, s: v.bind(p)),  # type: ignore[attr-defined]
    (LabelCombo, lambda v, p, s: v.bind(p, s)),  # type: ignore[attr-defined]
]


@pytest.mark.parametrize(("cls", "bind"), VIEWS, ids=[c.__name__ for c, _ in VIEWS])
def test_every_view_rebinds_and_unbinds_through_its_binding(
    qtbot: QtBot, cls: type[QWidget], bind: Callable[[QWidget, Project, Session], None]
) -> None:
    view = cls()
    qtbot.addWidget(view)
    p1, s1 = opened()
    p2, s2 = opened()
    first = (p1.changed, s1.frame_changed, s1.selection_changed, s1.length_changed)
    second = (p2.changed, s2.frame_changed, s2.selection_changed, s2.length_changed)
    bind(view, p1, s1)
    assert _slots_of(view, *first)
    bind(view, p2, s2)
    assert _slots_of(view, *first) == [], "a handler stayed on the first project"
    assert _slots_of(view, *second)
    view.unbind()  # type: ignore[attr-defined]
    assert _slots_of(view, *second) == []


def test_a_binding_connects_each_signal_and_drops_them_all() -> None:
    p, s = opened()
    got: list[object] = []
    binding = Binding()
    binding.rebind(
        (p, {"changed": got.append}),
        (s, {"frame_changed": got.append, "selection_changed": got.append}),
    )
    assert len(binding) == 3
    s.seek(7)
    s.select(commands.add_track(p, 7, BoxXYXY(1, 1, 9, 9)))
    assert got[0] == 7 and len(got) == 3  # frame, the add's change set, the selection
    binding.unbind()
    assert len(binding) == 0
    s.seek(9)
    commands.add_track(p, 9, BoxXYXY(1, 1, 9, 9))
    assert len(got) == 3


def test_unbinding_tolerates_a_model_that_is_gone() -> None:
    class Model:
        def __init__(self) -> None:
            self.changed: Signal[int] = Signal()

    got: list[int] = []
    binding = Binding()
    model: Model | None = Model()
    binding.rebind((model, {"changed": got.append}))
    model = None
    gc.collect()
    assert len(binding) == 0
    binding.unbind()  # nothing to disconnect, no error
    binding.rebind((Model(), {"changed": got.append}))


def test_a_misspelt_signal_binds_nothing() -> None:
    p, s = opened()
    got: list[object] = []
    binding = Binding()
    with pytest.raises(TypeError, match="Session has no signal 'frame_chnaged'"):
        binding.rebind((p, {"changed": got.append}), (s, {"frame_chnaged": got.append}))
    assert len(binding) == 0
    commands.add_track(p, 0, BoxXYXY(1, 1, 9, 9))
    assert got == []

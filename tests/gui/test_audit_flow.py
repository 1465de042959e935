"""The audit flow needs only a host with what :class:`AuditHost` lists, not the
controller: driven here by a plain Python host over a real project and session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracker_annotate.core import audit, commands
from tracker_annotate.core.boxes import BoxSource, BoxXYXY, FrameBox
from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.core.project import MediaRef, Project
from tracker_annotate.core.session import Session
from tracker_annotate.gui.audit_flow import AuditFlow


class PlainHost:
    """A host without Qt: errors and status lines are kept for the test to read."""

    def __init__(self, project: Project) -> None:
        self.project: Project | None = project
        self.session: Session | None = Session(project)
        self.said: list[str] = []
        self.errors: list[TrackerAnnotateError] = []
        self.flow = AuditFlow(self)

    def do(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except TrackerAnnotateError as exc:
            self.errors.append(exc)
            return None

    def say(self, text: str) -> None:
        self.said.append(text)

    def go_to_flag(self, *, backward: bool = False) -> bool:
        return self.flow.walk(backward=backward)  # no flags here: the audit's samples


def tracked_project() -> tuple[Project, int]:
    p = Project(MediaRef("v.mp4", 60, 320, 240))
    tid = commands.add_track(p, 0, BoxXYXY(10, 10, 60, 60))
    with p.edit("Track") as tx:
        for f in range(1, 60):
            tx.set_box(tid, FrameBox(f, BoxXYXY(10, 10, 60, 60), BoxSource.TRACKED, 0.9))
    return p, tid


def test_an_audit_round_is_started_and_walked_through_any_host() -> None:
    p, _ = tracked_project()
    host = PlainHost(p)
    host.flow.new_seed = lambda: 7
    host.flow.start_audit()
    assert host.errors == []
    rnd = audit.current_round(p)
    assert rnd is not None and rnd.seed == 7 and rnd.samples
    assert host.said[0].startswith(f"Audit: {len(rnd.samples)} random boxes")
    # start_audit went to the first sample through the host
    s = host.session
    assert s is not None
    first = audit.pending_samples(p)[0]
    assert (s.frame, s.selected) == (first.frame, first.track_id)
    assert host.flow.pending_at(first.track_id, first.frame)
    assert "Audit sample: 0 of" in host.said[-1]


def test_a_refused_audit_goes_to_the_hosts_error_sink() -> None:
    p, tid = tracked_project()
    b = p.box(tid, 5)
    assert b is not None
    with p.edit("flag") as tx:
        tx.set_box(tid, b.with_(flagged=True))
    host = PlainHost(p)
    host.flow.start_audit()
    assert audit.current_round(p) is None
    assert len(host.errors) == 1 and "unreviewed" in str(host.errors[0])
    assert host.said == []

"""The quality loop in the app: target, flag-for-target, audit rounds and guidance.

Thin: every step is one :mod:`tracker_annotate.core.audit` call (one undo step) on the
host's project; failures go to the host's error sink. The host (the controller) is
anything that has what :class:`AuditHost` lists; the flow never imports it. The audit is
walked with the flag keys (F / Shift+F) once no flag is left: Enter says a sample is
right, correcting its box says it was wrong (see :class:`~.controller.Controller`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from tracker_annotate.core import audit
from tracker_annotate.core.project import Project
from tracker_annotate.core.review import suggest_keyframe
from tracker_annotate.core.session import Session


class AuditHost(Protocol):
    """What the audit flow uses of its host."""

    @property
    def project(self) -> Project | None: ...

    @property
    def session(self) -> Session | None: ...

    def do(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, or ``None`` with its failure shown."""
        ...

    def say(self, text: str) -> None:
        """Show ``text`` in the status bar."""
        ...

    def go_to_flag(self, *, backward: bool = False) -> bool: ...


class AuditFlow:
    def __init__(self, host: AuditHost) -> None:
        self.host = host
        #: Seeds of new rounds (a test may fix it); the seed is stored with the round.
        self.new_seed = lambda: random.SystemRandom().randrange(2**31)

    def set_target(self, fraction: float) -> None:
        p = self.host.project
        if p is None or abs(p.quality.target - fraction) < 1e-12:
            return
        self.host.do(lambda: audit.set_target(p, fraction))

    def apply_target(self) -> None:
        """Flag what the target asks for (the threshold predicted to meet it)."""
        p = self.host.project
        if p is None:
            return
        pick = audit.choose_threshold(p, target=p.quality.target)
        n = self.host.do(lambda: audit.apply_threshold(p, pick.threshold))
        if n is not None:
            self.host.say(
                f"Flagged {n} more boxes for the {100 * p.quality.target:g}% target: "
                f"{pick.summary()}; F walks them"
            )

    def start_audit(self) -> None:
        p = self.host.project
        if p is None:
            return
        seed = self.new_seed()
        rnd = self.host.do(lambda: audit.start_audit(p, seed=seed))
        if rnd is not None:
            self.host.say(
                f"Audit: {len(rnd.samples)} random boxes to check (seed {seed}); F walks "
                f"them, Enter = right, correcting the box = wrong"
            )
            self.host.go_to_flag()

    def next_step(self) -> None:
        """Apply the loop rule: if the audit's upper end is above the target, flag more."""
        p = self.host.project
        if p is None:
            return
        step = audit.loop_step(p)
        if step.action == "flag_more" and step.threshold is not None:
            thr = step.threshold
            n = self.host.do(lambda: audit.apply_threshold(p, thr))
            if n is not None:
                self.host.say(f"Flagged {n} more boxes; review them, then audit again")
            return
        if step.action == "start":
            self.start_audit()
            return
        self.host.say(step.message)

    def go_to_suggested(self) -> None:
        """G: go to the frame whose keyframe is expected to remove the most error."""
        p, s = self.host.project, self.host.session
        if p is None or s is None:
            return
        hit = suggest_keyframe(p)
        if hit is None:
            self.host.say("No suggestion: every tracked box is verified or certain")
            return
        frame, tid, why = hit
        s.go_to(frame, tid)
        self.host.say(f"Suggested keyframe: {why}; draw or fix the box here")

    def pending_at(self, track_id: int, frame: int) -> bool:
        p = self.host.project
        rnd = audit.current_round(p) if p is not None else None
        hit = rnd.sample_at(track_id, frame) if rnd is not None else None
        return hit is not None and hit.outcome is None

    def walk(self, *, backward: bool) -> bool:
        """Go to the next (previous) unchecked audit sample, wrapping; whether it moved."""
        p, s = self.host.project, self.host.session
        if p is None or s is None:
            return False
        hit = audit.next_sample(p, s.frame, s.selected, backward=backward)
        pending = [x for x in audit.pending_samples(p) if p.box(x.track_id, x.frame)]
        if hit is None and pending:
            first = pending[-1] if backward else pending[0]
            hit = (first.frame, first.track_id)
        if hit is None:
            return False
        s.go_to(*hit)
        rnd = audit.current_round(p)
        assert rnd is not None
        self.host.say(
            f"Audit sample: {rnd.checked} of {len(rnd.samples)} checked. Enter if the box is "
            f"right; correct it if it is wrong"
        )
        return True

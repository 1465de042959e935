"""The detector in the app: proposals on a frame, their accept / reject / fix, and the
new-object and re-find pass after a "Track all" run.

* ``P`` (:meth:`DetectFlow.detect_here`): the detector runs on the current frame; the
  objects of the classes chosen in Preferences that no box explains (and no rejected
  proposal) become proposed tracks, drawn in their own style. The first is selected.
  When the selected track's box on the frame is flagged (not yet accepted), the
  detector first looks for that track (:func:`~tracker_annotate.tracking.refind.
  refind_on_frame`): its box, if found, replaces the track's, flagged "re-found by the
  detector: same object?"; Enter accepts it (and re-tracks from it, when re-tracking
  after edits is on), Delete deletes it.
* On a proposal, ``Enter`` accepts it as a new track's keyframe (a verification),
  ``Delete`` rejects it (remembered in the project), dragging fixes it (accepted as a
  manual box). Then the next proposal on the frame is selected, else the next one in the
  proposal queue (:func:`~tracker_annotate.core.proposals.next_proposal`): proposals are
  not flags (the rule is in :mod:`tracker_annotate.core.proposals`), so they are walked
  here, and by F once no flag is left (:meth:`DetectFlow.walk`).
* After "Track all" (when Preferences say so), the worker thread runs the detector's pass
  (:mod:`tracker_annotate.app.detector_pass`: the new-object schedule and the re-find) on
  the job's own snapshot of the project; what it finds travels with that job and is
  installed in the same undo step as the run. The status bar reports the detector's time.

The model is loaded on first use (a missing or damaged file is a ``ModelError`` shown as
an error, never a crash). The host (the controller) is anything that has what
:class:`DetectHost` lists; the flow never imports it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from tracker_annotate.app.detector_pass import DetectorFinds, detector_pass
from tracker_annotate.app.document import Document
from tracker_annotate.core import commands
from tracker_annotate.core import proposals as props
from tracker_annotate.core.boxes import BoxXYXY
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.gui.audit_flow import AuditHost
from tracker_annotate.gui.preferences import Preferences
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun
from tracker_annotate.tracking.detector import Detector, DetectorConfig, shipped_detector
from tracker_annotate.tracking.proposals import (
    ProposalConfig,
    detect_on_frame,
)
from tracker_annotate.tracking.refind import (
    install_refound,
    refind_on_frame,
)

log = logging.getLogger(__name__)


class DetectHost(AuditHost, Protocol):
    """What the detector flow uses of its host: the audit flow's host's, and more."""

    @property
    def doc(self) -> Document | None: ...

    @property
    def prefs(self) -> Preferences: ...

    def edit_then_retrack(self, track_id: int, frame: int, edit: Callable[[], None]) -> bool:
        """Do ``edit`` (one undo step) and re-track its stretch when re-tracking is on;
        whether the edit succeeded."""
        ...

    def advance_review(self) -> None:
        """Go on to the next flag, when the preferences say so."""
        ...


class DetectFlow:
    """Proposal gestures and the after-run pass, for one host (the controller)."""

    def __init__(self, host: DetectHost) -> None:
        self.host = host
        self._detector: Detector | None = None
        self._detector_key: tuple[tuple[str, ...], float] | None = None

    # -- the model ------------------------------------------------------------------------
    def detector(self) -> Detector:
        """The shipped detector for the classes in Preferences (loaded once per choice)."""
        prefs = self.host.prefs
        key = (tuple(prefs.detect_classes), float(prefs.detect_min_score))
        if self._detector is None or self._detector_key != key:
            config = DetectorConfig(score_threshold=min(0.25, key[1]), classes=key[0])
            self._detector = shipped_detector(config)
            self._detector_key = key
        return self._detector

    def _config(self) -> ProposalConfig:
        return ProposalConfig(min_score=self.host.prefs.detect_min_score)

    # -- P: detect on this frame -----------------------------------------------------------
    def detect_here(self) -> None:
        p, s, doc = self.host.project, self.host.session, self.host.doc
        if p is None or s is None or doc is None or doc.source is None:
            return
        frame, src = s.frame, doc.source
        sel = s.selected
        own = p.box(sel, frame) if sel is not None and sel in p.tracks else None

        def run() -> list[int]:
            det = self.detector()
            t0 = time.perf_counter()
            if sel is not None and own is not None and own.flagged and not own.verified:
                cfg = self._config()
                got = refind_on_frame(p, src, det, track_id=sel, frame=frame, config=cfg)
                ms = (time.perf_counter() - t0) * 1000.0
                if got is not None:
                    install_refound(p, [got])
                    self.host.say(
                        f"Re-found track {sel} by the detector in {ms:.0f} ms: same object? "
                        "Enter accepts, Delete deletes"
                    )
                    return [sel]
                self.host.say(
                    f"Detector: no box like track {sel} on frame {frame} ({ms:.0f} ms); "
                    "drag the box to fix it"
                )
                return []
            img = doc.read(frame)
            found = detect_on_frame(p, img, frame, det, self._config())
            ms = (time.perf_counter() - t0) * 1000.0
            ids = props.add_proposals(p, found, f"Detect objects on frame {frame}")
            if ids:
                s.select(ids[0])
                self.host.say(
                    f"Detector: {len(ids)} proposal(s) on frame {frame} in {ms:.0f} ms: "
                    "Enter accepts, Delete rejects, drag fixes"
                )
            else:
                self.host.say(
                    f"Detector: nothing new on frame {frame} in {ms:.0f} ms "
                    f"({', '.join(self.host.prefs.detect_classes)})"
                )
            return ids

        self.host.do(run)

    # -- gestures on a proposal ------------------------------------------------------------
    def _open(self, track_id: int) -> bool:
        p = self.host.project
        return p is not None and track_id in p.tracks and props.is_open_proposal(p, track_id)

    def accept(self, track_id: int, frame: int) -> bool:
        """Enter on a proposal: accept it; on a re-found box: accept it and re-track from
        it. Returns False when it is neither."""
        p = self.host.project
        box = p.box(track_id, frame) if p is not None and track_id in p.tracks else None
        if p is not None and box is not None and box.flag_reason == props.REASON_REFOUND:
            # the accept and the stale mark of the re-track it starts are one commit
            self.host.edit_then_retrack(
                track_id, frame, lambda: commands.accept_box(p, track_id, frame)
            )
            self.host.advance_review()
            return True
        if p is None or not self._open(track_id):
            return False
        self.host.do(lambda: props.accept_proposal(p, track_id, frame))
        self.host.say(f"Track {track_id} accepted; press T to track")
        self._next(frame)
        return True

    def reject(self, track_id: int, frame: int) -> bool:
        """Delete on a proposal: reject it (and remember it)."""
        p = self.host.project
        if p is None or not self._open(track_id):
            return False
        self.host.do(lambda: props.reject_proposal(p, track_id))
        self.host.say(f"Proposal {track_id} rejected; it will not be proposed again")
        self._next(frame)
        return True

    def fix(self, track_id: int, frame: int, xyxy: BoxXYXY) -> bool:
        """A drag on a proposal: accept it with the annotator's box."""
        p = self.host.project
        if p is None or not self._open(track_id):
            return False
        self.host.do(lambda: props.accept_proposal(p, track_id, frame, xyxy))
        self.host.say(f"Track {track_id} accepted with your box; press T to track")
        return True

    def _next(self, frame: int) -> None:
        p, s = self.host.project, self.host.session
        if p is None or s is None:
            return
        here = [t for t, _ in p.boxes_at(frame) if props.is_open_proposal(p, t)]
        if here:
            s.select(here[0])
        elif not self.walk(backward=False):
            self.host.advance_review()

    def walk(self, *, backward: bool) -> bool:
        """Go to the next (previous) open proposal in the proposal queue, wrapping, and
        select it; whether there was one."""
        p, s = self.host.project, self.host.session
        if p is None or s is None:
            return False
        sel = s.selected if s.selected in p.tracks else None
        hit = props.next_proposal(p, s.frame, sel, backward=backward)
        if hit is None:
            return False
        queue = props.proposal_queue(p)
        s.go_to(hit.frame, hit.track_id)
        self.host.say(
            f"Proposed object {queue.index(hit) + 1} of {len(queue)}: {hit.label} (detector "
            f"score {hit.score:.2f}); Enter accepts, Delete rejects, drag fixes"
        )
        return True

    # -- after a run (worker thread) --------------------------------------------------------
    def after_run(
        self, snap: Project, source: FrameSource, run: TrackingRun, config: TrackerConfig
    ) -> DetectorFinds | None:
        """In the worker: the detector's pass (:func:`~tracker_annotate.app.detector_pass.
        detector_pass`) on the job's snapshot, when Preferences ask for it. What it finds
        travels with the job and is installed in the run's undo step."""
        if not self.host.prefs.detect_after_tracking:
            return None
        return detector_pass(
            snap,
            source,
            run,
            self.detector(),
            proposal_config=self._config(),
            tracker_config=config,
        )

"""The detector's pass after a "Track all" run: new objects no track explains, and lost
tracks found again. It runs in the worker, on the job's snapshot and media handle, and
returns what it found (:class:`DetectorFinds`); the front end installs that in the run's
own undo step (:meth:`tracker_annotate.app.jobs.TrackingJobs.apply`). Nothing is kept
between runs, so one run's finds (or its status note) never reach another's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from tracker_annotate.core import proposals as props
from tracker_annotate.core.frames import FrameSource
from tracker_annotate.core.project import Project
from tracker_annotate.tracking.api import TrackerConfig, TrackingRun, apply_run
from tracker_annotate.tracking.detector import Detector
from tracker_annotate.tracking.proposal_scope import ProposalScope, proposal_classes
from tracker_annotate.tracking.proposals import ProposalConfig, propose_new_objects, split_budget
from tracker_annotate.tracking.refind import Refound, install_refound, refind_lost


@dataclass(frozen=True)
class DetectorFinds:
    """New-object proposals and re-found tracks of one run, with what they cost."""

    found: list[props.Proposal]
    refound: list[Refound]
    calls: int  # detector calls, the budget probe included
    seconds: float
    every: int  # the new-object schedule: one detector call every this many frames
    scope: ProposalScope | None = None  # the classes proposed, and why

    @property
    def note(self) -> str:
        """What the pass did, for the end of the run's status line."""
        what = f" of {self.scope.describe()}" if self.scope is not None else ""
        return (
            f"; detector: {len(self.found)} new object(s){what}, {len(self.refound)} "
            f"re-found, {self.calls} frames in {self.seconds:.1f} s (every {self.every} frames)"
        )

    def install(self, project: Project) -> None:
        """Add the proposals and the re-found boxes (call inside the run's undo step); a
        track deleted while the run went is skipped."""
        props.add_proposals(project, self.found)
        install_refound(project, [r for r in self.refound if r.track_id in project.tracks])


def detector_pass(
    snapshot: Project,
    source: FrameSource,
    run: TrackingRun,
    detector: Detector,
    *,
    proposal_config: ProposalConfig,
    tracker_config: TrackerConfig,
) -> DetectorFinds | None:
    """Re-find ``run``'s lost tracks and propose new objects, within a detector budget set
    by the run's own time (:func:`~tracker_annotate.tracking.proposals.split_budget`).
    ``snapshot`` is the job's own copy: the run is applied to it here, so the pass sees the
    tracks as the run left them. ``None`` for a cancelled run or empty media.

    New objects are proposed only of the classes the project labels
    (:func:`~tracker_annotate.tracking.proposal_scope.proposal_classes`), unless
    ``proposal_config.classes`` names them; else of the detector's own classes."""
    if run.cancelled or source.n_frames == 0:
        return None
    apply_run(snapshot, run)
    t0 = time.perf_counter()
    detector.detect(source.read(0), 0)  # the budget probe: one call's time
    scope = ProposalScope(proposal_config.classes, "chosen")
    if proposal_config.classes is None:
        scope = proposal_classes(snapshot, source, detector, None)
        proposal_config = replace(proposal_config, classes=scope.classes)
    n_refind, every = split_budget(source.n_frames, run.seconds, detector.last_ms, proposal_config)
    refound, refind_cost = refind_lost(
        snapshot,
        source,
        detector,
        run,
        proposal_config,
        flag_threshold=tracker_config.flag_threshold,
        max_calls=n_refind,
    )
    found, propose_cost = propose_new_objects(
        snapshot,
        source,
        detector,
        proposal_config,
        every=every,
        tracker_config=tracker_config,
        also_explained=[(r.frame, r.xyxy) for r in refound],
    )
    return DetectorFinds(
        found=found,
        refound=refound,
        calls=propose_cost.calls + refind_cost.calls + scope.calls + 1,
        seconds=time.perf_counter() - t0,
        every=every,
        scope=scope,
    )

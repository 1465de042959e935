"""The work record: what the annotator did, when, and for how long.

Every gesture that changes the annotation (draw, adjust, accept, accept a stretch, reject,
mark outside, answer an audit sample), every playback watched, and every idle spell above
a threshold is one :class:`WorkAction`. The record never holds frames or screen content,
only which box an action touched. It is not part of the project's undo history: undoing an
edit does not undo the time it took (an undo is itself a recorded action).

Timing convention. An action's ``start`` is wall-clock Unix seconds; ``duration_s`` runs
from the end of the previous action (or of the last idle spell, or the session's start) to
the moment the action took effect. So the navigation, looking and dragging that led to an
action are part of it, and the durations of a session's work actions add up to the time
worked (idle spells excluded). That is what the benchmark's per-action costs mean too
(:class:`tracker_annotate.bench.costs.CostModel`: "drawing a new box" includes finding it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tracker_annotate.core.errors import ProjectError

ActionKind = Literal[
    "draw",  # a new box drawn (a new track, or a keyframe of the selected one)
    "adjust",  # a box moved or resized: a correction
    "accept",  # one box verified
    "stretch",  # a flagged stretch accepted as a whole (``n_boxes`` boxes)
    "reject",  # a box deleted / a proposal rejected
    "outside",  # the object marked outside from this frame on
    "audit",  # an audit sample answered (``outcome``)
    "watch",  # playback watched (``n_boxes`` boxes shown)
    "undo",  # an undo or redo
    "idle",  # no input for longer than the idle threshold: not work
    "run",  # a tracking run applied (``flags_delta``): machine time, not work
]

#: Stored code of each kind. Part of the file format: append, never reorder.
KIND_CODES: dict[ActionKind, int] = {
    "draw": 0,
    "adjust": 1,
    "accept": 2,
    "stretch": 3,
    "reject": 4,
    "outside": 5,
    "audit": 6,
    "watch": 7,
    "undo": 8,
    "idle": 9,
    "run": 10,
}
KINDS_BY_CODE: dict[int, ActionKind] = {v: k for k, v in KIND_CODES.items()}
#: Kinds that are not the annotator's work.
NOT_WORK: frozenset[ActionKind] = frozenset({"idle", "run"})

Subject = Literal["box", "proposal", "refound", "sample"]
#: What the action was done to. Stored code: append, never reorder.
SUBJECT_CODES: dict[Subject, int] = {"box": 0, "proposal": 1, "refound": 2, "sample": 3}
SUBJECTS_BY_CODE: dict[int, Subject] = {v: k for k, v in SUBJECT_CODES.items()}

Outcome = Literal["ok", "wrong"]


@dataclass(frozen=True, slots=True)
class WorkAction:
    """One recorded action (see the module doc for the timing convention).

    ``track_id``/``frame`` (0-based): the box acted on, ``None`` for actions on no box
    (watch, idle, undo, run). ``n_boxes``: boxes the action covered (a stretch's length,
    the boxes shown during a playback). ``confidence``: the box's confidence before the
    action (``None`` when it had none). ``flags_delta``: the action's change to the count
    of flagged boxes (a reviewed flag is -1, a stretch -n, a tracking run what it added).
    ``outcome``: an audit answer's (``None`` otherwise).
    """

    kind: ActionKind
    start: float
    duration_s: float
    track_id: int | None = None
    frame: int | None = None
    n_boxes: int = 1
    confidence: float | None = None
    flags_delta: int = 0
    subject: Subject = "box"
    outcome: Outcome | None = None

    def __post_init__(self) -> None:
        if self.kind not in KIND_CODES:
            raise ProjectError(f"work record: unknown action kind {self.kind!r}")
        if not self.duration_s >= 0:
            raise ProjectError(
                f"work record: {self.kind} has duration {self.duration_s} s; expected >= 0"
            )
        if self.subject not in SUBJECT_CODES:
            raise ProjectError(f"work record: unknown subject {self.subject!r}")

    @property
    def is_work(self) -> bool:
        return self.kind not in NOT_WORK


@dataclass(frozen=True, slots=True)
class WorkSession:
    """Who worked and with what: one per opening of the project in the app.
    ``started``: wall-clock Unix seconds."""

    annotator: str
    app_version: str
    started: float

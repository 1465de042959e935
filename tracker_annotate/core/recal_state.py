"""What the per-video recalibration keeps in the project: the review outcomes (the source
of truth) and the last fit applied (derived, kept so status and the panel can say what it
did, and so undo restores it). Plain frozen data held by
:class:`~tracker_annotate.core.quality.QualityState`; the logic lives in
:mod:`tracker_annotate.core.recalibration`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tracker_annotate.core.errors import ProjectError

#: How a reviewed box came to be shown, read from its state *before* the verdict:
#: ``flag`` (flagged, unverified: chosen by the engine's signals), ``audit`` (a sample of the
#: current audit round: chosen at random with a known probability), ``other`` (the
#: annotator picked it, perhaps because it looked wrong: never used by the fit).
Selection = Literal["flag", "audit", "other"]
SELECTIONS: tuple[Selection, ...] = ("flag", "audit", "other")


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """One human verdict on a derived box: ``right`` (accepted, verified, audit "ok") or
    not (corrected, rejected, audit "wrong").

    ``confidence`` is the engine's confidence of the box when it was judged;
    ``inclusion`` the probability the box had of being shown (1 for a flag: the flag rule
    is deterministic; ``n_h / N_h`` of its stratum for an audit sample); ``reason`` the
    flag reason or the audit stratum's name."""

    track_id: int
    frame: int
    confidence: float
    right: bool
    selection: Selection
    inclusion: float = 1.0
    reason: str = ""

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ProjectError(
                f"review of track {self.track_id} frame {self.frame}: selection must be one "
                f"of {SELECTIONS}, got {self.selection!r}"
            )
        if not 0.0 <= self.confidence <= 1.0:
            raise ProjectError(
                f"review of track {self.track_id} frame {self.frame}: confidence "
                f"{self.confidence} is not in [0, 1]"
            )
        if not 0.0 < self.inclusion <= 1.0:
            raise ProjectError(
                f"review of track {self.track_id} frame {self.frame}: inclusion probability "
                f"{self.inclusion} is not in (0, 1]"
            )


@dataclass(frozen=True, slots=True)
class RecalState:
    """The last recalibration applied: below ``knot`` the map ``logit P = a + b logit c``
    inside its labels' confidence range ``[support_lo, support_hi]``, at and above it
    ``a_hi + b_hi logit c`` inside ``[hi_support_lo, hi_support_hi]`` (engine
    confidences); what it was learned from and what it changed.

    ``labels`` is how many outcomes the fit used (``wrong`` of them wrong); ``threshold``
    the flag threshold the re-flag used; ``flagged`` / ``lifted`` the flags this run added
    and lifted; ``flagged_total`` the flags the recalibration added over all runs (less
    those a later run lifted again)."""

    a: float
    b: float
    support_lo: float
    support_hi: float
    labels: int
    wrong: int
    audit_labels: int
    threshold: float
    flagged: int
    lifted: int
    flagged_total: int
    direction: Literal["lowered", "raised", "unchanged"]
    a_hi: float = 0.0
    b_hi: float = 1.0
    hi_support_lo: float = 0.5
    hi_support_hi: float = 0.5
    knot: float = 0.5

    def __post_init__(self) -> None:
        if self.direction not in ("lowered", "raised", "unchanged"):
            raise ProjectError(f"recalibration direction {self.direction!r} is not known")

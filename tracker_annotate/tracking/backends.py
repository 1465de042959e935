"""The measurement back-ends and what each can do: the one list of tracker names.

Each back-end is a :class:`BackendInfo` in :data:`BACKENDS`: a factory for a fresh
:class:`~tracker_annotate.tracking.measure.Measurer` per pass (imported lazily, so reading
the list costs no OpenCV model load), and its capabilities, which the engine consults
instead of testing names:

* ``visual``: it looks at the pixels (``linear`` does not: it only interpolates keyframes);
* ``engine_search``: the engine checks its box against the keyframe templates and runs the
  NCC template search when unsure (our ``cascade``: its LK step has no model of its own);
* ``self_contained``: it keeps its own appearance model (NanoTrack, CSRT, ...), so the
  engine accepts its boxes and does not end a pass on appearance rules, which lost objects
  that the raw tracker kept (issue: "the lost-end and appearance rules are what lose the
  object");
* ``gives_score``: it reports a score of its own (a confidence input, not the confidence);
* ``backward``: it can run backwards in time (all visual ones here can);
* ``cost``: measured relative cost per object-frame (``cascade`` = 1), for planning.

Add a back-end: write a ``Measurer`` (``start``/``measure``), add one entry here; the CLI,
the batch runner, the benchmark and the app's Preferences all read this table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracker_annotate.core.errors import ConfigError

if TYPE_CHECKING:
    from tracker_annotate.tracking.measure import Measurer


@dataclass(frozen=True)
class BackendInfo:
    """One measurement back-end: how to build it and what it can do."""

    name: str
    #: ``"module:Class"`` (or function); called with ``args`` for each new pass.
    factory: str
    args: tuple[str, ...] = ()
    description: str = ""
    visual: bool = True
    engine_search: bool = False
    self_contained: bool = True
    gives_score: bool = False
    backward: bool = True
    cost: float = 1.0
    #: The fitted confidence model of this back-end's boxes (a file in ``tracking/``,
    #: written by ``benchmarks/fit_confidence.py``): its evidence differs by back-end.
    confidence_model: str = "confidence_model.json"
    #: The :class:`~tracker_annotate.tracking.api.TrackerConfig` field whose value the
    #: factory takes as ``params`` (``""``: none).
    params_field: str = ""

    def create(self, config: object | None = None) -> Measurer:
        """A new measurer; with ``config`` (a ``TrackerConfig``: not imported here, it
        imports this registry), built with its :attr:`params_field` value."""
        mod_name, _, attr = self.factory.partition(":")
        fn = getattr(importlib.import_module(mod_name), attr)
        kw = {}
        if self.params_field and config is not None:
            kw["params"] = getattr(config, self.params_field)
        m: Measurer = fn(*self.args, **kw)
        return m


_OPENCV = "tracker_annotate.tracking.measure:OpenCVMeasurer"
_MEMBER = "tracker_annotate.tracking.siamese_nano:nano_member"

#: Every back-end, the default first. Costs are object-frame costs relative to ``cascade``
#: measured by ``benchmarks/bench_tracking.py`` (see benchmarks/results/tracking.md);
#: ``nano2`` and ``nano3`` scale ``nano``'s by their update time against ``cv2.TrackerNano``
#: timed side by side on the same frames (1.07x and 1.32x, one thread).
BACKENDS: dict[str, BackendInfo] = {
    b.name: b
    for b in (
        BackendInfo(
            "committee",
            "tracker_annotate.tracking.committee:CommitteeMeasurer",
            ("nano3", "fear", "nano2"),
            "committee of learned trackers (NanoTrack v3, FEAR-XS, NanoTrack v2); their "
            "disagreement and "
            "response maps drive the confidence",
            gives_score=True,
            cost=3.6,
            confidence_model="confidence_committee.json",
            params_field="committee",
        ),
        BackendInfo(
            "nano",
            "tracker_annotate.tracking.nano:NanoMeasurer",
            description="NanoTrack v2 (Siamese, shipped ONNX through cv2.TrackerNano)",
            gives_score=True,
            cost=1.5,
        ),
        BackendInfo(
            "nano3",
            _MEMBER,
            ("v3",),
            "NanoTrack v3 (Siamese, shipped ONNX through cv2.dnn; score: raw response peak)",
            gives_score=True,
            cost=2.0,
        ),
        BackendInfo(
            "nano2",
            _MEMBER,
            ("v2",),
            "NanoTrack v2 through cv2.dnn (as nano; score: raw response peak, not OpenCV's)",
            gives_score=True,
            cost=1.6,
        ),
        BackendInfo(
            "cascade",
            "tracker_annotate.tracking.measure:CascadeMeasurer",
            description="LK median flow + NCC to keyframe templates, template search when unsure",
            engine_search=True,
            self_contained=False,
            cost=1.0,
        ),
        BackendInfo(
            "linear",
            "tracker_annotate.tracking.measure:NoMeasurer",
            description="straight line between keyframes (CVAT's interpolation); no pixels",
            visual=False,
            self_contained=False,
            cost=0.01,
        ),
        BackendInfo("csrt", _OPENCV, ("csrt",), "OpenCV CSRT (contrib)", cost=10.0),
        BackendInfo("kcf", _OPENCV, ("kcf",), "OpenCV KCF (contrib)", cost=2.0),
        BackendInfo("mosse", _OPENCV, ("mosse",), "OpenCV MOSSE (cv2.legacy)", cost=0.3),
        BackendInfo(
            "medianflow", _OPENCV, ("medianflow",), "OpenCV MedianFlow (cv2.legacy)", cost=0.5
        ),
        BackendInfo("mil", _OPENCV, ("mil",), "OpenCV MIL (contrib)", cost=10.0),
        BackendInfo(
            "fear",
            "tracker_annotate.tracking.siamese_fear:fear_measurer",
            description="FEAR-XS (Siamese, shipped ONNX through cv2.dnn, raw sigmoid peak)",
            gives_score=True,
            # 3.6x nano's CPU time per update, measured side by side (one thread)
            cost=5.5,
        ),
        BackendInfo(
            "vit",
            "tracker_annotate.tracking.siamese_vit:vit_measurer",
            description="VitTrack (OpenCV zoo, ONNX through cv2.dnn; score: raw response peak)",
            gives_score=True,
            cost=1.8,  # 1.2x nano's CPU time per update, measured side by side
        ),
    )
}

#: Back-end names, default first (argparse choices, Preferences, the benchmark).
TRACKER_NAMES: tuple[str, ...] = tuple(BACKENDS)

#: The default back-end, chosen by the benchmarks (benchmarks/results/tracking.md).
DEFAULT_TRACKER = "committee"


def backend(name: str) -> BackendInfo:
    """The :class:`BackendInfo` called ``name``, or a :class:`ConfigError` listing the names."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ConfigError(f"tracker must be one of {TRACKER_NAMES}, got {name!r}") from None


def make_measurer(name: str) -> Measurer:
    """A fresh back-end instance for one pass of one track."""
    return backend(name).create()


def available_trackers() -> list[str]:
    """Back-end names that work in this OpenCV build (and with the shipped models)."""
    from tracker_annotate.core.errors import ModelError, TrackingError

    out = []
    for name in TRACKER_NAMES:
        try:
            make_measurer(name)
        except (TrackingError, ModelError):
            continue
        out.append(name)
    return out

"""The command-line options several subcommands share, declared once.

``track``, ``batch`` and ``bench`` take the tracker options (``--tracker``,
``--flag-threshold``, ``--no-extend``, ``--jobs``); ``detect`` and
``track --init-from-detections`` take the detector options; ``track`` and ``batch`` take
model detections. Every default comes from the config it fills
(:class:`~tracker_annotate.tracking.api.TrackerConfig`,
:class:`~tracker_annotate.tracking.detector.DetectorConfig`), and
:func:`tracker_config_from_args` is the one way parsed options become a ``TrackerConfig``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tracker_annotate.app.prelabel import START_MIN_SCORE
from tracker_annotate.tracking.api import TRACKER_NAMES, TrackerConfig
from tracker_annotate.tracking.backends import BACKENDS
from tracker_annotate.tracking.detector import DEFAULT_CLASSES, DetectorConfig

#: ``detect``'s ``--min-score`` default: the detector's own threshold.
DETECT_MIN_SCORE = DetectorConfig().score_threshold
#: The YOLOX input size of ``--model`` (px) when ``--model-size`` is not given.
MODEL_SIZE = 416


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def at_least(kind: Callable[[str], Any], minimum: float, what: str, unit: str = "") -> Any:
    """An argparse ``type``: a ``kind`` (``int``, ``float``) of at least ``minimum``, or a
    usage error naming ``what`` was expected (NaN is refused too)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}{unit}, got {value}")
        return value

    return parse


#: ``--jobs`` and the like: a whole number >= 1.
positive_int: Callable[[str], int] = at_least(int, 1, "a whole number")
#: Durations: seconds >= 0.
seconds: Callable[[str], float] = at_least(float, 0.0, "seconds", " seconds")


def tracker_help() -> str:
    """``--tracker``'s help: the default and what each back-end is."""
    return f"measurement back-end (default: {TrackerConfig().tracker}); " + "; ".join(
        f"{b.name}: {b.description}" for b in BACKENDS.values()
    )


def add_tracker_options(
    parser: argparse.ArgumentParser,
    *,
    extend: bool = True,
    detections: bool = False,
    flag_help: str = "flag boxes with confidence below T for review (default: %(default)s)",
) -> None:
    """``--tracker`` and ``--flag-threshold`` (and ``--no-extend`` unless ``extend`` is
    False), defaulting to :class:`TrackerConfig`'s values; with ``detections``,
    ``--detections DET`` (:func:`add_detections_option`) after ``--tracker``, where
    ``track``'s help has always listed it."""
    defaults = TrackerConfig()
    parser.add_argument(
        "--tracker", default=defaults.tracker, choices=TRACKER_NAMES, help=tracker_help()
    )
    if detections:
        add_detections_option(parser)
    if extend:
        parser.add_argument(
            "--no-extend",
            action="store_true",
            help="stop each track at its last keyframe instead of following it to the end",
        )
    parser.add_argument(
        "--flag-threshold",
        type=float,
        default=defaults.flag_threshold,
        metavar="T",
        help=flag_help,
    )


def add_jobs_option(
    parser: argparse.ArgumentParser, *, help: str, type: Callable[[str], int] = positive_int
) -> None:
    """``-j/--jobs N``, defaulting to :func:`default_jobs`."""
    parser.add_argument("-j", "--jobs", type=type, default=default_jobs(), metavar="N", help=help)


def tracker_config_from_args(args: argparse.Namespace, **overrides: Any) -> TrackerConfig:
    """The :class:`TrackerConfig` the parsed tracker options ask for.

    Options a subcommand does not have keep ``TrackerConfig``'s defaults; a bad value
    (``--flag-threshold 2``) raises its :class:`~tracker_annotate.core.errors.ConfigError`.
    """
    defaults = TrackerConfig()
    fields: dict[str, Any] = {
        "tracker": args.tracker,
        "flag_threshold": args.flag_threshold,
        "extend": not getattr(args, "no_extend", False),
    }
    lost_after = getattr(args, "lost_after", None)
    if lost_after is not None:
        fields["fusion"] = replace(defaults.fusion, lost_after=lost_after)
    fields.update(overrides)
    return TrackerConfig(**fields)


def add_detections_option(parser: argparse.ArgumentParser) -> None:
    """``track --detections DET``: model detections for one input."""
    parser.add_argument(
        "--detections",
        metavar="DET",
        default=None,
        help="model detections (MOT det.txt or COCO results .json): extra measurements, and "
        "proposed tracks for confident unmatched objects",
    )


def add_detections_sources(parser: argparse.ArgumentParser) -> None:
    """``batch --detections-dir DIR | --detections-pattern P``: model detections per input."""
    det = parser.add_mutually_exclusive_group()
    det.add_argument(
        "--detections-dir",
        metavar="DIR",
        help="detections as DIR/<name>.txt (MOT rows) or .json (COCO results)",
    )
    det.add_argument(
        "--detections-pattern",
        metavar="PATTERN",
        help="detections path pattern, e.g. '{path}/det/det.txt' for MOT sequences",
    )


def add_detector_options(parser: argparse.ArgumentParser) -> None:
    """The detector options of ``detect`` and ``track --init-from-detections``."""
    g = parser.add_argument_group("detector")
    g.add_argument(
        "--classes",
        default=",".join(DEFAULT_CLASSES),
        metavar="NAMES",
        help="comma-separated class names to keep, or 'all' (default: %(default)s)",
    )
    g.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="S",
        help=f"keep detections scoring S or more (default: {DETECT_MIN_SCORE:g} for detect, "
        f"{START_MIN_SCORE:g} to start tracks)",
    )
    g.add_argument(
        "--model", type=Path, default=None, metavar="ONNX", help="your own YOLOX-layout ONNX"
    )
    g.add_argument(
        "--model-classes",
        type=Path,
        default=None,
        metavar="TXT",
        help="class names of --model, one per line in output order (default: COCO's 80)",
    )
    g.add_argument("--model-sha256", default=None, metavar="HEX", help="check --model first")
    g.add_argument(
        "--model-size",
        type=int,
        default=MODEL_SIZE,
        metavar="PX",
        help=f"--model input size ({MODEL_SIZE})",
    )


def min_score_from_args(args: argparse.Namespace, default: float) -> float:
    """``--min-score``, or the subcommand's own default when it was not given."""
    return default if args.min_score is None else float(args.min_score)


def detector_from_args(args: argparse.Namespace, default_score: float) -> Any:
    """The detector the detector options ask for (loaded, sha256-checked)."""
    from tracker_annotate.tracking.detector import load_detector

    classes = (
        None
        if args.classes.strip() == "all"
        else tuple(c.strip() for c in args.classes.split(",") if c.strip())
    )
    config = DetectorConfig(
        score_threshold=min_score_from_args(args, default_score), classes=classes
    )
    return load_detector(
        args.model,
        args.model_classes,
        sha256=args.model_sha256,
        config=config,
        size=args.model_size,
    )

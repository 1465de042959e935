"""The ``tracker-annotate`` command. Each subcommand lives in its own module under
:mod:`tracker_annotate.cli` and exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (taking the parsed args, returning an exit code).

Errors of the :class:`TrackerAnnotateError` family print one line on stderr and exit 2;
``--verbose`` shows the traceback. No Qt is imported unless the ``gui`` command runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from tracker_annotate import __version__
from tracker_annotate.core.errors import TrackerAnnotateError

# Order is the order of ``--help``.
SUBCOMMAND_MODULES = (
    "tracker_annotate.cli.info",
    "tracker_annotate.cli.convert",
    "tracker_annotate.cli.quality",
    "tracker_annotate.cli.track",
    "tracker_annotate.cli.detect",
    "tracker_annotate.cli.batch",
    "tracker_annotate.cli.bench",
    "tracker_annotate.cli.report",
    "tracker_annotate.cli.demo",
    "tracker_annotate.cli.gui",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracker-annotate",
        description="Video object-tracking annotation accelerator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show tracebacks and debug logging"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for sub_parser in sub.choices.values():
        # after the subcommand too: `tracker-annotate track ... -v` is how people type it
        sub_parser.add_argument(
            "-v",
            "--verbose",
            dest="sub_verbose",
            action="store_true",
            help="show tracebacks and debug logging",
        )
    return parser


def quiet_native_logs() -> None:
    """Silence OpenCV's and FFmpeg's own logging ("moov atom not found", "[ WARN:0@0.8]
    global cap.cpp ..."): a broken video gets our one-line error, which says what is
    wrong in words, not their noise before it. ``--verbose`` keeps them."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")  # read when cv2 is first imported
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read per open
    if "cv2" in sys.modules:
        cv2 = sys.modules["cv2"]
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose = args.verbose or getattr(args, "sub_verbose", False)
    if not args.verbose:
        quiet_native_logs()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
        return code
    except TrackerAnnotateError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"tracker-annotate {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"tracker-annotate {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"tracker-annotate {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())

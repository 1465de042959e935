"""``tracker-annotate gui [PATH]``: the desktop annotation app (PyQt6, imported lazily so
the rest of the CLI runs without a display)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tracker_annotate.cli.gui_libs import check_xcb_libraries
from tracker_annotate.core.errors import TrackerAnnotateError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "gui",
        help="open the annotation app",
        description=(
            "Open the desktop annotation app. PATH may be a video, an image folder, a "
            "MOTChallenge sequence folder or a .taproj project; media gets a project "
            "file beside it (<name>.taproj), reopened next time where you left off."
        ),
    )
    p.add_argument("path", nargs="?", help="video, image folder, MOT sequence or .taproj")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.path is not None and not os.path.exists(args.path):
        raise TrackerAnnotateError(
            f"{args.path}: no such file or folder; expected a video, an image folder, "
            "a MOT sequence folder or a .taproj project"
        )
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    ):
        raise TrackerAnnotateError(
            "no display found (DISPLAY/WAYLAND_DISPLAY unset); run it on a desktop, "
            "over ssh -X, or under xvfb-run"
        )
    # Qt aborts with a core dump when its X11 plugin lacks a library: say which, and exit
    check_xcb_libraries(os.environ)
    try:
        from tracker_annotate.gui.app import run_gui
    except ImportError as exc:
        raise TrackerAnnotateError(
            f"the GUI needs PyQt6 and its system libraries: {exc}; install the app's "
            "extra (pip install 'tracker_annotate[gui]') and libxcb-cursor0 / libegl1"
        ) from exc
    return run_gui(args.path)

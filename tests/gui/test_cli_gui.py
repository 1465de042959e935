"""The ``gui`` subcommand's argument handling (no window is opened here)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tracker_annotate.cli import gui as cli_gui
from tracker_annotate.core.errors import TrackerAnnotateError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli_gui.register(sub)
    return parser.parse_args(argv)


def test_gui_parser_takes_an_optional_path() -> None:
    assert _parse(["gui"]).path is None
    args = _parse(["gui", "clip.mp4"])
    assert args.path == "clip.mp4" and args.func is cli_gui.run


def test_missing_path_is_a_user_error(tmp_path: Path) -> None:
    args = _parse(["gui", str(tmp_path / "nope.mp4")])
    with pytest.raises(TrackerAnnotateError, match=r"nope\.mp4: no such file"):
        cli_gui.run(args)


def test_no_display_is_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    with pytest.raises(TrackerAnnotateError, match="no display"):
        cli_gui.run(_parse(["gui"]))


def test_main_lists_the_gui_command() -> None:
    from tracker_annotate.cli.main import build_parser

    help_text = build_parser().format_help()
    assert "gui" in help_text

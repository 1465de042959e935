"""The shared options (``cli/options.py``): every subcommand that takes them parses them
the same way, with ``TrackerConfig``'s defaults, and refuses bad values alike."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tracker_annotate.app.prelabel import START_MIN_SCORE
from tracker_annotate.cli import options
from tracker_annotate.cli.main import build_parser, main
from tracker_annotate.tracking.api import TRACKER_NAMES, TrackerConfig
from tracker_annotate.tracking.backends import DEFAULT_TRACKER
from tracker_annotate.tracking.detector import DetectorConfig

# the positional arguments and required options each subcommand needs to parse
BASE = {
    "track": ["track", "clip.mp4", "--init", "kf.txt", "--out", "r.txt"],
    "batch": ["batch", "clip.mp4"],
    "bench": ["bench", "seq", "--out", "o"],
}
JOBS = ["batch", "bench"]
DETECTOR = {
    "detect": ["detect", "clip.mp4", "--out", "d.txt"],
    "track": BASE["track"],
}


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("command", sorted(BASE))
def test_tracker_options_default_to_tracker_config(command: str) -> None:
    args = _parse(BASE[command])
    defaults = TrackerConfig()
    assert args.tracker == defaults.tracker == DEFAULT_TRACKER
    assert args.flag_threshold == defaults.flag_threshold
    assert options.tracker_config_from_args(args) == defaults


@pytest.mark.parametrize("command", sorted(BASE))
def test_tracker_options_reach_the_config(command: str) -> None:
    other = next(n for n in TRACKER_NAMES if n != DEFAULT_TRACKER)
    args = _parse([*BASE[command], "--tracker", other, "--flag-threshold", "0.3"])
    config = options.tracker_config_from_args(args)
    assert (config.tracker, config.flag_threshold) == (other, 0.3)


@pytest.mark.parametrize("command", ["track", "batch"])
def test_no_extend_where_declared(command: str) -> None:
    assert options.tracker_config_from_args(_parse([*BASE[command], "--no-extend"])).extend is False


def test_bench_lost_after_reaches_the_fusion_params() -> None:
    config = options.tracker_config_from_args(_parse([*BASE["bench"], "--lost-after", "7"]))
    assert config.fusion.lost_after == 7 and config.extend is True


@pytest.mark.parametrize("command", JOBS)
def test_jobs_default_is_the_usable_cpus(command: str) -> None:
    assert _parse(BASE[command]).jobs == options.default_jobs() >= 1
    assert _parse([*BASE[command], "-j", "3"]).jobs == 3


@pytest.mark.parametrize("command", sorted(DETECTOR))
def test_detector_options_defaults(command: str) -> None:
    args = _parse(DETECTOR[command])
    assert args.min_score is None and args.model is None
    assert args.model_size == options.MODEL_SIZE
    assert options.min_score_from_args(args, 0.7) == 0.7  # the subcommand's own default
    given = _parse([*DETECTOR[command], "--min-score", "0.4"])
    assert options.min_score_from_args(given, 0.7) == 0.4
    # the help names both defaults, as it did when they were written in it
    assert "(default: 0.25 for detect, 0.5 to start tracks)" in " ".join(
        _subparser(command).format_help().split()
    )
    assert (DetectorConfig().score_threshold, START_MIN_SCORE) == (0.25, 0.5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*BASE["track"], "--tracker", "magic"], "invalid choice: 'magic'"),
        ([*BASE["batch"], "--tracker", "magic"], "invalid choice: 'magic'"),
        ([*BASE["bench"], "--tracker", "magic"], "invalid choice: 'magic'"),
        ([*BASE["track"], "--flag-threshold", "x"], "invalid float value: 'x'"),
        ([*BASE["batch"], "--jobs", "0"], "expected at least 1, got 0"),
        ([*BASE["batch"], "--jobs", "two"], "expected a whole number, got 'two'"),
        ([*BASE["bench"], "--draw-s", "-1"], "expected at least 0.0 seconds, got -1.0"),
        ([*BASE["bench"], "--verify-s", "nan"], "expected at least 0.0 seconds, got nan"),
        ([*BASE["bench"], "--draw-s", "soon"], "expected seconds, got 'soon'"),
    ],
    ids=[
        "track-tracker",
        "batch-tracker",
        "bench-tracker",
        "float",
        "jobs-0",
        "jobs-word",
        "seconds-negative",
        "seconds-nan",  # NaN compares false both ways: refused, not let through
        "seconds-word",
    ],
)
def test_bad_values_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        _parse(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", sorted(BASE))
def test_out_of_range_flag_threshold_is_one_clear_error(
    command: str, tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same ConfigError from ``TrackerConfig``, before anything runs, exit code 2."""
    monkeypatch.chdir(tmp_path)
    assert main([*BASE[command], "--flag-threshold", "2"]) == 2
    err = capsys.readouterr().err
    assert f"tracker-annotate {command}: error: flag_threshold must be in [0, 1], got 2.0" in err
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_every_subcommand_shows_the_same_tracker_help() -> None:
    texts = {c: _subparser(c).format_help() for c in BASE}
    for name in TRACKER_NAMES:
        for command, text in texts.items():
            assert f"{name}:" in " ".join(text.split()), (command, name)


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices[command]
    return found


def test_light_commands_parse_as_in_the_full_parser() -> None:
    """``status``/``audit`` build a parser with only their module: it must be the module
    that registers them, so they parse exactly as in the full parser."""
    from tracker_annotate.cli.main import LIGHT_COMMANDS

    for command in LIGHT_COMMANDS:
        argv = [command, "p.taproj", "--json"]
        assert vars(build_parser(command).parse_args(argv)) == vars(_parse(argv))


def test_status_does_not_import_the_tracking_engine(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tracker_annotate.core.project import Project
    from tracker_annotate.io.store import ProjectStore

    path = tmp_path / "p.taproj"
    ProjectStore.create(path, Project()).close()
    code = (
        "import sys\n"
        "from tracker_annotate.cli.main import main\n"
        f"assert main(['status', {str(path)!r}, '--json']) == 0\n"
        "heavy = [m for m in ('tracker_annotate.tracking.engine', 'cv2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr

"""``tracker-annotate info`` driven through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker_annotate.cli.main import main


def test_info_tree_avi_reports_real_length_and_the_claim(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_data / "videos" / "tree.avi"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "frames:      68 decodable (header claims 444)" in out
    assert "size:        320x240" in out
    assert "kind:        video" in out
    assert "keyframes:   3 (one every ~23 frames)" in out  # at 0, 25, 50
    assert "fingerprint: file:" in out


def test_info_json_for_scripts(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_data / "videos" / "tree.avi"
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["frames"], info["claimed_frames"]) == (68, 444)
    assert (info["width"], info["height"], info["kind"]) == (320, 240, "video")
    assert info["duration_s"] == pytest.approx(68 / info["fps"])
    assert info["fps"] == pytest.approx(15.0, abs=0.01)


def test_info_mot_sequence(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(shared_data / "sequences" / "TUD-Campus"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["kind"], info["frames"], info["claimed_frames"], info["fps"]) == (
        "mot",
        71,
        71,
        25.0,
    )


def test_info_generated_image_folder_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for k in range(12):
        cv2.imwrite(str(tmp_path / f"{k}.png"), np.full((48, 64, 3), k * 20, np.uint8))
    assert main(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "frames:      12 images (not decoded; --verify decodes each)\n" in out
    assert "size:        64x48" in out and "fps:         30.000" in out
    assert "duration:    0.400 s (00:00:00.400)" in out


@pytest.mark.parametrize(
    "name,content,expected",
    [
        pytest.param("missing.avi", None, "no such file", id="missing file"),
        pytest.param("junk.mp4", b"\x00junk" * 500, "corrupt", id="garbage bytes"),
        pytest.param("table.csv", b"a,b\n", "unknown media type", id="not media"),
    ],
)
def test_info_user_errors_print_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tracker-annotate info: error: ") and name in err and expected in err
    assert err.count("\n") == 1


def test_info_verify_lists_images_that_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for k in range(5):
        cv2.imwrite(str(tmp_path / f"{k:03d}.png"), np.full((48, 64, 3), k * 20, np.uint8))
    (tmp_path / "003.png").write_bytes(b"truncated")
    assert main(["info", str(tmp_path), "--verify"]) == 1
    out = capsys.readouterr().out
    assert "frames:      5 images, 1 fail to decode" in out
    assert "bad frame:   " in out and "frame 3: cannot decode image '003.png'" in out
    assert main(["info", str(tmp_path), "--verify", "--json"]) == 1
    info = json.loads(capsys.readouterr().out)
    assert [b["frame"] for b in info["bad_frames"]] == [3] and info["frames_verified"]
    (tmp_path / "003.png").unlink()
    assert main(["info", str(tmp_path), "--verify"]) == 0
    assert "frames:      4 images, 0 fail to decode" in capsys.readouterr().out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh process: OpenCV and FFmpeg write to the process's own
    stderr (file descriptor 2), which only a subprocess shows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    return subprocess.run(
        [sys.executable, "-m", "tracker_annotate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("make", "command", "reason"),
    [
        (lambda p: p.write_bytes(np.random.default_rng(1).bytes(5000)), "info", "garbage.mp4"),
        (lambda p: p.write_bytes(b""), "track", "an empty .mp4 given to track"),
    ],
)
def test_a_broken_video_gets_one_line_without_native_noise(
    tmp_path: Path, make: object, command: str, reason: str
) -> None:
    video = tmp_path / "broken.mp4"
    make(video)  # type: ignore[operator]
    args = [command, str(video)]
    if command == "track":
        args += ["--init", str(REPO / "sample_videos" / "keyframes.txt"), "--out"]
        args += [str(tmp_path / "o.txt")]
    done = _cli(*args)
    assert done.returncode == 2, reason
    lines = done.stderr.splitlines()
    assert len(lines) == 1, (reason, done.stderr)  # no "moov atom", "[ WARN:0@", no bar
    assert lines[0].startswith(f"tracker-annotate {command}: error: {video}")
    assert "obj-frame" not in done.stderr


def test_info_on_a_lying_header_prints_no_warning_log_line(shared_data: Path) -> None:
    done = _cli("info", str(shared_data / "videos" / "tree.avi"))
    assert done.returncode == 0
    assert done.stderr == "", "the claim is in the output; no WARNING line besides"
    assert "68 decodable (header claims 444)" in done.stdout


def test_verbose_works_after_the_subcommand_too(tmp_path: Path) -> None:
    done = _cli("info", str(tmp_path / "missing.mp4"), "--verbose")
    assert done.returncode == 2 and "Traceback" in done.stderr
    quiet = _cli("info", str(tmp_path / "missing.mp4"))
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr

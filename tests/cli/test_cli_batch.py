"""``tracker-annotate batch`` end to end: real videos, the real tracking pipeline, worker
processes and a real Dask cluster; a corrupt input fails alone and the exit code says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracker_annotate.cli.main import main

W, H, N_FRAMES, SIDE = 160, 120, 24, 30


def write_clip(path: Path, seed: int, n_frames: int = N_FRAMES) -> Path:
    """A textured square drifting right and down; MOT keyframes on frame 1 beside it."""
    texture = np.random.default_rng(seed).integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (W, H))
    assert writer.isOpened()
    for f in range(n_frames):
        img = np.full((H, W, 3), 90, np.uint8)
        img[20 + f : 20 + f + SIDE, 20 + 3 * f : 20 + 3 * f + SIDE] = texture
        writer.write(img)
    writer.release()
    return path


def write_mot(path: Path, x: int = 20, y: int = 20, w: int = SIDE, h: int = SIDE) -> Path:
    path.write_text(f"1,1,{x},{y},{w},{h},1,1,1\n")
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """clip_a, clip_b (good, with keyframes in kf/) and corrupt.avi (garbage bytes)."""
    d = tmp_path / "media"
    d.mkdir()
    kf = tmp_path / "kf"
    kf.mkdir()
    for i, name in enumerate(("clip_a", "clip_b")):
        write_clip(d / f"{name}.avi", seed=i)
        write_mot(kf / f"{name}.txt")
    (d / "corrupt.avi").write_bytes(os.urandom(4096))
    write_mot(kf / "corrupt.txt")
    return d


def _summary(out: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((out / "batch_summary.json").read_text())
    return {j["name"]: j for j in doc["jobs"]}


def _assert_one_bad_input(out: Path, media: Path, code: int, err: str) -> None:
    assert code == 1
    failed_lines = [ln for ln in err.splitlines() if ln.startswith("FAILED")]
    assert len(failed_lines) == 1 and str(media / "corrupt.avi") in failed_lines[0]
    jobs = _summary(out)
    assert {n: j["status"] for n, j in jobs.items()} == {
        "clip_a": "ok",
        "clip_b": "ok",
        "corrupt": "failed",
    }
    for name in ("clip_a", "clip_b"):
        assert jobs[name]["frames"] == N_FRAMES and jobs[name]["objects"] == 1
        rows = np.loadtxt(out / f"{name}.txt", delimiter=",", ndmin=2)
        assert rows.shape[0] >= N_FRAMES // 2  # the tracker carried the box forward
    assert sorted(p.name for p in out.iterdir()) == [
        "batch_summary.json",
        "clip_a.txt",
        "clip_b.txt",
    ]


def test_batch_folder_with_a_corrupt_video(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["batch", str(media), "--init-dir", str(tmp_path / "kf"), "--out-dir", str(out)]
    code = main([*argv, "--format", "txt", "--jobs", "2"])
    captured = capsys.readouterr()
    _assert_one_bad_input(out, media, code, captured.err)
    table = captured.out.splitlines()
    assert table[0].split() == [
        "input",
        "status",
        "frames",
        "objects",
        "flagged",
        "seconds",
        "output",
    ]
    assert [ln.split()[:2] for ln in table[1:4]] == [
        ["clip_a", "ok"],
        ["clip_b", "ok"],
        ["corrupt", "failed"],
    ]
    assert "2 ok, 1 failed" in table[-1]
    # Run again: outputs exist, so the batch refuses before doing anything...
    assert main([*argv, "--format", "txt"]) == 2
    assert "outputs exist" in capsys.readouterr().err
    # ...and --skip-existing resumes: only the failed input is retried.
    assert main([*argv, "--format", "txt", "--skip-existing", "-q"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("FAILED") == 1
    assert set(_summary(out)) == {"corrupt"}
    # The resumed summary still describes the outputs it skipped, from the first run.
    doc = json.loads((out / "batch_summary.json").read_text())
    previous = {s["name"]: s["previous"] for s in doc["skipped"]}
    assert {n: p["frames"] for n, p in previous.items()} == {"clip_a": N_FRAMES, "clip_b": N_FRAMES}


@pytest.mark.slow
def test_batch_on_a_dask_cluster(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        code = main(
            [
                "batch",
                *(str(p) for p in sorted(media.iterdir())),
                "--init-dir",
                str(tmp_path / "kf"),
                "--out-dir",
                str(out),
                "--format",
                "txt",
                "--scheduler",
                cluster.scheduler_address,
            ]
        )
    _assert_one_bad_input(out, media, code, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "no keyframes"),  # no sidecar clip_a.keyframes.txt beside the video
        (["--init-dir", "{kf}", "--init-pattern", "x"], "not allowed with"),  # argparse
        (["--init-dir", "{kf}", "--flag-threshold", "2"], "flag_threshold must be in [0, 1]"),
        (["--init-dir", "{kf}", "--out-dir", "{kf}"], "would overwrite a keyframes file"),
    ],
    ids=["missing-keyframes", "two-keyframe-sources", "bad-threshold", "clobber"],
)
def test_user_errors_exit_2_before_running(
    media: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["batch", str(media / "clip_a.avi"), "--format", "txt"]
    argv += [a.format(kf=tmp_path / "kf") for a in extra]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # argparse prints its usage above the error
    assert "error:" in last and message in last
    assert not (tmp_path / "tracked").exists()


def test_dry_run_prints_the_plan_and_writes_nothing(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "batch",
            str(media),
            "--init-dir",
            str(tmp_path / "kf"),
            "--out-dir",
            str(out),
            "--dry-run",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["input", "keyframes", "detections", "output"]
    assert [Path(ln.split()[-1]).name for ln in lines[1:4]] == [
        "clip_a.taproj",
        "clip_b.taproj",
        "corrupt.taproj",
    ]
    assert not out.exists()


def test_missing_dask_is_a_clear_error(
    media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import now raises ImportError
    code = main(
        [
            "batch",
            str(media / "clip_a.avi"),
            "--init-dir",
            str(tmp_path / "kf"),
            "--out-dir",
            str(tmp_path / "out"),
            "--scheduler",
            "tcp://127.0.0.1:8786",
        ]
    )
    assert code == 2
    assert "pip install 'tracker_annotate[dask]'" in capsys.readouterr().err


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "delay_s",
    [
        0.3,  # while the worker is still starting (a half-started worker once leaked)
        1.5,  # while the video is being scanned and tracked
    ],
)
def test_ctrl_c_cancels_cleanly(shared_data: Path, tmp_path: Path, delay_s: float) -> None:
    """SIGINT to a real batch on a long real video: exit 130, no partial output left."""
    video = shared_data / "videos" / "vtest.avi"  # 795 frames of pedestrians
    kf = tmp_path / "kf"
    kf.mkdir()
    write_mot(kf / "vtest.txt", x=370, y=160, w=40, h=100)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker_annotate",
            "batch",
            str(video),
            "--init-dir",
            str(kf),
            "--out-dir",
            str(out),
            "--format",
            "txt",
            "--jobs",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The worker creates the out dir when it starts; give it a moment to get going.
    deadline = time.monotonic() + 30
    while not out.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    time.sleep(delay_s)
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=30)
    if (out / "vtest.txt").exists():
        pytest.skip("the video was tracked before the interrupt arrived")
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert [p.name for p in out.iterdir()] == ["batch_summary.json"]
    assert _summary(out)["vtest"]["status"] == "cancelled"


def test_batch_summary_names_the_final_outputs(
    media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """batch_summary.json showed the temporary .incomplete.taproj name as the output."""
    out = tmp_path / "out"
    argv = ["batch", str(media / "clip_a.avi"), "--init-dir", str(tmp_path / "kf")]
    assert main([*argv, "--out-dir", str(out), "--format", "taproj", "-q"]) == 0
    text = (out / "batch_summary.json").read_text()
    assert "incomplete" not in text
    job = _summary(out)["clip_a"]
    assert job["output"] == job["summary"]["out"] == str(out / "clip_a.taproj")  # type: ignore[index]


def test_batch_puts_the_callers_sigint_handler_back(media: Path, tmp_path: Path) -> None:
    """The CLI owns Ctrl+C only while the batch runs; whoever called it gets theirs back."""

    def mine(signum: int, frame: object) -> None:  # pragma: no cover - never raised here
        raise AssertionError("not expected")

    previous = signal.signal(signal.SIGINT, mine)
    try:
        argv = ["batch", str(media / "clip_a.avi"), "--init-dir", str(tmp_path / "kf")]
        code = main([*argv, "--out-dir", str(tmp_path / "out"), "--format", "txt", "-q"])
        assert code == 0
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)

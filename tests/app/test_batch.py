"""The batch runner: input expansion, keyframe lookup, output naming, collision checks,
error isolation (a raising job, a corrupt video, a worker that dies) and the summary.

Videos are real: tiny MJPG AVIs written with OpenCV and decoded by the real pipeline.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tracker_annotate.app.batch import (
    SUMMARY_NAME,
    BatchInput,
    BatchJob,
    classify,
    expand_inputs,
    plan_jobs,
    resolve_pattern,
    run_dask,
    run_local,
    run_one,
    write_summary,
)
from tracker_annotate.core.errors import ConfigError, MediaError
from tracker_annotate.tracking.api import CancelToken, TrackerConfig

W, H, N_FRAMES, SIDE = 160, 120, 24, 30


def square_xywh(frame: int) -> tuple[int, int, int, int]:
    """The textured square's true box (0-based frame): it drifts right and down."""
    return 20 + 3 * frame, 20 + frame, SIDE, SIDE


def render(n_frames: int, seed: int) -> list[np.ndarray]:
    """A textured square drifting over a flat background, plus a static textured patch
    that no keyframe names (a detector would still see it)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    patch = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    frames = []
    for f in range(n_frames):
        img = np.full((H, W, 3), 90, np.uint8)
        img[90:110, 130:150] = patch
        x, y, w, h = square_xywh(f)
        img[y : y + h, x : x + w] = texture
        frames.append(img)
    return frames


def write_video(path: Path, n_frames: int = N_FRAMES, seed: int = 0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (W, H))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for img in render(n_frames, seed):
        writer.write(img)
    writer.release()
    return path


def write_sequence(folder: Path, *, mot: bool, seed: int = 0) -> Path:
    """An image folder (MOT layout with ``img1/`` + ``seqinfo.ini`` when ``mot``) with
    ``keyframes.txt`` and ``det/det.txt`` (the square and the static patch, every frame)."""
    images = folder / "img1" if mot else folder
    images.mkdir(parents=True)
    for f, img in enumerate(render(N_FRAMES, seed)):
        cv2.imwrite(str(images / f"{f + 1:06d}.png"), img)
    if mot:
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={folder.name}\nimDir=img1\nframeRate=25\n"
            f"seqLength={N_FRAMES}\nimWidth={W}\nimHeight={H}\nimExt=.png\n"
        )
    write_keyframes_mot(folder / "keyframes.txt")
    (folder / "det").mkdir()
    rows = []
    for f in range(N_FRAMES):
        x, y, w, h = square_xywh(f)
        rows += [
            f"{f + 1},-1,{x},{y},{w},{h},0.95,-1,-1,-1",
            f"{f + 1},-1,130,90,20,20,0.9,-1,-1,-1",
        ]
    (folder / "det" / "det.txt").write_text("\n".join(rows) + "\n")
    return folder


def write_keyframes_mot(path: Path, frames: tuple[int, ...] = (0,)) -> Path:
    """MOT rows ``frame,id,x,y,w,h,conf,class,visibility`` with 1-based frames."""
    rows = [f"{f + 1},1,{','.join(map(str, square_xywh(f)))},1,1,1" for f in frames]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def clips(tmp_path: Path) -> dict[str, Path]:
    """Two good videos with sidecar keyframes, one corrupt video, one malformed keyframes."""
    media = tmp_path / "media"
    media.mkdir()
    good_a = write_video(media / "clip_a.avi", seed=1)
    good_b = write_video(media / "clip_b.avi", seed=2)
    write_keyframes_mot(media / "clip_a.keyframes.txt")
    write_keyframes_mot(media / "clip_b.keyframes.txt", frames=(0, 12))
    corrupt = media / "corrupt.avi"
    corrupt.write_bytes(np.random.default_rng(3).integers(0, 255, 4096, np.uint8).tobytes())
    write_keyframes_mot(media / "corrupt.keyframes.txt")
    return {"dir": media, "a": good_a, "b": good_b, "corrupt": corrupt}


def _plan(paths: list[Path], out: Path, **kw: Any) -> list[BatchJob]:
    jobs, skipped = plan_jobs(expand_inputs(paths), out_dir=out, fmt="txt", **kw)
    assert skipped == []
    return jobs


# ------------------------------------------------------------------------ input expansion


def test_classify_and_expand(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", n_frames=2)
    images = tmp_path / "frames"
    images.mkdir()
    cv2.imwrite(str(images / "0001.png"), np.zeros((8, 8, 3), np.uint8))
    seq = tmp_path / "MOT-01"
    (seq / "img1").mkdir(parents=True)
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    assert [classify(p) for p in (video, images, seq, notes, tmp_path)] == [
        "video",
        "images",
        "mot",
        None,
        None,
    ]
    # The folder is a collection: its inputs in sorted order, the stray text file ignored.
    expanded = expand_inputs([tmp_path])
    assert [(i.name, i.kind) for i in expanded] == [
        ("MOT-01", "mot"),
        ("frames", "images"),
        ("v", "video"),
    ]
    assert all(i.path.is_absolute() for i in expanded)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.avi", "no such file"),  # a glob that matched nothing
        (lambda d: (d / "a.mp3", d.joinpath("a.mp3").write_text("x"))[0], "not a video"),
        (lambda d: (d / "empty", (d / "empty").mkdir())[0], "holds no images"),
    ],
    ids=["missing", "not-media", "empty-folder"],
)
def test_expand_refuses_non_inputs_naming_them(tmp_path: Path, make: Any, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=message) as info:
        expand_inputs([path])
    assert str(path) in str(info.value)


def test_a_glob_over_videos_and_their_sidecars_keeps_the_videos(
    clips: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    everything = sorted(clips["dir"].iterdir())  # what the shell makes of media/*
    items = expand_inputs(everything)
    assert [i.name for i in items] == ["clip_a", "clip_b", "corrupt"]
    assert "ignored 3 annotation files" in caplog.text


def test_same_input_twice_is_tracked_once(clips: dict[str, Path]) -> None:
    items = expand_inputs([clips["a"], clips["a"], clips["dir"] / "." / "clip_a.avi"])
    assert [i.name for i in items] == ["clip_a"]


# ---------------------------------------------------------------------- keyframe lookup


def test_default_sidecar_keyframes_and_output_names(clips: dict[str, Path], tmp_path: Path) -> None:
    jobs = _plan([clips["a"], clips["b"]], tmp_path / "out")
    assert [Path(j.init_path or "").name for j in jobs] == [
        "clip_a.keyframes.txt",
        "clip_b.keyframes.txt",
    ]
    assert [j.out_path for j in jobs] == [
        str(tmp_path / "out" / "clip_a.txt"),
        str(tmp_path / "out" / "clip_b.txt"),
    ]


def test_init_dir_tries_each_keyframe_format(clips: dict[str, Path], tmp_path: Path) -> None:
    kf = tmp_path / "kf"
    kf.mkdir()
    write_keyframes_mot(kf / "clip_a.txt")
    (kf / "clip_b.xml").write_text("<annotations/>")
    jobs = _plan([clips["a"], clips["b"]], tmp_path / "out", init_dir=kf)
    assert [j.init_path for j in jobs] == [str(kf / "clip_a.txt"), str(kf / "clip_b.xml")]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{stem}.kf.txt", "media/clip_a.kf.txt"),  # relative: beside the input
        ("{parent}/../kf/{stem}.txt", "media/../kf/clip_a.txt"),  # {parent} spelled out
        ("{path}.txt", "media/clip_a.avi.txt"),  # {path} is the input itself
    ],
)
def test_resolve_pattern(clips: dict[str, Path], pattern: str, expected: str) -> None:
    item = BatchInput(clips["a"], "video", "clip_a")
    assert resolve_pattern(pattern, item) == clips["dir"].parent / expected


def test_pattern_with_unknown_placeholder_is_refused(clips: dict[str, Path]) -> None:
    item = BatchInput(clips["a"], "video", "clip_a")
    with pytest.raises(ConfigError, match=r"\{stem\}"):
        resolve_pattern("{name}.txt", item)


def test_missing_keyframes_listed_before_anything_runs(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    os.remove(clips["dir"] / "clip_b.keyframes.txt")
    with pytest.raises(ConfigError, match="no keyframes") as info:
        _plan([clips["a"], clips["b"]], tmp_path / "out")
    assert "clip_b.avi" in str(info.value) and "clip_b.keyframes.txt" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_ambiguous_keyframes_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    (clips["dir"] / "clip_a.keyframes.xml").write_text("<annotations/>")
    with pytest.raises(ConfigError, match="ambiguous keyframes for clip_a"):
        _plan([clips["a"]], tmp_path / "out")


def test_detections_are_attached_and_must_exist(clips: dict[str, Path], tmp_path: Path) -> None:
    dets = tmp_path / "dets"
    dets.mkdir()
    write_keyframes_mot(dets / "clip_a.txt")
    (job,) = _plan([clips["a"]], tmp_path / "out", detections_dir=dets)
    assert job.detections_path == str(dets / "clip_a.txt")
    with pytest.raises(ConfigError, match="no detections") as info:
        _plan([clips["a"], clips["b"]], tmp_path / "out", detections_dir=dets)
    assert str(dets / "clip_b.txt") in str(info.value)
    # Detections add to keyframes, they do not replace them (the pipeline tracks from them).
    os.remove(clips["dir"] / "clip_a.keyframes.txt")
    with pytest.raises(ConfigError, match="no keyframes"):
        _plan([clips["a"]], tmp_path / "out", detections_dir=dets)


# ------------------------------------------------------------- naming and collision checks


def test_two_inputs_with_one_name_are_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    twin = write_video(other / "clip_a.mp4", n_frames=2)
    with pytest.raises(ConfigError, match=r"would both write clip_a\.txt") as info:
        _plan([clips["a"], twin], tmp_path / "out")
    assert str(twin) in str(info.value) and str(clips["a"]) in str(info.value)


def test_no_input_may_write_over_the_summary(tmp_path: Path) -> None:
    video = write_video(tmp_path / "batch_summary.avi", n_frames=2)
    write_keyframes_mot(tmp_path / "batch_summary.keyframes.txt")
    inputs = expand_inputs([video])
    assert len(plan_jobs(inputs, out_dir=tmp_path / "out", fmt="txt")[0]) == 1
    with pytest.raises(ConfigError, match=r"the batch's own batch_summary\.json"):
        plan_jobs(inputs, out_dir=tmp_path / "out", fmt="json")


def test_output_never_overwrites_keyframes(clips: dict[str, Path], tmp_path: Path) -> None:
    # Keyframes in DIR/clip_a.txt, output to DIR as txt: the output would be the keyframes.
    kf = tmp_path / "kf"
    kf.mkdir()
    write_keyframes_mot(kf / "clip_a.txt")
    with pytest.raises(ConfigError, match="would overwrite a keyframes file"):
        _plan([clips["a"]], kf, init_dir=kf)


@pytest.mark.parametrize(
    ("existing", "n_run", "n_skipped"),
    [
        ("skip", 1, 1),  # resume: the finished clip is not redone
        ("overwrite", 2, 0),  # redo everything
    ],
)
def test_existing_outputs(
    clips: dict[str, Path], tmp_path: Path, existing: Any, n_run: int, n_skipped: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip_a.txt").write_text("done before\n")
    inputs = expand_inputs([clips["a"], clips["b"]])
    with pytest.raises(ConfigError, match="outputs exist"):
        plan_jobs(inputs, out_dir=out, fmt="txt")
    jobs, skipped = plan_jobs(inputs, out_dir=out, fmt="txt", existing=existing)
    assert (len(jobs), len(skipped)) == (n_run, n_skipped)


# ---------------------------------------------------------- running: the real pipeline


def test_real_batch_survives_a_corrupt_video(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    jobs = _plan([clips["a"], clips["corrupt"], clips["b"]], out)
    seen: list[str] = []
    outcome = run_local(
        jobs, TrackerConfig(), workers=2, on_result=lambda r: seen.append(r.job.name)
    )
    assert sorted(seen) == ["clip_a", "clip_b", "corrupt"]
    by_name = {r.job.name: r for r in outcome.results}
    assert [r.job.name for r in outcome.results] == ["clip_a", "corrupt", "clip_b"]
    bad = by_name["corrupt"]
    assert bad.status == "failed" and bad.error is not None
    assert "corrupt.avi" in bad.error and "\n" not in bad.error
    for name in ("clip_a", "clip_b"):
        good = by_name[name]
        assert good.status == "ok", good.error
        assert good.frames == N_FRAMES and good.objects == 1
        assert good.flagged is not None and good.flagged >= 0
        assert Path(good.job.out_path).is_file()
    assert outcome.n_failed == 1 and not outcome.ok
    assert sorted(p.name for p in out.iterdir()) == ["clip_a.txt", "clip_b.txt"]  # no partials


def test_real_batch_over_image_folders_with_detections(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    write_sequence(root / "SEQ-01", mot=True, seed=4)
    write_sequence(root / "frames_b", mot=False, seed=5)
    (root / "README.txt").write_text("not an input")
    jobs = _plan(
        [root],
        tmp_path / "out",
        init_pattern="{path}/keyframes.txt",
        detections_pattern="{path}/det/det.txt",
    )
    assert [j.name for j in jobs] == ["SEQ-01", "frames_b"]
    outcome = run_local(jobs, TrackerConfig(), workers=2)
    for r in outcome.results:
        assert r.status == "ok", r.error
        # The static patch is detected on every frame and matches no track: a proposal,
        # written as a track of its own beside the keyframed one.
        assert r.summary["proposed"] >= 1
        assert (r.frames, r.objects) == (N_FRAMES, 1 + r.summary["proposed"])
        rows = np.loadtxt(r.job.out_path, delimiter=",", ndmin=2)
        last = rows[(rows[:, 0] == N_FRAMES) & (rows[:, 1] == 1)]
        assert last.shape[0] == 1  # the keyframed square was carried to the last frame
        x, y, w, h = square_xywh(N_FRAMES - 1)
        assert np.allclose(last[0, 2:6], (x, y, w, h), atol=4)


def test_run_one_turns_a_media_error_into_a_result(clips: dict[str, Path], tmp_path: Path) -> None:
    (job,) = _plan([clips["corrupt"]], tmp_path / "out")
    result = run_one(job, TrackerConfig())
    assert result.status == "failed" and str(clips["corrupt"]) in (result.error or "")
    assert not Path(job.partial_path).exists() and not Path(job.out_path).exists()


# ------------------------------------------------ running: failure modes on demand
# These inject job functions to produce failures the real pipeline cannot be made to
# produce reliably. Worker processes unpickle them by module name, so this module must be
# importable under the name pytest gave it, whatever the import mode.


@pytest.fixture(autouse=True)
def _importable_in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[__name__.count(".")]))


def job_raising_for_b(
    media_path: str, init_path: str | None, out_path: str, config: TrackerConfig, **_: Any
) -> dict[str, Any]:
    if "clip_b" in media_path:
        raise MediaError("cannot decode", path=media_path, frame=7)
    Path(out_path).write_text("ok\n")
    return {"frames": 3, "tracks": [1, 2], "flagged": 1}


def job_dying_for_b(
    media_path: str, init_path: str | None, out_path: str, config: TrackerConfig, **_: Any
) -> dict[str, Any]:
    if "clip_b" in media_path:
        os._exit(3)  # what a segfault in a decoder looks like to the pool
    Path(out_path).write_text("ok\n")
    return {"frames": 3}


def job_waiting_for_flag(
    media_path: str, init_path: str | None, out_path: str, config: TrackerConfig, **_: Any
) -> dict[str, Any]:
    Path(out_path).write_text("partial\n")
    flag = Path(out_path).parent / "release"
    for _i in range(600):
        if flag.exists():
            break
        time.sleep(0.05)
    return {"frames": 1}


def job_half_done_then_wait(
    media_path: str,
    init_path: str | None,
    out_path: str,
    config: TrackerConfig,
    *,
    progress: Any = None,
    **_: Any,
) -> dict[str, Any]:
    progress(5, 10)
    release = Path(out_path).parent.parent / "release"  # out_path is in the scratch folder
    for _i in range(600):
        if release.exists():
            break
        time.sleep(0.02)
    Path(out_path).write_text("ok\n")
    return {"frames": 10}


def test_progress_counts_the_tracked_fraction_of_running_inputs(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    jobs = _plan([clips["a"]], out)
    seen: list[float] = []

    def on_progress(inputs_done: float) -> None:
        seen.append(inputs_done)
        if inputs_done == 0.5:
            (out / "release").touch()

    outcome = run_local(
        jobs, TrackerConfig(), workers=1, job_fn=job_half_done_then_wait, on_progress=on_progress
    )
    assert outcome.ok
    assert 0.5 in seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_a_raising_job_fails_alone(clips: dict[str, Path], tmp_path: Path) -> None:
    jobs = _plan([clips["a"], clips["b"]], tmp_path / "out")
    outcome = run_local(jobs, TrackerConfig(), workers=2, job_fn=job_raising_for_b)
    a, b = outcome.results
    assert (a.status, a.frames, a.objects, a.flagged) == ("ok", 3, 2, 1)
    assert b.status == "failed"
    assert b.error == f"{clips['b']} frame 7: cannot decode"


@pytest.mark.parametrize("workers", [1, 2], ids=["alone-in-pool", "with-a-neighbour"])
def test_a_dying_worker_is_blamed_on_its_input_only(
    clips: dict[str, Path], tmp_path: Path, workers: int
) -> None:
    c = write_video(clips["dir"] / "clip_c.avi", n_frames=2)
    write_keyframes_mot(clips["dir"] / "clip_c.keyframes.txt")
    jobs = _plan([clips["a"], clips["b"], c], tmp_path / "out")
    outcome = run_local(jobs, TrackerConfig(), workers=workers, job_fn=job_dying_for_b)
    assert [r.status for r in outcome.results] == ["ok", "failed", "ok"]
    assert "worker process died" in (outcome.results[1].error or "")
    assert not Path(jobs[1].partial_path).exists()


def test_cancel_stops_workers_and_removes_partials(clips: dict[str, Path], tmp_path: Path) -> None:
    jobs = _plan([clips["a"], clips["b"]], tmp_path / "out")
    token = CancelToken()

    def cancel_once_started() -> None:  # the first job is mid-write, the second queued
        while not Path(jobs[0].partial_path).exists():
            time.sleep(0.02)
        token.cancel()

    threading.Thread(target=cancel_once_started, daemon=True).start()
    outcome = run_local(jobs, TrackerConfig(), workers=1, job_fn=job_waiting_for_flag, cancel=token)
    assert outcome.cancelled
    assert [r.status for r in outcome.results] == ["cancelled", "cancelled"]
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.slow
def test_dask_cancel_is_seen_while_a_job_runs(clips: dict[str, Path], tmp_path: Path) -> None:
    """``cancel`` used to be read only as results arrived: a Ctrl+C during a long job
    waited for it. Now it is polled, so the run ends while the job still runs."""
    distributed = pytest.importorskip("distributed")
    jobs = _plan([clips["a"]], tmp_path / "out")
    token = CancelToken()

    def cancel_once_started() -> None:
        while not Path(jobs[0].partial_path).exists():
            time.sleep(0.02)
        token.cancel()

    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        threading.Thread(target=cancel_once_started, daemon=True).start()
        t0 = time.monotonic()
        outcome = run_dask(
            jobs,
            TrackerConfig(),
            scheduler=cluster.scheduler_address,
            job_fn=job_waiting_for_flag,  # waits 30 s for a flag nobody sets
            cancel=token,
        )
        waited = time.monotonic() - t0
    assert outcome.cancelled and [r.status for r in outcome.results] == ["cancelled"]
    assert waited < 20, f"the cancel waited {waited:.1f} s for the running job"


def test_summary_json(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    jobs = _plan([clips["a"], clips["b"]], out)
    config = TrackerConfig(flag_threshold=0.7)
    outcome = run_local(jobs, config, workers=1, job_fn=job_raising_for_b)
    path = write_summary(outcome, out / SUMMARY_NAME, config=config)
    doc = json.loads(path.read_text())
    assert doc["counts"] == {"ok": 1, "failed": 1, "cancelled": 0, "skipped": 0}
    assert doc["config"]["flag_threshold"] == 0.7
    assert [(j["name"], j["status"]) for j in doc["jobs"]] == [
        ("clip_a", "ok"),
        ("clip_b", "failed"),
    ]
    assert doc["jobs"][0]["output"] == str(out / "clip_a.txt")
    assert doc["jobs"][1]["output"] is None and "cannot decode" in doc["jobs"][1]["error"]


@pytest.mark.parametrize(
    ("fmt", "partial_name", "in_scratch"),
    [
        ("txt", "clip.txt", True),  # side files (seqinfo.ini) stay in the scratch folder
        ("xml", "clip.xml", True),
        ("taproj", ".clip.incomplete.taproj", False),  # its media relpath must stay valid
    ],
)
def test_partial_outputs_and_their_cleanup(
    tmp_path: Path, fmt: str, partial_name: str, in_scratch: bool
) -> None:
    job = BatchJob("clip", str(tmp_path / "clip.avi"), None, str(tmp_path / f"clip.{fmt}"))
    partial = Path(job.partial_path)
    assert partial.name == partial_name
    assert (partial.parent == job.scratch_dir) is in_scratch
    assert (partial.parent.parent if in_scratch else partial.parent) == tmp_path
    partial.parent.mkdir(exist_ok=True)
    partial.write_text("half")
    Path(f"{partial}-wal").write_text("wal")
    if in_scratch:
        (partial.parent / "seqinfo.ini").write_text("[Sequence]\n")
    (tmp_path / "clip.avi").write_text("the input")
    job.discard_partial()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi"]

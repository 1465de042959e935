"""The video length scan, kept on disk between runs.

A video's scan (its decodable length, the signatures of its seek checkpoints and its
keyframes: :mod:`.video`) decodes the whole file once: about three minutes for an hour of
1080p. Without a copy on disk every new process paid it again, and a project reopened at
the frame it was left on waited for it before showing anything (the seek needs the
checkpoints). The scan depends only on the file's bytes and the checkpoint spacing, so it
is stored under a key made of the file's absolute path, size, modification time and that
spacing: a file changed in any way misses and is scanned again.

Files go to ``$TRACKER_ANNOTATE_CACHE`` or, by default, ``$XDG_CACHE_HOME/tracker_annotate
/scans`` (``~/.cache/...``), written under a temporary name and renamed into place. A cache
that cannot be read, is damaged or cannot be written is ignored (logged at debug level):
it only ever saves time, and the scan it would have saved is run instead.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the scan's meaning changes (signature function, checkpoint rule).
FORMAT = 1
SIGNATURE_BYTES = 16


def cache_dir() -> Path:
    env = os.environ.get("TRACKER_ANNOTATE_CACHE")
    if env:
        return Path(env) / "scans"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tracker_annotate" / "scans"


def _name(key: tuple[Any, ...]) -> str:
    text = "\x1f".join(str(k) for k in (FORMAT, *key))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest() + ".npz"


def load(
    key: tuple[Any, ...],
) -> tuple[int, dict[int, bytes], tuple[int, ...] | None] | None:
    """``(n_frames, checkpoints, keyframes)`` stored for ``key``, or ``None``."""
    path = cache_dir() / _name(key)
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != repr(key):
                return None  # a hash collision or a foreign file: never trust it
            n = int(z["n_frames"])
            idx = np.asarray(z["checkpoint_index"], dtype=np.int64)
            sig = np.asarray(z["checkpoint_signature"], dtype=np.uint8)
            keys = np.asarray(z["keyframes"], dtype=np.int64)
            has_keys = bool(z["has_keyframes"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # damaged, truncated, an older layout: scan again
        log.debug("video scan cache %s unreadable (%s); scanning again", path, exc)
        return None
    if sig.shape != (idx.shape[0], SIGNATURE_BYTES) or n < 0 or (idx.size and idx.max() >= n):
        log.debug("video scan cache %s is inconsistent; scanning again", path)
        return None
    checkpoints = {int(i): bytes(s) for i, s in zip(idx, sig, strict=True)}
    return n, checkpoints, (tuple(int(k) for k in keys) if has_keys else None)


def save(
    key: tuple[Any, ...],
    n_frames: int,
    checkpoints: dict[int, bytes],
    keyframes: tuple[int, ...] | None,
) -> None:
    folder = cache_dir()
    order = sorted(checkpoints)
    sig = np.frombuffer(b"".join(checkpoints[i] for i in order), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(
        buf,
        key=np.array(repr(key)),
        n_frames=np.array(n_frames, dtype=np.int64),
        checkpoint_index=np.array(order, dtype=np.int64),
        checkpoint_signature=sig.reshape(len(order), SIGNATURE_BYTES),
        keyframes=np.array(keyframes or (), dtype=np.int64),
        has_keyframes=np.array(keyframes is not None),
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".scan-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
            os.replace(tmp, folder / _name(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("video scan cache not written to %s (%s)", folder, exc)

"""The recovery path of a project file: an integrity check and a rolling backup.

A project is checked with ``PRAGMA quick_check`` when it opens; a damaged one (truncated by
a copy, a bad sector, garbage bytes in a row) is refused with
:class:`~tracker_annotate.core.errors.ProjectDamagedError`, which says so plainly and names
the backup, if there is one, and how old it is.

The backup is ``<name>.taproj.bak`` beside the project, written with SQLite's online backup
API (a consistent copy of a live database, WAL included, without closing it). The app's
store refreshes it every :data:`BACKUP_EVERY_S` seconds of editing and on close. A new
backup is written under a temporary name and checked before it replaces the old one, so a
project damaged while open never overwrites the last good backup. :func:`restore_backup`
puts the backup in place and keeps the damaged file as ``<name>.taproj.damaged``: nothing
is deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

from tracker_annotate.core.errors import ProjectDamagedError, ProjectError

log = logging.getLogger(__name__)

#: Seconds of editing between two refreshes of the backup. A refresh copies the whole file
#: (a million boxes: ~60 MB, a few tenths of a second), so it is not done per edit; at
#: most this much work is lost if the file is then damaged.
BACKUP_EVERY_S = 180.0
BACKUP_SUFFIX = ".bak"
DAMAGED_SUFFIX = ".damaged"


def backup_path(project_path: str | os.PathLike[str]) -> Path:
    """``clip.taproj`` -> ``clip.taproj.bak`` (beside it)."""
    p = Path(project_path)
    return p.with_name(p.name + BACKUP_SUFFIX)


def quick_check(con: sqlite3.Connection) -> str | None:
    """``None`` when ``PRAGMA quick_check`` finds the file sound, else what it found
    (first three problems). A file too damaged to run the check is a problem too."""
    try:
        rows = [str(r[0]) for r in con.execute("PRAGMA quick_check").fetchall()]
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        return str(exc)
    return None if rows == ["ok"] else "; ".join(rows[:3])


def age_text(path: Path, now: float | None = None) -> str:
    """How old a file is, for a person: ``"4 minutes ago (2026-12-01 19:40)"``."""
    mtime = path.stat().st_mtime
    secs = max(0.0, (time.time() if now is None else now) - mtime)
    if secs < 90:
        ago = f"{secs:.0f} seconds ago"
    elif secs < 90 * 60:
        ago = f"{secs / 60:.0f} minutes ago"
    elif secs < 48 * 3600:
        ago = f"{secs / 3600:.0f} hours ago"
    else:
        ago = f"{secs / 86400:.0f} days ago"
    return f"{ago} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(mtime))})"


def write_backup(con: sqlite3.Connection, project_path: Path) -> Path | None:
    """Copy the open database ``con`` to the project's backup. Returns the backup's path,
    or ``None`` (logged, never raised: a backup must not break an edit) when it could not
    be written or the copy fails its check."""
    dest = backup_path(project_path)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        dst = sqlite3.connect(tmp)
        try:
            con.backup(dst)
            problem = quick_check(dst)
        finally:
            dst.close()
        if problem is not None:
            log.warning("%s: not refreshing the backup, the copy is damaged: %s", dest, problem)
            return None
        os.replace(tmp, dest)
    except (sqlite3.Error, OSError) as exc:
        log.warning("%s: could not refresh the backup: %s", dest, exc)
        return None
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("backed up %s to %s", project_path, dest)
    return dest


def usable_backup(project_path: str | os.PathLike[str]) -> Path | None:
    """The project's backup, if it exists and passes its own check."""
    bak = backup_path(project_path)
    if not bak.is_file():
        return None
    try:
        con = sqlite3.connect(f"{bak.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        return bak if quick_check(con) is None else None
    finally:
        con.close()


def damaged(project_path: Path, detail: str) -> ProjectDamagedError:
    """The error for a damaged project: says so, and offers the backup when there is one."""
    bak = usable_backup(project_path)
    msg = f"{project_path}: the project file is damaged ({detail})."
    if bak is not None:
        msg += (
            f" A backup from {age_text(bak)} is at {bak}: opening the project in "
            f"tracker-annotate offers to restore it (or copy it over {project_path.name})."
        )
    else:
        msg += " There is no backup of it; restore the file from your own copy if you have one."
    return ProjectDamagedError(msg, path=str(project_path), backup_path=str(bak) if bak else None)


def restore_backup(project_path: str | os.PathLike[str]) -> Path:
    """Replace a damaged project with its backup. The damaged file (and its ``-wal``) is
    kept as ``<name>.damaged`` beside it; returns that path. Raises
    :class:`ProjectError` when there is no usable backup."""
    path = Path(project_path)
    bak = usable_backup(path)
    if bak is None:
        raise ProjectError(f"{path}: there is no usable backup ({backup_path(path)})")
    kept = path.with_name(path.name + DAMAGED_SUFFIX)
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{n}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.restore")
    try:
        shutil.copyfile(bak, tmp)
        if path.exists():
            os.replace(path, kept)
        for side in ("-wal", "-shm", "-journal"):  # they belong to the damaged file
            extra = path.with_name(path.name + side)
            if extra.exists():
                os.replace(extra, kept.with_name(kept.name + side))
        os.replace(tmp, path)
    except OSError as exc:
        raise ProjectError(f"{path}: could not restore the backup {bak}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    log.info("restored %s from %s; the damaged file is kept as %s", path, bak, kept)
    return kept

"""File dialogs and the flows behind them: open, import, export.

Each flow asks its questions with standard dialogs, calls the io layer and reports
failures in the window (what went wrong, what to do next). Opening never loses work: the
previous project's edits are already on disk when it is closed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tracker_annotate.core.commands import import_tracks
from tracker_annotate.core.errors import ProjectDamagedError, TrackerAnnotateError
from tracker_annotate.gui import errors, preferences
from tracker_annotate.gui.document import SUFFIX, open_document
from tracker_annotate.io.media import VIDEO_EXTS, MediaConfig

if TYPE_CHECKING:
    from tracker_annotate.gui.main_window import MainWindow

log = logging.getLogger(__name__)

MEDIA_FILTER = (
    f"Video or project (*{' *'.join(sorted(VIDEO_EXTS))} *{SUFFIX});;"
    f"Projects (*{SUFFIX});;All files (*)"
)


def open_dialog(win: MainWindow) -> None:
    """File > Open: a video or project file; a folder via the dialog's second button."""
    start = str(win.doc.path.parent) if win.doc else str(Path.home())
    box = QMessageBox(win)
    box.setWindowTitle("Open")
    box.setText("Open a video or project file, or a folder of images / a MOT sequence?")
    file_btn = box.addButton("File…", QMessageBox.ButtonRole.AcceptRole)
    dir_btn = box.addButton("Folder…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is file_btn:
        path, _ = QFileDialog.getOpenFileName(win, "Open video or project", start, MEDIA_FILTER)
    elif box.clickedButton() is dir_btn:
        path = QFileDialog.getExistingDirectory(win, "Open image folder or MOT sequence", start)
    else:
        return
    if path:
        open_path(win, path)


def _choose_project_path(win: MainWindow, suggested: Path) -> Path | None:
    QMessageBox.information(
        win,
        "Where to keep the project?",
        "The media's folder is read-only, so the project file cannot go beside it.\n"
        "Choose where to save it.",
    )
    path, _ = QFileDialog.getSaveFileName(
        win, "Save project as", str(suggested), f"Projects (*{SUFFIX})"
    )
    return Path(path) if path else None


def _choose_media(win: MainWindow, expected: str, message: str) -> str | None:
    answer = QMessageBox.question(
        win,
        "Media moved",
        f"{message}\n\nLocate the media now?",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    start = str(Path(expected).parent) if Path(expected).parent.is_dir() else str(Path.home())
    if Path(expected).suffix.lower() in VIDEO_EXTS:
        path, _ = QFileDialog.getOpenFileName(win, f"Locate {Path(expected).name}", start)
    else:
        path = QFileDialog.getExistingDirectory(win, f"Locate {Path(expected).name}", start)
    return path or None


def _offer_restore(win: MainWindow, exc: ProjectDamagedError) -> bool:
    """Ask whether to replace a damaged project with its backup; restore it if so.
    Returns whether it was restored."""
    from tracker_annotate.io import store_backup

    if exc.backup_path is None:
        return False
    bak = Path(exc.backup_path)
    answer = QMessageBox.question(
        win,
        "The project file is damaged",
        f"{exc.path} is damaged and cannot be opened.\n\n"
        f"A backup from {store_backup.age_text(bak)} exists. Restore the project from it?\n"
        f"Edits made after the backup are not in it. The damaged file is kept beside it "
        f"(as {Path(exc.path).name}{store_backup.DAMAGED_SUFFIX}), nothing is deleted.",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return False
    try:
        kept = store_backup.restore_backup(exc.path)
    except TrackerAnnotateError as err:
        errors.show_error(win, "Could not restore the backup", err)
        return False
    log.info("restored %s from its backup; damaged file kept as %s", exc.path, kept)
    return True


def open_path(win: MainWindow, path: str, *, _restored: bool = False) -> bool:
    """Open media or a project in ``win``; errors are shown. Returns whether it opened.
    A damaged project with a backup gets the offer to restore it."""
    win.close_document()
    app = QApplication.instance()
    if app is not None:
        QApplication.setOverrideCursor(win.cursor())
    try:
        doc = open_document(
            path,
            media_config=MediaConfig(cache_bytes=win.prefs.cache_bytes),
            choose_project_path=lambda s: _choose_project_path(win, s),
            choose_media=lambda e, m: _choose_media(win, e, m),
        )
    except ProjectDamagedError as exc:
        if app is not None:
            QApplication.restoreOverrideCursor()
            app = None
        if not _restored and _offer_restore(win, exc):
            return open_path(win, path, _restored=True)
        errors.show_error(win, f"Cannot open {Path(path).name}", exc)
        return False
    except (TrackerAnnotateError, OSError) as exc:
        errors.show_error(win, f"Cannot open {Path(path).name}", exc)
        return False
    finally:
        if app is not None:
            QApplication.restoreOverrideCursor()
    if doc is None:
        return False
    preferences.add_recent(str(Path(path).resolve()))
    win.set_document(doc)
    win.statusBar().showMessage(f"Opened {doc.path} (every edit is saved as you go)", 8000)  # type: ignore[union-attr]
    return True


def _filters(*, reading: bool) -> list[tuple[str, str, str]]:
    """``(format, extension, dialog filter)`` for each format (readable ones when reading)."""
    from tracker_annotate.io.formats import FORMATS

    out = []
    for name, (_module, can_read, ext) in FORMATS.items():
        if reading and not can_read:
            continue
        pattern = f"*{ext}" if ext else "*"
        kind = "folder" if not ext else "file"
        out.append((name, ext, f"{name.upper()} {kind} ({pattern})"))
    return out


def import_annotations(win: MainWindow) -> None:
    if win.doc is None:
        return
    filters = _filters(reading=True)
    path, chosen = QFileDialog.getOpenFileName(
        win,
        "Import annotations (added as new tracks)",
        str(win.doc.path.parent),
        ";;".join(f for _, _, f in filters) + ";;All files (*)",
    )
    if not path:
        return
    fmt = next((n for n, _, f in filters if f == chosen), None)
    try:
        from tracker_annotate.io.formats import read_annotations, require_boxes

        imported = read_annotations(path, fmt, media=win.doc.project.media)
        require_boxes(imported, path)
        ids = import_tracks(win.doc.project, imported, f"Import {Path(path).name}")
    except (TrackerAnnotateError, OSError) as exc:
        errors.show_error(win, "Import failed; nothing was changed", exc)
        return
    win.statusBar().showMessage(f"Imported {len(ids)} tracks from {path}", 8000)  # type: ignore[union-attr]


def import_detections(win: MainWindow) -> None:
    """Detections (MOT det.txt or COCO results) become proposed tracks via the engine."""
    if win.doc is None:
        return
    path, _ = QFileDialog.getOpenFileName(
        win, "Import detections", str(win.doc.path.parent), "Detections (*.txt *.json)"
    )
    if path:
        win.controller.import_detections(path)


def export(win: MainWindow) -> None:
    if win.doc is None:
        return
    filters = _filters(reading=False)
    path, chosen = QFileDialog.getSaveFileName(
        win,
        "Export annotations",
        str(win.doc.path.with_suffix("")),
        ";;".join(f for _, _, f in filters),
    )
    if not path:
        return
    fmt, ext = next(((n, e) for n, e, f in filters if f == chosen), (None, ""))
    if ext and not path.lower().endswith(ext):
        path += ext
    try:
        from tracker_annotate.io.formats import write_annotations

        write_annotations(win.doc.project, path, format=fmt)
    except (TrackerAnnotateError, OSError) as exc:
        errors.show_error(win, "Export failed", exc)
        return
    from tracker_annotate.core.quality_report import export_warnings

    warnings = export_warnings(win.doc.project)
    done = f"Exported {fmt or 'annotations'} to {path} (with its quality figures)"
    win.statusBar().showMessage(done, 8000)  # type: ignore[union-attr]
    if warnings:
        errors.show_error(
            win,
            "Exported with warnings",
            done + ", but:\n\n" + "\n".join(f"\u2022 {w}" for w in warnings),
        )

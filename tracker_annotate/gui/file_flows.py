"""File dialogs and the flows behind them: open, import, export.

Each flow asks its questions with standard dialogs, calls the io layer and reports
failures in the window (what went wrong, what to do next). Opening never loses work: the
previous project's edits are already on disk when it is closed.

A flow takes only what it needs, never the main window: the ``parent`` widget its dialogs
belong to, the open document, and callables for the rest (``status`` shows a line in the
status bar, ``close_current``/``install`` swap the document the window shows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from tracker_annotate.app.document import SUFFIX
from tracker_annotate.core.commands import import_tracks
from tracker_annotate.core.errors import ProjectDamagedError, TrackerAnnotateError
from tracker_annotate.gui import errors, preferences
from tracker_annotate.gui.document import open_document
from tracker_annotate.io.media import VIDEO_EXTS, MediaConfig

if TYPE_CHECKING:
    from tracker_annotate.app.document import Document

log = logging.getLogger(__name__)

MEDIA_FILTER = (
    f"Video or project (*{' *'.join(sorted(VIDEO_EXTS))} *{SUFFIX});;"
    f"Projects (*{SUFFIX});;All files (*)"
)


def open_dialog(
    parent: QWidget, current: Document | None, open_path: Callable[[str], object]
) -> None:
    """File > Open: a video or project file; a folder via the dialog's second button.
    The dialogs start in ``current``'s folder; the chosen path goes to ``open_path``."""
    start = str(current.path.parent) if current else str(Path.home())
    box = QMessageBox(parent)
    box.setWindowTitle("Open")
    box.setText("Open a video or project file, or a folder of images / a MOT sequence?")
    file_btn = box.addButton("File…", QMessageBox.ButtonRole.AcceptRole)
    dir_btn = box.addButton("Folder…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is file_btn:
        path, _ = QFileDialog.getOpenFileName(parent, "Open video or project", start, MEDIA_FILTER)
    elif box.clickedButton() is dir_btn:
        path = QFileDialog.getExistingDirectory(parent, "Open image folder or MOT sequence", start)
    else:
        return
    if path:
        open_path(path)


def _choose_project_path(parent: QWidget, suggested: Path) -> Path | None:
    QMessageBox.information(
        parent,
        "Where to keep the project?",
        "The media's folder is read-only, so the project file cannot go beside it.\n"
        "Choose where to save it.",
    )
    path, _ = QFileDialog.getSaveFileName(
        parent, "Save project as", str(suggested), f"Projects (*{SUFFIX})"
    )
    return Path(path) if path else None


def _choose_media(parent: QWidget, expected: str, message: str) -> str | None:
    answer = QMessageBox.question(
        parent,
        "Media moved",
        f"{message}\n\nLocate the media now?",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    start = str(Path(expected).parent) if Path(expected).parent.is_dir() else str(Path.home())
    if Path(expected).suffix.lower() in VIDEO_EXTS:
        path, _ = QFileDialog.getOpenFileName(parent, f"Locate {Path(expected).name}", start)
    else:
        path = QFileDialog.getExistingDirectory(parent, f"Locate {Path(expected).name}", start)
    return path or None


def _offer_restore(parent: QWidget, exc: ProjectDamagedError) -> bool:
    """Ask whether to replace a damaged project with its backup; restore it if so.
    Returns whether it was restored."""
    from tracker_annotate.io import store_backup

    if exc.backup_path is None:
        return False
    bak = Path(exc.backup_path)
    answer = QMessageBox.question(
        parent,
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
        errors.show_error(parent, "Could not restore the backup", err)
        return False
    log.info("restored %s from its backup; damaged file kept as %s", exc.path, kept)
    return True


def open_path(
    parent: QWidget,
    path: str,
    *,
    media_config: MediaConfig,
    close_current: Callable[[], None],
    install: Callable[[Document], None],
    status: Callable[[str], None],
    _restored: bool = False,
) -> bool:
    """Open media or a project; errors are shown over ``parent``. Returns whether it opened.

    ``close_current`` runs first (the old project's store is closed before a new one
    opens, maybe on the same file); the opened document goes to ``install``. A damaged
    project with a backup gets the offer to restore it.
    """
    close_current()
    app = QApplication.instance()
    if app is not None:
        QApplication.setOverrideCursor(parent.cursor())
    try:
        doc = open_document(
            path,
            media_config=media_config,
            choose_project_path=lambda s: _choose_project_path(parent, s),
            choose_media=lambda e, m: _choose_media(parent, e, m),
        )
    except ProjectDamagedError as exc:
        if app is not None:
            QApplication.restoreOverrideCursor()
            app = None
        if not _restored and _offer_restore(parent, exc):
            return open_path(
                parent,
                path,
                media_config=media_config,
                close_current=close_current,
                install=install,
                status=status,
                _restored=True,
            )
        errors.show_error(parent, f"Cannot open {Path(path).name}", exc)
        return False
    except (TrackerAnnotateError, OSError) as exc:
        errors.show_error(parent, f"Cannot open {Path(path).name}", exc)
        return False
    finally:
        if app is not None:
            QApplication.restoreOverrideCursor()
    if doc is None:
        return False
    preferences.add_recent(str(Path(path).resolve()))
    install(doc)
    note = (
        f"; frame {doc.pending_frame}, where you left off, shows once the video is indexed "
        "for exact seeking (in the background, once per video file)"
        if doc.pending_frame is not None
        else ""
    )
    status(f"Opened {doc.path} (every edit is saved as you go){note}")
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


def import_annotations(
    parent: QWidget, doc: Document | None, status: Callable[[str], None]
) -> None:
    """File > Import annotations: a file's tracks join ``doc``'s project as one step."""
    if doc is None:
        return
    filters = _filters(reading=True)
    path, chosen = QFileDialog.getOpenFileName(
        parent,
        "Import annotations (added as new tracks)",
        str(doc.path.parent),
        ";;".join(f for _, _, f in filters) + ";;All files (*)",
    )
    if not path:
        return
    fmt = next((n for n, _, f in filters if f == chosen), None)
    try:
        from tracker_annotate.io.formats import read_annotations, require_boxes

        imported = read_annotations(path, fmt, media=doc.project.media)
        require_boxes(imported, path)
        ids = import_tracks(doc.project, imported, f"Import {Path(path).name}")
    except (TrackerAnnotateError, OSError) as exc:
        errors.show_error(parent, "Import failed; nothing was changed", exc)
        return
    status(f"Imported {len(ids)} tracks from {path}")


def import_detections(
    parent: QWidget, doc: Document | None, import_detections: Callable[[str], object]
) -> None:
    """Detections (MOT det.txt or COCO results) become proposed tracks via the engine:
    the chosen file goes to ``import_detections`` (the controller's)."""
    if doc is None:
        return
    path, _ = QFileDialog.getOpenFileName(
        parent, "Import detections", str(doc.path.parent), "Detections (*.txt *.json)"
    )
    if path:
        import_detections(path)


def export(parent: QWidget, doc: Document | None, status: Callable[[str], None]) -> None:
    """File > Export: ``doc``'s project in a chosen format; warnings are shown after."""
    if doc is None:
        return
    filters = _filters(reading=False)
    path, chosen = QFileDialog.getSaveFileName(
        parent,
        "Export annotations",
        str(doc.path.with_suffix("")),
        ";;".join(f for _, _, f in filters),
    )
    if not path:
        return
    fmt, ext = next(((n, e) for n, e, f in filters if f == chosen), (None, ""))
    if ext and not path.lower().endswith(ext):
        path += ext
    try:
        from tracker_annotate.io.formats import write_annotations

        write_annotations(doc.project, path, format=fmt)
    except (TrackerAnnotateError, OSError) as exc:
        errors.show_error(parent, "Export failed", exc)
        return
    from tracker_annotate.core.quality_report import export_warnings

    warnings = export_warnings(doc.project)
    done = f"Exported {fmt or 'annotations'} to {path} (with its quality figures)"
    status(done)
    if warnings:
        errors.show_error(
            parent,
            "Exported with warnings",
            done + ", but:\n\n" + "\n".join(f"\u2022 {w}" for w in warnings),
        )

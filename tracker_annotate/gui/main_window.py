"""The main window: composes the canvas, timeline and panels, menus and status bar.

It holds no annotation logic: gestures go to the :class:`Controller`, navigation to the
:class:`~tracker_annotate.core.session.Session`, files to :mod:`.file_flows`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QByteArray, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QInputDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
)

from tracker_annotate.app.document import Document
from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.core.project import ChangeSet
from tracker_annotate.gui import errors, file_flows, preferences
from tracker_annotate.gui.actions import SPECS, build_actions
from tracker_annotate.gui.bind import Binding
from tracker_annotate.gui.canvas import Canvas
from tracker_annotate.gui.controller import Controller
from tracker_annotate.gui.labels_panel import LabelCombo, LabelsPanel
from tracker_annotate.gui.message_log import MessageLog, MessagesDialog
from tracker_annotate.gui.review_panel import ReviewPanel
from tracker_annotate.gui.shortcuts_dialog import ShortcutsDialog
from tracker_annotate.gui.timeline import Timeline
from tracker_annotate.gui.tracks_panel import TracksPanel
from tracker_annotate.gui.typing_guard import TypingGuard
from tracker_annotate.gui.work_record import WorkRecordHook
from tracker_annotate.io.media import MediaConfig

log = logging.getLogger(__name__)
APP_TITLE = "tracker-annotate"


class MainWindow(QMainWindow):
    def __init__(self, prefs: preferences.Preferences | None = None) -> None:
        super().__init__()
        self.prefs = prefs if prefs is not None else preferences.load()
        self.doc: Document | None = None
        self._binding = Binding()
        self.controller = Controller(self.prefs, self)
        self.canvas = Canvas(self)
        self.timeline = Timeline(self)
        self.review = ReviewPanel(self)
        self.tracks = TracksPanel(self)
        self.labels = LabelsPanel(self)
        self.label_combo = LabelCombo(self)
        self.actions_by_name = build_actions(self)
        self.work = WorkRecordHook(self.controller, self.actions_by_name.values(), self)
        self.play_timer = QTimer(self)
        self._typing_guard = TypingGuard(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._typing_guard)
        self._compose()
        self._connect()
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self._update_title()
        self._update_enabled()

    # -- composition -----------------------------------------------------------------------
    def _compose(self) -> None:
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.canvas)
        split.addWidget(self.timeline)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setCollapsible(0, False)
        split.setSizes([760, 140])
        self.setCentralWidget(split)
        docks = []
        for title, widget in (
            ("Review", self.review),
            ("Tracks", self.tracks),
            ("Labels", self.labels),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            docks.append(dock)
        self.tabifyDockWidget(docks[1], docks[2])
        docks[1].raise_()
        self.resizeDocks([docks[0], docks[1]], [600, 300], Qt.Orientation.Vertical)
        self.resizeDocks([docks[0]], [430], Qt.Orientation.Horizontal)
        a = self.actions_by_name
        menus: dict[str, object] = {}
        bar = self.menuBar()
        assert bar is not None
        for spec in SPECS:
            if spec.menu not in menus:
                menus[spec.menu] = bar.addMenu(f"&{spec.menu}")
            menu = menus[spec.menu]
            menu.addAction(a[spec.name])  # type: ignore[attr-defined]
            if spec.name == "open":
                self.recent_menu = menu.addMenu("Open &recent")  # type: ignore[attr-defined]
        view_menu = menus["View"]
        for dock in docks:
            view_menu.addAction(dock.toggleViewAction())  # type: ignore[attr-defined]
        for i in range(9):  # number keys pick a label
            act = QAction(f"Label {i + 1}", self)
            act.setShortcut(QKeySequence(str(i + 1)))
            act.triggered.connect(lambda _c=False, i=i: self.label_combo.pick(i))
            self.addAction(act)
        tb = self.addToolBar("Main")
        assert tb is not None
        tb.setObjectName("toolbar_main")
        for name in ("open", "undo", "redo", "track_all", "track_selected", "cancel_tracking"):
            tb.addAction(a[name])
        tb.addSeparator()
        tb.addWidget(QLabel(" Label: "))
        tb.addWidget(self.label_combo)
        tb.addSeparator()
        for name in ("prev_flag", "next_flag", "accept"):
            tb.addAction(a[name])
        self.review.add_action_buttons(
            [a["accept"], a["accept_stretch"], a["delete_box"], a["mark_outside"]]
        )
        self.review.set_swap_action(a["swap_identities"])
        self.review.add_quality_buttons([a["apply_target"], a["start_audit"], a["audit_next"]])
        sb = self.statusBar()
        assert sb is not None
        # every message the bar shows, kept: Help > Recent messages shows them again
        self.messages = MessageLog()
        sb.messageChanged.connect(self.messages.add)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.controller.cancel_tracking)
        self.frame_label, self.time_label, self.zoom_label = QLabel(), QLabel(), QLabel()
        self.rate_label = QLabel()
        for w in (self.rate_label, self.progress, self.cancel_button):
            sb.addPermanentWidget(w)
            w.hide()
        for w in (self.frame_label, self.time_label, self.zoom_label):
            sb.addPermanentWidget(w)
        a["auto_retrack"].setChecked(self.prefs.auto_retrack)
        self._refresh_recent()

    def _connect(self) -> None:
        a, c = self.actions_by_name, self.controller
        s = lambda: self.doc.session if self.doc else None  # noqa: E731
        handlers = {
            "open": lambda: file_flows.open_dialog(self, self.doc, self.open_path),
            "import_annotations": lambda: file_flows.import_annotations(
                self, self.doc, self._status
            ),
            "import_detections": lambda: file_flows.import_detections(
                self, self.doc, c.import_detections
            ),
            "export": lambda: file_flows.export(self, self.doc, self._status),
            "preferences": self.edit_preferences,
            "quit": self.close,
            "undo": c.undo,
            "redo": c.redo,
            "delete_box": c.delete_selected_box,
            "mark_outside": c.mark_outside,
            "copy_next": c.copy_to_next,
            "accept": c.accept_selected,
            "accept_stretch": c.accept_stretch,
            "swap_identities": lambda: c.swap_identities(self.tracks.selected_tracks()),
            "zoom_fit": self.canvas.fit,
            "zoom_in": lambda: self.canvas.set_zoom(self.canvas.zoom * 1.25),
            "zoom_out": lambda: self.canvas.set_zoom(self.canvas.zoom / 1.25),
            "next_frame": lambda: s() and s().step(1),  # type: ignore[union-attr]
            "prev_frame": lambda: s() and s().step(-1),  # type: ignore[union-attr]
            "next_10": lambda: s() and s().step(10),  # type: ignore[union-attr]
            "prev_10": lambda: s() and s().step(-10),  # type: ignore[union-attr]
            "play": self.toggle_play,
            "goto": self.go_to_frame,
            "next_key": lambda: s() and s().next_keyframe(),  # type: ignore[union-attr]
            "prev_key": lambda: s() and s().next_keyframe(backward=True),  # type: ignore[union-attr]
            "next_flag": lambda: self._flag(backward=False),
            "prev_flag": lambda: self._flag(backward=True),
            "next_track": c.select_next_on_frame,
            "suggest_keyframe": c.audit.go_to_suggested,
            "apply_target": c.audit.apply_target,
            "start_audit": c.audit.start_audit,
            "audit_next": c.audit.next_step,
            "track_all": lambda: c.track(selected_only=False),
            "track_selected": lambda: c.track(selected_only=True),
            "cancel_tracking": c.cancel_tracking,
            "detect": c.detect.detect_here,
            "auto_retrack": self._toggle_auto_retrack,
            "shortcuts": lambda: ShortcutsDialog(self).exec(),
            "messages": lambda: MessagesDialog(self.messages, self).exec(),
        }
        for name, fn in handlers.items():
            a[name].triggered.connect(lambda _checked=False, fn=fn: fn())
        self.canvas.box_drawn.connect(self._on_box_drawn)
        self.canvas.box_edited.connect(c.edit_box)
        self.canvas.play_toggle_requested.connect(self.toggle_play)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"Zoom {z * 100:.0f}%"))
        self.canvas.frame_error.connect(lambda m: self._status(f"Cannot show frame: {m}"))
        c.status.connect(self._status)
        c.error.connect(lambda exc: errors.show_error(self, "Tracker annotate", exc))
        c.busy_changed.connect(self._on_busy)
        c.progress.connect(self._on_progress)
        c.preview_changed.connect(self.canvas.set_preview)
        c.current_label = lambda: self.label_combo.currentText() or None
        self.review.auto_advance.toggled.connect(lambda on: setattr(c, "advance_after_review", on))
        self.review.target_changed.connect(c.audit.set_target)
        for panel in (self.tracks, self.labels):
            panel.error.connect(lambda exc: errors.show_error(self, "Tracker annotate", exc))
        self.tracks.status.connect(self._status)
        self.label_combo.error = lambda exc: errors.show_error(self, "Tracker annotate", exc)
        self.play_timer.timeout.connect(self._tick)

    # -- documents -------------------------------------------------------------------------
    def set_document(self, doc: Document | None) -> None:
        """Show ``doc`` (closing the current one, whose edits are already saved)."""
        self.close_document()
        self.doc = doc
        self.controller.doc = doc
        if doc is None:
            self._update_title()
            self._update_enabled()
            return
        p, s = doc.project, doc.session
        self.canvas.bind(p, s, doc.read)
        self.timeline.bind(p, s)
        self.review.bind(p, s)
        self.tracks.bind(p, s)
        self.labels.bind(p)
        self.label_combo.bind(p, s)
        self._binding.rebind(
            (p, {"changed": self._on_project_changed}),
            (p.history, {"changed": self._on_history}),
            (
                s,
                {
                    "frame_changed": self._on_frame,
                    # the background length scan corrects a lying header: show it at once,
                    # not at the next key press ("Frame 0 / 443" on a 68-frame tree.avi)
                    "length_changed": lambda _n: self._on_frame(s.frame),
                    "playing_changed": self._on_playing,
                },
            ),
        )

        # a frame that waited for the background seek index shows once it is done
        def indexed() -> None:
            if self.doc is doc:
                self.canvas.show_frame(s.frame)

        doc.on_indexed.append(indexed)
        self._on_frame(s.frame)
        self._update_title()
        self._update_enabled()
        self._refresh_recent()
        self.canvas.setFocus()
        self.work.attach(doc, self.prefs)
        self.controller.resume_stale()  # stretches a crash left between edit and re-track

    def close_document(self) -> None:
        doc = self.doc
        if doc is None:
            return
        self.play_timer.stop()
        self.controller.shutdown()
        self.work.detach()
        for w in (
            self.canvas,
            self.timeline,
            self.review,
            self.tracks,
            self.labels,
            self.label_combo,
        ):
            w.unbind()
        self._binding.unbind()
        self.doc = None
        self.controller.doc = None
        try:
            doc.close()
        except (TrackerAnnotateError, OSError) as exc:
            errors.show_error(self, "Closing the project", exc)

    def open_path(self, path: str | Path) -> bool:
        """Open media or a project (closing the current one); errors are shown."""
        return file_flows.open_path(
            self,
            str(path),
            media_config=MediaConfig(cache_bytes=self.prefs.cache_bytes),
            close_current=self.close_document,
            install=self.set_document,
            status=self._status,
        )

    # -- slots -----------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        sb = self.statusBar()
        if sb is not None:
            sb.showMessage(text, 8000)

    def _on_box_drawn(self, frame: int, xyxy: object) -> None:
        ctrl = bool(QApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier)
        self.controller.draw_box(frame, xyxy, into_selected=ctrl)  # type: ignore[arg-type]

    def _flag(self, *, backward: bool) -> None:
        self.controller.go_to_flag(backward=backward)

    def _on_frame(self, frame: int) -> None:
        s = self.doc.session if self.doc else None
        if s is not None:
            self.frame_label.setText(f"Frame {frame} / {s.n_frames - 1}")
            self.time_label.setText(s.timecode(frame))

    def _on_project_changed(self, cs: ChangeSet) -> None:
        self._update_title()

    def _on_history(self, _none: object) -> None:
        p = self.doc.project if self.doc else None
        a = self.actions_by_name
        for name, can, text in (
            ("undo", p is not None and p.history.can_undo(), p.history.undo_text() if p else ""),
            ("redo", p is not None and p.history.can_redo(), p.history.redo_text() if p else ""),
        ):
            a[name].setEnabled(can)
            a[name].setText(f"&{name.capitalize()} {text}".rstrip())
        self._update_title()

    def _update_title(self) -> None:
        """The title says what is open and whether every edit is on disk (never lies:
        it asks the store)."""
        if self.doc is None:
            self.setWindowTitle(APP_TITLE)
            return
        store = self.doc.store
        saved = "NOT SAVED (disk error; edits are retried)" if store.has_unsaved else "saved"
        self.setWindowTitle(f"{self.doc.path.name} \u2014 {saved} \u2014 {APP_TITLE}")

    def _update_enabled(self) -> None:
        has = self.doc is not None
        for name, act in self.actions_by_name.items():
            if name not in (
                "open",
                "quit",
                "preferences",
                "shortcuts",
                "auto_retrack",
                "messages",
            ):
                act.setEnabled(has)
        self.actions_by_name["cancel_tracking"].setEnabled(self.controller.busy)
        if has:
            self._on_history(None)

    def _on_busy(self, busy: bool) -> None:
        for w in (self.progress, self.cancel_button, self.rate_label):
            w.setVisible(busy)
        self.progress.setRange(0, 0)
        self.actions_by_name["cancel_tracking"].setEnabled(busy)

    def _on_progress(self, done: int, total: int, rate: float) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.rate_label.setText(f"Tracking {rate:.0f} obj-frames/s")

    def toggle_play(self) -> None:
        if self.doc is not None:
            self.doc.session.toggle_play()

    def _on_playing(self, playing: bool) -> None:
        s = self.doc.session if self.doc else None
        if playing and s is not None:
            self.play_timer.start(s.play_interval_ms)
        else:
            self.play_timer.stop()

    def _tick(self) -> None:
        if self.doc is not None:
            self.doc.session.tick()

    def go_to_frame(self) -> None:
        s = self.doc.session if self.doc else None
        if s is None:
            return
        f, ok = QInputDialog.getInt(
            self, "Go to frame", f"Frame (0-{s.n_frames - 1}):", s.frame, 0, s.n_frames - 1
        )
        if ok:
            s.seek(f)

    def _toggle_auto_retrack(self) -> None:
        from dataclasses import replace

        on = self.actions_by_name["auto_retrack"].isChecked()
        self.set_prefs(replace(self.prefs, auto_retrack=on))

    def set_prefs(self, prefs: preferences.Preferences) -> None:
        self.prefs = prefs
        self.controller.prefs = prefs
        self.actions_by_name["auto_retrack"].setChecked(prefs.auto_retrack)
        if not prefs.record_work:
            self.work.detach()
        elif self.work.recorder is None and self.doc is not None:
            self.work.attach(self.doc, prefs)
        preferences.save(prefs)

    def edit_preferences(self) -> None:
        dlg = preferences.PreferencesDialog(self.prefs, self)
        if dlg.exec():
            self.set_prefs(dlg.result_prefs())

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in preferences.recent_files():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    # -- window events -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        if event is not None and event.mimeData() is not None and event.mimeData().hasUrls():  # type: ignore[union-attr]
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent | None) -> None:
        md = event.mimeData() if event is not None else None
        if md is not None and md.hasUrls():
            urls = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
            if urls:
                self.open_path(urls[0])

    def closeEvent(self, event: QCloseEvent | None) -> None:
        settings = preferences.settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("window_state", self.saveState())
        self.close_document()
        super().closeEvent(event)

    def restore_layout(self) -> None:
        settings = preferences.settings()
        geo, state = settings.value("geometry"), settings.value("window_state")
        if isinstance(geo, QByteArray):
            self.restoreGeometry(geo)
        if isinstance(state, QByteArray):
            self.restoreState(state)

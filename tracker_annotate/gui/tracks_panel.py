"""The tracks list: rename, relabel, merge, split, end, hide/show, delete.

Every button calls one command from :mod:`tracker_annotate.core.commands` (one undo
step); errors the model raises come out of ``error`` for the window to show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import QItemSelectionModel, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from tracker_annotate.core import commands
from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.session import Session
from tracker_annotate.gui import style
from tracker_annotate.gui.bind import Binding

COLUMNS = ("Show", "Track", "Name", "Label", "Frames", "Keys", "Flags")
COL_SHOW, COL_ID, COL_NAME = 0, 1, 2


class TracksPanel(QWidget):
    error = pyqtSignal(object)  # an exception to show
    status = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._session: Session | None = None
        self._binding = Binding()
        self._filling = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        vh = self.table.verticalHeader()
        if vh is not None:
            vh.setVisible(False)
        hh = self.table.horizontalHeader()
        if hh is not None:
            hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            hh.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self.table.itemChanged.connect(self._on_item_changed)
        grid = QGridLayout()
        self.btn: dict[str, QPushButton] = {}
        for i, (key, text, tip, fn) in enumerate(
            [
                (
                    "merge",
                    "Merge",
                    "Merge the selected tracks into the lowest id",
                    self.merge_selected,
                ),
                (
                    "split",
                    "Split here",
                    "Boxes from the current frame on become a new track",
                    self.split_here,
                ),
                (
                    "end",
                    "End here",
                    "The object leaves: mark it outside from this frame",
                    self.end_here,
                ),
                ("hide", "Hide/Show", "Toggle drawing of the selected tracks", self.toggle_hidden),
                (
                    "accept",
                    "Accept proposed",
                    "Keep a track proposed from detections",
                    self.accept_proposed,
                ),
                (
                    "delete",
                    "Delete track",
                    "Delete the selected tracks and all their boxes",
                    self.delete_selected,
                ),
            ]
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(fn)
            grid.addWidget(b, i // 3, i % 3)
            self.btn[key] = b
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.table, 1)
        lay.addLayout(grid)

    def bind(self, project: Project, session: Session) -> None:
        self.unbind()
        self._project, self._session = project, session
        self._binding.rebind(
            (project, {"changed": self._on_changed}),
            (session, {"selection_changed": self._on_session_selection}),
        )
        self.refresh()

    def unbind(self) -> None:
        self._binding.unbind()
        self._project = self._session = None
        self.table.setRowCount(0)

    # -- view ------------------------------------------------------------------------------
    def refresh(self) -> None:
        p = self._project
        if p is None:
            return
        self._filling = True
        tids = sorted(p.tracks)
        self.table.setRowCount(len(tids))
        for row, tid in enumerate(tids):
            info = p.tracks[tid]
            cols = p.columns(tid)
            ext = p.extent(tid)
            flags = int(np.count_nonzero(cols.flagged & ~cols.verified))
            keys = int(np.count_nonzero(cols.is_keyframe))
            show = QTableWidgetItem()
            show.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable
                | Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
            )
            show.setCheckState(Qt.CheckState.Unchecked if info.hidden else Qt.CheckState.Checked)
            cells = [
                show,
                QTableWidgetItem(f"#{tid}" + (" (proposed)" if info.proposed else "")),
                QTableWidgetItem(info.name),
                QTableWidgetItem(info.label),
                QTableWidgetItem(f"{ext[0]}\u2013{ext[1]}" if ext else "\u2014"),
                QTableWidgetItem(str(keys)),
                QTableWidgetItem(str(flags) if flags else ""),
            ]
            for col, item in enumerate(cells):
                item.setData(Qt.ItemDataRole.UserRole, tid)
                if col not in (COL_SHOW, COL_NAME):
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.table.setItem(row, col, item)
            cells[COL_ID].setForeground(style.track_color(tid))
            if flags:
                cells[-1].setForeground(style.WARNING)
        self._filling = False
        self._on_session_selection(self._session.selected if self._session else None)

    def row_of(self, track_id: int) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, COL_ID)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == track_id:
                return row
        return -1

    def selected_tracks(self) -> list[int]:
        rows = {i.row() for i in self.table.selectedIndexes()}
        out = []
        for row in sorted(rows):
            item = self.table.item(row, COL_ID)
            if item is not None:
                out.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return out

    # -- commands ------------------------------------------------------------------------
    def _do(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except TrackerAnnotateError as exc:
            self.error.emit(exc)

    def _targets(self) -> list[int]:
        sel = self.selected_tracks()
        if not sel and self._session is not None and self._session.selected is not None:
            sel = [self._session.selected]
        return sel

    def rename(self, track_id: int, name: str) -> None:
        if self._project is not None:
            self._do(lambda: commands.rename_track(self._project, track_id, name))  # type: ignore[arg-type]

    def merge_selected(self) -> None:
        p, sel = self._project, self._targets()
        if p is None or len(sel) < 2:
            self.status.emit("Select two or more tracks in the list to merge them")
            return
        self._do(lambda: commands.merge_tracks_into(p, sel))
        if self._session is not None:
            self._session.select(min(sel))

    def split_here(self) -> None:
        p, s = self._project, self._session
        if p is None or s is None or not self._targets():
            return
        tid = self._targets()[0]
        try:
            new = commands.split_track(p, tid, s.frame)
        except TrackerAnnotateError as exc:
            self.error.emit(exc)
            return
        s.select(new)
        self.status.emit(f"Track {tid} split at frame {s.frame}: the rest is track {new}")

    def end_here(self) -> None:
        p, s, sel = self._project, self._session, self._targets()
        if p is not None and s is not None and sel:
            self._do(lambda: commands.mark_tracks_outside(p, sel, s.frame))

    def toggle_hidden(self) -> None:
        p, sel = self._project, self._targets()
        if p is not None and sel:
            self._do(lambda: commands.toggle_tracks_hidden(p, sel))

    def accept_proposed(self) -> None:
        p, sel = self._project, self._targets()
        if p is not None and sel:
            self._do(lambda: commands.accept_proposed_tracks(p, sel))

    def delete_selected(self) -> None:
        p, sel = self._project, self._targets()
        if p is not None and sel:
            self._do(lambda: commands.delete_tracks(p, sel))

    # -- events ----------------------------------------------------------------------------
    def _on_changed(self, cs: ChangeSet) -> None:
        self.refresh()

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or self._project is None:
            return
        tid = int(item.data(Qt.ItemDataRole.UserRole))
        if item.column() == COL_NAME:
            self.rename(tid, item.text().strip())
        elif item.column() == COL_SHOW:
            hidden = item.checkState() != Qt.CheckState.Checked
            if self._project.tracks[tid].hidden != hidden:
                self._do(lambda: commands.set_track_hidden(self._project, tid, hidden))  # type: ignore[arg-type]

    def _on_table_selection(self) -> None:
        if self._filling or self._session is None:
            return
        sel = self.selected_tracks()
        if len(sel) == 1:
            self._session.select(sel[0])

    def _on_session_selection(self, tid: int | None) -> None:
        """Mirror the session's one selected track. ``selectRow`` would read the keyboard
        (Shift extends, Ctrl toggles), so a Shift+Enter that moved to another track left
        both rows highlighted; the selection model is told exactly what to show."""
        if tid is not None and self.selected_tracks() == [tid]:
            return
        sm = self.table.selectionModel()
        if sm is None:
            return
        self._filling = True
        try:
            row = self.row_of(tid) if tid is not None else -1
            if row < 0:
                sm.clearSelection()
                return
            index = self.table.model().index(row, 0)  # type: ignore[union-attr]
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            sm.setCurrentIndex(index, flags)
            self.table.scrollTo(index)
        finally:
            self._filling = False

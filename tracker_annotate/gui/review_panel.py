"""The review queue: flagged boxes, lowest confidence first, with their reasons.

Selecting a row goes to its frame and selects the box. Accept (Enter), Reject (Delete)
and Outside (O) are the window's actions, shown here as buttons, so the keyboard and the
panel do the same thing. The counter says how many are left.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.review import ReviewItem, review_items
from tracker_annotate.core.session import Session
from tracker_annotate.gui import style

MAX_ROWS = 2000  # a list this long is already a to-do for the tracker settings


class ReviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._session: Session | None = None
        self._items: list[ReviewItem] = []
        self.counter = QLabel("No project")
        font = self.counter.font()
        font.setBold(True)
        self.counter.setFont(font)
        self.only_derived = QCheckBox("Show every unverified tracked box")
        self.only_derived.setToolTip("Not just flagged ones: audit everything the tracker made")
        self.only_derived.toggled.connect(lambda _c: self.refresh())
        self.auto_advance = QCheckBox("After accept/reject go to the next flag")
        self.auto_advance.setChecked(True)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(True)
        self.list.currentRowChanged.connect(self._on_row)
        self.buttons = QHBoxLayout()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.counter)
        lay.addWidget(self.only_derived)
        lay.addWidget(self.auto_advance)
        lay.addWidget(self.list, 1)
        lay.addLayout(self.buttons)

    def add_action_buttons(self, actions: list[QAction]) -> None:
        for act in actions:
            b = QToolButton()
            b.setDefaultAction(act)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.buttons.addWidget(b)

    def bind(self, project: Project, session: Session) -> None:
        self.unbind()
        self._project, self._session = project, session
        project.changed.connect(self._on_changed)
        session.frame_changed.connect(self._on_position)
        session.selection_changed.connect(self._on_position)
        self.refresh()

    def unbind(self) -> None:
        if self._project is not None:
            self._project.changed.disconnect(self._on_changed)
        if self._session is not None:
            self._session.frame_changed.disconnect(self._on_position)
            self._session.selection_changed.disconnect(self._on_position)
        self._project = self._session = None
        self._items = []
        self.list.clear()

    @property
    def items(self) -> list[ReviewItem]:
        return list(self._items)

    def refresh(self) -> None:
        if self._project is None:
            return
        derived = self.only_derived.isChecked()
        self._items = review_items(self._project, unverified_derived=derived)
        n = len(self._items)
        what = "unverified" if derived else "flagged"
        self.counter.setText(f"{n} left ({what})" if n else f"Nothing {what} left \u2713")
        self.list.blockSignals(True)
        self.list.clear()
        for it in self._items[:MAX_ROWS]:
            info = self._project.tracks.get(it.track_id)
            label = info.label if info is not None else "?"
            reason = f" \u2014 {it.reason}" if it.reason else ""
            row = QListWidgetItem(
                f"frame {it.frame}  #{it.track_id} {label}  conf {it.confidence:.2f}{reason}"
            )
            row.setForeground(style.track_color(it.track_id))
            row.setToolTip(it.reason or "unverified tracked box")
            self.list.addItem(row)
        if n > MAX_ROWS:
            self.list.addItem(QListWidgetItem(f"… and {n - MAX_ROWS} more (use F to step)"))
        self.list.blockSignals(False)
        self._on_position(None)

    def _on_changed(self, cs: ChangeSet) -> None:
        self.refresh()

    def _on_row(self, row: int) -> None:
        if self._session is not None and 0 <= row < min(len(self._items), MAX_ROWS):
            it = self._items[row]
            self._session.go_to(it.frame, it.track_id)

    def _on_position(self, _value: object) -> None:
        """Highlight the row of the box the session is on, if it is in the queue."""
        s = self._session
        if s is None:
            return
        row = next(
            (
                i
                for i, it in enumerate(self._items[:MAX_ROWS])
                if it.frame == s.frame and it.track_id == s.selected
            ),
            -1,
        )
        self.list.blockSignals(True)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)

"""Labels (object classes): the list with colours, and the current-label combo box.

The list adds, renames, recolours and removes labels (saved in the project, undoable).
The combo box is the label for new boxes and shows/sets the selected track's label;
number keys 1-9 pick the n-th label.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QColor, QIcon, QPixmap
from PyQt6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from tracker_annotate.core import commands
from tracker_annotate.core.errors import TrackerAnnotateError
from tracker_annotate.core.labels import Label
from tracker_annotate.core.project import ChangeSet, Project
from tracker_annotate.core.session import Session
from tracker_annotate.gui.bind import Binding


def swatch(label: Label) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(QColor(*label.color))
    return QIcon(pm)


class LabelCombo(QComboBox):
    """The current label. Choosing one relabels the selected track."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Label for new boxes and the selected track (keys 1-9)")
        self.setMinimumContentsLength(10)
        self._project: Project | None = None
        self._session: Session | None = None
        self._binding = Binding()
        self._filling = False
        self.currentTextChanged.connect(self._on_text)
        self.error: Callable[[BaseException], None] = lambda exc: None

    def bind(self, project: Project, session: Session) -> None:
        self._project, self._session = project, session
        self._binding.rebind(
            (project, {"changed": self._on_changed}),
            (session, {"selection_changed": self._on_selection}),
        )
        self.refill()

    def unbind(self) -> None:
        self._binding.unbind()
        self._project = self._session = None

    def refill(self) -> None:
        if self._project is None:
            return
        cur = self.currentText()
        self._filling = True
        self.clear()
        for i, lab in enumerate(self._project.labels.values()):
            self.addItem(swatch(lab), lab.name)
            if i < 9:
                self.setItemData(i, f"key {i + 1}", 3)  # Qt.ToolTipRole
        if cur in self._project.labels:
            self.setCurrentText(cur)
        self._filling = False
        self._on_selection(self._session.selected if self._session else None)

    def pick(self, index: int) -> None:
        """Number key ``index + 1``: choose the label and relabel the selected track."""
        if 0 <= index < self.count():
            self.setCurrentIndex(index)

    def _on_text(self, text: str) -> None:
        p, s = self._project, self._session
        if self._filling or p is None or s is None or not text:
            return
        tid = s.selected
        if tid is not None and tid in p.tracks and p.tracks[tid].label != text:
            try:
                commands.relabel(p, tid, text)
            except TrackerAnnotateError as exc:
                self.error(exc)

    def _on_changed(self, cs: ChangeSet) -> None:
        if cs.labels:
            self.refill()
        elif self._session is not None and self._session.selected in cs.tracks:
            self._on_selection(self._session.selected)

    def _on_selection(self, tid: int | None) -> None:
        p = self._project
        if p is None or tid is None or tid not in p.tracks:
            return
        self._filling = True
        self.setCurrentText(p.tracks[tid].label)
        self._filling = False


class LabelsPanel(QWidget):
    error = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._project: Project | None = None
        self._binding = Binding()
        self.list = QListWidget()
        self.list.itemDoubleClicked.connect(lambda _i: self.rename_current())
        row = QHBoxLayout()
        for text, fn in (
            ("Add…", self.add_interactive),
            ("Rename…", self.rename_current),
            ("Colour…", self.recolor_current),
            ("Remove", self.remove_current),
        ):
            b = QPushButton(text)
            b.clicked.connect(fn)
            row.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.list, 1)
        lay.addLayout(row)

    def bind(self, project: Project) -> None:
        self.unbind()
        self._project = project
        self._binding.rebind((project, {"changed": self._on_changed}))
        self.refresh()

    def unbind(self) -> None:
        self._binding.unbind()
        self._project = None
        self.list.clear()

    def refresh(self) -> None:
        if self._project is None:
            return
        cur = self.current()
        self.list.clear()
        for i, lab in enumerate(self._project.labels.values()):
            key = f"  [{i + 1}]" if i < 9 else ""
            item = QListWidgetItem(swatch(lab), lab.name + key)
            item.setData(256, lab.name)
            self.list.addItem(item)
            if lab.name == cur:
                self.list.setCurrentItem(item)

    def current(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(256)) if item is not None else None

    def _do(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except TrackerAnnotateError as exc:
            self.error.emit(exc)

    def add_interactive(self) -> None:
        name, ok = QInputDialog.getText(self, "New label", "Label name:")
        if ok and name.strip() and self._project is not None:
            self._do(lambda: commands.add_label(self._project, name))  # type: ignore[arg-type]

    def rename_current(self) -> None:
        old = self.current()
        if old is None or self._project is None:
            return
        new, ok = QInputDialog.getText(self, "Rename label", f"New name for {old!r}:", text=old)
        if ok and new.strip():
            self._do(lambda: commands.rename_label(self._project, old, new))  # type: ignore[arg-type]

    def recolor_current(self) -> None:
        name = self.current()
        if name is None or self._project is None:
            return
        lab = self._project.labels[name]
        color = QColorDialog.getColor(QColor(*lab.color), self, f"Colour of {name}")
        if color.isValid():
            new = Label(name, (color.red(), color.green(), color.blue()))
            self._do(lambda: commands.set_label(self._project, new))  # type: ignore[arg-type]

    def remove_current(self) -> None:
        name = self.current()
        if name is not None and self._project is not None:
            self._do(lambda: commands.remove_label(self._project, name))  # type: ignore[arg-type]

    def _on_changed(self, cs: ChangeSet) -> None:
        if cs.labels:
            self.refresh()
